#include "frame_scan.hpp"

#include <charconv>

namespace chatdesk::bench {

std::optional<std::string_view> string_field(std::string_view json, std::string_view key) {
  std::size_t from = 0;
  while (true) {
    std::size_t at = json.find(key, from);
    if (at == std::string_view::npos) return std::nullopt;
    from = at + key.size();
    // The key must be quoted exactly: "key" followed by a colon.
    if (at == 0 || json[at - 1] != '"' || from >= json.size() || json[from] != '"') continue;
    std::size_t i = from + 1;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != '"') return std::nullopt;
    std::size_t start = i + 1;
    std::size_t end = json.find('"', start);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view value = json.substr(start, end - start);
    if (value.find('\\') != std::string_view::npos) return std::nullopt;
    return value;
  }
}

std::string_view frame_type(std::string_view json) {
  // Fast path: the servers put "type" first.
  constexpr std::string_view prefix = "{\"type\":\"";
  if (json.starts_with(prefix)) {
    std::size_t end = json.find('"', prefix.size());
    if (end != std::string_view::npos) return json.substr(prefix.size(), end - prefix.size());
  }
  return string_field(json, "type").value_or(std::string_view{});
}

std::optional<std::uint32_t> index_suffix(std::string_view id) {
  std::size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= id.size()) return std::nullopt;
  std::uint32_t value = 0;
  const char* first = id.data() + dash + 1;
  const char* last = id.data() + id.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || end != last) return std::nullopt;
  return value;
}

}  // namespace chatdesk::bench
