#include "chatdesk/monitor/desk_metrics.hpp"

#include <prometheus/text_serializer.h>

#include <string>
#include <utility>

namespace chatdesk::monitor {

static_assert(static_cast<int>(Rule::greeting) == 0 && kRuleCount == 7,
              "Rule changed: update kRuleCount and kRules");
static_assert(static_cast<int>(Severity::warning) == 0 && kSeverityCount == 2,
              "Severity changed: update kSeverityCount and kSeverities");
static_assert(static_cast<int>(Outcome::served) == 0 && kOutcomeCount == 5,
              "Outcome changed: update kOutcomeCount and kOutcomes");
static_assert(kConnectionKindCount == 3, "ConnectionKind changed: update the constructor");
static_assert(kCloseCauseCount == 13, "CloseCause changed: update to_string(CloseCause)");

namespace {

constexpr std::array<Rule, kRuleCount> kRules{Rule::greeting, Rule::reply_wait, Rule::typing_rate,
                                              Rule::missed,   Rule::language,   Rule::courtesy,
                                              Rule::handover};
constexpr std::array<Severity, kSeverityCount> kSeverities{Severity::warning, Severity::breach};
constexpr std::array<Outcome, kOutcomeCount> kOutcomes{Outcome::served, Outcome::missed,
                                                       Outcome::transferred, Outcome::handed_over,
                                                       Outcome::requeued};

// Bucket bounds follow the shop SLA defaults (greeting target 15 s / limit 30 s, reply wait limit
// 20 s, typing minimum 50 cpm) so the targets are bucket edges and a ratio query is exact.
const prometheus::Histogram::BucketBoundaries kGreetingBuckets{5, 10, 15, 20, 30, 45, 60, 120};
const prometheus::Histogram::BucketBoundaries kReplyWaitBuckets{5, 10, 15, 20, 30, 60};
const prometheus::Histogram::BucketBoundaries kTypingBuckets{20, 30, 40, 50, 60, 80, 100, 150};
// Timer lateness, seconds: from 0.5 ms (a loop keeping up) to 2.5 s (a stalled one); 50 ms, the
// benchmarks' target for deadline accuracy, is a bucket edge.
const prometheus::Histogram::BucketBoundaries kTimerLatenessBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

// The codes of docs/protocol.md, created up front so that error rates start from zero.
constexpr std::array<std::string_view, 9> kKnownErrorCodes{
    "bad_request",         "unknown_type", "too_large", "not_owner",  "target_unavailable",
    "conversation_closed", "rate_limited", "replaced",  "unavailable"};

template <typename T>
prometheus::Family<T>& build(prometheus::detail::Builder<T> builder, prometheus::Registry& registry,
                             const std::string& name, const std::string& help) {
  return builder.Name(name).Help(help).Register(registry);
}

std::string str(std::string_view s) {
  return std::string(s);
}

}  // namespace

std::string_view to_string(CloseCause cause) {
  switch (cause) {
    case CloseCause::client:
      return "client";
    case CloseCause::dropped:
      return "dropped";
    case CloseCause::handshake:
      return "handshake";
    case CloseCause::idle:
      return "idle";
    case CloseCause::too_big:
      return "too_big";
    case CloseCause::bad_utf8:
      return "bad_utf8";
    case CloseCause::protocol:
      return "protocol";
    case CloseCause::rate_limited:
      return "rate_limited";
    case CloseCause::slow_reader:
      return "slow_reader";
    case CloseCause::replaced:
      return "replaced";
    case CloseCause::going_away:
      return "going_away";
    case CloseCause::moved:
      return "moved";
    case CloseCause::server:
      return "server";
  }
  return "dropped";
}

DeskMetrics::DeskMetrics(const config::Config& config,
                         std::shared_ptr<prometheus::Registry> registry, DeskMetricsOptions options)
    : registry_(registry ? std::move(registry) : std::make_shared<prometheus::Registry>()),
      options_(options),
      greeting_latency_(build(prometheus::BuildHistogram(), *registry_,
                              "chatdesk_greeting_latency_seconds",
                              "Time from a conversation's first customer message to the first "
                              "agent message (business hours only), by shop and agent.")),
      reply_wait_(build(prometheus::BuildHistogram(), *registry_, "chatdesk_reply_wait_seconds",
                        "Time a customer waited for an agent's reply after the greeting, by shop "
                        "and agent.")),
      typing_rate_(build(prometheus::BuildHistogram(), *registry_, "chatdesk_typing_rate_cpm",
                         "Typing rate of measured agent messages in code points per minute, by "
                         "shop and agent.")),
      violations_(build(prometheus::BuildCounter(), *registry_, "chatdesk_sla_violations_total",
                        "SLA violations by shop, agent (\"none\" while queued), rule and "
                        "severity.")),
      customers_waiting_(build(prometheus::BuildGauge(), *registry_, "chatdesk_customers_waiting",
                               "Conversations whose latest customer message is unanswered.")),
      queue_length_(build(prometheus::BuildGauge(), *registry_, "chatdesk_queue_length",
                          "Conversations waiting in the shop queue for an agent.")),
      conversations_active_(build(prometheus::BuildGauge(), *registry_,
                                  "chatdesk_conversations_active",
                                  "Open conversations of the shop, queued or assigned.")),
      agents_(build(prometheus::BuildGauge(), *registry_, "chatdesk_agents",
                    "Connected agents by state (available, away); disconnected agents are not "
                    "counted.")),
      conversations_(build(prometheus::BuildCounter(), *registry_, "chatdesk_conversations_total",
                           "Conversations that ended or changed hands, by outcome (served, "
                           "missed, transferred, handed_over, requeued).")),
      messages_(build(prometheus::BuildCounter(), *registry_, "chatdesk_messages_total",
                      "Chat messages by sender (customer, agent).")),
      typing_unmeasured_(build(prometheus::BuildCounter(), *registry_,
                               "chatdesk_typing_unmeasured_total",
                               "Agent messages whose typing rate could not be measured (too short, "
                               "or no typing start before them).")),
      violation_writes_(build(prometheus::BuildCounter(), *registry_,
                              "chatdesk_violation_writes_total",
                              "Violations handed to the Redis stream writer, by result: ok "
                              "(acknowledged), error (a failed attempt, retried), dropped (never "
                              "written: spool full or shutdown).")),
      violations_spooled_(build(prometheus::BuildGauge(), *registry_, "chatdesk_violations_spooled",
                                "Violations held in memory waiting for Redis.")),
      store_up_(build(prometheus::BuildGauge(), *registry_, "chatdesk_store_up",
                      "1 while the desk's store (Redis) is loaded and connected; 0 while chat "
                      "messages are refused as unavailable.")),
      store_writes_(build(prometheus::BuildCounter(), *registry_, "chatdesk_store_writes_total",
                          "Writes (pipelined round trips) of the desk's changes to Redis.")),
      store_commands_(build(prometheus::BuildCounter(), *registry_, "chatdesk_store_commands_total",
                            "Redis commands sent by the desk's store (its writes and "
                            "heartbeats).")),
      connections_(build(prometheus::BuildGauge(), *registry_, "chatdesk_connections",
                         "Open WebSocket connections by kind (customer, agent, lead).")),
      protocol_errors_(build(prometheus::BuildCounter(), *registry_,
                             "chatdesk_protocol_errors_total",
                             "Error frames sent to clients, by error code.")),
      connections_closed_(build(prometheus::BuildCounter(), *registry_,
                                "chatdesk_connections_closed_total",
                                "WebSocket connections that ended, by reason (client, dropped, "
                                "handshake, idle, too_big, bad_utf8, protocol, rate_limited, "
                                "slow_reader, replaced, going_away, moved, server).")),
      http_errors_(build(prometheus::BuildCounter(), *registry_, "chatdesk_http_errors_total",
                         "HTTP requests answered with an error status (pages and refused "
                         "WebSocket upgrades), by status.")),
      auth_refusals_family_(build(prometheus::BuildCounter(), *registry_,
                                  "chatdesk_auth_refusals_total",
                                  "WebSocket upgrades refused by token auth, by reason (401: "
                                  "missing, malformed, bad_signature, expired; 403: wrong_shop, "
                                  "wrong_role, wrong_agent).")) {
  for (const auto& shop_config : config.shops) {
    const std::string& id = shop_config.id;
    ShopSeries series{
        .customers_waiting = customers_waiting_.Add({{"shop", id}}),
        .queue_length = queue_length_.Add({{"shop", id}}),
        .conversations_active = conversations_active_.Add({{"shop", id}}),
        .agents_available = agents_.Add({{"shop", id}, {"state", "available"}}),
        .agents_away = agents_.Add({{"shop", id}, {"state", "away"}}),
        .messages_customer = messages_.Add({{"shop", id}, {"from", "customer"}}),
        .messages_agent = messages_.Add({{"shop", id}, {"from", "agent"}}),
        .outcomes = {},
    };
    for (Outcome o : kOutcomes)
      series.outcomes[static_cast<std::size_t>(o)] =
          &conversations_.Add({{"shop", id}, {"outcome", str(to_string(o))}});
    shops_.try_emplace(id, ShopEntry{series, {}});
  }

  for (auto [kind, name] :
       {std::pair{ConnectionKind::customer, "customer"}, std::pair{ConnectionKind::agent, "agent"},
        std::pair{ConnectionKind::lead, "lead"}})
    connections_by_kind_[static_cast<std::size_t>(kind)] = &connections_.Add({{"kind", name}});
  for (std::size_t i = 0; i < kCloseCauseCount; ++i)
    closed_by_cause_[i] =
        &connections_closed_.Add({{"reason", str(to_string(static_cast<CloseCause>(i)))}});
  for (std::size_t i = 0; i < kHttpErrorStatuses.size(); ++i)
    http_errors_by_status_[i] =
        &http_errors_.Add({{"status", std::to_string(kHttpErrorStatuses[i])}});
  http_errors_by_status_.back() = &http_errors_.Add({{"status", "other"}});
  for (std::string_view code : kKnownErrorCodes)
    error_codes_.try_emplace(str(code), &protocol_errors_.Add({{"code", str(code)}}));
  for (std::size_t i = 0; i < kAuthRefusalReasons.size(); ++i)
    auth_refusals_[i] = &auth_refusals_family_.Add({{"reason", str(kAuthRefusalReasons[i])}});
  writes_ok_ = &violation_writes_.Add({{"result", "ok"}});
  writes_error_ = &violation_writes_.Add({{"result", "error"}});
  writes_dropped_ = &violation_writes_.Add({{"result", "dropped"}});
  spooled_ = &violations_spooled_.Add({});
  timer_lateness_ =
      &build(prometheus::BuildHistogram(), *registry_, "chatdesk_sla_timer_lateness_seconds",
             "How late the gateway's SLA deadline timer ran after the time it was set for (event "
             "loop lag; violations fire no later than this after their deadline).")
           .Add({}, kTimerLatenessBuckets);
}

DeskMetrics::~DeskMetrics() = default;

ShopSeries* DeskMetrics::shop(std::string_view shop) {
  auto it = shops_.find(shop);
  return it == shops_.end() ? nullptr : &it->second.series;
}

AgentSeries* DeskMetrics::agent(std::string_view shop, std::string_view agent) {
  auto shop_it = shops_.find(shop);
  if (shop_it == shops_.end()) return nullptr;
  auto& agents = shop_it->second.agents;
  if (agent.empty()) agent = kNoAgent;
  if (auto it = agents.find(agent); it != agents.end()) return &it->second;

  // The placeholders do not count against the cap, so "other" can always be created.
  const bool placeholder = agent == kNoAgent || agent == kOtherAgent;
  if (!placeholder) {
    if (agent_count_ >= options_.max_agents) return this->agent(shop, kOtherAgent);
    ++agent_count_;
  }
  auto [it, inserted] = agents.try_emplace(str(agent), make_agent(shop_it->first, agent));
  return &it->second;
}

AgentSeries DeskMetrics::make_agent(std::string_view shop, std::string_view agent) {
  const prometheus::Labels labels{{"shop", str(shop)}, {"agent", str(agent)}};
  AgentSeries series{
      .greeting_latency = greeting_latency_.Add(labels, kGreetingBuckets),
      .reply_wait = reply_wait_.Add(labels, kReplyWaitBuckets),
      .typing_rate = typing_rate_.Add(labels, kTypingBuckets),
      .typing_unmeasured = typing_unmeasured_.Add(labels),
      .violations_by_kind = {},
  };
  for (Rule r : kRules) {
    for (Severity s : kSeverities) {
      prometheus::Labels violation_labels = labels;
      violation_labels.emplace("rule", str(to_string(r)));
      violation_labels.emplace("severity", str(to_string(s)));
      series.violations_by_kind[static_cast<std::size_t>(r) * kSeverityCount +
                                static_cast<std::size_t>(s)] = &violations_.Add(violation_labels);
    }
  }
  return series;
}

prometheus::Gauge& DeskMetrics::connections(ConnectionKind kind) const {
  return *connections_by_kind_[static_cast<std::size_t>(kind)];
}

prometheus::Counter& DeskMetrics::connection_closed(CloseCause cause) const {
  return *closed_by_cause_[static_cast<std::size_t>(cause)];
}

prometheus::Counter& DeskMetrics::http_error(unsigned status) const {
  for (std::size_t i = 0; i < kHttpErrorStatuses.size(); ++i)
    if (kHttpErrorStatuses[i] == status) return *http_errors_by_status_[i];
  return *http_errors_by_status_.back();
}

prometheus::Counter& DeskMetrics::protocol_error(std::string_view code) {
  if (auto it = error_codes_.find(code); it != error_codes_.end()) return *it->second;
  if (error_codes_.size() >= options_.max_error_codes && code != kOtherCode)
    return protocol_error(kOtherCode);
  auto [it, inserted] =
      error_codes_.try_emplace(str(code), &protocol_errors_.Add({{"code", str(code)}}));
  return *it->second;
}

void DeskMetrics::advance(prometheus::Counter& counter, std::uint64_t& seen, std::uint64_t total) {
  // A total below the last one means the writer was replaced; its count starts again from zero.
  const std::uint64_t delta = total >= seen ? total - seen : total;
  if (delta > 0) counter.Increment(static_cast<double>(delta));
  seen = total;
}

void DeskMetrics::record_writer_totals(std::uint64_t ok, std::uint64_t error, std::uint64_t dropped,
                                       std::size_t spooled) {
  advance(*writes_ok_, seen_ok_, ok);
  advance(*writes_error_, seen_error_, error);
  advance(*writes_dropped_, seen_dropped_, dropped);
  spooled_->Set(static_cast<double>(spooled));
}

void DeskMetrics::record_store(bool up, std::uint64_t writes, std::uint64_t commands) {
  // Added at the first call: a gateway without a store exports no store series, so that
  // ChatdeskStoreDown (chatdesk_store_up == 0) cannot fire for it.
  if (!store_up_gauge_) {
    store_up_gauge_ = &store_up_.Add({});
    store_writes_counter_ = &store_writes_.Add({});
    store_commands_counter_ = &store_commands_.Add({});
  }
  store_up_gauge_->Set(up ? 1 : 0);
  advance(*store_writes_counter_, seen_store_writes_, writes);
  advance(*store_commands_counter_, seen_store_commands_, commands);
}

std::string serialize(const prometheus::Registry& registry) {
  return prometheus::TextSerializer{}.Serialize(registry.Collect());
}

}  // namespace chatdesk::monitor
