#pragma once
// The desk's Prometheus metrics: every family the gateway exports at GET /metrics, registered once
// in one prometheus::Registry, with the series of each shop and each (shop, agent) resolved once
// and kept as handles, so the per-message path only increments/observes (no label sets, no lookups
// in prometheus-cpp's families, no allocation once a series exists).
//
// Label values are shop ids, agent ids, rule/severity/outcome names and protocol error codes only:
// never chat text, customer ids, conversation ids or tokens.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "chatdesk/config/config.hpp"
#include "chatdesk/monitor/violation.hpp"

namespace chatdesk::monitor {

// Counts of the enums that index series arrays; static_asserts in desk_metrics.cpp keep them in
// step with violation.hpp.
inline constexpr std::size_t kSeverityCount = static_cast<std::size_t>(Severity::breach) + 1;
inline constexpr std::size_t kOutcomeCount = static_cast<std::size_t>(Outcome::requeued) + 1;

// The agent label of series that belong to no agent (a violation on a queued conversation). Agent
// ids are [A-Za-z0-9_.-]{1,64}, so a real agent called "none" would share these series; accepted.
inline constexpr std::string_view kNoAgent = "none";
// The agent label once DeskMetricsOptions::max_agents distinct agents have series: later agents
// are folded into it so that clients choosing agent ids cannot grow the registry without bound.
inline constexpr std::string_view kOtherAgent = "other";
// The code label of protocol errors past DeskMetricsOptions::max_error_codes distinct codes.
inline constexpr std::string_view kOtherCode = "other";

// The series of one shop. Handles into the registry, resolved once; cheap to use from the hot path.
// Prometheus metrics are atomic, so the handles may be used from any thread.
struct ShopSeries {
  prometheus::Gauge& customers_waiting;     // conversations whose customer awaits an answer
  prometheus::Gauge& queue_length;          // conversations queued for an agent
  prometheus::Gauge& conversations_active;  // open conversations, queued or assigned
  prometheus::Gauge& agents_available;      // connected agents, by state
  prometheus::Gauge& agents_away;
  prometheus::Counter& messages_customer;
  prometheus::Counter& messages_agent;
  std::array<prometheus::Counter*, kOutcomeCount> outcomes;

  prometheus::Counter& outcome(Outcome o) const { return *outcomes[static_cast<std::size_t>(o)]; }
};

// The series of one (shop, agent). Same rules as ShopSeries.
struct AgentSeries {
  prometheus::Histogram& greeting_latency;  // seconds
  prometheus::Histogram& reply_wait;        // seconds
  prometheus::Histogram& typing_rate;       // code points per minute
  prometheus::Counter& typing_unmeasured;
  // Every (rule, severity) exists from the agent's first use, so increase() sees the first one.
  std::array<prometheus::Counter*, kRuleCount * kSeverityCount> violations_by_kind;

  prometheus::Counter& violations(Rule r, Severity s) const {
    return *violations_by_kind[static_cast<std::size_t>(r) * kSeverityCount +
                               static_cast<std::size_t>(s)];
  }
};

// `lead`: the lead page's live feed (the gateway counts it apart from the chat connections).
enum class ConnectionKind { customer, agent, lead };
inline constexpr std::size_t kConnectionKindCount =
    static_cast<std::size_t>(ConnectionKind::lead) + 1;

// The `reason` values of chatdesk_auth_refusals_total: a fixed set, in the order of the gateway's
// AuthError (chatdesk/gateway/auth_token.hpp; a static_assert in gateway/server/upgrade_auth.cpp
// keeps them in step). Refusals are counted by reason only: never a token, shop or agent id.
inline constexpr std::array<std::string_view, 7> kAuthRefusalReasons{
    "missing", "malformed", "bad_signature", "expired", "wrong_shop", "wrong_role", "wrong_agent"};

// Why a WebSocket connection ended: the reason label of chatdesk_connections_closed_total
// (docs/security.md, "Error and close codes"). A fixed set, so clients cannot add series.
enum class CloseCause {
  client,        // the client sent a close frame
  dropped,       // the TCP connection ended without a closing handshake
  handshake,     // the WebSocket handshake failed or timed out
  idle,          // nothing received for limits.idle_timeout
  too_big,       // a message over limits.max_message_bytes (1009)
  bad_utf8,      // invalid UTF-8 in a text message (1007)
  protocol,      // a framing error: bad opcode, reserved bits, unmasked frame... (1002)
  rate_limited,  // flooding past limits.message_rate (1008)
  slow_reader,   // more than limits.send_queue_limit frames queued (cut)
  replaced,      // the same agent id or customer connected again (1008)
  going_away,    // the gateway is stopping (1001)
  moved,         // the shop's desk moved to another node, or has none right now (1012)
  server,        // the desk ended it normally (1000)
};
inline constexpr std::size_t kCloseCauseCount = static_cast<std::size_t>(CloseCause::server) + 1;
std::string_view to_string(CloseCause cause);

// HTTP statuses counted in chatdesk_http_errors_total{status}; any other error status is "other".
inline constexpr std::array<unsigned, 9> kHttpErrorStatuses{400, 401, 403, 404, 405,
                                                            429, 431, 500, 503};

struct DeskMetricsOptions {
  std::size_t max_agents = 10'000;   // distinct (shop, agent) series sets before kOtherAgent
  std::size_t max_error_codes = 64;  // distinct protocol error codes before kOtherCode
};

// Owns the registry's families and a cache of per-shop / per-agent series.
// Thread-safety: the series handles are prometheus-cpp metrics (atomic, any thread), but the cache
// behind shop(), agent() and protocol_error(), and record_writer_totals(), are for one thread: the
// gateway's event loop (which is also the SLA engine's thread). Serializing the registry is safe
// from any thread.
class DeskMetrics {
 public:
  // Registers every family in `registry` (a new one when null) and the series of every shop in
  // `config`, so dashboards see zeros before the first event. Throws only if the registry already
  // holds one of these names with another type (start-up, not the hot path).
  explicit DeskMetrics(const config::Config& config,
                       std::shared_ptr<prometheus::Registry> registry = nullptr,
                       DeskMetricsOptions options = {});
  ~DeskMetrics();
  DeskMetrics(const DeskMetrics&) = delete;
  DeskMetrics& operator=(const DeskMetrics&) = delete;

  prometheus::Registry& registry() const { return *registry_; }
  const std::shared_ptr<prometheus::Registry>& shared_registry() const { return registry_; }

  // The series of a configured shop; nullptr for a shop not in the config. No allocation.
  ShopSeries* shop(std::string_view shop);
  // The series of `agent` in a configured shop, created on first use; an empty agent means
  // kNoAgent. nullptr for a shop not in the config. A hit does not allocate.
  AgentSeries* agent(std::string_view shop, std::string_view agent);

  prometheus::Gauge& connections(ConnectionKind kind) const;
  // One WebSocket connection ended, for `cause`. No allocation.
  prometheus::Counter& connection_closed(CloseCause cause) const;
  // An HTTP response with status >= 400 (pages and refused WebSocket upgrades). No allocation.
  prometheus::Counter& http_error(unsigned status) const;
  // The documented codes exist from the start; another code is added on first use (up to
  // max_error_codes, then kOtherCode). A hit does not allocate.
  prometheus::Counter& protocol_error(std::string_view code);
  // The refusal counter of kAuthRefusalReasons[reason] (every one exists from the start).
  prometheus::Counter& auth_refusal(std::size_t reason) const { return *auth_refusals_[reason]; }

  // Brings chatdesk_violation_writes_total and chatdesk_violations_spooled up to the Redis
  // writer's running totals (WriterStats); call before serializing. Totals that went down (a new
  // writer) count from zero again.
  void record_writer_totals(std::uint64_t ok, std::uint64_t error, std::uint64_t dropped,
                            std::size_t spooled);

  // chatdesk_store_up (1 while the desk's store can write, docs/storage.md) and the running totals
  // chatdesk_store_writes_total (round trips) and chatdesk_store_commands_total; call before
  // serializing. The three series exist from the first call on: only a gateway with a store
  // exports them.
  void record_store(bool up, std::uint64_t writes, std::uint64_t commands);

  // chatdesk_sla_timer_lateness_seconds: how late the gateway's SLA deadline timer ran (when its
  // handler started minus the time it was set for). The event loop's lag, and a bound on how late
  // a violation fires after its deadline. No allocation.
  prometheus::Histogram& timer_lateness() const { return *timer_lateness_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  struct ShopEntry {
    ShopSeries series;
    StringMap<AgentSeries> agents;
  };

  AgentSeries make_agent(std::string_view shop, std::string_view agent);
  static void advance(prometheus::Counter& counter, std::uint64_t& seen, std::uint64_t total);

  std::shared_ptr<prometheus::Registry> registry_;
  DeskMetricsOptions options_;
  std::size_t agent_count_ = 0;

  prometheus::Family<prometheus::Histogram>& greeting_latency_;
  prometheus::Family<prometheus::Histogram>& reply_wait_;
  prometheus::Family<prometheus::Histogram>& typing_rate_;
  prometheus::Family<prometheus::Counter>& violations_;
  prometheus::Family<prometheus::Gauge>& customers_waiting_;
  prometheus::Family<prometheus::Gauge>& queue_length_;
  prometheus::Family<prometheus::Gauge>& conversations_active_;
  prometheus::Family<prometheus::Gauge>& agents_;
  prometheus::Family<prometheus::Counter>& conversations_;
  prometheus::Family<prometheus::Counter>& messages_;
  prometheus::Family<prometheus::Counter>& typing_unmeasured_;
  prometheus::Family<prometheus::Counter>& violation_writes_;
  prometheus::Family<prometheus::Gauge>& violations_spooled_;
  prometheus::Family<prometheus::Gauge>& store_up_;
  prometheus::Family<prometheus::Counter>& store_writes_;
  prometheus::Family<prometheus::Counter>& store_commands_;
  prometheus::Family<prometheus::Gauge>& connections_;
  prometheus::Family<prometheus::Counter>& protocol_errors_;
  prometheus::Family<prometheus::Counter>& connections_closed_;
  prometheus::Family<prometheus::Counter>& http_errors_;
  prometheus::Family<prometheus::Counter>& auth_refusals_family_;

  StringMap<ShopEntry> shops_;
  StringMap<prometheus::Counter*> error_codes_;
  std::array<prometheus::Gauge*, kConnectionKindCount> connections_by_kind_{};
  std::array<prometheus::Counter*, kCloseCauseCount> closed_by_cause_{};
  std::array<prometheus::Counter*, kHttpErrorStatuses.size() + 1> http_errors_by_status_{};
  std::array<prometheus::Counter*, kAuthRefusalReasons.size()> auth_refusals_{};
  prometheus::Counter* writes_ok_;
  prometheus::Counter* writes_error_;
  prometheus::Counter* writes_dropped_;
  prometheus::Gauge* spooled_;
  prometheus::Gauge* store_up_gauge_ = nullptr;  // all three added by the first record_store()
  prometheus::Counter* store_writes_counter_ = nullptr;
  prometheus::Counter* store_commands_counter_ = nullptr;
  std::uint64_t seen_store_writes_ = 0;
  std::uint64_t seen_store_commands_ = 0;
  prometheus::Histogram* timer_lateness_ = nullptr;
  std::uint64_t seen_ok_ = 0;
  std::uint64_t seen_error_ = 0;
  std::uint64_t seen_dropped_ = 0;
};

// The registry in the Prometheus text exposition format (what GET /metrics serves).
std::string serialize(const prometheus::Registry& registry);

}  // namespace chatdesk::monitor
