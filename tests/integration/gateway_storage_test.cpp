// The durable desk against the real gateway and a real redis-server with an append-only file
// (docs/storage.md): a gateway killed with SIGKILL at a random moment comes back with every open
// conversation, its history, owners, queue order and SLA clocks; nothing acked is lost; a greeting
// limit that passes while the gateway is down fires once after the start, and the warning before
// the crash is not sent again; a Redis outage refuses messages (`unavailable`) instead of acking
// them and the chat goes on by itself afterwards; Redis killed and restarted from its AOF together
// with the gateway keeps the desk; each ended conversation leaves exactly one record.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/chat_steps.hpp"
#include "support/gateway_process.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

namespace {

using chatdesk::test::eventually;
using chatdesk::test::GatewayProcess;
using chatdesk::test::RedisServer;
using chatdesk::test::send_acked;
using chatdesk::test::str;
using chatdesk::test::stream;
using chatdesk::test::WsClient;
using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

// Long SLA limits: the crash test is about the desk, not about violations.
const std::string kDurableShop =
    "  - id: durable\n"
    "    name: \"Durable shop\"\n"
    "    timezone: Asia/Shanghai\n"
    "    max_concurrent: 10\n"
    "    resume_grace: 60s\n"
    "    sla: {greeting_target: 1h, greeting_limit: 2h, reply_wait_limit: 1h}\n";

const std::string kGreetingShop =
    "  - id: greet\n"
    "    name: \"Greeting shop\"\n"
    "    timezone: UTC\n"
    "    resume_grace: 60s\n"
    "    sla: {greeting_target: 1s, greeting_limit: 3s, escalate_every: 1h, reply_wait_limit: "
    "1h}\n";

std::vector<std::string> aof_args() {
  return {"--appendonly", "yes", "--appendfsync", "everysec"};
}

std::string storage_config(const RedisServer& redis) {
  return "redis: {url: \"" + redis.url() + "\", violations_stream: \"chatdesk:violations\"}\n" +
         "storage: {enabled: true, agent_grace: 60s}\n"
         "limits: {max_connections_per_ip: 1000, message_rate: {per_second: 1000, burst: "
         "1000}}\n";
}

// A message as a client saw it acked: its server id and text.
struct Acked {
  std::string id;
  std::string text;
};

struct Customer {
  std::unique_ptr<WsClient> ws;
  std::string conversation, id, resume;
  std::vector<Acked> acked;  // every message of this conversation that was acked, in order
};

struct Agent {
  std::unique_ptr<WsClient> ws;
  std::string id;
};

Strings history_ids(const boost::json::object& frame) {
  Strings ids;
  for (const auto& m : frame.at("history").as_array()) ids.push_back(str(m.as_object(), "id"));
  return ids;
}

// The desk before the crash: 50 conversations in every state and the messages acked so far.
struct Desk {
  std::vector<Customer> customers;
  std::vector<Agent> agents;
  std::map<std::string, std::set<std::string>> owned;  // agent -> conversations
  Strings queued;                                      // queue order
  int acked = 0;
};

// 4 agents of capacity 10 and 50 customers: 40 assigned, 10 queued; a3 hands its 10 over to a4
// with a note; a third of the assigned are greeted, some of those then wait for a reply.
Desk build_desk(int port) {
  Desk d;
  for (int i = 1; i <= 4; ++i) {
    Agent a;
    a.id = "a" + std::to_string(i);
    a.ws = std::make_unique<WsClient>(port, "/ws/agent?shop=durable&agent=" + a.id);
    a.ws->expect("welcome");
    a.ws->send({{"type", "status"}, {"state", "available"}});
    a.ws->expect("status");
    d.agents.push_back(std::move(a));
  }
  for (int i = 0; i < 50; ++i) {
    Customer c;
    c.ws = std::make_unique<WsClient>(port, "/ws/customer?shop=durable");
    auto w = c.ws->expect("welcome");
    c.conversation = str(w, "conversation");
    c.id = str(w, "customer");
    c.resume = str(w, "resume");
    d.customers.push_back(std::move(c));
  }
  // Who got what: each agent's assigned frames.
  for (auto& a : d.agents) {
    while (d.owned[a.id].size() < 10) {
      auto f = a.ws->expect("assigned");
      d.owned[a.id].insert(str(f, "conversation"));
    }
  }
  std::set<std::string> assigned;
  for (auto& [agent, set] : d.owned) assigned.insert(set.begin(), set.end());
  for (auto& c : d.customers)
    if (!assigned.contains(c.conversation)) d.queued.push_back(c.conversation);
  REQUIRE(d.queued.size() == 10);
  // a3 hands over to a4, with a note.
  d.agents[2].ws->send(
      {{"type", "handover"}, {"to", "a4"}, {"note", "十位客户：退款和换货，订单已核实"}});
  d.agents[2].ws->expect("status");
  d.owned["a4"].insert(d.owned["a3"].begin(), d.owned["a3"].end());
  d.owned["a3"].clear();
  return d;
}

Agent* owner_of(Desk& d, const std::string& conversation) {
  for (auto& a : d.agents)
    if (d.owned[a.id].contains(conversation)) return &a;
  return nullptr;
}

// One step of chat traffic: customer `step % 50` writes, and every third step its agent answers,
// except to every fifth customer (assigned and never greeted).
void chat_step(Desk& d, int step) {
  const std::size_t index = static_cast<std::size_t>(step) % d.customers.size();
  Customer& c = d.customers[index];
  const std::string text = "第" + std::to_string(step) + "条：订单号 " + std::to_string(step * 7);
  std::string id = send_acked(*c.ws, {{"text", text}}, "m" + std::to_string(step));
  REQUIRE_FALSE(id.empty());
  c.acked.push_back({id, text});
  ++d.acked;
  if (step % 3 != 0 || index % 5 == 4) return;
  Agent* a = owner_of(d, c.conversation);
  if (!a) return;
  const std::string reply = "您好，第" + std::to_string(step) + "条已收到";
  id = send_acked(*a->ws, {{"conversation", c.conversation}, {"text", reply}},
                  "r" + std::to_string(step));
  REQUIRE_FALSE(id.empty());
  c.acked.push_back({id, reply});
  ++d.acked;
}

}  // namespace

TEST_CASE(
    "storage: SIGKILL at a random moment loses no acked message, customers, agents and the "
    "queue come back",
    "[integration][storage]") {
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    RedisServer redis(aof_args());
    GatewayProcess gw(kDurableShop, storage_config(redis));
    Desk d = build_desk(gw.port());
    // 1,000 acked messages, then more traffic and the kill after a random number of steps, with
    // one more message in flight that was never acked.
    int step = 0;
    while (d.acked < 1000) chat_step(d, step++);
    const int kill_at = step + std::uniform_int_distribution<int>(0, 200)(rng);
    INFO("round " << round << ", killed after step " << kill_at);
    while (step < kill_at) chat_step(d, step++);
    d.customers[0].ws->send(
        {{"type", "message"}, {"text", "在途的消息"}, {"client_msg_id", "inflight"}});
    gw.signal(SIGKILL);
    CHECK(gw.wait_exit(5s) == 128 + SIGKILL);
    if (round == 2) {
      // This time Redis dies as well, after its everysec fsync, and comes back from its AOF.
      std::this_thread::sleep_for(1500ms);
      redis.kill();
      redis.restart();
    }
    for (auto& c : d.customers) c.ws.reset();  // their connections died with the gateway
    for (auto& a : d.agents) a.ws.reset();
    gw.start();

    // Every customer resumes its own conversation with the full history, in order: every acked
    // message is there; the one in flight at the kill may be there too, last, at most once.
    for (auto& c : d.customers) {
      c.ws = std::make_unique<WsClient>(
          gw.port(), "/ws/customer?shop=durable&customer=" + c.id + "&resume=" + c.resume);
      auto w = c.ws->expect("welcome");
      CHECK(str(w, "conversation") == c.conversation);
      Strings got = history_ids(w);
      Strings want;
      for (const auto& m : c.acked) want.push_back(m.id);
      if (&c == &d.customers[0] && got.size() == want.size() + 1) got.pop_back();
      CHECK(got == want);
      const auto& history = w.at("history").as_array();
      for (std::size_t i = 0; i < c.acked.size() && i < history.size(); ++i)
        CHECK(str(history[i].as_object(), "text") == c.acked[i].text);
    }
    // Every agent gets its conversations back, a4 with the handover's note on a3's.
    for (auto& a : d.agents) {
      a.ws = std::make_unique<WsClient>(gw.port(), "/ws/agent?shop=durable&agent=" + a.id);
      auto w = a.ws->expect("welcome");
      CHECK(str(w, "state") == (a.id == "a3" ? "away" : "available"));
      std::set<std::string> back;
      int with_note = 0;
      while (back.size() < d.owned[a.id].size()) {
        auto f = a.ws->expect("assigned");
        back.insert(str(f, "conversation"));
        with_note += str(f, "note") == "十位客户：退款和换货，订单已核实" ? 1 : 0;
      }
      CHECK(back == d.owned[a.id]);
      CHECK(with_note == (a.id == "a4" ? 10 : 0));
    }
    // The queue kept its order: a new agent with room for ten takes them in that order.
    WsClient a5(gw.port(), "/ws/agent?shop=durable&agent=a5");
    a5.expect("welcome");
    a5.send({{"type", "status"}, {"state", "available"}});
    Strings order;
    while (order.size() < d.queued.size())
      order.push_back(str(a5.expect("assigned"), "conversation"));
    CHECK(order == d.queued);

    // The chat goes on in the same conversations.
    for (int i = 0; i < 5; ++i) chat_step(d, ++step);

    // Every conversation ends (customers close): one record each, with every field.
    for (auto& c : d.customers) {
      c.ws->send({{"type", "close"}});
      c.ws->expect("closed");
    }
    REQUIRE(eventually([&] { return stream(redis, "chatdesk:conversations").size() >= 50; }));
    auto records = stream(redis, "chatdesk:conversations");
    CHECK(records.size() == 50);
    std::map<std::string, int> per_conversation;
    for (const auto& r : records) {
      ++per_conversation[r.at("conversation")];
      for (const char* field : {"shop",
                                "customer",
                                "agents",
                                "created",
                                "ended",
                                "outcome",
                                "closed_by",
                                "first_response_ms",
                                "greeting",
                                "greeting_level",
                                "reply_waits",
                                "reply_wait_mean_ms",
                                "reply_wait_max_ms",
                                "customer_messages",
                                "agent_messages",
                                "typing_cpm",
                                "v_greeting",
                                "v_reply_wait",
                                "v_typing_rate",
                                "v_missed",
                                "v_language",
                                "v_courtesy",
                                "v_handover",
                                "transfers",
                                "handovers",
                                "version"})
        CHECK(r.contains(field));
      CHECK(r.at("closed_by") == "customer");
    }
    for (auto& c : d.customers) CHECK(per_conversation[c.conversation] == 1);
    CHECK(redis.command({"ZCARD", "chatdesk:{shop:durable}:open"})->integer == 0);
  }
}

TEST_CASE(
    "storage: a greeting limit that passes while the gateway is down fires once after the "
    "start, the warning before the crash is not sent again",
    "[integration][storage]") {
  RedisServer redis(aof_args());
  GatewayProcess gw(kGreetingShop, storage_config(redis));
  WsClient customer(gw.port(), "/ws/customer?shop=greet");
  auto w = customer.expect("welcome");
  const std::string conversation = str(w, "conversation");
  REQUIRE_FALSE(send_acked(customer, {{"text", "有人在吗？"}}, "q1").empty());
  const auto wrote = std::chrono::steady_clock::now();
  auto greeting = [&](const std::string& severity) {
    int n = 0;
    for (const auto& v : stream(redis, "chatdesk:violations"))
      n += v.at("id") == conversation + ":greeting:1:" + severity ? 1 : 0;
    return n;
  };
  // The warning (1 s) lands; the gateway dies before the limit (3 s) and is away past it.
  REQUIRE(eventually([&] { return greeting("warning") == 1; }, 5s));
  REQUIRE(std::chrono::steady_clock::now() - wrote < 2500ms);
  gw.signal(SIGKILL);
  CHECK(gw.wait_exit(5s) == 128 + SIGKILL);
  CHECK(greeting("breach") == 0);
  std::this_thread::sleep_for(3500ms - (std::chrono::steady_clock::now() - wrote));
  gw.start();
  REQUIRE(eventually([&] { return greeting("breach") == 1; }, 5s));
  // Nothing more comes: not the warning again, not the breach twice (escalation is 1 h away).
  std::this_thread::sleep_for(1500ms);
  CHECK(greeting("warning") == 1);
  CHECK(greeting("breach") == 1);
  for (const auto& v : stream(redis, "chatdesk:violations")) {
    if (v.at("id") != conversation + ":greeting:1:breach") continue;
    CHECK(std::stoll(v.at("elapsed_ms")) >= 3000);
    CHECK(std::stoll(v.at("target_ms")) == 3000);
  }
  CHECK(stream(redis, "chatdesk:violations").size() == 2);
}

TEST_CASE(
    "storage: while Redis is down no message is acked, each sender gets unavailable, and "
    "the chat goes on by itself afterwards",
    "[integration][storage]") {
  RedisServer redis(aof_args());
  GatewayProcess gw(kDurableShop, storage_config(redis));
  WsClient agent(gw.port(), "/ws/agent?shop=durable&agent=alice");
  agent.expect("welcome");
  agent.send({{"type", "status"}, {"state", "available"}});
  agent.expect("status");
  WsClient customer(gw.port(), "/ws/customer?shop=durable");
  auto w = customer.expect("welcome");
  const std::string conversation = str(w, "conversation");
  const std::string customer_id = str(w, "customer"), resume = str(w, "resume");
  agent.expect("assigned");
  Strings acked;
  acked.push_back(send_acked(customer, {{"text", "你好"}}, "c1"));
  acked.push_back(send_acked(agent, {{"conversation", conversation}, {"text", "您好"}}, "a1"));

  redis.stop();
  // Once the gateway has seen it go (a message in the moment before would be acked only when Redis
  // is back: it is not refused, and not acked either).
  REQUIRE(eventually([&] { return chatdesk::test::metric(gw.port(), "chatdesk_store_up") == 0; }));
  const auto down = std::chrono::steady_clock::now();
  // Each message while it is down is refused, and the connections stay.
  int refused = 0;
  for (int i = 0; std::chrono::steady_clock::now() - down < 5s; ++i) {
    const std::string id = "down" + std::to_string(i);
    customer.send({{"type", "message"}, {"text", "还在吗"}, {"client_msg_id", id}});
    for (;;) {
      auto f = customer.read(5s);
      REQUIRE(f);
      if (str(*f, "client_msg_id") != id) continue;
      CHECK(str(*f, "type") == "error");
      CHECK(str(*f, "code") == "unavailable");
      ++refused;
      break;
    }
    agent.send({{"type", "message"},
                {"conversation", conversation},
                {"text", "稍等"},
                {"client_msg_id", id}});
    for (;;) {
      auto f = agent.read(5s);
      REQUIRE(f);
      if (str(*f, "client_msg_id") != id) continue;
      CHECK(str(*f, "code") == "unavailable");
      ++refused;
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  CHECK(refused >= 20);
  CHECK_FALSE(customer.closed());
  CHECK_FALSE(agent.closed());
  // New chats wait for Redis too (503).
  CHECK_THROWS(WsClient(gw.port(), "/ws/customer?shop=durable"));

  redis.restart();
  // The chat goes on by itself: a message is acked again within a short while.
  std::string id;
  REQUIRE(eventually(
      [&] {
        id = send_acked(customer, {{"text", "好了吗"}}, "after" + std::to_string(std::rand()));
        return !id.empty();
      },
      10s));
  acked.push_back(id);
  acked.push_back(send_acked(agent, {{"conversation", conversation}, {"text", "好了"}}, "a2"));
  for (const auto& a : acked) CHECK_FALSE(a.empty());
  // Everything acked is stored, nothing refused is.
  Strings stored;
  for (const auto& m : stream(redis, "chatdesk:{" + conversation + "}:messages"))
    stored.push_back(m.at("text"));
  CHECK(stored == Strings{"你好", "您好", "好了吗", "好了"});
  // And a restarted gateway gives it all back.
  gw.signal(SIGKILL);
  gw.wait_exit(5s);
  gw.start();
  WsClient again(gw.port(),
                 "/ws/customer?shop=durable&customer=" + customer_id + "&resume=" + resume);
  CHECK(history_ids(again.expect("welcome")) == acked);
}
