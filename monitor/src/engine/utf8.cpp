#include "chatdesk/monitor/utf8.hpp"

#include <bit>
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

// The engine's count for the typing rate (see utf8.hpp): a chat text has passed the gateway's
// validation already, so this only counts, eight bytes at a time.
std::optional<std::size_t> count_code_points_trusted(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  // The last character must be complete: find its lead byte among the last four bytes.
  std::size_t lead = size;
  for (std::size_t back = 1; back <= 4 && back <= size; ++back) {
    if (!continuation(p[size - back])) {
      lead = size - back;
      break;
    }
  }
  if (lead < size) {
    const unsigned char b = p[lead];
    const std::size_t need = b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (size - lead < need) return std::nullopt;
  }

  constexpr std::uint64_t kHigh = 0x8080'8080'8080'8080ULL;
  // Per byte lane: 1 where the byte is 10xxxxxx.
  const auto lanes_of = [](std::uint64_t w) { return ((w & ~(w << 1)) & kHigh) >> 7; };
  // Lanes are summed over at most 31 words, so all eight together stay below 256 and the
  // multiply adds them up in its top byte.
  const auto sum = [](std::uint64_t lanes) {
    return static_cast<std::size_t>((lanes * 0x0101'0101'0101'0101ULL) >> 56);
  };
  if (size < 8) {
    std::size_t continuations = 0;
    for (std::size_t i = 0; i < size; ++i) continuations += continuation(p[i]) ? 1U : 0U;
    return size - continuations;
  }
  std::size_t continuations = 0;
  std::size_t words = size / 8;
  const unsigned char* q = p;
  while (words > 0) {
    const std::size_t n = words < 31 ? words : 31;
    std::uint64_t lanes = 0;
    for (std::size_t k = 0; k < n; ++k, q += 8) {
      std::uint64_t w;
      std::memcpy(&w, q, sizeof w);
      lanes += lanes_of(w);
    }
    continuations += sum(lanes);
    words -= n;
  }
  // The last size % 8 bytes: the text's last word, without the bytes counted already.
  if (const std::size_t tail = size % 8; tail != 0) {
    std::uint64_t w;
    std::memcpy(&w, p + size - 8, sizeof w);
    if constexpr (std::endian::native == std::endian::little)
      w >>= 8 * (8 - tail);  // the first bytes in memory are the low ones
    else
      w &= (std::uint64_t{1} << (8 * tail)) - 1;
    continuations += sum(lanes_of(w));
  }
  return size - continuations;
}

}  // namespace chatdesk::monitor::utf8
