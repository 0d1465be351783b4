// Boost.URL ships compiled sources as a header in Boost 1.81; Debian packages no library for it,
// so it is built here once, header-only style.
#include <boost/url/src.hpp>
