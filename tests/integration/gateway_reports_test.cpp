// The reports API (docs/reports.md) against the real gateway and a real redis-server: a scripted
// day of conversations (served, missed, transferred) comes back from /api/reports/summary with
// the figures the script makes, cross-checked against the records in the shop's stream; the
// ranking as CSV opens in Excel (byte order mark, CRLF, columns); bad requests get a clear 4xx;
// in token mode only a lead of the shop may read it.

#include <date/tz.h>
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "chatdesk/gateway/auth_token.hpp"
#include "support/chat_steps.hpp"
#include "support/gateway_process.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

namespace {

using chatdesk::test::eventually;
using chatdesk::test::GatewayProcess;
using chatdesk::test::http_request;
using chatdesk::test::RedisServer;
using chatdesk::test::send_acked;
using chatdesk::test::str;
using chatdesk::test::WsClient;
using namespace std::chrono_literals;
namespace json = boost::json;

const std::string kShop =
    "  - id: tea\n    timezone: Asia/Shanghai\n    max_concurrent: 5\n    resume_grace: 60s\n"
    "    sla: {greeting_target: 1h, greeting_limit: 2h, reply_wait_limit: 1h}\n";

std::string config(const RedisServer& redis, const std::string& extra = "") {
  return "redis: {url: \"" + redis.url() + "\"}\nstorage: {enabled: true}\n" + extra;
}

std::unique_ptr<WsClient> agent(const GatewayProcess& gw, const std::string& id) {
  auto a = std::make_unique<WsClient>(gw.port(), "/ws/agent?shop=tea&agent=" + id);
  a->expect("welcome");
  a->send({{"type", "status"}, {"state", "available"}});
  a->expect("status");
  return a;
}

struct Customer {
  std::unique_ptr<WsClient> ws;
  std::string conversation;
};

Customer customer(const GatewayProcess& gw) {
  Customer c;
  c.ws = std::make_unique<WsClient>(gw.port(), "/ws/customer?shop=tea");
  c.conversation = str(c.ws->expect("welcome"), "conversation");
  return c;
}

// The agent hears of `c` and answers it.
void answer(WsClient& a, const Customer& c) {
  while (str(a.expect("message"), "conversation") != c.conversation) {
  }
  a.send({{"type", "message"},
          {"conversation", c.conversation},
          {"text", "您好，请问有什么可以帮您？"},
          {"client_msg_id", "r-" + c.conversation}});
  c.ws->expect("message");
}

void close(Customer& c) {
  c.ws->send({{"type", "close"}});
  c.ws->expect("closed");
}

// Today in Shanghai, as the API's month parameter.
std::string this_month() {
  const auto now = std::chrono::system_clock::now();
  const auto local = date::locate_zone("Asia/Shanghai")->to_local(now);
  return date::format("%Y-%m", date::floor<date::days>(local));
}

json::object summary(int port, const std::string& query) {
  auto a = http_request(port, "GET", "/api/reports/summary?shop=tea&" + query);
  INFO(a.body);
  REQUIRE(a.status == 200);
  CHECK(a.headers["content-type"] == "application/json");
  return json::parse(a.body).as_object();
}

}  // namespace

TEST_CASE("reports: a scripted day of conversations comes back with its exact figures",
          "[integration][reports]") {
  RedisServer redis;
  GatewayProcess gw(kShop, config(redis));
  auto a1 = agent(gw, "a1");
  // c1: a1 answers, the customer closes: served by a1.
  auto c1 = customer(gw);
  CHECK(str(a1->expect("assigned"), "conversation") == c1.conversation);
  REQUIRE_FALSE(send_acked(*c1.ws, {{"text", "有红茶吗？"}}, "q1").empty());
  answer(*a1, c1);
  close(c1);
  // c2: the customer writes, nobody answers, the customer leaves: missed, a1's.
  auto c2 = customer(gw);
  CHECK(str(a1->expect("assigned"), "conversation") == c2.conversation);
  REQUIRE_FALSE(send_acked(*c2.ws, {{"text", "在吗？"}}, "q2").empty());
  close(c2);
  // c3: assigned to a1, transferred to a2, who answers: served by a2, one transfer.
  auto c3 = customer(gw);
  CHECK(str(a1->expect("assigned"), "conversation") == c3.conversation);
  auto a2 = agent(gw, "a2");
  REQUIRE_FALSE(send_acked(*c3.ws, {{"text", "我要退货"}}, "q3").empty());
  a1->send(
      {{"type", "transfer"}, {"conversation", c3.conversation}, {"to", "a2"}, {"note", "退货"}});
  CHECK(str(a2->expect("assigned"), "conversation") == c3.conversation);
  a2->send({{"type", "message"},
            {"conversation", c3.conversation},
            {"text", "您好，我来处理"},
            {"client_msg_id", "r3"}});
  c3.ws->expect("message");
  close(c3);

  // The records are in the shop's stream (what the reports read): one per conversation.
  const auto records = [&] { return chatdesk::test::stream(redis, "chatdesk:{shop:tea}:records"); };
  REQUIRE(eventually([&] { return records().size() == 3; }, 5s));
  std::map<std::string, std::map<std::string, std::string>> by_id;
  for (const auto& r : records()) by_id[r.at("conversation")] = r;

  const auto report = summary(gw.port(), "month=" + this_month());
  CHECK(report.at("shop").as_string() == "tea");
  CHECK(report.at("timezone").as_string() == "Asia/Shanghai");
  CHECK(report.at("variant").as_string() == "all");
  const auto& k = report.at("kpis").as_object();
  CHECK(k.at("conversations").to_number<int>() == 3);
  CHECK(k.at("served").to_number<int>() == 2);
  CHECK(k.at("missed").to_number<int>() == 1);
  CHECK(k.at("transfers").to_number<int>() == 1);
  CHECK(k.at("loss_rate").to_number<double>() == Approx(1.0 / 3).epsilon(1e-12));
  CHECK(k.at("greeted_within_target").to_number<double>() == Approx(2.0 / 3).epsilon(1e-12));
  // Left well before the greeting limit (2 h): a missed outcome, but no `missed` breach
  // (docs/sla.md, "missed").
  CHECK(k.at("violations").as_object().at("missed").to_number<int>() == 0);
  // The first responses are the records' own (both served conversations had one).
  const auto fr = [&](const Customer& c) {
    return std::stoll(by_id.at(c.conversation).at("first_response_ms"));
  };
  CHECK(k.at("first_responses").to_number<int>() == 2);
  CHECK(k.at("first_response_mean_ms").to_number<long long>() == (fr(c1) + fr(c3) + 1) / 2);
  CHECK(k.at("first_response_p90_ms").to_number<long long>() == std::max(fr(c1), fr(c3)));
  CHECK(k.at("first_response_median_ms").to_number<long long>() == std::min(fr(c1), fr(c3)));

  // Per agent: c1 and c2 are a1's, c3 is a2's (its last owner).
  std::map<std::string, json::object> ranking;
  for (const auto& r : report.at("ranking").as_array())
    ranking[std::string(r.at("agent").as_string())] = r.as_object();
  REQUIRE(ranking.size() == 2);
  const auto& k1 = ranking.at("a1").at("kpis").as_object();
  const auto& k2 = ranking.at("a2").at("kpis").as_object();
  CHECK(k1.at("served").to_number<int>() == 1);
  CHECK(k1.at("missed").to_number<int>() == 1);
  CHECK(k1.at("loss_rate").to_number<double>() == 0.5);
  CHECK(k2.at("served").to_number<int>() == 1);
  CHECK(k2.at("transfers").to_number<int>() == 1);
  CHECK(k2.at("first_response_mean_ms").to_number<long long>() == fr(c3));
  // a2 lost nobody: first (100); a1 greeted one of two and lost the other: last
  // (25 x 0.5 + 25 + 20 x 0.5 + 20 + 10 = 77.5).
  CHECK(ranking.at("a2").at("place").to_number<int>() == 1);
  CHECK(ranking.at("a2").at("first").as_bool());
  CHECK(ranking.at("a1").at("last").as_bool());
  CHECK(ranking.at("a1").at("score").to_number<double>() == Approx(77.5));
  CHECK(ranking.at("a2").at("score").to_number<double>() == Approx(100.0));
  // Every day of the month is a bucket; today's holds the three.
  const auto& buckets = report.at("buckets").as_array();
  CHECK(buckets.size() >= 28);
  int in_buckets = 0;
  for (const auto& b : buckets)
    in_buckets += b.at("kpis").as_object().at("conversations").to_number<int>();
  CHECK(in_buckets == 3);

  // The ranking as CSV for Excel.
  auto csv =
      http_request(gw.port(), "GET", "/api/reports/ranking.csv?shop=tea&month=" + this_month());
  REQUIRE(csv.status == 200);
  CHECK(csv.headers["content-type"] == "text/csv; charset=utf-8");
  CHECK_THAT(csv.headers["content-disposition"],
             Catch::Matchers::StartsWith("attachment; filename=\"ranking-tea-"));
  CHECK_THAT(csv.body, Catch::Matchers::StartsWith("\xEF\xBB\xBFplace,agent,score,first,last,"));
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < csv.body.size();) {
    const auto end = csv.body.find("\r\n", at);
    REQUIRE(end != std::string::npos);  // every line ends with CRLF
    lines.push_back(csv.body.substr(at, end - at));
    at = end + 2;
  }
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[1], Catch::Matchers::StartsWith("1,a2,100.0,1,,1,1,0,"));
  CHECK_THAT(lines[2], Catch::Matchers::StartsWith("2,a1,77.5,,1,2,1,1,"));

  // A month with nothing in it: zeros, and the agents at the desk listed unranked.
  const auto empty = summary(gw.port(), "month=2030-01");
  CHECK(empty.at("kpis").as_object().at("conversations").to_number<int>() == 0);
  CHECK(empty.at("ranking").as_array().size() == 2);
  CHECK(empty.at("ranking").as_array()[0].at("place").to_number<int>() == 0);
}

TEST_CASE("reports: orders are stored once, refused clearly, and convert their conversation",
          "[integration][reports][orders]") {
  RedisServer redis;
  GatewayProcess gw(kShop, config(redis, "reports: {conversion_window: 1h}\n"));
  auto a1 = agent(gw, "a1");
  // A served conversation, and a missed one (which no order may count for).
  auto c1 = customer(gw);
  a1->expect("assigned");
  REQUIRE_FALSE(send_acked(*c1.ws, {{"text", "这款茶叶还有货吗？"}}, "q1").empty());
  answer(*a1, c1);
  close(c1);
  auto c2 = customer(gw);
  a1->expect("assigned");
  REQUIRE_FALSE(send_acked(*c2.ws, {{"text", "在吗"}}, "q2").empty());
  close(c2);
  const auto records = [&] { return chatdesk::test::stream(redis, "chatdesk:{shop:tea}:records"); };
  REQUIRE(eventually([&] { return records().size() == 2; }, 5s));
  std::map<std::string, std::map<std::string, std::string>> by_id;
  for (const auto& r : records()) by_id[r.at("conversation")] = r;
  const auto customer_of = [&](const Customer& c) {
    return by_id.at(c.conversation).at("customer");
  };
  const long long ended = std::stoll(by_id.at(c1.conversation).at("ended"));

  const auto post = [&](const std::string& body) {
    return http_request(gw.port(), "POST", "/api/orders?shop=tea", body,
                        {{"Content-Type", "application/json"}});
  };
  const auto order = [&](const std::string& customer, const std::string& id,
                         const std::string& amount, long long ts) {
    return R"({"customer":")" + customer + R"(","order_id":")" + id + R"(","amount":)" + amount +
           R"(,"ts":)" + std::to_string(ts) + "}";
  };
  // Within the hour after c1: stored, then the same again is a duplicate, not a second order.
  const std::string first = order(customer_of(c1), "SO-1", "129.90", ended + 60'000);
  auto a = post(first);
  INFO(a.body);
  CHECK(a.status == 201);
  CHECK(json::parse(a.body).at("status").as_string() == "stored");
  a = post(first);
  CHECK(a.status == 200);
  CHECK(json::parse(a.body).at("status").as_string() == "duplicate");
  // The same id for something else: refused, nothing changed.
  CHECK(post(order(customer_of(c1), "SO-1", "5", ended + 60'000)).status == 409);
  // A second order of the same customer, 2 hours later: outside the window, stored, not counted.
  CHECK(post(order(customer_of(c1), "SO-2", "20", ended + 2 * 3'600'000)).status == 201);
  // The missed conversation's customer orders: stored, but no served conversation to count for.
  CHECK(post(order(customer_of(c2), "SO-3", "10", ended + 60'000)).status == 201);
  // A customer the shop never had: 422, nothing stored.
  a = post(order("u-never-seen", "SO-4", "10", ended + 60'000));
  CHECK(a.status == 422);
  CHECK_THAT(a.body, Catch::Matchers::Contains("unknown customer"));
  // Bad bodies: 400 with what is wrong; an unknown shop 404; a GET is not an order.
  a = post(R"({"customer":"x","order_id":"SO-5","amount":-3,"ts":1})");
  CHECK(a.status == 400);
  CHECK_THAT(a.body, Catch::Matchers::Contains("amount"));
  CHECK(post("not json").status == 400);
  CHECK(http_request(gw.port(), "POST", "/api/orders?shop=nope", first).status == 404);
  CHECK(http_request(gw.port(), "POST", "/api/orders", first).status == 400);
  CHECK(http_request(gw.port(), "POST", "/elsewhere?shop=tea", first).status == 405);
  CHECK(http_request(gw.port(), "GET", "/api/orders?shop=tea").status == 404);
  // What is in the orders stream: SO-1 once, SO-2, SO-3; nothing of the refused ones.
  const auto stored = chatdesk::test::stream(redis, "chatdesk:{shop:tea}:orders");
  REQUIRE(stored.size() == 3);
  CHECK(stored[0].at("order_id") == "SO-1");
  CHECK(stored[0].at("amount_cents") == "12990");
  CHECK(stored[1].at("order_id") == "SO-2");
  CHECK(stored[2].at("order_id") == "SO-3");

  // The report: c1 converted by SO-1 only, for a1; conversion 1 of 1 served.
  const auto report = summary(gw.port(), "month=" + this_month());
  const auto& k = report.at("kpis").as_object();
  CHECK(k.at("converted").to_number<int>() == 1);
  CHECK(k.at("orders").to_number<int>() == 1);
  CHECK(k.at("order_amount_cents").to_number<long long>() == 12'990);
  CHECK(k.at("conversion_rate").to_number<double>() == 1.0);
  const auto& a1_kpis = report.at("ranking").as_array()[0].at("kpis").as_object();
  CHECK(a1_kpis.at("orders").to_number<int>() == 1);
}

TEST_CASE("reports: bad requests get a clear 4xx", "[integration][reports]") {
  RedisServer redis;
  GatewayProcess gw(kShop, config(redis));
  const auto get = [&](const std::string& target) {
    return http_request(gw.port(), "GET", target);
  };
  CHECK(get("/api/reports/summary?month=2026-03").status == 400);  // no shop
  CHECK(get("/api/reports/summary?shop=nope&month=2026-03").status == 404);
  CHECK(get("/api/reports/elsewhere?shop=tea&month=2026-03").status == 404);
  for (const char* bad : {"month=2026-13", "month=2026-3", "from=2026-03-01", "month=2026-03&to=x",
                          "from=2026-03-02&to=2026-03-01", "from=2026-01-01&to=2027-01-02",
                          "month=2026-03&bucket=year", "month=2026-03&variant=night"}) {
    INFO(bad);
    const auto a = get("/api/reports/summary?shop=tea&" + std::string(bad));
    CHECK(a.status == 400);
    CHECK_FALSE(a.body.empty());
  }
  CHECK(get("/api/reports/summary?shop=tea&from=2026-03-01&to=2026-03-31&bucket=week").status ==
        200);
}

TEST_CASE("reports: in token mode only a lead of the shop reads them", "[integration][reports]") {
  using chatdesk::gateway::mint_token;
  using chatdesk::gateway::TokenClaims;
  using chatdesk::gateway::TokenRole;
  RedisServer redis;
  const std::string secret = "reports-test-secret-0123456789-abcdefghijklmnopqrstu";
  GatewayProcess gw(kShop + "  - {id: shoes, timezone: Asia/Shanghai}\n",
                    config(redis, "auth: {mode: token, secret_env: CHATDESK_TEST_SECRET}\n"),
                    {"CHATDESK_TEST_SECRET=" + secret});
  const auto exp = chatdesk::to_epoch_ms(chatdesk::SystemClock().now()) / 1000 + 3600;
  const auto token = [&](TokenRole role, const std::string& shop) {
    return mint_token(secret, TokenClaims{.sub = "lead1", .shop = shop, .role = role, .exp = exp});
  };
  const std::string target = "/api/reports/summary?shop=tea&month=2026-03";
  const auto with = [&](const std::string& t) {
    return http_request(gw.port(), "GET", target, {}, {{"Authorization", "Bearer " + t}}).status;
  };
  CHECK(http_request(gw.port(), "GET", target).status == 401);
  CHECK(with("not-a-token") == 401);
  CHECK(with(token(TokenRole::agent, "tea")) == 403);
  CHECK(with(token(TokenRole::lead, "shoes")) == 403);
  CHECK(with(token(TokenRole::lead, "tea")) == 200);
  CHECK(http_request(gw.port(), "GET", target + "&token=" + token(TokenRole::lead, "tea")).status ==
        200);
  // Orders take the shop's own token, nothing else.
  const auto post = [&](const std::string& t) {
    return http_request(gw.port(), "POST", "/api/orders?shop=tea",
                        R"({"customer":"u-1","order_id":"1","amount":1,"ts":1769990000000})",
                        {{"Authorization", "Bearer " + t}})
        .status;
  };
  CHECK(http_request(gw.port(), "POST", "/api/orders?shop=tea", "{}").status == 401);
  CHECK(post(token(TokenRole::lead, "tea")) == 403);
  CHECK(post(token(TokenRole::shop, "shoes")) == 403);
  CHECK(post(token(TokenRole::shop, "tea")) == 422);  // let in; the customer is unknown
}
