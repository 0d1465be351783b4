// LeaseKeeper (gateway/server/lease_keeper.*) against a real redis-server: nodes sharing one desk
// split the shops between them, each shop held by exactly one node; a node killed (no word to
// Redis) loses its shops to the others within scale.lease_ttl, with a new epoch; a node stopped
// cleanly hands them over at the others' next check. Two or three "nodes" run in one io_context,
// each with its own Redis connection, as separate processes would.

#include "lease_keeper.hpp"

#include "chatdesk/gateway/shop_placement.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <thread>

#include "support/async_loop.hpp"
#include "support/redis_server.hpp"

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using chatdesk::gateway::AsyncRedis;
using chatdesk::gateway::LeaseKeeper;
using chatdesk::gateway::LeaseTiming;
using chatdesk::gateway::NodeId;
using chatdesk::test::RedisServer;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kShops{"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"};
const LeaseTiming kTiming{1000ms};  // checks every 200 ms, the key lives 600 ms

// One gateway node's view: its keeper and what it was told.
struct Node {
  Node(net::io_context& ioc, const std::string& url)
      : redis(ioc, *chatdesk::monitor::parse_redis_url(url)), keeper(ioc, redis, kTiming, kShops) {
    redis.start();
    keeper.start([this](NodeId id) { this->id = id; },
                 [this](std::span<const std::string> lost, std::span<const std::string> gained) {
                   for (const auto& s : lost) {
                     CHECK(held.erase(s) == 1);  // lost only what it held
                     ++losses;
                   }
                   for (const auto& s : gained) CHECK(held.insert(s).second);
                 });
  }
  AsyncRedis redis;
  LeaseKeeper keeper;
  NodeId id = 0;
  std::set<std::string> held;
  int losses = 0;
};

using Loop = chatdesk::test::AsyncLoop;

// Every shop held by exactly one of `nodes` (as each node itself reports), and each node's
// keeper agrees with its reports.
bool each_shop_once(const std::vector<Node*>& nodes) {
  std::map<std::string, int> holders;
  for (const Node* n : nodes) {
    for (const auto& s : n->held) ++holders[s];
    for (const auto& s : kShops)
      if (n->keeper.holds(s) != n->held.contains(s)) return false;
  }
  if (holders.size() != kShops.size()) return false;
  for (const auto& [shop, count] : holders)
    if (count != 1) return false;
  return true;
}

// Every shop held by the node rendezvous hashing prefers among `nodes`: where the keepers settle
// once every node has been alive for a ttl (LeaseKeeper hands shops over to a node that joined).
bool placed_as_preferred(const std::vector<Node*>& nodes) {
  std::vector<NodeId> ids;
  for (const Node* n : nodes) ids.push_back(n->id);
  for (const auto& s : kShops) {
    const auto home = chatdesk::gateway::preferred_home(s, ids);
    for (const Node* n : nodes)
      if (n->held.contains(s) != (n->id == home)) return false;
  }
  return true;
}

// Never two nodes holding one shop, checked at every slice of the loop.
template <typename Pred>
bool until_checked(Loop& loop, const std::vector<Node*>& nodes, Pred done,
                   std::chrono::milliseconds timeout = 10s) {
  return loop.until(
      [&] {
        for (const auto& s : kShops) {
          int holding = 0;
          for (const Node* n : nodes) holding += n->keeper.holds(s) ? 1 : 0;
          REQUIRE(holding <= 1);
        }
        return done();
      },
      timeout);
}

}  // namespace

TEST_CASE("lease keeper: nodes split the shops, each held once, where placement prefers",
          "[lease][redis]") {
  RedisServer redis;
  Loop loop;
  Node a(loop.ioc, redis.url()), b(loop.ioc, redis.url()), c(loop.ioc, redis.url());
  const std::vector<Node*> nodes{&a, &b, &c};
  REQUIRE(loop.until([&] { return a.id && b.id && c.id; }));
  CHECK(std::set<NodeId>{a.id, b.id, c.id}.size() == 3);  // one id per start

  // Whoever heard the others first may take every shop; within a ttl or two of the others
  // joining, each shop has moved to its preferred node.
  REQUIRE(until_checked(loop, nodes, [&] {
    return each_shop_once(nodes) && a.keeper.live().size() == 3 && b.keeper.live().size() == 3 &&
           c.keeper.live().size() == 3 && placed_as_preferred(nodes);
  }));
  CHECK_FALSE(a.held.empty());
  CHECK_FALSE(b.held.empty());
  CHECK_FALSE(c.held.empty());
  // Once every node sees the others, leases stay put: a second's worth of renewals changes none.
  const auto held_a = a.held, held_b = b.held, held_c = c.held;
  until_checked(
      loop, nodes, [] { return false; }, 1000ms);
  CHECK(a.held == held_a);
  CHECK(b.held == held_b);
  CHECK(c.held == held_c);
  // Every node knows every shop's home, its own included.
  for (const auto& s : kShops) {
    const NodeId home = a.held.contains(s) ? a.id : b.held.contains(s) ? b.id : c.id;
    for (const Node* n : nodes) {
      INFO(s);
      CHECK(n->keeper.home_of(s) == home);
    }
  }
  // The lease in Redis names the holder and its epoch.
  for (const auto& s : kShops) {
    const auto v = redis.command({"GET", "chatdesk:{shop:" + s + "}:lease"});
    REQUIRE(v->type == REDIS_REPLY_STRING);
    const std::string value(v->str, v->len);
    const NodeId holder = static_cast<NodeId>(std::stoul(value.substr(0, value.find(':'))));
    CHECK(a.keeper.home_of(s) == holder);
    const Node* owner = holder == a.id ? &a : holder == b.id ? &b : &c;
    CHECK(owner->keeper.epoch(s) == std::stoull(value.substr(value.find(':') + 1)));
  }
}

TEST_CASE("lease keeper: a killed node's shops are taken over within the lease ttl",
          "[lease][redis]") {
  RedisServer redis;
  Loop loop;
  Node a(loop.ioc, redis.url()), b(loop.ioc, redis.url());
  const std::vector<Node*> both{&a, &b};
  REQUIRE(until_checked(loop, both, [&] {
    return each_shop_once(both) && a.keeper.live().size() == 2 && b.keeper.live().size() == 2 &&
           placed_as_preferred(both);
  }));
  // Rendezvous over these two ids gives a some of the shops.
  REQUIRE_FALSE(a.held.empty());
  const auto taken = a.held;
  std::map<std::string, std::uint64_t> epochs;
  for (const auto& s : taken) epochs[s] = *a.keeper.epoch(s);

  const int losses_before = b.losses;
  a.keeper.abandon();  // no release, no heartbeat: as SIGKILL
  a.redis.stop();
  const auto killed = Clock::now();
  a.held.clear();
  const std::vector<Node*> survivor{&b};
  REQUIRE(until_checked(loop, survivor, [&] { return b.held.size() == kShops.size(); }));
  const auto took = Clock::now() - killed;
  INFO("take-over after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                          << " ms");
  CHECK(took <= kTiming.ttl);
  for (const auto& s : taken) CHECK(b.keeper.epoch(s) == epochs[s] + 1);  // fenced anew
  CHECK(b.keeper.live() == std::vector<NodeId>{b.id});
  CHECK(b.losses == losses_before);  // the survivor gave nothing up
}

TEST_CASE("lease keeper: a node stopped cleanly hands its shops over at the next check",
          "[lease][redis]") {
  RedisServer redis;
  Loop loop;
  auto a = std::make_unique<Node>(loop.ioc, redis.url());
  Node b(loop.ioc, redis.url());
  const std::vector<Node*> both{a.get(), &b};
  REQUIRE(until_checked(loop, both, [&] {
    return each_shop_once(both) && a->keeper.live().size() == 2 && b.keeper.live().size() == 2 &&
           placed_as_preferred(both);
  }));
  const auto had = a->held;
  REQUIRE_FALSE(had.empty());
  const int losses_before = a->losses;  // hand-overs while settling count too
  a->keeper.stop();                     // releases, and reports everything held as lost at once
  CHECK(a->held.empty());
  CHECK(a->losses - losses_before == static_cast<int>(had.size()));
  const auto stopped = Clock::now();
  // Let the release batch go out before the node's connection goes.
  loop.until([&] { return false; }, 100ms);
  a->redis.stop();
  REQUIRE(loop.until([&] { return b.held.size() == kShops.size(); }));
  const auto took = Clock::now() - stopped;
  INFO("hand-over after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                          << " ms");
  // Released leases are free at once: b takes them at its next check, not at the key's expiry
  // (the heartbeat entry of a is gone too, so a is not preferred any more).
  CHECK(took < kTiming.redis_ttl);
}

TEST_CASE("lease keeper: with Redis away the holder stops deciding before the key can expire",
          "[lease][redis]") {
  RedisServer redis;
  Loop loop;
  Node a(loop.ioc, redis.url());
  REQUIRE(loop.until([&] { return a.held.size() == kShops.size(); }));
  const auto epoch = a.keeper.epoch("s1");
  redis.stop();
  const auto gone = Clock::now();
  REQUIRE(loop.until([&] { return a.held.empty(); }, 5s));
  // Its last granted claim was at most one check before Redis went; the lease ends redis_ttl -
  // margin after that claim was sent.
  CHECK(Clock::now() - gone <= kTiming.redis_ttl);
  for (const auto& s : kShops) CHECK_FALSE(a.keeper.holds(s));
  // Back: the key has expired meanwhile (Redis kept it through the restart, with its PX), so the
  // shops come back with a new epoch.
  redis.restart();
  REQUIRE(loop.until([&] { return a.held.size() == kShops.size(); }, 10s));
  CHECK(a.keeper.epoch("s1") > epoch);
}

TEST_CASE(
    "lease keeper: a loop that stalled past the lease learns it lost the shops before its "
    "next write",
    "[lease][redis]") {
  RedisServer redis;
  Loop loop;
  Node a(loop.ioc, redis.url());
  REQUIRE(loop.until([&] { return a.held.size() == kShops.size(); }));
  // The loop does not turn for longer than the key lives: no check runs, no timer fires.
  std::this_thread::sleep_for(kTiming.redis_ttl);
  CHECK(a.held.size() == kShops.size());  // nothing told yet
  a.keeper.check_expiry();                // what the gateway does before each store write
  CHECK(a.held.empty());
  for (const auto& s : kShops) CHECK_FALSE(a.keeper.holds(s));
}

TEST_CASE(
    "lease keeper: a node leaving keeps renewing what it holds, claims nothing more and "
    "leaves the live set",
    "[lease][redis]") {
  RedisServer redis;
  Loop loop;
  Node a(loop.ioc, redis.url());
  REQUIRE(loop.until([&] { return a.held.size() == kShops.size(); }));
  Node b(loop.ioc, redis.url());
  const std::vector<Node*> both{&a, &b};
  REQUIRE(until_checked(loop, both, [&] {
    return each_shop_once(both) && placed_as_preferred(both) && !b.held.empty();
  }));
  const auto kept = a.held;
  a.keeper.leaving();
  // b sees a gone from the live set; a keeps its shops past several key lifetimes, gains none.
  REQUIRE(loop.until([&] { return b.keeper.live().size() == 1; }, 5s));
  loop.until([&] { return false; }, 3 * kTiming.redis_ttl);
  CHECK(a.held == kept);
  CHECK(each_shop_once(both));
  // Its release hands them to b at b's next check.
  a.keeper.stop();
  REQUIRE(loop.until([&] { return b.held.size() == kShops.size(); }, 5s));
}
