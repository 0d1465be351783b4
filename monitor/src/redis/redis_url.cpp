#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "chatdesk/monitor/violation_writer.hpp"

namespace chatdesk::monitor {

namespace {

std::optional<int> parse_int(std::string_view s, int min, int max) {
  int value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || value < min || value > max)
    return std::nullopt;
  return value;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Passwords with reserved characters arrive percent-encoded, as in any URL.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_digit(s[i + 1]);
    const int lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

std::optional<RedisEndpoint> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());

  RedisEndpoint endpoint;
  // Host, port and db never contain '@', so the last one ends the credentials.
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = url.substr(0, at);
    url.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    // "user@" without a password cannot authenticate: refuse rather than connect unauthenticated.
    if (colon == std::string_view::npos) return std::nullopt;
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(userinfo.substr(colon + 1));
    if (!user || !password) return std::nullopt;
    endpoint.user = std::move(*user);
    endpoint.password = std::move(*password);
  }

  std::string_view authority = url.substr(0, url.find('/'));
  std::string_view path =
      authority.size() < url.size() ? url.substr(authority.size() + 1) : std::string_view{};

  std::string_view host;
  std::string_view rest;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
  }
  if (host.empty()) return std::nullopt;
  endpoint.host = std::string(host);

  if (!rest.empty()) {
    if (rest.front() != ':') return std::nullopt;
    auto port = parse_int(rest.substr(1), 1, 65535);
    if (!port) return std::nullopt;
    endpoint.port = *port;
  }
  if (!path.empty()) {
    auto db = parse_int(path, 0, 1'000'000);
    if (!db) return std::nullopt;
    endpoint.db = *db;
  }
  return endpoint;
}

}  // namespace chatdesk::monitor
