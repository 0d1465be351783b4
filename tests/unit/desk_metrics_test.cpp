#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "chatdesk/monitor/desk_metrics.hpp"
#include "chatdesk/monitor/prometheus_sla_sink.hpp"

namespace {

using namespace chatdesk::monitor;
using Catch::Matchers::Contains;
using chatdesk::Duration;

chatdesk::config::Config two_shops() {
  chatdesk::config::Config config;
  config.shops.resize(2);
  config.shops[0].id = "demo";
  config.shops[1].id = "tea";
  return config;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The sample line of `name` whose labels include every `labels` entry (each `key="value"`), or "".
std::string sample(const std::string& text, const std::string& name,
                   const std::vector<std::string>& labels) {
  for (const auto& line : lines_of(text)) {
    if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
    const std::string label_part = line.substr(0, line.find('}') + 1);
    bool all = true;
    for (const auto& l : labels) all = all && label_part.find(l) != std::string::npos;
    if (all) return line;
  }
  return {};
}

// The value at the end of a sample line.
double value_of(const std::string& line) {
  REQUIRE_FALSE(line.empty());
  return std::stod(line.substr(line.rfind(' ') + 1));
}

}  // namespace

TEST_CASE("desk metrics: every family with its type and help", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  // A family without series is not exposed; per-agent families get theirs on first use.
  REQUIRE(metrics.agent("demo", "alice") != nullptr);
  const std::string text = serialize(metrics.registry());

  const std::vector<std::pair<std::string, std::string>> families{
      {"chatdesk_greeting_latency_seconds", "histogram"},
      {"chatdesk_reply_wait_seconds", "histogram"},
      {"chatdesk_typing_rate_cpm", "histogram"},
      {"chatdesk_sla_violations_total", "counter"},
      {"chatdesk_customers_waiting", "gauge"},
      {"chatdesk_queue_length", "gauge"},
      {"chatdesk_conversations_active", "gauge"},
      {"chatdesk_agents", "gauge"},
      {"chatdesk_conversations_total", "counter"},
      {"chatdesk_messages_total", "counter"},
      {"chatdesk_typing_unmeasured_total", "counter"},
      {"chatdesk_violation_writes_total", "counter"},
      {"chatdesk_violations_spooled", "gauge"},
      {"chatdesk_connections", "gauge"},
      {"chatdesk_protocol_errors_total", "counter"},
  };
  for (const auto& [name, type] : families) {
    INFO(name);
    CHECK_THAT(text, Contains("# TYPE " + name + " " + type + "\n"));
    const auto help = text.find("# HELP " + name + " ");
    REQUIRE(help != std::string::npos);
    CHECK(text.find('\n', help) - help > std::string("# HELP " + name + " ").size() + 20);
  }
}

TEST_CASE("desk metrics: per-shop series exist as zeros from the start", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  const std::string text = serialize(metrics.registry());

  for (std::string shop : {"demo", "tea"}) {
    INFO(shop);
    const std::string s = "shop=\"" + shop + "\"";
    CHECK(value_of(sample(text, "chatdesk_customers_waiting", {s})) == 0);
    CHECK(value_of(sample(text, "chatdesk_queue_length", {s})) == 0);
    CHECK(value_of(sample(text, "chatdesk_conversations_active", {s})) == 0);
    for (std::string state : {"available", "away"})
      CHECK(value_of(sample(text, "chatdesk_agents", {s, "state=\"" + state + "\""})) == 0);
    for (std::string outcome : {"served", "missed", "transferred", "handed_over", "requeued"})
      CHECK(value_of(sample(text, "chatdesk_conversations_total",
                            {s, "outcome=\"" + outcome + "\""})) == 0);
    for (std::string from : {"customer", "agent"})
      CHECK(value_of(sample(text, "chatdesk_messages_total", {s, "from=\"" + from + "\""})) == 0);
  }
  for (std::string result : {"ok", "error", "dropped"})
    CHECK(value_of(
              sample(text, "chatdesk_violation_writes_total", {"result=\"" + result + "\""})) == 0);
  CHECK(value_of(sample(text, "chatdesk_violations_spooled", {})) == 0);
  for (std::string kind : {"customer", "agent", "lead"})
    CHECK(value_of(sample(text, "chatdesk_connections", {"kind=\"" + kind + "\""})) == 0);
  CHECK(value_of(sample(text, "chatdesk_protocol_errors_total", {"code=\"bad_request\""})) == 0);
  // Per-agent series appear on first use only.
  CHECK(text.find("chatdesk_greeting_latency_seconds_bucket") == std::string::npos);
}

TEST_CASE("desk metrics: histogram buckets", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  REQUIRE(metrics.agent("demo", "alice") != nullptr);
  const std::string text = serialize(metrics.registry());
  const std::vector<std::string> who{"shop=\"demo\"", "agent=\"alice\""};

  auto buckets = [&](const std::string& name, std::vector<std::string> bounds) {
    bounds.push_back("+Inf");
    for (const auto& le : bounds) {
      INFO(name << " le=" << le);
      auto labels = who;
      labels.push_back("le=\"" + le + "\"");
      CHECK_FALSE(sample(text, name + "_bucket", labels).empty());
    }
    // And no others.
    int count = 0;
    for (const auto& line : lines_of(text))
      if (line.rfind(name + "_bucket{", 0) == 0) ++count;
    CHECK(count == static_cast<int>(bounds.size()));
  };
  buckets("chatdesk_greeting_latency_seconds", {"5", "10", "15", "20", "30", "45", "60", "120"});
  buckets("chatdesk_reply_wait_seconds", {"5", "10", "15", "20", "30", "60"});
  buckets("chatdesk_typing_rate_cpm", {"20", "30", "40", "50", "60", "80", "100", "150"});
}

TEST_CASE("desk metrics: the SLA sink records into the agent's series", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  PrometheusSlaSink sink(metrics);

  sink.on_greeting("demo", "alice", Duration{12'000});
  sink.on_greeting("demo", "alice", Duration{40'000});
  sink.on_reply_wait("demo", "alice", Duration{25'500});
  sink.on_typing_rate("demo", "alice", 42.5);
  sink.on_typing_unmeasured("demo", "alice");
  sink.on_typing_unmeasured("demo", "alice");
  sink.on_outcome("demo", Outcome::served);
  sink.on_outcome("tea", Outcome::handed_over);
  Violation v;
  v.id = "v-1";
  v.rule = Rule::greeting;
  v.severity = Severity::breach;
  v.shop = "demo";
  v.agent = "alice";
  sink.on_violation(v);
  v.agent.clear();  // a queued conversation
  v.rule = Rule::missed;
  sink.on_violation(v);

  const std::string text = serialize(metrics.registry());
  const std::vector<std::string> alice{"shop=\"demo\"", "agent=\"alice\""};
  auto with = [](std::vector<std::string> labels, std::string extra) {
    labels.push_back(std::move(extra));
    return labels;
  };
  CHECK(value_of(sample(text, "chatdesk_greeting_latency_seconds_count", alice)) == 2);
  CHECK(value_of(sample(text, "chatdesk_greeting_latency_seconds_sum", alice)) == Approx(52.0));
  CHECK(value_of(sample(text, "chatdesk_greeting_latency_seconds_bucket",
                        with(alice, "le=\"10\""))) == 0);
  CHECK(value_of(sample(text, "chatdesk_greeting_latency_seconds_bucket",
                        with(alice, "le=\"15\""))) == 1);
  CHECK(value_of(sample(text, "chatdesk_greeting_latency_seconds_bucket",
                        with(alice, "le=\"45\""))) == 2);
  CHECK(value_of(sample(text, "chatdesk_reply_wait_seconds_sum", alice)) == Approx(25.5));
  CHECK(value_of(sample(text, "chatdesk_reply_wait_seconds_bucket", with(alice, "le=\"30\""))) ==
        1);
  CHECK(value_of(sample(text, "chatdesk_typing_rate_cpm_bucket", with(alice, "le=\"40\""))) == 0);
  CHECK(value_of(sample(text, "chatdesk_typing_rate_cpm_bucket", with(alice, "le=\"50\""))) == 1);
  CHECK(value_of(sample(text, "chatdesk_typing_unmeasured_total", alice)) == 2);
  CHECK(value_of(sample(text, "chatdesk_conversations_total",
                        {"shop=\"demo\"", "outcome=\"served\""})) == 1);
  CHECK(value_of(sample(text, "chatdesk_conversations_total",
                        {"shop=\"tea\"", "outcome=\"handed_over\""})) == 1);
  CHECK(value_of(sample(text, "chatdesk_sla_violations_total",
                        with(with(alice, "rule=\"greeting\""), "severity=\"breach\""))) == 1);
  // Every (rule, severity) of a known agent starts at zero.
  CHECK(value_of(sample(text, "chatdesk_sla_violations_total",
                        with(with(alice, "rule=\"handover\""), "severity=\"warning\""))) == 0);
  CHECK(value_of(sample(
            text, "chatdesk_sla_violations_total",
            {"shop=\"demo\"", "agent=\"none\"", "rule=\"missed\"", "severity=\"breach\""})) == 1);
}

TEST_CASE("desk metrics: the cache hands out the same series per (shop, agent)", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);

  AgentSeries* alice = metrics.agent("demo", "alice");
  REQUIRE(alice != nullptr);
  const std::string name = "alice";
  CHECK(metrics.agent(std::string_view(name), "alice") == nullptr);  // "alice" is not a shop
  CHECK(metrics.agent("demo", std::string_view(name)) == alice);
  CHECK(metrics.agent("demo", "bob") != alice);
  CHECK(metrics.agent("tea", "alice") != alice);
  CHECK(metrics.agent("demo", "") == metrics.agent("demo", "none"));
  CHECK(&alice->violations(Rule::courtesy, Severity::warning) !=
        &alice->violations(Rule::courtesy, Severity::breach));

  ShopSeries* demo = metrics.shop("demo");
  REQUIRE(demo != nullptr);
  CHECK(metrics.shop("demo") == demo);
  CHECK(metrics.shop("nowhere") == nullptr);
  CHECK(metrics.agent("nowhere", "alice") == nullptr);

  // The handles are the registry's series.
  demo->queue_length.Set(3);
  metrics.connections(ConnectionKind::agent).Increment();
  metrics.protocol_error("not_owner").Increment();
  const std::string text = serialize(metrics.registry());
  CHECK(value_of(sample(text, "chatdesk_queue_length", {"shop=\"demo\""})) == 3);
  CHECK(value_of(sample(text, "chatdesk_connections", {"kind=\"agent\""})) == 1);
  CHECK(value_of(sample(text, "chatdesk_protocol_errors_total", {"code=\"not_owner\""})) == 1);
}

TEST_CASE("desk metrics: unknown shops are ignored, label growth is capped", "[metrics]") {
  const auto config = two_shops();
  DeskMetricsOptions options;
  options.max_agents = 2;
  options.max_error_codes = 9;  // the 8 documented codes and one more
  DeskMetrics metrics(config, nullptr, options);
  PrometheusSlaSink sink(metrics);

  sink.on_greeting("nowhere", "alice", Duration{1000});
  sink.on_outcome("nowhere", Outcome::missed);
  CHECK(metrics.agent("demo", "a1") != metrics.agent("demo", "a2"));
  AgentSeries* other = metrics.agent("demo", "a3");
  CHECK(other == metrics.agent("demo", "a4"));
  CHECK(other == metrics.agent("demo", "other"));
  CHECK(metrics.agent("demo", "a1") != other);  // existing agents keep their series
  CHECK(&metrics.protocol_error("new_code") != &metrics.protocol_error("bad_request"));
  CHECK(&metrics.protocol_error("another") == &metrics.protocol_error("other"));

  const std::string text = serialize(metrics.registry());
  CHECK(text.find("nowhere") == std::string::npos);
  CHECK(text.find("a3") == std::string::npos);
  CHECK(text.find("another") == std::string::npos);
}

TEST_CASE("desk metrics: no conversation id, violation id or chat text in any label", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  PrometheusSlaSink sink(metrics);
  for (Rule rule : {Rule::greeting, Rule::language, Rule::typing_rate, Rule::missed}) {
    Violation v;
    v.id = "viol-secret-id";
    v.rule = rule;
    v.severity = Severity::warning;
    v.shop = "demo";
    v.agent = rule == Rule::missed ? "" : "alice";
    v.conversation = "c-secret";
    v.detail = "我不能 secret-phrase";
    sink.on_violation(v);
  }
  const std::string text = serialize(metrics.registry());
  CHECK(text.find("c-secret") == std::string::npos);
  CHECK(text.find("viol-secret-id") == std::string::npos);
  CHECK(text.find("secret-phrase") == std::string::npos);
  CHECK(text.find("我不能") == std::string::npos);
  CHECK(value_of(sample(text, "chatdesk_sla_violations_total",
                        {"agent=\"alice\"", "rule=\"language\"", "severity=\"warning\""})) == 1);
}

TEST_CASE("desk metrics: writer totals become counter increments", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  auto value = [&](const std::string& result) {
    return value_of(sample(serialize(metrics.registry()), "chatdesk_violation_writes_total",
                           {"result=\"" + result + "\""}));
  };
  metrics.record_writer_totals(10, 2, 1, 7);
  metrics.record_writer_totals(15, 2, 3, 4);
  CHECK(value("ok") == 15);
  CHECK(value("error") == 2);
  CHECK(value("dropped") == 3);
  CHECK(value_of(sample(serialize(metrics.registry()), "chatdesk_violations_spooled", {})) == 4);
  // A new writer starts from zero: the counter keeps growing, never goes down.
  metrics.record_writer_totals(5, 0, 0, 0);
  CHECK(value("ok") == 20);
}

TEST_CASE("desk metrics: store series exist only once a store reports, totals become increments",
          "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  // A gateway without a store: nothing for ChatdeskStoreDown to fire on.
  CHECK_THAT(serialize(metrics.registry()), !Contains("chatdesk_store_"));
  auto value = [&](const std::string& series) {
    return value_of(sample(serialize(metrics.registry()), series, {}));
  };
  metrics.record_store(false, 0, 0);
  CHECK(value("chatdesk_store_up") == 0);
  CHECK(value("chatdesk_store_writes_total") == 0);
  metrics.record_store(true, 12, 40);
  CHECK(value("chatdesk_store_up") == 1);
  CHECK(value("chatdesk_store_writes_total") == 12);
  CHECK(value("chatdesk_store_commands_total") == 40);
  metrics.record_store(true, 15, 47);
  CHECK(value("chatdesk_store_writes_total") == 15);
  CHECK(value("chatdesk_store_commands_total") == 47);
}

TEST_CASE("desk metrics: the SLA timer's lateness histogram", "[metrics]") {
  const auto config = two_shops();
  DeskMetrics metrics(config);
  const std::vector<std::string> bounds{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                        "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};
  auto bucket = [&](const std::string& le) {
    return value_of(sample(serialize(metrics.registry()),
                           "chatdesk_sla_timer_lateness_seconds_bucket", {"le=\"" + le + "\""}));
  };

  // One unlabelled series, there from the start (dashboards see zeros before the first run).
  const std::string text = serialize(metrics.registry());
  CHECK_THAT(text, Contains("# TYPE chatdesk_sla_timer_lateness_seconds histogram\n"));
  CHECK(value_of(sample(text, "chatdesk_sla_timer_lateness_seconds_count", {})) == 0);
  int count = 0;
  for (const auto& line : lines_of(text))
    if (line.rfind("chatdesk_sla_timer_lateness_seconds_bucket{", 0) == 0) ++count;
  CHECK(count == static_cast<int>(bounds.size()) + 1);

  // Bounds are inclusive: a run exactly 50 ms late (the benchmarks' target) is within le=0.05.
  metrics.timer_lateness().Observe(0.0004);
  metrics.timer_lateness().Observe(0.05);
  metrics.timer_lateness().Observe(3.0);
  CHECK(bucket("0.0005") == 1);
  CHECK(bucket("0.025") == 1);
  CHECK(bucket("0.05") == 2);
  CHECK(bucket("2.5") == 2);
  CHECK(bucket("+Inf") == 3);
  for (const auto& le : bounds) {
    INFO("le=" << le);
    CHECK_FALSE(sample(serialize(metrics.registry()), "chatdesk_sla_timer_lateness_seconds_bucket",
                       {"le=\"" + le + "\""})
                    .empty());
  }
}
