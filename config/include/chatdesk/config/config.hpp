#pragma once
// The gateway's configuration as plain values. Built once at start-up by load_config() (config
// loader), then shared read-only: safe to read from any thread once loaded.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/config/time.hpp"

namespace chatdesk::config {

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379";  // redis://[:password@]host[:port][/db]
  // Not empty: the gateway runs against a Redis Cluster (docs/scaling.md, "Redis Cluster") and
  // these "host:port" nodes (any of the cluster's, at least one reachable) are where it learns
  // the slot map; `url` then gives only the user and password, which every node shares, and its
  // db must be 0.
  std::vector<std::string> cluster;
  std::string violations_stream = "chatdesk:violations";
  std::uint64_t maxlen = 1'000'000;  // XADD MAXLEN ~
  std::size_t spool_size = 100'000;  // violations kept in memory while Redis is away
  // Empty: the spool is in memory only. Else a directory where violations not yet in Redis are
  // also kept on disk, so that a gateway restart (or crash) does not lose them.
  std::string spool_dir;
  bool enabled = true;  // false: violations are only counted/logged
};

// The desk's durable store in Redis (docs/storage.md): conversations, transcripts, SLA clocks and
// one record per ended conversation. Uses the Redis of `redis.url`.
struct StorageConfig {
  // false: the desk lives in memory only (a restart loses open conversations); the benchmarks'
  // "storage off" runs. Needs redis.enabled when true.
  bool enabled = true;
  // How long an ended conversation's transcript and state stay in Redis. Open ones never expire.
  Duration transcript_ttl{30LL * 24 * 3'600'000};
  std::string conversations_stream = "chatdesk:conversations";  // one record per ended conversation
  std::uint64_t conversations_maxlen = 10'000'000;              // XADD MAXLEN ~
  // After a restart, how long an agent's conversations wait for it to reconnect before they go
  // back to the front of the queue (as they would at its disconnect).
  Duration agent_grace{60'000};
};

// Several gateway nodes sharing one desk through Redis (docs/scaling.md): each shop's desk runs on
// the node holding its lease, the others forward their connections' events to it. Needs
// storage.enabled (a shop moves between nodes through the store).
struct ScaleConfig {
  bool enabled = false;
  // How long a dead node's shops wait for a successor at most; claims every lease_ttl/5.
  Duration lease_ttl{5'000};
};

// The team lead's reports (docs/reports.md), read from the records the store keeps per shop.
struct ReportsConfig {
  // An order counts for the conversation that served its customer last, if that began before
  // the order and ended at most this long before it.
  Duration conversion_window{24LL * 3'600'000};
  // How long each shop's records stay readable for reports (its stream is trimmed by age).
  Duration retention{400LL * 24 * 3'600'000};
  // Local hours the marketplace variant leaves out ("nights 23:00-09:00 excluded"): the
  // conversations that began in [from, to), across midnight when to < from. None when unset.
  struct QuietHours {
    int from_minute = 0;  // 0..1439
    int to_minute = 0;
  };
  std::optional<QuietHours> exclude_hours;
};

enum class AuthMode { open, token };

// How agents and team leads prove who they are (docs/security.md, "Authentication"). The secret
// itself never sits in the config: only the name of the environment variable that holds it, read
// when the gateway (or chatdesk-token) starts.
struct AuthConfig {
  AuthMode mode = AuthMode::open;
  std::string secret_env = "CHATDESK_AUTH_SECRET";  // variable holding the HMAC secret (token mode)
  Duration max_ttl{24 * 3'600'000};                 // longest token lifetime chatdesk-token mints
};

// A token bucket per WebSocket connection (docs/security.md): `burst` frames at once, refilled at
// `per_second`. A frame over the budget is refused (rate_limited); more than `burst` refusals in a
// row close the connection (1008).
struct MessageRateConfig {
  std::uint32_t per_second = 20;
  std::uint32_t burst = 40;
};

// Per-connection protection (docs/security.md, "Limits").
struct LimitsConfig {
  std::size_t max_message_bytes = 64 * 1024;  // a larger WebSocket message is refused (close 1009)
  std::size_t max_text_chars = 5000;          // code points in one chat message
  std::size_t send_queue_limit = 1024;      // frames queued for one slow client before it is closed
  std::size_t history_limit = 500;          // messages kept per conversation for a new owner
  std::size_t max_header_bytes = 8 * 1024;  // HTTP request line + headers (431 beyond)
  std::size_t max_connections_per_ip = 256;  // open WebSockets per remote address (HTTP 429 beyond)
  MessageRateConfig message_rate;
  Duration handshake_timeout{10'000};  // HTTP request read, and the WebSocket handshake and close
  Duration idle_timeout{300'000};      // a silent WebSocket is pinged, then closed after this
};

// Test endpoints, off in production (docs/conformance.md).
struct DiagnosticsConfig {
  // /ws/echo: echoes every text and binary message through the same WebSocket session code and
  // limits as the chat endpoints, for protocol conformance tools (Autobahn|Testsuite). Off: 404.
  bool echo = false;
};

struct SlaConfig {
  Duration greeting_target{15'000};
  Duration greeting_limit{30'000};
  Duration escalate_every{30'000};
  Duration reply_wait_limit{20'000};
  double typing_min_cpm = 50;
  std::size_t typing_min_chars = 10;
  std::size_t typing_window = 20;
};

struct LanguageConfig {
  std::vector<std::string> avoid{"我不能", "我不会", "我不愿意", "我不可以", "但是"};
  std::vector<std::string> greetings{"您好", "你好", "欢迎"};
  std::vector<std::string> farewells{"再见", "祝您愉快"};
};

// A local time of day, minutes after midnight in the shop's time zone.
struct LocalTime {
  int minutes = 0;  // 0..1439
  friend bool operator==(const LocalTime&, const LocalTime&) = default;
};

// One working shift. end < start means the shift crosses midnight (night 17:30–01:00).
struct Shift {
  std::string name;
  LocalTime start;
  LocalTime end;
};

struct ShopConfig {
  std::string id;
  std::string name;
  std::string timezone = "UTC";  // IANA name, checked against tzdata at load
  std::size_t max_concurrent = 5;
  Duration resume_grace{30'000};
  SlaConfig sla;
  LanguageConfig language;
  std::vector<Shift> shifts;  // empty: open around the clock
};

struct Config {
  ListenConfig listen;
  std::string web_root;  // empty: the source tree's gateway/web, fixed at build time
  RedisConfig redis;
  StorageConfig storage;
  ScaleConfig scale;
  ReportsConfig reports;
  AuthConfig auth;
  LimitsConfig limits;
  // Origins ("http://host:port") a browser's WebSocket upgrade may come from; an upgrade with any
  // other Origin header gets HTTP 403. Empty: any origin (the gateway warns at start).
  std::vector<std::string> allowed_origins;
  DiagnosticsConfig diagnostics;
  std::vector<ShopConfig> shops;

  const ShopConfig* find_shop(std::string_view id) const {
    for (const auto& s : shops)
      if (s.id == id) return &s;
    return nullptr;
  }
};

}  // namespace chatdesk::config
