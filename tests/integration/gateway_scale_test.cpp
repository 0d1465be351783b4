// Several gateway nodes sharing one desk through a real redis-server, and the same through a real
// 3-master Redis Cluster (docs/scaling.md): customers
// and agents spread over three nodes are one desk (every message in order and acked, capacity
// kept, no customer assigned twice, checked from the agents' frames and from Redis); a node
// killed with SIGKILL loses its shops' leases to the others within scale.lease_ttl, its clients
// and those of its shops on other nodes (closed with 1012) reconnect and resume with every acked
// message, and the SLA deadlines of its shops fire exactly once on their new home.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chatdesk/gateway/shop_placement.hpp"
#include "support/chat_steps.hpp"
#include "support/gateway_process.hpp"
#include "support/nginx.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

namespace {

using chatdesk::test::eventually;
using chatdesk::test::GatewayProcess;
using chatdesk::test::RedisCluster;
using chatdesk::test::RedisServer;
using chatdesk::test::send_acked;
using chatdesk::test::str;
using chatdesk::test::WsClient;
using namespace std::chrono_literals;
using Strings = std::vector<std::string>;
using chatdesk::gateway::NodeId;

constexpr auto kLeaseTtl = 1s;
const Strings kDeskShops{"north", "south", "west"};
constexpr int kAgentsPerShop = 4;
constexpr int kCapacity = 10;
constexpr int kCustomers = 200;
constexpr int kGreetCustomers = 6;

std::string shops_yaml() {
  std::string yaml;
  for (const auto& shop : kDeskShops)
    yaml += "  - id: " + shop +
            "\n    timezone: Asia/Shanghai\n    max_concurrent: " + std::to_string(kCapacity) +
            "\n    resume_grace: 60s\n"
            "    sla: {greeting_target: 1h, greeting_limit: 2h, reply_wait_limit: 1h}\n";
  // Nobody answers here: each conversation's greeting warning (1 s) and breach (3 s) are due.
  yaml +=
      "  - id: greet\n    timezone: UTC\n    resume_grace: 60s\n"
      "    sla: {greeting_target: 1s, greeting_limit: 3s, escalate_every: 1h, reply_wait_limit: "
      "1h}\n";
  return yaml;
}

// The desk's Redis: one redis-server, or a real 3-master Redis Cluster (the same suite runs on
// both). command() runs a one-key command where that key lives.
class DeskRedis {
 public:
  enum class Kind { server, cluster };
  explicit DeskRedis(Kind kind) {
    if (kind == Kind::cluster)
      cluster_ = std::make_unique<RedisCluster>();
    else
      server_ = std::make_unique<RedisServer>(
          std::vector<std::string>{"--appendonly", "yes", "--appendfsync", "everysec"});
  }
  chatdesk::test::RedisReply command(const std::vector<std::string>& args) const {
    return cluster_ ? cluster_->command(args) : server_->command(args);
  }
  // DBSIZE of each master (of the one server).
  std::vector<long long> keys_per_node() const {
    if (!cluster_) return {server_->command({"DBSIZE"})->integer};
    std::vector<long long> keys;
    for (int i = 0; i < cluster_->size(); ++i)
      keys.push_back(cluster_->node(i).command({"DBSIZE"})->integer);
    return keys;
  }
  // The gateway's redis: section.
  std::string config() const {
    if (cluster_)
      return "redis: {cluster: " + cluster_->seeds_yaml() +
             ", violations_stream: \"chatdesk:violations\"}\n";
    return "redis: {url: \"" + server_->url() + "\", violations_stream: \"chatdesk:violations\"}\n";
  }

 private:
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisCluster> cluster_;
};

std::string reply_string(const chatdesk::test::RedisReply& r) {
  return r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "(not a string)";
}

std::string node_config(const DeskRedis& redis) {
  return redis.config() +
         "storage: {enabled: true, agent_grace: 60s}\n"
         "scale: {enabled: true, lease_ttl: 1s}\n"
         "limits: {max_connections_per_ip: 1000, message_rate: {per_second: 1000, burst: "
         "1000}}\n";
}

// Connects, retrying while the upgrade is refused (503 while the shop's desk has no home), as
// the consoles' reconnect loop does.
std::unique_ptr<WsClient> connect(int port, const std::string& target) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    try {
      return std::make_unique<WsClient>(port, target);
    } catch (const std::exception&) {
      if (std::chrono::steady_clock::now() > deadline) throw;
      std::this_thread::sleep_for(50ms);
    }
  }
}

// Connects until welcomed: a session closed with 1012 before its welcome met a shop between two
// homes (a node learns a new home at its next lease check, up to lease_ttl / 5 after Redis has
// it), and reconnects, as the consoles do. Any other close is a failure.
struct Welcomed {
  std::unique_ptr<WsClient> ws;
  boost::json::object welcome;
};
Welcomed connect_welcomed(int port, const std::string& target) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    auto ws = connect(port, target);
    try {
      auto welcome = ws->expect("welcome");
      return {std::move(ws), std::move(welcome)};
    } catch (const std::exception&) {
      if (!ws->closed() || ws->close_code() != 1012 || std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error(
            "no welcome on " + target +
            (ws->closed() ? ", closed with " + std::to_string(ws->close_code()) : ""));
    }
  }
}

struct Customer {
  std::unique_ptr<WsClient> ws;
  std::size_t node = 0;
  std::string shop, conversation, id, resume;
  Strings acked;  // ids of every message of this conversation acked, in order
};

struct Agent {
  std::unique_ptr<WsClient> ws;
  std::size_t node = 0;
  std::string shop, id;
  std::set<std::string> owned;
};

// The node id each gateway took (its log says it once registered).
NodeId node_id(const GatewayProcess& gw) {
  const std::string log = gw.log();
  const std::string mark = "scale: this is node ";
  const auto at = log.find(mark);
  if (at == std::string::npos) return 0;
  return static_cast<NodeId>(std::stoul(log.substr(at + mark.size())));
}

// The node holding `shop`'s lease, 0 when none.
NodeId home_of(const DeskRedis& redis, const std::string& shop) {
  auto r = redis.command({"GET", "chatdesk:{shop:" + shop + "}:lease"});
  if (r->type != REDIS_REPLY_STRING) return 0;
  return static_cast<NodeId>(std::stoul(std::string(r->str, r->len)));
}

// The owner in a conversation's stored state (docs/storage.md: one packed field, `|`-separated,
// shop, customer, secret hash, owner, ...).
std::string stored_owner(const DeskRedis& redis, const std::string& conversation) {
  auto r = redis.command({"HGET", "chatdesk:{" + conversation + "}:state", "state"});
  if (r->type != REDIS_REPLY_STRING) return "(no state)";
  std::string_view packed(r->str, r->len);
  for (int field = 0; field < 3; ++field) packed.remove_prefix(packed.find('|') + 1);
  return std::string(packed.substr(0, packed.find('|')));
}

std::vector<std::map<std::string, std::string>> violations(const DeskRedis& redis) {
  return chatdesk::test::stream(redis, "chatdesk:violations");
}

// Redis and three nodes, settled: every shop at the home rendezvous hashing gives it among the
// three (the first node up holds them all for a moment, and hands each over once its preferred
// node has been alive for a ttl).
struct ThreeNodes {
  explicit ThreeNodes(DeskRedis::Kind kind) : redis(kind) {
    for (int i = 0; i < 3; ++i)
      gw.push_back(std::make_unique<GatewayProcess>(shops_yaml(), node_config(redis)));
    for (auto& g : gw) ids.push_back(node_id(*g));
    for (const auto id : ids) REQUIRE(id != 0);
    Strings all_shops = kDeskShops;
    all_shops.push_back("greet");
    REQUIRE(eventually(
        [&] {
          for (const auto& shop : all_shops)
            if (home_of(redis, shop) != chatdesk::gateway::preferred_home(shop, ids)) return false;
          return true;
        },
        10s));
  }
  DeskRedis redis;
  std::vector<std::unique_ptr<GatewayProcess>> gw;
  std::vector<NodeId> ids;
};

// The desk's 12 agents (available) and 200 customers; `agent_port(i)`, `customer_port(i)`: where
// the i-th connects.
template <typename AgentPort, typename CustomerPort>
void connect_desk(AgentPort agent_port, CustomerPort customer_port, std::vector<Agent>& agents,
                  std::vector<Customer>& customers) {
  for (std::size_t s = 0; s < kDeskShops.size(); ++s)
    for (int k = 0; k < kAgentsPerShop; ++k) {
      Agent a;
      a.node = agents.size() % 3;
      a.shop = kDeskShops[s];
      a.id = "agent" + std::to_string(k);
      a.ws = connect_welcomed(agent_port(a.node), "/ws/agent?shop=" + a.shop + "&agent=" + a.id).ws;
      a.ws->send({{"type", "status"}, {"state", "available"}});
      a.ws->expect("status");
      agents.push_back(std::move(a));
    }
  for (int i = 0; i < kCustomers; ++i) {
    Customer c;
    c.node = static_cast<std::size_t>(i + 1) % 3;
    c.shop = kDeskShops[static_cast<std::size_t>(i) % kDeskShops.size()];
    auto [ws, w] = connect_welcomed(customer_port(c.node), "/ws/customer?shop=" + c.shop);
    c.ws = std::move(ws);
    c.conversation = str(w, "conversation");
    c.id = str(w, "customer");
    c.resume = str(w, "resume");
    REQUIRE_FALSE(c.conversation.empty());
    customers.push_back(std::move(c));
  }
}

// Every agent fills up to its capacity and no further; nobody is assigned twice, as the agents'
// frames and the stored owners say. Returns conversation -> its agent.
std::map<std::string, Agent*> check_assignments(std::vector<Agent>& agents,
                                                const DeskRedis& redis) {
  std::map<std::string, Agent*> owner;
  for (auto& a : agents) {
    while (a.owned.size() < static_cast<std::size_t>(kCapacity)) {
      auto f = a.ws->expect("assigned");
      const auto conversation = str(f, "conversation");
      CHECK(a.owned.insert(conversation).second);
      CHECK(owner.emplace(conversation, &a).second);
    }
    CHECK(a.ws->silent(200ms, {"desk", "typing", "status"}));
  }
  CHECK(owner.size() == kDeskShops.size() * kAgentsPerShop * kCapacity);
  for (const auto& [conversation, a] : owner) {
    INFO("conversation " << conversation << " of " << a->shop << "/" << a->id);
    CHECK(stored_owner(redis, conversation) == a->id);
  }
  return owner;
}

// A customer resumes its conversation (through `port`) with every acked message, in order.
void resume(Customer& c, int port) {
  auto [ws, w] = connect_welcomed(
      port, "/ws/customer?shop=" + c.shop + "&customer=" + c.id + "&resume=" + c.resume);
  c.ws = std::move(ws);
  CHECK(str(w, "conversation") == c.conversation);
  Strings history;
  for (const auto& m : w.at("history").as_array()) history.push_back(str(m.as_object(), "id"));
  CHECK(history == c.acked);
}

// An agent reconnects (through `port`) and gets every conversation it owned back.
void reconnect(Agent& a, int port) {
  a.ws = connect_welcomed(port, "/ws/agent?shop=" + a.shop + "&agent=" + a.id).ws;
  std::set<std::string> back;
  while (back.size() < a.owned.size()) back.insert(str(a.ws->expect("assigned"), "conversation"));
  CHECK(back == a.owned);
}

// One more message from every assigned customer, acked, and seen by its agent.
void chat_on(std::vector<Customer>& customers, std::vector<Agent>& agents,
             const std::map<std::string, Agent*>& agent_of, const std::string& label) {
  int n = 0;
  for (auto& c : customers) {
    if (!agent_of.contains(c.conversation)) continue;
    const auto id = send_acked(*c.ws, {{"text", "还在吗？"}}, label + std::to_string(n++));
    REQUIRE_FALSE(id.empty());
    c.acked.push_back(id);
  }
  for (auto& a : agents) {
    std::size_t seen = 0;
    while (seen < a.owned.size())
      if (a.owned.contains(str(a.ws->expect("message"), "conversation"))) ++seen;
  }
}

// Three nodes are one desk, and a node killed with SIGKILL loses no acked message and no
// deadline.
void one_desk_through_a_kill(DeskRedis::Kind kind) {
  ThreeNodes nodes(kind);
  auto& redis = nodes.redis;
  auto& gw = nodes.gw;
  const auto& ids = nodes.ids;

  // 12 agents and 200 customers, spread over the nodes (agents and their customers on different
  // nodes, mostly).
  std::vector<Agent> agents;
  std::vector<Customer> customers;
  const auto port_of = [&](std::size_t node) { return gw[node]->port(); };
  connect_desk(port_of, port_of, agents, customers);
  const auto agent_of = check_assignments(agents, redis);

  // Per-shop gauges come from the shop's home only: summed over the nodes they are the desk's.
  // A lead on a node that is not the shop's home sees the whole shop.
  for (const auto& shop : kDeskShops) {
    std::size_t shop_customers = 0;
    for (const auto& c : customers) shop_customers += c.shop == shop ? 1 : 0;
    const auto queued = shop_customers - kAgentsPerShop * kCapacity;
    const auto summed = [&](const std::string& series) {
      double total = 0;
      for (auto& g : gw) total += std::max(0.0, chatdesk::test::metric(g->port(), series));
      return total;
    };
    CHECK(summed("chatdesk_queue_length{shop=\"" + shop + "\"}") == static_cast<double>(queued));
    CHECK(summed("chatdesk_conversations_active{shop=\"" + shop + "\"}") ==
          static_cast<double>(shop_customers));
    std::size_t edge = 0;
    while (ids[edge] == home_of(redis, shop)) ++edge;
    auto lead = connect_welcomed(gw[edge]->port(), "/ws/lead?shop=" + shop).ws;
    auto snapshot = lead->expect("snapshot");
    CHECK(snapshot.at("queue").to_number<std::size_t>() == queued);
    CHECK(snapshot.at("conversations").as_array().size() == shop_customers);
  }

  // Each assigned customer writes twice, its agent answers once: acked, and in order at the
  // other end, across nodes.
  int n = 0;
  for (auto& c : customers) {
    auto found = agent_of.find(c.conversation);
    if (found == agent_of.end()) continue;
    Agent& a = *found->second;
    for (int k = 1; k <= 2; ++k) {
      const auto id = send_acked(
          *c.ws, {{"text", "第" + std::to_string(k) + "个问题：订单 " + std::to_string(n)}},
          "q" + std::to_string(k));
      REQUIRE_FALSE(id.empty());
      c.acked.push_back(id);
    }
    std::vector<boost::json::object> at_agent;
    while (at_agent.size() < 2) {
      auto f = a.ws->expect("message");
      if (str(f, "conversation") == c.conversation) at_agent.push_back(f);
    }
    CHECK(str(at_agent[0], "id") == c.acked[0]);
    CHECK(str(at_agent[1], "id") == c.acked[1]);
    const auto reply =
        send_acked(*a.ws, {{"conversation", c.conversation}, {"text", "您好，马上处理"}},
                   "r" + std::to_string(n));
    REQUIRE_FALSE(reply.empty());
    c.acked.push_back(reply);
    auto got = c.ws->expect("message");
    CHECK(str(got, "id") == reply);
    ++n;
  }

  // The greeting shop's customers arrive on the nodes that are not its home; that home dies
  // between the warnings (1 s) and the breaches (3 s).
  const auto greet_home = home_of(redis, "greet");
  std::size_t dead = 0;
  while (ids[dead] != greet_home) ++dead;
  std::map<std::string, NodeId> home_before;
  for (const auto& shop : kDeskShops) home_before[shop] = home_of(redis, shop);
  std::vector<Customer> greet;
  for (int i = 0; i < kGreetCustomers; ++i) {
    Customer c;
    c.node = (dead + 1 + static_cast<std::size_t>(i) % 2) % 3;
    c.shop = "greet";
    auto [ws, w] = connect_welcomed(gw[c.node]->port(), "/ws/customer?shop=greet");
    c.ws = std::move(ws);
    c.conversation = str(w, "conversation");
    c.id = str(w, "customer");
    c.resume = str(w, "resume");
    const auto id = send_acked(*c.ws, {{"text", "有人在吗？"}}, "g1");
    REQUIRE_FALSE(id.empty());
    c.acked.push_back(id);
    greet.push_back(std::move(c));
  }
  std::this_thread::sleep_for(1500ms);
  gw[dead]->signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  CHECK(gw[dead]->wait_exit(5s) == 128 + SIGKILL);
  REQUIRE(eventually(
      [&] {
        const auto h = home_of(redis, "greet");
        return h != 0 && h != greet_home;
      },
      5s));
  const auto took = std::chrono::steady_clock::now() - killed;
  INFO("greet taken over after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took <= kLeaseTtl);

  // Clients on the live nodes whose shop was at home on the dead node are closed with 1012;
  // those of other shops stay. Everyone who lost a connection reconnects to a live node and
  // resumes.
  const auto live_node = [&](std::size_t node) { return node == dead ? (dead + 1) % 3 : node; };
  for (auto& c : customers) {
    const bool moved = home_before[c.shop] == greet_home;
    if (c.node != dead) {
      if (moved) {
        REQUIRE(eventually(
            [&] {
              c.ws->read(20ms);
              return c.ws->closed();
            },
            5s));
        CHECK(c.ws->close_code() == 1012);
      } else {
        CHECK_FALSE(c.ws->closed());
        continue;
      }
    }
    c.node = live_node(c.node);
    resume(c, gw[c.node]->port());
  }
  for (auto& a : agents) {
    const bool moved = home_before[a.shop] == greet_home;
    if (a.node != dead && !moved) continue;
    a.node = live_node(a.node);
    reconnect(a, gw[a.node]->port());
  }
  // The desk goes on, on every shop.
  chat_on(customers, agents, agent_of, "after");

  // Every greeting deadline of the dead node's shop fired exactly once: the warnings before the
  // kill, the breaches after it, on the new home; no violation id twice.
  const auto count = [&](const std::string& id) {
    int k = 0;
    for (const auto& v : violations(redis)) k += v.at("id") == id ? 1 : 0;
    return k;
  };
  REQUIRE(eventually(
      [&] {
        for (const auto& c : greet)
          if (count(c.conversation + ":greeting:1:breach") == 0) return false;
        return true;
      },
      10s));
  std::this_thread::sleep_for(1500ms);  // nothing more may come
  for (const auto& c : greet) {
    CHECK(count(c.conversation + ":greeting:1:warning") == 1);
    CHECK(count(c.conversation + ":greeting:1:breach") == 1);
  }
  std::set<std::string> unique;
  std::size_t greetings = 0;
  for (const auto& v : violations(redis)) {
    CHECK(unique.insert(v.at("id")).second);
    greetings += v.at("rule") == "greeting" ? 1 : 0;
  }
  CHECK(greetings == 2 * greet.size());

  // Conversations end on every shop (their customers close): one record each, and each leaves
  // its shop's open set with its state and transcript set to expire. On a cluster the records
  // stream, the conversations and the shops are in slots of different masters.
  std::set<std::string> ended;
  for (std::size_t i = 0; i < customers.size(); i += 10) {
    auto& c = customers[i];
    c.ws->send({{"type", "close"}});
    c.ws->expect("closed");
    ended.insert(c.conversation);
  }
  const auto records = [&] { return chatdesk::test::stream(redis, "chatdesk:conversations"); };
  REQUIRE(eventually([&] { return records().size() >= ended.size(); }, 10s));
  std::map<std::string, int> recorded;
  for (const auto& r : records()) ++recorded[r.at("conversation")];
  CHECK(recorded.size() == ended.size());
  for (const auto& c : customers) {
    if (!ended.contains(c.conversation)) continue;
    INFO("conversation " << c.conversation << " of " << c.shop);
    CHECK(recorded[c.conversation] == 1);
    const std::string state = "chatdesk:{" + c.conversation + "}:state";
    CHECK(reply_string(redis.command({"HGET", state, "recorded"})) == "1");
    CHECK(redis.command({"PTTL", state})->integer > 0);
    // (A customer still queued wrote nothing here: no transcript, -2.)
    CHECK(redis.command({"PTTL", "chatdesk:{" + c.conversation + "}:messages"})->integer != -1);
    CHECK(redis.command({"ZSCORE", "chatdesk:{shop:" + c.shop + "}:open", c.conversation})->type ==
          REDIS_REPLY_NIL);
    CHECK(
        redis.command({"EXISTS", "{chatdesk:conversations}:recorded:" + c.conversation})->integer ==
        1);
  }
  // The desk's keys are spread over every master (one count for a single Redis).
  for (const auto keys : redis.keys_per_node()) CHECK(keys > 0);
}

// A node stopped with SIGTERM hands its shops over at once, with every message.
void hand_over_on_sigterm(DeskRedis::Kind kind) {
  DeskRedis redis(kind);
  const std::string shop =
      "  - id: north\n    timezone: Asia/Shanghai\n    resume_grace: 60s\n"
      "    sla: {greeting_target: 1h, greeting_limit: 2h, reply_wait_limit: 1h}\n";
  GatewayProcess a(shop, node_config(redis));
  GatewayProcess b(shop, node_config(redis));
  const std::vector<NodeId> ids{node_id(a), node_id(b)};
  REQUIRE(eventually(
      [&] { return home_of(redis, "north") == chatdesk::gateway::preferred_home("north", ids); },
      10s));
  GatewayProcess& home = home_of(redis, "north") == ids[0] ? a : b;
  GatewayProcess& other = &home == &a ? b : a;
  const NodeId other_id = &other == &a ? ids[0] : ids[1];
  // The customer is on the node that stays; its shop's desk on the one that stops.
  auto [customer, w] = connect_welcomed(other.port(), "/ws/customer?shop=north");
  Strings acked;
  for (int k = 0; k < 5; ++k) {
    const auto id =
        send_acked(*customer, {{"text", "消息 " + std::to_string(k)}}, std::to_string(k));
    REQUIRE_FALSE(id.empty());
    acked.push_back(id);
  }
  home.signal(SIGTERM);
  const auto stopped = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return home_of(redis, "north") == other_id; }, 5s));
  const auto took = std::chrono::steady_clock::now() - stopped;
  INFO("taken after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms");
  CHECK(home.wait_exit(10s) == 0);
  // Released, not expired: sooner than the key's ttl (lease_ttl - 2 lease_ttl / 5 = 600 ms).
  CHECK(took < 600ms);
  REQUIRE(eventually(
      [&] {
        customer->read(20ms);
        return customer->closed();
      },
      5s));
  CHECK(customer->close_code() == 1012);
  auto [resumed, again] =
      connect_welcomed(other.port(), "/ws/customer?shop=north&customer=" + str(w, "customer") +
                                         "&resume=" + str(w, "resume"));
  CHECK(str(again, "conversation") == str(w, "conversation"));
  Strings history;
  for (const auto& m : again.at("history").as_array()) history.push_back(str(m.as_object(), "id"));
  CHECK(history == acked);
}

// Behind nginx, the clients of a node killed with SIGKILL reconnect through the balancer and
// resume.
void reconnect_through_balancer(DeskRedis::Kind kind) {
  REQUIRE(chatdesk::test::NginxBalancer::available());
  ThreeNodes nodes(kind);
  std::vector<int> ports;
  for (auto& g : nodes.gw) ports.push_back(g->port());
  chatdesk::test::NginxBalancer lb(ports);
  // Every client through the balancer, as browsers connect.
  std::vector<Agent> agents;
  std::vector<Customer> customers;
  const auto balancer = [&](std::size_t) { return lb.port(); };
  connect_desk(balancer, balancer, agents, customers);
  const auto agent_of = check_assignments(agents, nodes.redis);
  chat_on(customers, agents, agent_of, "before");
  // least_conn spread them: every node holds sockets.
  for (auto& g : nodes.gw)
    CHECK(chatdesk::test::metric(g->port(), "chatdesk_connections{kind=\"customer\"}") > 0);

  const NodeId dead = nodes.ids[0];
  nodes.gw[0]->signal(SIGKILL);
  CHECK(nodes.gw[0]->wait_exit(5s) == 128 + SIGKILL);
  REQUIRE(eventually(
      [&] {
        for (const auto& shop : kDeskShops)
          if (const auto h = home_of(nodes.redis, shop); h == 0 || h == dead) return false;
        return true;
      },
      5s));
  // Connections through the dead node end (nginx closes them), and so do those of its shops on
  // the other nodes (1012) once those see the new homes (every lease_ttl / 5).
  std::this_thread::sleep_for(kLeaseTtl);
  std::size_t customers_back = 0, agents_back = 0;
  for (auto& c : customers) {
    c.ws->read(10ms);
    if (!c.ws->closed()) continue;
    resume(c, lb.port());
    ++customers_back;
  }
  for (auto& a : agents) {
    a.ws->read(10ms);
    if (!a.ws->closed()) continue;
    reconnect(a, lb.port());
    ++agents_back;
  }
  INFO(customers_back << " customers and " << agents_back << " agents reconnected");
  CHECK(customers_back > 0);
  CHECK(agents_back > 0);
  // Everyone, reconnected or not, chats on: nothing acked was lost (the resumes checked it).
  chat_on(customers, agents, agent_of, "after");
}

}  // namespace

using Kind = DeskRedis::Kind;

TEST_CASE(
    "scale: three nodes are one desk, and a node killed with SIGKILL loses no acked message "
    "and no deadline",
    "[integration][scale]") {
  one_desk_through_a_kill(Kind::server);
}

TEST_CASE(
    "scale, Redis Cluster: three nodes on a 3-master cluster are one desk, and a node killed with "
    "SIGKILL loses no acked message and no deadline",
    "[integration][scale][cluster]") {
  one_desk_through_a_kill(Kind::cluster);
}

TEST_CASE("scale: a node stopped with SIGTERM hands its shops over at once, with every message",
          "[integration][scale]") {
  hand_over_on_sigterm(Kind::server);
}

TEST_CASE(
    "scale, Redis Cluster: a node stopped with SIGTERM hands its shops over at once, with every "
    "message",
    "[integration][scale][cluster]") {
  hand_over_on_sigterm(Kind::cluster);
}

TEST_CASE(
    "scale: behind nginx, the clients of a node killed with SIGKILL reconnect through the "
    "balancer and resume",
    "[integration][scale][nginx]") {
  reconnect_through_balancer(Kind::server);
}

TEST_CASE(
    "scale, Redis Cluster: behind nginx, the clients of a node killed with SIGKILL reconnect "
    "through the balancer and resume",
    "[integration][scale][nginx][cluster]") {
  reconnect_through_balancer(Kind::cluster);
}
