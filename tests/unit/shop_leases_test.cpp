// Shop leases (docs/scaling.md): placement by rendezvous hashing and the lease state machine,
// driven against a model of the Redis claim script with simulated time.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chatdesk/gateway/shop_leases.hpp"
#include "chatdesk/gateway/shop_placement.hpp"

using namespace chatdesk;
using namespace chatdesk::gateway;
using namespace std::chrono_literals;
using Time = ShopLeases::Time;

namespace {

// The claim script's behaviour on one Redis: a free (or expired) lease is taken with the next
// epoch, the holder's claim extends it, anyone else's is refused with the holder's id.
struct ModelRedis {
  struct Key {
    NodeId holder = 0;
    std::uint64_t epoch = 0;
    Time expires{};
  };
  std::map<std::string, Key> leases;
  std::map<std::string, std::uint64_t> epochs;

  // The claim of `node` for `shop`, run by Redis at `now` with PX `px`.
  void claim(ShopLeases& node_leases, NodeId node, const std::string& shop, Time sent, Time now,
             Duration px) {
    auto& key = leases[shop];
    if (key.holder == 0 || now >= key.expires) key = {node, ++epochs[shop], {}};
    if (key.holder != node) return node_leases.refused(shop, key.holder);
    key.expires = now + px;
    node_leases.granted(shop, sent, key.epoch);
  }
};

const std::vector<std::string> one_shop{"demo"};

}  // namespace

TEST_CASE("placement: global session ids carry the node", "[scale]") {
  constexpr auto s = global_session(7, 12345);
  STATIC_REQUIRE(node_of(s) == 7);
  STATIC_REQUIRE((s & max_local_session) == 12345);
  STATIC_REQUIRE(node_of(global_session(max_node_id, max_local_session)) == max_node_id);
  STATIC_REQUIRE(global_session(1, 1) != 0);
}

TEST_CASE("placement: rendezvous hashing spreads shops and moves only a lost node's", "[scale]") {
  const std::vector<NodeId> three{11, 12, 13}, two{11, 13};
  CHECK_FALSE(preferred_home("demo", {}));
  CHECK(preferred_home("demo", std::vector<NodeId>{12}) == 12);

  std::map<NodeId, int> homes;
  int moved = 0, moved_elsewhere = 0;
  for (int i = 0; i < 3000; ++i) {
    const auto shop = "shop-" + std::to_string(i);
    const auto before = *preferred_home(shop, three);
    const auto after = *preferred_home(shop, two);
    ++homes[before];
    if (before != after) ++moved;
    if (before != 12 && before != after) ++moved_elsewhere;
    // The order of the live list does not matter: every node computes the same home.
    CHECK(preferred_home(shop, std::vector<NodeId>{13, 11, 12}) == before);
  }
  // Each node is home to about a third (binomial: 1000 ± 3 sigma ≈ 77).
  for (const auto node : three) {
    INFO(node);
    CHECK(homes[node] > 900);
    CHECK(homes[node] < 1100);
  }
  // Losing node 12 moves exactly node 12's shops.
  CHECK(moved == homes[12]);
  CHECK(moved_elsewhere == 0);
}

TEST_CASE("leases: the periods follow from scale.lease_ttl", "[scale]") {
  const LeaseTiming t(5000ms);
  CHECK(t.check_every == 1000ms);
  CHECK(t.redis_ttl == 3000ms);
  CHECK(t.margin == 300ms);
  // A holder dying right after a renewal: the key lives redis_ttl, the successor looks within
  // check_every after that: both within the ttl.
  CHECK(t.redis_ttl + t.check_every < t.ttl);
}

TEST_CASE("leases: the preferred node takes a free lease, renews it, and stops at its end",
          "[scale]") {
  const LeaseTiming timing(5000ms);
  const std::vector<NodeId> live{1, 2};
  const NodeId home = *preferred_home("demo", live);
  const NodeId other = home == 1 ? 2 : 1;
  ShopLeases leases(timing, home), others(timing, other);
  ModelRedis redis;
  const Time t0{};
  std::vector<std::string> claims, lost;

  others.due(t0, one_shop, live, claims);
  CHECK(claims.empty());  // not its shop: it does not try
  CHECK_FALSE(others.next_check());
  CHECK_FALSE(leases.next_check());

  leases.due(t0, one_shop, live, claims);
  REQUIRE(claims == one_shop);
  CHECK_FALSE(leases.holds("demo", t0));
  claims.clear();
  leases.due(t0 + 5s, one_shop, live, claims);
  CHECK(claims.empty());  // the first claim is unanswered yet

  redis.claim(leases, home, "demo", t0, t0 + 2ms, timing.redis_ttl);
  CHECK(leases.holds("demo", t0 + 2ms));
  CHECK(leases.epoch("demo") == 1);
  CHECK(leases.holder("demo") == home);
  // Valid until the claim's send time + redis_ttl - margin, exactly.
  CHECK(leases.holds("demo", t0 + 2699ms));
  CHECK_FALSE(leases.holds("demo", t0 + 2700ms));

  leases.due(t0 + 999ms, one_shop, live, claims);
  CHECK(claims.empty());
  leases.due(t0 + 1000ms, one_shop, live, claims);
  REQUIRE(claims == one_shop);  // renewal after check_every
  claims.clear();
  redis.claim(leases, home, "demo", t0 + 1000ms, t0 + 1001ms, timing.redis_ttl);
  CHECK(leases.epoch("demo") == 1);  // extended, same epoch
  CHECK(leases.holds("demo", t0 + 3699ms));
  CHECK(leases.next_check() == t0 + 2000ms);

  // Renewals go unanswered from now on (Redis unreachable): the lease runs out locally.
  leases.due(t0 + 2000ms, one_shop, live, claims);
  leases.unanswered("demo");
  leases.take_lost(t0 + 3699ms, lost);
  CHECK(lost.empty());
  leases.take_lost(t0 + 3700ms, lost);
  CHECK(lost == one_shop);
  CHECK_FALSE(leases.epoch("demo"));
  lost.clear();
  leases.take_lost(t0 + 3800ms, lost);
  CHECK(lost.empty());  // reported once

  // The other node, now alone, is refused while the key lives in Redis (until 1001 + 3000 ms) and
  // takes it at its next check after that, with the next epoch.
  const std::vector<NodeId> alone{other};
  claims.clear();
  others.due(t0 + 4000ms, one_shop, alone, claims);
  REQUIRE(claims == one_shop);
  redis.claim(others, other, "demo", t0 + 4000ms, t0 + 4000ms, timing.redis_ttl);
  CHECK_FALSE(others.holds("demo", t0 + 4000ms));
  CHECK(others.holder("demo") == home);
  claims.clear();
  others.due(t0 + 5000ms, one_shop, alone, claims);
  REQUIRE(claims == one_shop);
  redis.claim(others, other, "demo", t0 + 5000ms, t0 + 5000ms, timing.redis_ttl);
  CHECK(others.holds("demo", t0 + 5000ms));
  CHECK(others.epoch("demo") == 2);
}

TEST_CASE("leases: a claim refused or granted with a new epoch loses what was held", "[scale]") {
  const LeaseTiming timing(5000ms);
  ShopLeases leases(timing, 1);
  const std::vector<NodeId> live{1};
  std::vector<std::string> claims, lost;
  const Time t0{};
  leases.due(t0, one_shop, live, claims);
  leases.granted("demo", t0, 4);
  leases.due(t0 + 1s, one_shop, live, claims);
  leases.granted("demo", t0 + 1s, 5);  // the key had run out and was taken anew
  leases.take_lost(t0 + 1s, lost);
  CHECK(lost == one_shop);               // drop what was decided under epoch 4 ...
  CHECK(leases.holds("demo", t0 + 1s));  // ... and start again under epoch 5
  CHECK(leases.epoch("demo") == 5);
  lost.clear();

  leases.due(t0 + 2s, one_shop, live, claims);
  leases.refused("demo", 9);
  CHECK_FALSE(leases.holds("demo", t0 + 2s));
  CHECK(leases.holder("demo") == 9);
  leases.take_lost(t0 + 2s, lost);
  CHECK(lost == one_shop);
}

TEST_CASE(
    "leases: two nodes never hold a shop at once, and a dead holder's shop is taken over "
    "within the ttl",
    "[scale]") {
  const LeaseTiming timing(5000ms);
  std::mt19937 random(20261207);
  for (int round = 0; round < 200; ++round) {
    const std::vector<NodeId> both{1, 2};
    const NodeId first = *preferred_home("demo", both);
    const NodeId second = first == 1 ? 2 : 1;
    ShopLeases a(timing, first), b(timing, second);
    ModelRedis redis;
    // a holds the shop; at `cut` it stops reaching Redis (killed, paused or partitioned); b sees
    // it gone from the live set `gone_after` later (its node key's TTL).
    const auto cut = Time{} + Duration(1000 + random() % 20000);
    const auto gone_after = Duration(random() % 3000);
    const auto latency = Duration(random() % 5);
    std::vector<std::string> claims, lost;
    std::optional<Time> taken;
    for (Time now{}; now < cut + 20s; now += 1ms) {
      claims.clear();
      a.due(now, one_shop, both, claims);
      for (const auto& shop : claims) {
        if (now < cut)
          redis.claim(a, first, shop, now, now + latency, timing.redis_ttl);
        else
          a.unanswered(shop);
      }
      lost.clear();
      a.take_lost(now, lost);
      claims.clear();
      const bool a_seen = now < cut + gone_after;
      b.due(now, one_shop, a_seen ? both : std::vector<NodeId>{second}, claims);
      for (const auto& shop : claims)
        redis.claim(b, second, shop, now, now + latency, timing.redis_ttl);
      b.take_lost(now, lost);
      if (a.holds("demo", now) && b.holds("demo", now))
        FAIL("round " << round << ": both hold the shop at " << now.time_since_epoch().count()
                      << " ms");
      if (!taken && b.holds("demo", now)) taken = now;
    }
    REQUIRE(taken);
    // The key expires at most redis_ttl after a's last renewal (before `cut`); b claims within
    // check_every of that, provided it no longer sees a (gone_after < the ttl).
    CHECK(*taken - cut <= timing.ttl);
    CHECK(b.epoch("demo") == 2);
  }
}

TEST_CASE("leases: shops go to a node that joined once it has been alive a whole ttl", "[scale]") {
  const LeaseTiming timing(5000ms);
  std::vector<std::string> shops;
  for (int i = 0; i < 40; ++i) shops.push_back("shop-" + std::to_string(i));
  const std::vector<NodeId> alone{1}, both{1, 2};
  ShopLeases leases(timing, 1);
  ModelRedis redis;
  std::vector<std::string> claims, handed, lost;
  const Time t0{};
  leases.due(t0, shops, alone, claims);
  for (const auto& s : claims) redis.claim(leases, 1, s, t0, t0, timing.redis_ttl);
  REQUIRE(claims.size() == shops.size());  // alone, it took everything
  leases.hand_over(t0, shops, alone, handed);
  CHECK(handed.empty());

  // Node 2 appears at t0 + 1 s: nothing moves before it has been seen alive for the ttl.
  auto renew = [&](Time now, const std::vector<NodeId>& live) {
    claims.clear();
    leases.due(now, shops, live, claims);
    for (const auto& s : claims) redis.claim(leases, 1, s, now, now, timing.redis_ttl);
  };
  for (auto now = t0 + 1s; now < t0 + 6s; now += 1s) {
    leases.hand_over(now, shops, both, handed);
    CHECK(handed.empty());
    renew(now, both);
  }
  // A claim unanswered at that moment keeps its shop for now.
  claims.clear();
  leases.due(t0 + 6s, shops, both, claims);
  REQUIRE_FALSE(claims.empty());
  const std::string pending = claims.front();
  for (const auto& s : claims)
    if (s != pending) redis.claim(leases, 1, s, t0 + 6s, t0 + 6s, timing.redis_ttl);
  leases.hand_over(t0 + 6s, shops, both, handed);
  std::size_t node2 = 0;
  for (const auto& s : shops) {
    const bool theirs = preferred_home(s, both) == 2;
    node2 += theirs ? 1 : 0;
    const bool moved = std::find(handed.begin(), handed.end(), s) != handed.end();
    INFO(s);
    CHECK(moved == (theirs && s != pending));
    CHECK(leases.holds(s, t0 + 6s) == !moved);
    if (moved) CHECK(leases.holder(s) == 2);
  }
  CHECK(node2 > 5);
  leases.take_lost(t0 + 6s, lost);
  std::sort(lost.begin(), lost.end());
  std::sort(handed.begin(), handed.end());
  CHECK(lost == handed);

  // A node that vanished and came back starts its ttl again.
  ShopLeases other(timing, 1);
  claims.clear();
  other.due(t0, shops, alone, claims);
  for (const auto& s : claims) other.granted(s, t0, 1);
  handed.clear();
  other.hand_over(t0, shops, both, handed);
  other.hand_over(t0 + 4s, shops, alone, handed);
  renew(t0 + 4s, alone);
  other.hand_over(t0 + 5s, shops, both, handed);
  CHECK(handed.empty());
}
