// Fuzzes monitor/utf8 (count_code_points), which counts every chat message on the SLA engine's hot
// path with a hand-written fast path (8 ASCII bytes at a time, range checks instead of decoding).
// Differential: its answer must equal a plain decoder's written from RFC 3629 directly, and a valid
// text split at a code point boundary must count as the sum of its parts.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "chatdesk/monitor/utf8.hpp"
#include "fuzz_check.hpp"

namespace {

namespace utf8 = chatdesk::monitor::utf8;
using chatdesk::fuzz::require;

// Decodes each code point and rejects overlong forms, surrogates and values above U+10FFFF by
// value: slow, obvious, and a different method from the one under test.
std::optional<std::size_t> reference_count(std::string_view text) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (lead < 0x80) {
      len = 1, cp = lead, min = 0;
    } else if ((lead & 0xE0) == 0xC0) {
      len = 2, cp = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      len = 3, cp = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      len = 4, cp = lead & 0x07, min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (text.size() - i < len) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    i += len;
    ++count;
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto got = utf8::count_code_points(text);
  require(got == reference_count(text), "count_code_points disagrees with the reference decoder");
  require(utf8::is_valid(text) == got.has_value(), "is_valid disagrees with count_code_points");
  if (got && size > 0) {
    // Split in the middle, moved back to the start of a code point.
    std::size_t cut = size / 2;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    const auto head = utf8::count_code_points(text.substr(0, cut));
    const auto tail = utf8::count_code_points(text.substr(cut));
    require(head && tail && *head + *tail == *got, "counts of the two halves do not add up");
  }
  return 0;
}
