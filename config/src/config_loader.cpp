#include "chatdesk/config/config_loader.hpp"

#include <date/tz.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "yaml_fields.hpp"

// The schema of chatdesk.yaml (docs/configuration.md): which keys each section allows, their types
// and the rules between them. Anything not written in the file keeps config.hpp's default.

namespace chatdesk::config {
namespace {

using yaml::fail;
using yaml::Field;
using yaml::Section;

constexpr long long kMaxCount = std::numeric_limits<long long>::max();

std::string format_ms(Duration d) {
  return std::to_string(d.count()) + "ms";
}

// Reads `key` of `section` into `out` with `read`, when the key is present.
template <typename T, typename Read>
void read_optional(const Section& section, std::string_view key, T& out, Read read) {
  if (auto field = section.get(key)) out = static_cast<T>(read(*field));
}

auto integer_at_least(long long min) {
  return [min](const Field& f) { return yaml::as_integer(f, min, kMaxCount); };
}

Duration positive_duration(const Field& field) {
  const Duration d = yaml::as_duration(field);
  if (d <= Duration::zero()) fail(field.at, "must be longer than 0s");
  return d;
}

// "HH:MM", 00:00 to 23:59. Strictly two digits each, so that "8:3" or "24:00" is not guessed at.
LocalTime as_local_time(const Field& field) {
  const std::string text = yaml::as_string(field);
  const auto bad = [&] { fail(field.at, "bad time '" + text + "' (use HH:MM, 00:00 to 23:59)"); };
  if (text.size() != 5 || text[2] != ':') bad();
  const auto two_digits = [&](std::size_t pos) {
    int value = 0;
    const char* const first = text.data() + pos;
    const auto [ptr, ec] = std::from_chars(first, first + 2, value);
    if (ec != std::errc{} || ptr != first + 2 || value < 0) bad();
    return value;
  };
  const int hours = two_digits(0);
  const int minutes = two_digits(3);
  if (hours > 23 || minutes > 59) bad();
  return LocalTime{hours * 60 + minutes};
}

ListenConfig read_listen(const Field& field) {
  const Section s(field, {"address", "port"});
  ListenConfig c;
  read_optional(s, "address", c.address, yaml::as_nonempty_string);
  read_optional(s, "port", c.port, [](const Field& f) { return yaml::as_integer(f, 1, 65535); });
  return c;
}

// "host:port" with a port of 1 to 65535; the host a name, an IPv4 address or a [bracketed] IPv6
// one.
bool is_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.find(':') != std::string_view::npos &&
      !(host.front() == '[' && host.back() == ']' && host.size() > 2))
    return false;
  if (host.find_first_of(" /@") != std::string_view::npos) return false;
  int value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc{} && ptr == port.data() + port.size() && value >= 1 && value <= 65535;
}

RedisConfig read_redis(const Field& field) {
  const Section s(field, {"url", "cluster", "violations_stream", "maxlen", "spool_size",
                          "spool_dir", "enabled"});
  RedisConfig c;
  if (auto url = s.get("url")) {
    c.url = yaml::as_string(*url);
    constexpr std::string_view scheme = "redis://";
    if (!c.url.starts_with(scheme) || c.url.size() == scheme.size())
      fail(url->at, "bad url '" + c.url + "' (use redis://host:port)");
  }
  if (auto cluster = s.get("cluster")) {
    for (const auto& node : yaml::elements(*cluster)) {
      const std::string text = yaml::as_string(node);
      if (!is_host_port(text))
        fail(node.at, "bad cluster node '" + yaml::printable(text) + "' (use host:port)");
      c.cluster.push_back(text);
    }
    if (c.cluster.empty()) fail(cluster->at, "list at least one node (host:port), or leave it out");
  }
  read_optional(s, "violations_stream", c.violations_stream, yaml::as_nonempty_string);
  read_optional(s, "maxlen", c.maxlen, integer_at_least(1));
  read_optional(s, "spool_size", c.spool_size, integer_at_least(1));
  read_optional(s, "spool_dir", c.spool_dir, yaml::as_string);
  read_optional(s, "enabled", c.enabled, yaml::as_bool);
  return c;
}

StorageConfig read_storage(const Field& field) {
  const Section s(field, {"enabled", "transcript_ttl", "conversations_stream",
                          "conversations_maxlen", "agent_grace"});
  StorageConfig c;
  read_optional(s, "enabled", c.enabled, yaml::as_bool);
  read_optional(s, "transcript_ttl", c.transcript_ttl, positive_duration);
  if (auto stream = s.get("conversations_stream")) {
    c.conversations_stream = yaml::as_nonempty_string(*stream);
    // Each record's mark must share the stream's slot on a Redis Cluster (docs/storage.md): by the
    // stream's own hash tag, or with its whole name as the tag, which a '}' would cut short.
    const auto& name = c.conversations_stream;
    const auto open = name.find('{');
    const auto close = open == std::string::npos ? open : name.find('}', open + 1);
    const bool tagged = close != std::string::npos && close > open + 1;
    if (!tagged && name.find('}') != std::string::npos)
      fail(stream->at, "'" + yaml::printable(name) +
                           "': a '}' only closes a hash tag ({tag}) in a stream's name");
  }
  read_optional(s, "conversations_maxlen", c.conversations_maxlen, integer_at_least(1));
  read_optional(s, "agent_grace", c.agent_grace, positive_duration);
  return c;
}

// Below 1 s a lease would be renewed every 200 ms or faster, and the margin a holder keeps before
// its key expires (a tenth of the key's ttl) would be shorter than a loop stall.
constexpr Duration kMinLeaseTtl{1'000};

ReportsConfig read_reports(const Field& field) {
  const Section s(field, {"conversion_window", "retention", "exclude_hours"});
  ReportsConfig c;
  read_optional(s, "conversion_window", c.conversion_window, positive_duration);
  if (auto retention = s.get("retention")) {
    c.retention = positive_duration(*retention);
    if (c.retention < std::chrono::hours{24}) fail(retention->at, "must be at least 24h");
  }
  if (auto hours = s.get("exclude_hours")) {
    const Section q(*hours, {"from", "to"});
    ReportsConfig::QuietHours quiet;
    quiet.from_minute = as_local_time(q.require("from")).minutes;
    quiet.to_minute = as_local_time(q.require("to")).minutes;
    if (quiet.from_minute == quiet.to_minute)
      fail(hours->at, "from and to are the same time: leave exclude_hours out instead");
    c.exclude_hours = quiet;
  }
  return c;
}

ScaleConfig read_scale(const Field& field) {
  const Section s(field, {"enabled", "lease_ttl"});
  ScaleConfig c;
  read_optional(s, "enabled", c.enabled, yaml::as_bool);
  if (auto ttl = s.get("lease_ttl")) {
    c.lease_ttl = positive_duration(*ttl);
    if (c.lease_ttl < kMinLeaseTtl) fail(ttl->at, "must be at least 1s");
  }
  return c;
}

// An environment variable name as a POSIX shell can set it, so that `export NAME=...` works.
bool is_env_name(std::string_view name) {
  const auto letter = [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
  };
  return !name.empty() && name.size() <= 128 && letter(name.front()) &&
         std::all_of(name.begin(), name.end(),
                     [&](char ch) { return letter(ch) || (ch >= '0' && ch <= '9'); });
}

// Token expiry is in whole seconds, and a year keeps now + max_ttl far from any overflow.
constexpr Duration kMinTokenTtl{1'000};
constexpr Duration kMaxTokenTtl{365LL * 24 * 3'600'000};

AuthConfig read_auth(const Field& field) {
  const Section s(field, {"mode", "secret_env", "max_ttl"});
  AuthConfig c;
  if (auto mode = s.get("mode")) {
    const std::string text = yaml::as_string(*mode);
    if (text == "open") {
      c.mode = AuthMode::open;
    } else if (text == "token") {
      c.mode = AuthMode::token;
    } else {
      fail(mode->at, "expected open or token, got '" + text + "'");
    }
  }
  // Only the variable's name is read here; the secret is checked when the gateway starts, so that
  // --check-config works on a machine that does not hold it.
  if (auto name = s.get("secret_env")) {
    c.secret_env = yaml::as_string(*name);
    if (!is_env_name(c.secret_env))
      // The value is not repeated: it may be a secret pasted where its variable's name belongs.
      fail(name->at,
           "not an environment variable name (use letters, digits and _, not starting with a "
           "digit, e.g. CHATDESK_AUTH_SECRET); the secret itself never goes in this file");
  }
  if (auto ttl = s.get("max_ttl")) {
    c.max_ttl = yaml::as_duration(*ttl);
    if (c.max_ttl < kMinTokenTtl || c.max_ttl > kMaxTokenTtl)
      fail(ttl->at, "must be between 1s and 8760h (a year)");
  }
  return c;
}

// Rates and bursts stay well inside what the token bucket's integer arithmetic holds.
constexpr long long kMaxRate = 1'000'000;

MessageRateConfig read_message_rate(const Field& field) {
  const Section s(field, {"per_second", "burst"});
  MessageRateConfig c;
  const auto rate = [](const Field& f) { return yaml::as_integer(f, 1, kMaxRate); };
  read_optional(s, "per_second", c.per_second, rate);
  read_optional(s, "burst", c.burst, rate);
  return c;
}

LimitsConfig read_limits(const Field& field) {
  const Section s(field, {"max_message_bytes", "max_text_chars", "send_queue_limit",
                          "history_limit", "max_connections_per_ip", "max_header_bytes",
                          "message_rate", "handshake_timeout", "idle_timeout"});
  LimitsConfig c;
  read_optional(s, "max_message_bytes", c.max_message_bytes, integer_at_least(1));
  read_optional(s, "max_text_chars", c.max_text_chars, integer_at_least(1));
  read_optional(s, "send_queue_limit", c.send_queue_limit, integer_at_least(1));
  read_optional(s, "history_limit", c.history_limit, integer_at_least(1));
  read_optional(s, "max_connections_per_ip", c.max_connections_per_ip, integer_at_least(1));
  // Below 1 KiB a browser's ordinary upgrade request (cookies, user agent) would be refused; above
  // 64 KiB one connection could make the gateway hold that much before any check.
  read_optional(s, "max_header_bytes", c.max_header_bytes,
                [](const Field& f) { return yaml::as_integer(f, 1024, 64 * 1024); });
  if (auto rate = s.get("message_rate")) c.message_rate = read_message_rate(*rate);
  read_optional(s, "handshake_timeout", c.handshake_timeout, positive_duration);
  read_optional(s, "idle_timeout", c.idle_timeout, positive_duration);
  return c;
}

// "scheme://host[:port]" exactly as a browser sends it in the Origin header: http or https, no
// path, no trailing slash, no user info. Compared byte for byte, so it must be written that way.
std::vector<std::string> read_allowed_origins(const Field& field) {
  std::vector<std::string> origins;
  for (const auto& element : yaml::elements(field)) {
    std::string origin = yaml::as_nonempty_string(element);
    std::string_view rest = origin;
    bool ok = false;
    for (std::string_view scheme : {"http://", "https://"}) {
      if (rest.starts_with(scheme)) {
        rest.remove_prefix(scheme.size());
        ok = true;
        break;
      }
    }
    ok = ok && !rest.empty() && rest.find_first_of("/?#@ ") == std::string_view::npos;
    if (!ok)
      fail(element.at, "bad origin '" + origin +
                           "' (use scheme://host[:port] without a path, e.g. "
                           "http://127.0.0.1:8080)");
    origins.push_back(std::move(origin));
  }
  return origins;
}

SlaConfig read_sla(const Field& field) {
  const Section s(field, {"greeting_target", "greeting_limit", "escalate_every", "reply_wait_limit",
                          "typing_min_cpm", "typing_min_chars", "typing_window"});
  SlaConfig c;
  read_optional(s, "greeting_target", c.greeting_target, positive_duration);
  read_optional(s, "greeting_limit", c.greeting_limit, positive_duration);
  read_optional(s, "escalate_every", c.escalate_every, positive_duration);
  read_optional(s, "reply_wait_limit", c.reply_wait_limit, positive_duration);
  if (auto cpm = s.get("typing_min_cpm")) {
    c.typing_min_cpm = yaml::as_number(*cpm);
    if (c.typing_min_cpm <= 0) fail(cpm->at, "must be greater than 0");
  }
  read_optional(s, "typing_min_chars", c.typing_min_chars, integer_at_least(0));
  read_optional(s, "typing_window", c.typing_window, integer_at_least(1));

  if (c.greeting_target > c.greeting_limit) {
    // The defaults satisfy the rule, so at least one of the two keys is in the file.
    const Field at = s.get("greeting_limit") ? *s.get("greeting_limit") : *s.get("greeting_target");
    fail(at.at, "greeting_target (" + format_ms(c.greeting_target) +
                    ") must not be longer than greeting_limit (" + format_ms(c.greeting_limit) +
                    ")");
  }
  return c;
}

LanguageConfig read_language(const Field& field) {
  const Section s(field, {"avoid", "greetings", "farewells"});
  LanguageConfig c;
  read_optional(s, "avoid", c.avoid, yaml::as_string_list);
  read_optional(s, "greetings", c.greetings, yaml::as_string_list);
  read_optional(s, "farewells", c.farewells, yaml::as_string_list);
  return c;
}

std::vector<Shift> read_shifts(const Field& field) {
  std::vector<Shift> shifts;
  for (const auto& element : yaml::elements(field)) {
    const Section s(element, {"name", "start", "end"});
    Shift shift{yaml::as_nonempty_string(s.require("name")), as_local_time(s.require("start")),
                as_local_time(s.require("end"))};
    // end < start is a shift across midnight; equal times have no reading that is not a guess
    // (empty, or all day), and an all-day desk is written as no shifts at all.
    if (shift.start == shift.end)
      fail(s.require("end").at, "shift '" + shift.name +
                                    "' starts and ends at the same time (leave out shifts to "
                                    "stay open around the clock)");
    shifts.push_back(std::move(shift));
  }
  return shifts;
}

void check_time_zone(const Field& field, const std::string& name) {
  try {
    date::locate_zone(name);
  } catch (const std::exception&) {
    fail(field.at, "unknown time zone '" + name + "' (use an IANA name such as Asia/Shanghai)");
  }
}

// `seen` holds the ids (and their lines) of the shops before this one, so that ids stay unique.
ShopConfig read_shop(const Field& field, std::vector<std::pair<std::string, int>>& seen) {
  const Section s(field, {"id", "name", "timezone", "max_concurrent", "resume_grace", "sla",
                          "language", "shifts"});
  ShopConfig c;
  const Field id = s.require("id");
  c.id = yaml::as_string(id);
  // Shop ids travel in URLs, metric labels and Redis fields, so they stay plain. (A character test
  // rather than std::regex: GCC 12's <regex> trips -Wmaybe-uninitialized in sanitizer builds.)
  const auto plain = [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
  };
  if (c.id.empty() || c.id.size() > 64 || !std::all_of(c.id.begin(), c.id.end(), plain))
    fail(id.at, "bad shop id '" + c.id + "' (use 1 to 64 of A-Z a-z 0-9 _ -)");
  for (const auto& [other, line] : seen)
    if (other == c.id)
      fail(id.at, "duplicate shop id '" + c.id + "' (first at line " + std::to_string(line) + ")");
  seen.emplace_back(c.id, id.at.line);
  c.name = c.id;  // so that consoles always have something to show
  read_optional(s, "name", c.name, yaml::as_nonempty_string);
  if (auto tz = s.get("timezone")) {
    c.timezone = yaml::as_nonempty_string(*tz);
    check_time_zone(*tz, c.timezone);
  }
  read_optional(s, "max_concurrent", c.max_concurrent, integer_at_least(1));
  read_optional(s, "resume_grace", c.resume_grace, yaml::as_duration);
  if (auto sla = s.get("sla")) c.sla = read_sla(*sla);
  if (auto language = s.get("language")) c.language = read_language(*language);
  if (auto shifts = s.get("shifts")) c.shifts = read_shifts(*shifts);
  return c;
}

std::vector<ShopConfig> read_shops(const Field& field) {
  std::vector<ShopConfig> shops;
  std::vector<std::pair<std::string, int>> seen_ids;
  for (const auto& element : yaml::elements(field)) shops.push_back(read_shop(element, seen_ids));
  if (shops.empty()) fail(field.at, "list at least one shop");
  return shops;
}

DiagnosticsConfig read_diagnostics(const Field& field) {
  const Section s(field, {"echo"});
  DiagnosticsConfig c;
  read_optional(s, "echo", c.echo, yaml::as_bool);
  return c;
}

Config read_config(const Field& root) {
  const Section s(root, {"listen", "web_root", "redis", "storage", "scale", "reports", "auth",
                         "limits", "allowed_origins", "diagnostics", "shops"});
  Config c;
  if (auto listen = s.get("listen")) c.listen = read_listen(*listen);
  read_optional(s, "web_root", c.web_root, yaml::as_string);
  if (auto redis = s.get("redis")) c.redis = read_redis(*redis);
  if (auto storage = s.get("storage")) {
    c.storage = read_storage(*storage);
    if (c.storage.enabled && !c.redis.enabled)
      fail(storage->at, "storage.enabled needs redis.enabled (the store is in Redis)");
  } else if (!c.redis.enabled) {
    c.storage.enabled = false;  // without Redis the desk is in memory, as before the store
  }
  if (auto scale = s.get("scale")) {
    c.scale = read_scale(*scale);
    if (c.scale.enabled && !c.storage.enabled)
      fail(scale->at,
           "scale.enabled needs storage.enabled (shops move between nodes through the store)");
  }
  if (auto reports = s.get("reports")) c.reports = read_reports(*reports);
  if (auto auth = s.get("auth")) c.auth = read_auth(*auth);
  if (auto limits = s.get("limits")) c.limits = read_limits(*limits);
  if (auto origins = s.get("allowed_origins")) c.allowed_origins = read_allowed_origins(*origins);
  if (auto diagnostics = s.get("diagnostics")) c.diagnostics = read_diagnostics(*diagnostics);
  c.shops = read_shops(s.require("shops"));
  return c;
}

// Debian bookworm's yaml-cpp 0.7 loops forever in LoadAll, allocating all the while, when a ','
// stands where a document or its root should start ("[a],", "- a\n,"; jbeder/yaml-cpp#1040, found
// by tests/fuzz/config_fuzz): it reports the same empty document again without consuming the
// token. So the documents are only counted, by a handler that sees where each one starts, and the
// first is built with YAML::Load. Used on the parsing thread only.
class DocumentCounter final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;  // where each document begins
  std::vector<YAML::Mark> roots;   // where its root node begins

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (roots.size() < starts.size()) roots.push_back(mark);
  }
};

// Where the root of a second document is, if there is one. Throws a syntax error where the parser
// stops advancing instead of looping there.
std::optional<YAML::Mark> second_document(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.starts.size() < 3 && parser.HandleNextDocument(counter)) {
    const auto& starts = counter.starts;
    if (starts.size() >= 2 && starts.back().pos == starts[starts.size() - 2].pos) {
      const auto pos = static_cast<std::size_t>(starts.back().pos);
      const char c = pos < text.size() ? text[pos] : '\0';
      throw YAML::ParserException(starts.back(), c > ' ' && c < 0x7F
                                                     ? "unexpected '" + std::string(1, c) + "'"
                                                     : std::string("unexpected character"));
    }
  }
  if (counter.starts.size() < 2) return std::nullopt;
  return counter.roots.size() >= 2 ? counter.roots[1] : counter.starts[1];
}

}  // namespace

Config parse_config(std::string_view yaml_text, std::string_view source) {
  const std::string prefix = std::string(source) + ": ";
  try {
    const std::string text(yaml_text);
    if (const auto second = second_document(text))
      fail(yaml::Location{"", second->line + 1}, "only one YAML document is allowed");
    return read_config(yaml::root_field(YAML::Load(text)));
  } catch (const ConfigError& e) {
    throw ConfigError(prefix + e.what());
  } catch (const YAML::Exception& e) {
    // Syntax errors; yaml-cpp's own what() carries a 1-based line too, but in its own words.
    throw ConfigError(prefix + "syntax error (line " + std::to_string(e.mark.line + 1) +
                      ", column " + std::to_string(e.mark.column + 1) +
                      "): " + yaml::printable(e.msg));
  }
}

Config load_config(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  // peek() first: streaming an empty file's rdbuf() would flag the empty file as a failure, and a
  // directory opens fine on Linux and only fails (badbit) on the first read.
  if (in && in.peek() != std::ifstream::traits_type::eof()) text << in.rdbuf();
  if (!in.is_open() || in.bad() || !text) {
    const int error = errno;
    throw ConfigError("cannot read " + path +
                      (error != 0 ? ": " + std::generic_category().message(error) : ""));
  }
  return parse_config(text.str(), path);
}

}  // namespace chatdesk::config
