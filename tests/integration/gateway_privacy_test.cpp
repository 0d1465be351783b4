// Nothing private leaks into what operators read: a run with seeded chat text, seeded customer
// ids, tokens (valid, forged and for another shop) and refused frames carrying the seeds, then
// every /metrics scrape, the gateway's whole log and every Redis stream entry are searched for
// the seeds. The seeds are random per run, so a match cannot be a coincidence of the fixtures.

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/auth_token.hpp"
#include "support/gateway_process.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

using chatdesk::test::eventually;
using chatdesk::test::GatewayProcess;
using chatdesk::test::RedisServer;
using chatdesk::test::WsClient;
using namespace std::chrono_literals;

namespace {

const std::string kSecretEnv = "CHATDESK_PRIVACY_TEST_SECRET";
const std::string kSecret = "privacy-test-secret-0123456789-abcdefghijklmnopqrstuv";

// Short limits so violations (greeting, reply wait, language) fire within seconds.
const std::string kShops =
    "  - id: tea\n"
    "    name: \"Tea house\"\n"
    "    timezone: Asia/Shanghai\n"
    "    sla: {greeting_target: 1s, greeting_limit: 2s, escalate_every: 1s, reply_wait_limit: "
    "1s}\n"
    "  - {id: shoes, name: \"Shoe shop\"}\n";

std::string random_hex(std::size_t n) {
  std::random_device device;
  std::string out;
  const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) out += digits[device() % 16];
  return out;
}

std::string token_for(const std::string& sub, const std::string& shop,
                      chatdesk::gateway::TokenRole role, const std::string& secret = kSecret) {
  const auto now_s = chatdesk::to_epoch_ms(chatdesk::SystemClock().now()) / 1000;
  return chatdesk::gateway::mint_token(
      secret,
      chatdesk::gateway::TokenClaims{.sub = sub, .shop = shop, .role = role, .exp = now_s + 3600});
}

// The upgrade is refused (401/403): WsClient throws; only the attempt matters here.
void try_connect(int port, const std::string& target) {
  try {
    WsClient refused(port, target);
  } catch (const std::exception&) {
  }
}

std::string stream_dump(const RedisServer& redis) {
  std::string out;
  auto reply = redis.command({"XRANGE", "chatdesk:violations", "-", "+"});
  if (!reply || reply->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < reply->elements; ++i) {
    auto* fields = reply->element[i]->element[1];
    for (size_t f = 0; f < fields->elements; ++f) {
      out += fields->element[f]->str;
      out += '\n';
    }
  }
  return out;
}

}  // namespace

TEST_CASE("scrapes, logs and the violation stream hold no chat text, customer id or token") {
  const std::string seed = random_hex(16);
  // Chinese chat text with the seed inside, and a phrase the language rule flags, so the message
  // itself causes a violation whose record must still not carry the text.
  const std::string customer_text = "您好，我的订单号是 " + seed + "，请问什么时候发货？";
  const std::string agent_text = "但是这个订单 " + seed + " 还在仓库里，我不能马上发货。";
  const std::string customer_id = "cust-" + seed;
  const std::string client_msg_id = "m-" + seed;

  RedisServer redis;
  GatewayProcess gw(kShops,
                    "redis: {url: \"" + redis.url() +
                        "\", violations_stream: \"chatdesk:violations\"}\n"
                        "auth: {mode: token, secret_env: " +
                        kSecretEnv + "}\n",
                    {kSecretEnv + "=" + kSecret});

  const std::string agent_token = token_for("lena", "tea", chatdesk::gateway::TokenRole::agent);
  const std::string lead_token = token_for("boss", "tea", chatdesk::gateway::TokenRole::lead);
  const std::string forged = token_for("lena", "tea", chatdesk::gateway::TokenRole::agent,
                                       "another-secret-of-at-least-32-bytes-" + seed);
  const std::string other_shop = token_for("lena", "shoes", chatdesk::gateway::TokenRole::agent);
  const std::vector<std::string> secrets{seed,       customer_id, agent_token,
                                         lead_token, forged,      other_shop};

  // Refused sign-ins with each kind of bad token (401 and 403) land in the log and metrics only
  // as reasons.
  try_connect(gw.port(), "/ws/agent?shop=tea&agent=lena&token=" + forged);
  try_connect(gw.port(), "/ws/agent?shop=tea&agent=lena&token=" + other_shop);
  try_connect(gw.port(), "/ws/agent?shop=tea&agent=lena&token=" + lead_token);

  WsClient agent(gw.port(), "/ws/agent?shop=tea&agent=lena&token=" + agent_token);
  agent.expect("welcome");
  agent.send({{"type", "status"}, {"state", "available"}});
  WsClient lead(gw.port(), "/ws/lead?shop=tea&token=" + lead_token);
  lead.expect("welcome");

  WsClient customer(gw.port(), "/ws/customer?shop=tea&customer=" + customer_id);
  auto welcome = customer.expect("welcome");
  REQUIRE(std::string(welcome["customer"].as_string()) == customer_id);
  const std::string conversation(welcome["conversation"].as_string());
  agent.expect("assigned");
  customer.send({{"type", "message"}, {"text", customer_text}, {"client_msg_id", client_msg_id}});
  REQUIRE(std::string(agent.expect("message")["text"].as_string()) == customer_text);

  // Greeting warning and breach while the customer waits.
  agent.expect("sla", 5s);
  agent.expect("sla", 5s);

  // Refused frames that carry the seed: unknown type, wrong field type, over-long client id.
  customer.send_raw("{\"type\":\"" + seed + "\",\"text\":\"" + customer_text + "\"}");
  customer.expect("error");
  customer.send_raw("{\"type\":\"message\",\"text\":[\"" + seed + "\"]}");
  customer.expect("error");
  agent.send_raw("{\"type\":\"message\",\"conversation\":\"c-" + seed + "\",\"text\":\"" +
                 agent_text + "\"}");
  agent.expect("error");

  // The agent answers with flagged phrases (language violations) and the customer gets it.
  agent.send({{"type", "message"},
              {"conversation", conversation},
              {"text", agent_text},
              {"client_msg_id", "a-" + seed}});
  agent.expect("ack");
  customer.expect("message");
  customer.send({{"type", "close"}});

  // Every violation is in the stream before it is searched.
  REQUIRE(eventually([&] { return stream_dump(redis).find("language") != std::string::npos; }));
  const std::string scrape = chatdesk::test::http_get(gw.port(), "/metrics").second;
  REQUIRE(scrape.find("chatdesk_auth_refusals_total") != std::string::npos);
  REQUIRE(scrape.find("chatdesk_sla_violations_total") != std::string::npos);
  const std::string stream = stream_dump(redis);
  agent.close();
  lead.close();
  customer.close();
  REQUIRE(gw.stop() == 0);
  const std::string log = gw.log();
  REQUIRE_FALSE(log.empty());

  for (const auto& secret : secrets) {
    INFO("seeded value: " << secret.substr(0, 24) << "…");
    CHECK(scrape.find(secret) == std::string::npos);
    CHECK(log.find(secret) == std::string::npos);
    CHECK(stream.find(secret) == std::string::npos);
  }
  // Chat text in any piece: the Chinese sentences without the seed.
  for (const std::string& piece : {std::string("请问什么时候发货"), std::string("还在仓库里")}) {
    CHECK(scrape.find(piece) == std::string::npos);
    CHECK(log.find(piece) == std::string::npos);
    CHECK(stream.find(piece) == std::string::npos);
  }
  // The conversation id may appear in the stream (it is how leads find the chat) but never in a
  // metric label.
  CHECK(scrape.find(conversation) == std::string::npos);
}
