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

}  // namespace chatdesk::monitor::utf8
