#include "chatdesk/monitor/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace chatdesk::monitor::utf8 {
namespace {

bool continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

}  // namespace

// Validates by the well-formed byte sequences of the Unicode standard (table 3-7): the lead byte
// fixes the range of the second byte, which rules out overlong forms, surrogates and anything
// above U+10FFFF without decoding the code point. Every agent message is counted, so this is on
// the engine's hot path.
std::optional<std::size_t> count_code_points(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  std::size_t count = 0;
  while (p < end) {
    const unsigned char lead = *p;
    if (lead < 0x80) {
      // Chat text mixes CJK with runs of ASCII (order numbers, URLs): take those 8 at a time.
      while (end - p >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, sizeof word);
        if (word & 0x8080808080808080ULL) break;
        p += 8;
        count += 8;
      }
      while (p < end && *p < 0x80) {
        ++p;
        ++count;
      }
      continue;
    }
    const std::ptrdiff_t left = end - p;
    if (lead >= 0xE0 && lead < 0xF0) {  // 3 bytes: all of CJK
      if (left < 3) return std::nullopt;
      const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;   // no overlong forms
      const unsigned char high = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
      if (p[1] < low || p[1] > high || !continuation(p[2])) return std::nullopt;
      p += 3;
    } else if (lead >= 0xC2 && lead < 0xE0) {  // 2 bytes; C0 and C1 would be overlong
      if (left < 2 || !continuation(p[1])) return std::nullopt;
      p += 2;
    } else if (lead >= 0xF0 && lead < 0xF5) {  // 4 bytes, up to U+10FFFF
      if (left < 4) return std::nullopt;
      const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
      const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
      if (p[1] < low || p[1] > high || !continuation(p[2]) || !continuation(p[3]))
        return std::nullopt;
      p += 4;
    } else {
      return std::nullopt;  // a continuation byte without a lead, C0, C1, F5..FF
    }
    ++count;
  }
  return count;
}

}  // namespace chatdesk::monitor::utf8
