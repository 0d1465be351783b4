#pragma once
// UTF-8 as the desk sees it: chat text lengths are counted in Unicode code points, never bytes,
// because the shops chat in Chinese (one 汉字 is one character but three bytes).
// Pure functions without allocation; thread-safe.

#include <cstddef>
#include <optional>
#include <string_view>

namespace chatdesk::monitor::utf8 {

// The number of code points in `text` if it is well-formed UTF-8 (RFC 3629: shortest form only,
// no surrogates, nothing above U+10FFFF); nullopt otherwise. An empty text has 0.
std::optional<std::size_t> count_code_points(std::string_view text) noexcept;

inline bool is_valid(std::string_view text) noexcept {
  return count_code_points(text).has_value();
}

// The number of code points in text that is already known to be well-formed UTF-8 (the gateway's
// WebSocket layer and protocol parser have validated every chat text before the SLA engine sees
// it), counted 8 bytes at a time without validating again: every byte that is not a continuation
// byte starts a code point. The one malformation it still notices is a text that ends inside a
// character (the way a text cut at a byte limit goes wrong): nullopt then. Any other malformed
// input is memory-safe (each byte is read once, within `text`) but miscounted.
std::optional<std::size_t> count_code_points_trusted(std::string_view text) noexcept;

}  // namespace chatdesk::monitor::utf8
