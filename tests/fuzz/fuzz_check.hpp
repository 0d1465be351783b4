#pragma once
// The fuzz targets' own findings: a broken promise of the code under test (not a crash, which the
// sanitizers and libFuzzer already catch) is printed and aborted on, so libFuzzer saves the input
// as a crash file like any other finding. Stateless; each target is single-threaded.

#include <cstdio>
#include <cstdlib>

namespace chatdesk::fuzz {

[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what);
  std::abort();
}

inline void require(bool ok, const char* what) {
  if (!ok) finding(what);
}

}  // namespace chatdesk::fuzz
