// The real gateway with a real redis-server: SLA violations fire live, reach the agent console,
// the Redis stream and /metrics; Redis outages lose nothing.

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "support/gateway_process.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using chatdesk::test::eventually;
using chatdesk::test::GatewayProcess;
using chatdesk::test::RedisServer;
using chatdesk::test::WsClient;
namespace json = boost::json;

namespace {

// Short limits so the test runs in seconds; the rules are the same at 15 s/30 s (unit tests cover
// those exact values with a fake clock).
const std::string kFastShop =
    "  - id: fast\n"
    "    name: \"Fast shop\"\n"
    "    timezone: Asia/Shanghai\n"
    "    sla: {greeting_target: 1s, greeting_limit: 2s, escalate_every: 1s, reply_wait_limit: "
    "1s}\n";

std::string redis_section(const std::string& url) {
  return "redis: {url: \"" + url +
         "\", violations_stream: \"chatdesk:violations\", maxlen: 100000}\n";
}

// Every entry of the stream as field → value maps.
std::vector<std::map<std::string, std::string>> stream_entries(const RedisServer& redis) {
  std::vector<std::map<std::string, std::string>> out;
  auto reply = redis.command({"XRANGE", "chatdesk:violations", "-", "+"});
  if (!reply || reply->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < reply->elements; ++i) {
    auto* fields = reply->element[i]->element[1];
    std::map<std::string, std::string> entry;
    for (size_t f = 0; f + 1 < fields->elements; f += 2)
      entry[fields->element[f]->str] = fields->element[f + 1]->str;
    out.push_back(std::move(entry));
  }
  return out;
}

double metric_value(const std::string& scrape, const std::string& series) {
  auto pos = scrape.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(scrape.substr(pos + series.size() + 2));
}

}  // namespace

TEST_CASE("an ungreeted customer fires greeting violations live: console, Redis stream, metrics") {
  RedisServer redis;
  GatewayProcess gw(kFastShop, redis_section(redis.url()));
  WsClient agent(gw.port(), "/ws/agent?shop=fast&agent=lena");
  agent.expect("welcome");
  agent.send({{"type", "status"}, {"state", "available"}});
  WsClient customer(gw.port(), "/ws/customer?shop=fast");
  std::string conversation(customer.expect("welcome")["conversation"].as_string());
  agent.expect("assigned");
  customer.send({{"type", "message"}, {"text", "您好，在吗？"}, {"client_msg_id", "q"}});
  agent.expect("message");

  // Live, while the customer is still waiting: warning at 1 s, breach at 2 s, breach level 2 at 3
  // s.
  auto warning = agent.expect("sla", std::chrono::seconds(5));
  CHECK(warning["conversation"].as_string() == conversation);
  CHECK(warning["rule"].as_string() == "greeting");
  CHECK(warning["severity"].as_string() == "warning");
  CHECK(warning["level"].as_int64() == 1);
  CHECK(warning["target_ms"].as_int64() == 1000);
  CHECK(warning["elapsed_ms"].as_int64() >= 1000);
  auto breach = agent.expect("sla", std::chrono::seconds(5));
  CHECK(breach["severity"].as_string() == "breach");
  CHECK(breach["level"].as_int64() == 1);
  CHECK(breach["target_ms"].as_int64() == 2000);
  auto breach2 = agent.expect("sla", std::chrono::seconds(5));
  CHECK(breach2["severity"].as_string() == "breach");
  CHECK(breach2["level"].as_int64() == 2);

  // The stream holds them with every field.
  REQUIRE(eventually([&] { return stream_entries(redis).size() >= 3; }));
  auto entries = stream_entries(redis);
  const auto& first = entries[0];
  for (const char* field : {"id", "rule", "severity", "level", "shop", "agent", "conversation",
                            "elapsed_ms", "target_ms", "ts"})
    CHECK(first.count(field) == 1);
  CHECK(first.at("rule") == "greeting");
  CHECK(first.at("severity") == "warning");
  CHECK(first.at("shop") == "fast");
  CHECK(first.at("agent") == "lena");
  CHECK(first.at("conversation") == conversation);
  CHECK(first.at("target_ms") == "1000");
  CHECK(entries[1].at("severity") == "breach");
  std::set<std::string> ids;
  for (const auto& e : entries) ids.insert(e.at("id"));
  CHECK(ids.size() == entries.size());

  // Metrics count them; the agent answers and the greeting histogram counts the latency.
  auto scrape = chatdesk::test::http_get(gw.port(), "/metrics").second;
  CHECK(metric_value(scrape,
                     "chatdesk_sla_violations_total{agent=\"lena\",rule=\"greeting\",severity="
                     "\"warning\",shop=\"fast\"}") == 1);
  CHECK(metric_value(scrape,
                     "chatdesk_sla_violations_total{agent=\"lena\",rule=\"greeting\",severity="
                     "\"breach\",shop=\"fast\"}") >= 2);
  CHECK(scrape.find(conversation) == std::string::npos);  // never a conversation id in a label
  agent.send({{"type", "message"},
              {"conversation", conversation},
              {"text", "您好，让您久等了！"},
              {"client_msg_id", "a"}});
  agent.expect("ack");
  CHECK(eventually([&] {
    auto s = chatdesk::test::http_get(gw.port(), "/metrics").second;
    return metric_value(
               s, "chatdesk_greeting_latency_seconds_count{agent=\"lena\",shop=\"fast\"}") == 1;
  }));
  auto after = chatdesk::test::http_get(gw.port(), "/metrics").second;
  CHECK(metric_value(
            after,
            "chatdesk_greeting_latency_seconds_bucket{agent=\"lena\",shop=\"fast\",le=\"5\"}") ==
        1);
  CHECK(metric_value(
            after,
            "chatdesk_greeting_latency_seconds_bucket{agent=\"lena\",shop=\"fast\",le=\"2\"}") <=
        0);
}

TEST_CASE("violations produced while Redis is down are all in the stream once it is back") {
  RedisServer redis;
  // The violation writer alone: with the desk's store on, new chats wait for Redis (503), which
  // gateway_storage_test.cpp covers; here customers arrive during the outage.
  GatewayProcess gw(kFastShop, redis_section(redis.url()) + "storage: {enabled: false}\n");
  redis.stop();
  // Twenty customers nobody answers: each fires a warning, then breaches every second.
  std::vector<std::unique_ptr<WsClient>> customers;
  for (int i = 0; i < 20; ++i) {
    customers.push_back(std::make_unique<WsClient>(gw.port(), "/ws/customer?shop=fast"));
    customers.back()->expect("welcome");
    customers.back()->send({{"type", "message"}, {"text", "有人吗"}, {"client_msg_id", "q"}});
    customers.back()->expect("ack");
  }
  // Wait until at least 60 violations were produced while Redis is down.
  double produced = 0;
  REQUIRE(eventually([&] {
    auto s = chatdesk::test::http_get(gw.port(), "/metrics").second;
    produced = metric_value(s, "chatdesk_violations_spooled");
    return produced >= 60;
  }));
  customers
      .clear();  // they leave; more violations (missed) follow after resume_grace, not waited for
  redis.restart();
  // Everything spooled arrives, each exactly once.
  REQUIRE(eventually(
      [&] {
        auto s = chatdesk::test::http_get(gw.port(), "/metrics").second;
        return metric_value(s, "chatdesk_violations_spooled") == 0;
      },
      std::chrono::seconds(20)));
  auto scrape = chatdesk::test::http_get(gw.port(), "/metrics").second;
  double ok = metric_value(scrape, "chatdesk_violation_writes_total{result=\"ok\"}");
  double dropped = metric_value(scrape, "chatdesk_violation_writes_total{result=\"dropped\"}");
  CHECK(dropped == 0);
  auto entries = stream_entries(redis);
  std::set<std::string> ids;
  for (const auto& e : entries) ids.insert(e.at("id"));
  CHECK(ids.size() == entries.size());  // no duplicates
  CHECK(static_cast<double>(entries.size()) == ok);
  CHECK(entries.size() >= 60);
}

TEST_CASE("promtool check metrics accepts a scrape of the gateway") {
  GatewayProcess gw(kFastShop);
  WsClient agent(gw.port(), "/ws/agent?shop=fast&agent=max");
  agent.expect("welcome");
  auto scrape = chatdesk::test::http_get(gw.port(), "/metrics");
  REQUIRE(scrape.first == 200);
  auto path = std::filesystem::temp_directory_path() /
              ("chatdesk-scrape-" + std::to_string(gw.port()) + ".txt");
  std::ofstream(path) << scrape.second;
  std::string cmd = "promtool check metrics < " + path.string() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  INFO(out);
  CHECK(WEXITSTATUS(status) == 0);
  std::filesystem::remove(path);
}
