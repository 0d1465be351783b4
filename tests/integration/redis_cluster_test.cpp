// AsyncRedisCluster (gateway/server/async_redis_cluster.*) against a real 3-master Redis Cluster
// (support/redis_cluster.hpp): batches split over the masters and reassembled in command order,
// batches completing in order, keys landing on the masters their slots say, hash tags, local
// CROSSSLOT refusals, MOVED and ASK redirections after slots are moved by hand, and a master that
// hangs or is killed. Each test drives the io_context in the test thread.

#include "async_redis_cluster.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "chatdesk/monitor/cluster_slots.hpp"
#include "support/async_loop.hpp"
#include "support/redis_cluster.hpp"

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using chatdesk::gateway::AsyncRedisCluster;
using chatdesk::gateway::AsyncRedisOptions;
using chatdesk::gateway::RedisBatch;
using chatdesk::monitor::cluster_key_slot;
using chatdesk::test::NodeClient;
using chatdesk::test::RedisCluster;
using chatdesk::test::reply_text;
using Clock = std::chrono::steady_clock;

using Loop = chatdesk::test::AsyncLoop;
using Result = chatdesk::test::BatchResult;
using Reply = chatdesk::test::BatchReply;
using chatdesk::test::record_batch;

// Sends one command alone and waits for its batch to complete.
Result send_one(AsyncRedisCluster& redis, Loop& loop,
                std::initializer_list<std::string_view> command) {
  RedisBatch batch;
  batch.add(command);
  Result r;
  redis.send(batch, record_batch(r));
  REQUIRE(loop.until([&] { return r.calls == 1; }));
  return r;
}

AsyncRedisOptions quick_options() {
  AsyncRedisOptions o;
  o.connect_timeout = 1000ms;
  o.io_timeout = 1000ms;
  o.backoff_initial = 20ms;
  o.backoff_max = 200ms;
  return o;
}

std::vector<chatdesk::monitor::RedisEndpoint> seeds(const RedisCluster& cluster, int first = 0) {
  chatdesk::monitor::RedisEndpoint e;
  e.host = "127.0.0.1";
  e.port = cluster.port(first);
  return {e};
}

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// The node index whose port the client's map gives for `key`'s slot.
int mapped_owner(const AsyncRedisCluster& redis, const RedisCluster& cluster,
                 std::string_view key) {
  const auto* node = redis.slot_map().master_of_key(key);
  return node ? cluster.index_of_port(node->port) : -1;
}

// A key named `prefix` + n that the client's map places on node `index`.
std::string key_on(const AsyncRedisCluster& redis, const RedisCluster& cluster, int index,
                   const std::string& prefix) {
  for (int n = 0;; ++n) {
    std::string key = prefix + std::to_string(n);
    if (mapped_owner(redis, cluster, key) == index) return key;
  }
}

bool is_error(const Reply& r, std::string_view prefix) {
  return r.type == REDIS_REPLY_ERROR && r.str.starts_with(prefix);
}

}  // namespace

TEST_CASE("AsyncRedisCluster: batches over three masters, in order, hash tags, CROSSSLOT",
          "[integration][cluster]") {
  RedisCluster cluster;
  Loop loop;
  // The first seed has nobody listening: the map comes from the second, without waiting for the
  // first's connect_timeout.
  auto nodes = seeds(cluster, 1);
  nodes.insert(nodes.begin(), chatdesk::monitor::RedisEndpoint{
                                  "127.0.0.1", chatdesk::test::free_loopback_port(), "", "", 0});
  AsyncRedisCluster redis(loop.ioc, nodes, quick_options());
  std::vector<bool> changes;
  redis.on_connection([&](bool up) { changes.push_back(up); });
  const auto started = Clock::now();
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));
  const auto connect_ms = ms_since(started);
  std::cout << "cluster: connected in " << connect_ms << " ms (first seed down)\n";
  CHECK(connect_ms < quick_options().connect_timeout.count());
  REQUIRE(loop.until([&] { return !changes.empty(); }));
  CHECK(changes == std::vector<bool>{true});
  REQUIRE(redis.slot_map().complete());
  REQUIRE(redis.slot_map().masters().size() == 3);
  for (int slot = 0; slot < 16384; slot += 97) {
    const auto* node = redis.slot_map().master_of(static_cast<std::uint16_t>(slot));
    REQUIRE(node);
    CHECK(cluster.index_of_port(node->port) == cluster.owner(slot));
  }

  {  // 1,000 mixed commands over all masters: every reply right, in command order
    constexpr int kGroups = 200;  // 5 commands each
    std::vector<std::string> keys, values, streams, hashes, counters, numbers;
    for (int i = 0; i < kGroups; ++i) {
      const std::string n = std::to_string(i);
      keys.push_back("k:" + n);
      values.push_back(std::string("v\0\r\n", 4) + n);
      streams.push_back("s:" + n);
      hashes.push_back("h:" + n);
      counters.push_back("c:" + n);
      numbers.push_back(n);
    }
    RedisBatch batch;
    for (int i = 0; i < kGroups; ++i) {
      batch.add({"SET", keys[i], values[i]});
      batch.add({"GET", keys[i]});
      batch.add({"XADD", streams[i], "0-" + std::string("1"), "n", numbers[i]});
      batch.add({"HSET", hashes[i], "f", numbers[i]});
      batch.add(
          {"EVAL", "return redis.call('INCRBY', KEYS[1], ARGV[1])", "1", counters[i], numbers[i]});
    }
    Result r;
    const auto round_trips = redis.round_trips();
    const auto commands = redis.commands();
    const auto sent = Clock::now();
    redis.send(batch, record_batch(r));
    batch.clear();  // the caller may reuse it at once
    CHECK(r.calls == 0);
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    std::cout << "cluster: 1000 commands over 3 masters answered in "
              << std::chrono::duration_cast<std::chrono::microseconds>(r.at - sent).count()
              << " us\n";
    REQUIRE(!r.ec);
    REQUIRE(r.replies.size() == 5 * kGroups);
    CHECK(redis.round_trips() - round_trips == 3);  // one per master
    CHECK(redis.commands() - commands == 5 * kGroups);
    for (int i = 0; i < kGroups; ++i) {
      const Reply* g = &r.replies[5 * i];
      CHECK((g[0].type == REDIS_REPLY_STATUS && g[0].str == "OK"));
      CHECK((g[1].type == REDIS_REPLY_STRING && g[1].str == values[i]));
      CHECK((g[2].type == REDIS_REPLY_STRING && g[2].str == "0-1"));
      CHECK((g[3].type == REDIS_REPLY_INTEGER && g[3].integer == 1));
      CHECK((g[4].type == REDIS_REPLY_INTEGER && g[4].integer == i));
    }

    // Every key is on the master its slot says, and only there.
    std::vector<std::unique_ptr<NodeClient>> nodes;
    for (int i = 0; i < 3; ++i) nodes.push_back(std::make_unique<NodeClient>(cluster.port(i)));
    std::vector<int> per_master(3, 0);
    for (const auto* list : {&keys, &streams, &hashes, &counters}) {
      for (const std::string& key : *list) {
        const int slot = static_cast<int>(nodes[0]->run({"CLUSTER", "KEYSLOT", key})->integer);
        REQUIRE(slot == cluster_key_slot(key));
        const int owner = mapped_owner(redis, cluster, key);
        REQUIRE(owner >= 0);
        ++per_master[owner];
        for (int i = 0; i < 3; ++i) {
          const auto exists = nodes[i]->run({"EXISTS", key});
          if (i == owner)
            CHECK((exists->type == REDIS_REPLY_INTEGER && exists->integer == 1));
          else
            CHECK((exists->type == REDIS_REPLY_ERROR &&
                   reply_text(exists).starts_with("MOVED " + std::to_string(slot) + " ")));
        }
      }
    }
    for (int n : per_master) CHECK(n > 150);  // 800 keys, spread over all three
    CHECK(reply_text(nodes[mapped_owner(redis, cluster, keys[7])]->run({"GET", keys[7]})) ==
          values[7]);
  }

  {  // several batches in flight complete in order, each key's commands too
    const std::string seq_a = key_on(redis, cluster, 0, "seq:");
    const std::string seq_b = key_on(redis, cluster, 1, "seq:");
    const std::string seq_c = key_on(redis, cluster, 2, "seq:");
    std::vector<int> order;
    std::vector<Result> results(8);
    for (int b = 0; b < 8; ++b) {
      RedisBatch batch;
      if (b == 3) {
        // nothing: no round trip, completes in its turn
      } else if (b == 5) {
        batch.add({"MSET", seq_a, "1", seq_b, "2"});  // refused locally, never sent
      } else {
        // b == 1 touches one master only: it is answered first yet completes in its turn.
        batch.add({"INCR", seq_a});
        if (b != 1) batch.add({"INCR", seq_b});
        if (b != 1) batch.add({"INCR", seq_c});
      }
      redis.send(batch, record_batch(results[b], &order, b));
    }
    REQUIRE(loop.until([&] { return order.size() == 8; }));
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    long long a = 0, others = 0;
    for (int b = 0; b < 8; ++b) {
      CHECK(results[b].calls == 1);
      CHECK(!results[b].ec);
      if (b == 3) {
        CHECK(results[b].replies.empty());
      } else if (b == 5) {
        REQUIRE(results[b].replies.size() == 1);
        CHECK(is_error(results[b].replies[0], "CROSSSLOT"));
      } else {
        REQUIRE(results[b].replies.size() == (b == 1 ? 1u : 3u));
        CHECK(results[b].replies[0].integer == ++a);  // INCRs of one key ran in batch order
        if (b != 1) {
          ++others;
          CHECK(results[b].replies[1].integer == others);
          CHECK(results[b].replies[2].integer == others);
        }
      }
    }
  }

  {  // hash-tagged keys of one conversation go together; cross-slot commands are refused
    const std::string state = "chatdesk:{c-1}:state";
    const std::string messages = "chatdesk:{c-1}:messages";
    const std::string open = "chatdesk:{shop:demo}:open";
    REQUIRE(cluster_key_slot(state) == cluster_key_slot(messages));
    REQUIRE(cluster_key_slot(state) != cluster_key_slot(open));
    REQUIRE(cluster_key_slot("a") != cluster_key_slot("b"));
    const auto commands_before = redis.commands();
    const auto round_trips_before = redis.round_trips();

    RedisBatch batch;
    batch.add({"XADD", messages, "0-1", "from", "customer", "text", "hello"});
    batch.add({"HSET", state, "state", "x", "note", ""});
    // Several keys of one slot: one command, routed by the tag.
    batch.add({"EVAL", "return redis.call('XLEN', KEYS[2]) + redis.call('HLEN', KEYS[1])", "2",
               state, messages});
    batch.add({"DEL", "{t}x", "{t}y"});
    // The store's record script names keys of several slots: refused, not sent.
    batch.add({"EVAL", "return 1", "3", state, messages, open});
    batch.add({"MSET", "a", "1", "b", "2"});
    batch.add({"MULTI"});
    batch.add({"PING"});  // no key: goes with the batch's first keyed command
    Result r;
    redis.send(batch, record_batch(r));
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    REQUIRE(!r.ec);
    REQUIRE(r.replies.size() == 8);
    CHECK((r.replies[0].type == REDIS_REPLY_STRING && r.replies[0].str == "0-1"));
    CHECK(r.replies[1].integer == 2);
    CHECK(r.replies[2].integer == 3);  // XLEN 1 + HLEN 2: both keys on the node that ran it
    CHECK((r.replies[3].type == REDIS_REPLY_INTEGER && r.replies[3].integer == 0));
    CHECK(is_error(r.replies[4], "CROSSSLOT"));
    CHECK(is_error(r.replies[5], "CROSSSLOT"));
    CHECK(is_error(r.replies[6], "ERR"));
    CHECK((r.replies[7].type == REDIS_REPLY_STATUS && r.replies[7].str == "PONG"));
    CHECK(redis.commands() - commands_before == 5);  // the refused three were not sent
    // The conversation's commands and PING in one round trip, the DEL with them or not.
    const bool del_with_them =
        mapped_owner(redis, cluster, "{t}x") == mapped_owner(redis, cluster, state);
    CHECK(redis.round_trips() - round_trips_before == (del_with_them ? 1u : 2u));

    const int owner = mapped_owner(redis, cluster, state);
    CHECK(owner == mapped_owner(redis, cluster, messages));
    NodeClient node(cluster.port(owner));
    CHECK(node.run({"EXISTS", state, messages})->integer == 2);
    for (int i = 0; i < 3; ++i) {  // the MSET never ran anywhere
      NodeClient n(cluster.port(i));
      const auto a = n.run({"EXISTS", "a"});
      CHECK(!(a->type == REDIS_REPLY_INTEGER && a->integer == 1));
    }
  }

  {  // SCRIPT LOAD goes to every master: EVALSHA then works on any key
    RedisBatch load;
    load.add({"SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"});
    Result loaded;
    const auto round_trips = redis.round_trips();
    redis.send(load, record_batch(loaded));
    REQUIRE(loop.until([&] { return loaded.calls == 1; }));
    REQUIRE(!loaded.ec);
    REQUIRE(loaded.replies.size() == 1);
    REQUIRE(loaded.replies[0].type == REDIS_REPLY_STRING);
    const std::string sha = loaded.replies[0].str;
    CHECK(redis.round_trips() - round_trips == 3);
    RedisBatch calls;
    std::vector<std::string> keys;
    for (int i = 0; i < 3; ++i) keys.push_back(key_on(redis, cluster, i, "sha:"));
    for (const auto& k : keys) calls.add({"EVALSHA", sha, "1", k});
    Result called;
    redis.send(calls, record_batch(called));
    REQUIRE(loop.until([&] { return called.calls == 1; }));
    REQUIRE(!called.ec);
    REQUIRE(called.replies.size() == 3);
    for (const Reply& x : called.replies) CHECK((x.type == REDIS_REPLY_INTEGER && x.integer == 1));
  }

  {  // stop() with a batch pending: done once with operation_aborted
    RedisBatch batch;
    batch.add({"SET", key_on(redis, cluster, 0, "p:"), "1"});
    batch.add({"SET", key_on(redis, cluster, 1, "p:"), "1"});
    Result r;
    redis.send(batch, record_batch(r));
    redis.stop();
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    CHECK(r.ec == net::error::operation_aborted);
    CHECK(!redis.connected());
    Result after;
    redis.send(batch, record_batch(after));
    REQUIRE(loop.until([&] { return after.calls == 1; }));
    CHECK(after.ec == net::error::not_connected);
    loop.until([] { return false; }, 100ms);
    CHECK(r.calls == 1);
    redis.start();  // comes back
    REQUIRE(loop.until([&] { return redis.connected(); }));
    Result again;
    redis.send(batch, record_batch(again));
    REQUIRE(loop.until([&] { return again.calls == 1; }));
    CHECK(!again.ec);
  }

  {  // the destructor with batches pending: each done once, with operation_aborted, in order
    auto other = std::make_unique<AsyncRedisCluster>(loop.ioc, seeds(cluster), quick_options());
    other->start();
    REQUIRE(loop.until([&] { return other->connected(); }));
    RedisBatch batch;
    for (int i = 0; i < 3; ++i) batch.add({"INCR", key_on(*other, cluster, i, "d:")});
    std::vector<int> order;
    Result first, second;
    other->send(batch, record_batch(first, &order, 0));
    other->send(batch, record_batch(second, &order, 1));
    other.reset();
    REQUIRE(loop.until([&] { return order.size() == 2; }));
    loop.until([] { return false; }, 100ms);
    CHECK(order == std::vector<int>{0, 1});
    CHECK((first.calls == 1 && second.calls == 1));
    CHECK(first.ec == net::error::operation_aborted);
    CHECK(second.ec == net::error::operation_aborted);
  }
}

TEST_CASE("AsyncRedisCluster: MOVED updates the map, ASK goes through ASKING",
          "[integration][cluster]") {
  RedisCluster cluster;
  Loop loop;
  AsyncRedisCluster redis(loop.ioc, seeds(cluster), quick_options());
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));

  {  // MOVED: a slot moved to another master by hand
    const std::string key = "moved:key";
    const auto slot = cluster_key_slot(key);
    const int from = mapped_owner(redis, cluster, key);
    const int to = (from + 1) % 3;
    const std::string other = key_on(redis, cluster, from, "stay:");
    REQUIRE(cluster_key_slot(other) != slot);
    REQUIRE_FALSE(send_one(redis, loop, {"SET", key, "1"}).ec);
    cluster.move_slot(slot, from, to);
    NodeClient target(cluster.port(to));
    REQUIRE(target.run({"EXISTS", key})->integer == 1);
    const auto refreshes = redis.refreshes();
    const auto redirections = redis.redirections();

    // The map still says `from`: the slot's commands come back MOVED and are resent, in order.
    RedisBatch batch;
    batch.add({"INCR", key});
    batch.add({"SET", other, "x"});
    batch.add({"GET", key});
    batch.add({"INCR", key});
    Result r;
    const auto sent = Clock::now();
    redis.send(batch, record_batch(r));
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    std::cout << "cluster: batch through MOVED answered in "
              << std::chrono::duration_cast<std::chrono::microseconds>(r.at - sent).count()
              << " us\n";
    REQUIRE(!r.ec);
    REQUIRE(r.replies.size() == 4);
    CHECK(r.replies[0].integer == 2);
    CHECK(r.replies[1].str == "OK");
    CHECK(r.replies[2].str == "2");
    CHECK(r.replies[3].integer == 3);
    CHECK(redis.redirections() - redirections == 1);  // the slot's three in one round trip
    CHECK(mapped_owner(redis, cluster, key) == to);
    CHECK(mapped_owner(redis, cluster, other) == from);
    CHECK(reply_text(target.run({"GET", key})) == "3");
    // A refresh followed in the background; it agrees.
    REQUIRE(loop.until([&] { return redis.refreshes() > refreshes; }));
    CHECK(mapped_owner(redis, cluster, key) == to);
    CHECK(redis.connected());

    // From now on the slot goes straight to its new master.
    Result direct;
    RedisBatch again;
    again.add({"GET", key});
    redis.send(again, record_batch(direct));
    REQUIRE(loop.until([&] { return direct.calls == 1; }));
    REQUIRE(!direct.ec);
    CHECK(direct.replies.at(0).str == "3");
    CHECK(redis.redirections() - redirections == 1);
  }

  {  // ASK: a slot half-migrated, its key already on the importing node
    const std::string key = "ask:key";
    const std::string fresh = "{ask:key}new";  // same slot, no key yet
    const auto slot = cluster_key_slot(key);
    REQUIRE(cluster_key_slot(fresh) == slot);
    const int from = mapped_owner(redis, cluster, key);
    const int to = (from + 2) % 3;
    REQUIRE_FALSE(send_one(redis, loop, {"SET", key, "v"}).ec);
    cluster.begin_migration(slot, from, to);
    cluster.migrate_keys(from, to, {key});
    const auto redirections = redis.redirections();

    RedisBatch batch;
    batch.add({"GET", key});
    batch.add({"SET", fresh, "x"});
    batch.add({"GET", fresh});
    Result r;
    redis.send(batch, record_batch(r));
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    REQUIRE(!r.ec);
    REQUIRE(r.replies.size() == 3);
    CHECK((r.replies[0].type == REDIS_REPLY_STRING && r.replies[0].str == "v"));
    CHECK(r.replies[1].str == "OK");
    CHECK(r.replies[2].str == "x");  // the SET before the GET, on the importing node
    CHECK(redis.redirections() - redirections == 1);
    CHECK(mapped_owner(redis, cluster, key) == from);  // ASK leaves the map alone
    // The new key was written on the importing node (visible there after ASKING only).
    NodeClient target(cluster.port(to));
    CHECK(target.run({"ASKING"})->type == REDIS_REPLY_STATUS);
    CHECK(target.run({"EXISTS", fresh})->integer == 1);
    NodeClient source(cluster.port(from));
    CHECK(source.run({"EXISTS", fresh})->type == REDIS_REPLY_ERROR);  // ASK: not there
  }

  {  // MOVED to a master the client has no connection to yet: it waits for it, then goes
    const std::string key = "newnode:key";
    const auto slot = cluster_key_slot(key);
    REQUIRE(slot != cluster_key_slot("moved:key"));
    REQUIRE(slot != cluster_key_slot("ask:key"));
    const int from = mapped_owner(redis, cluster, key);
    REQUIRE_FALSE(send_one(redis, loop, {"SET", key, "1"}).ec);
    const int added = cluster.add_empty_master();
    cluster.move_slot(slot, from, added);
    const auto redirections = redis.redirections();
    RedisBatch batch;
    batch.add({"INCR", key});
    batch.add({"GET", key});
    Result r;
    redis.send(batch, record_batch(r));
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    REQUIRE(!r.ec);
    REQUIRE(r.replies.size() == 2);
    CHECK(r.replies[0].integer == 2);
    CHECK(r.replies[1].str == "2");
    CHECK(redis.redirections() - redirections == 1);
    CHECK(mapped_owner(redis, cluster, key) == added);
    CHECK(redis.slot_map().masters().size() == 4);
    REQUIRE(loop.until([&] { return redis.connected(); }));
    NodeClient target(cluster.port(added));
    CHECK(reply_text(target.run({"GET", key})) == "2");
  }

  {  // a redirection loop stops after kMaxRedirections with the error reply
    // MIGRATING on the source only: it answers ASK for a key it lacks, and the target, not
    // importing, answers MOVED back.
    const std::string key = "loop:key";
    const auto slot = cluster_key_slot(key);
    REQUIRE(slot != cluster_key_slot("moved:key"));
    REQUIRE(slot != cluster_key_slot("ask:key"));
    const int from = mapped_owner(redis, cluster, key);
    const int to = (from + 1) % 3;
    NodeClient source(cluster.port(from));
    REQUIRE(reply_text(source.run({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING",
                                   cluster.id(to)})) == "OK");
    const auto redirections = redis.redirections();
    RedisBatch batch;
    batch.add({"GET", key});
    Result r;
    redis.send(batch, record_batch(r));
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    REQUIRE(!r.ec);
    REQUIRE(r.replies.size() == 1);
    CHECK(is_error(r.replies[0], "MOVED"));
    CHECK(redis.redirections() - redirections == AsyncRedisCluster::kMaxRedirections);
    CHECK(mapped_owner(redis, cluster, key) == from);
  }
}

TEST_CASE("AsyncRedisCluster: a master that hangs or is killed fails its batches, not others",
          "[integration][cluster]") {
  RedisCluster cluster;
  Loop loop;
  const AsyncRedisOptions options = quick_options();
  AsyncRedisCluster redis(loop.ioc, seeds(cluster), options);
  std::vector<bool> changes;
  redis.on_connection([&](bool up) { changes.push_back(up); });
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));
  const int victim = 0;
  const std::string on_victim = key_on(redis, cluster, victim, "x:");
  const std::string on_1 = key_on(redis, cluster, 1, "x:");
  const std::string on_2 = key_on(redis, cluster, 2, "x:");
  RedisBatch touching, others;
  touching.add({"INCR", on_1});
  touching.add({"INCR", on_victim});
  others.add({"INCR", on_1});
  others.add({"INCR", on_2});

  // Hung (SIGSTOP): the batch times out after io_timeout; the next one, to the other masters,
  // succeeds and completes right behind it.
  cluster.pause(victim);
  Result hung, behind;
  const auto sent = Clock::now();
  redis.send(touching, record_batch(hung));
  redis.send(others, record_batch(behind));
  REQUIRE(loop.until([&] { return behind.calls == 1; }, 5s));
  const auto hung_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(hung.at - sent).count();
  std::cout << "cluster: batch to a hung master failed after " << hung_ms << " ms (io_timeout "
            << options.io_timeout.count() << " ms)\n";
  CHECK(hung.calls == 1);
  CHECK(hung.ec == net::error::timed_out);
  CHECK(hung.replies.empty());
  CHECK(hung_ms >= options.io_timeout.count() - 50);
  CHECK(hung_ms <= options.io_timeout.count() + 500);
  CHECK(!behind.ec);
  REQUIRE(behind.replies.size() == 2);
  CHECK(behind.replies[0].integer == 2);  // the hung batch's INCR on the other master ran
  CHECK(behind.replies[1].integer == 1);
  cluster.resume(victim);
  REQUIRE(loop.until([&] { return redis.connected(); }));
  {
    Result back;
    redis.send(touching, record_batch(back));
    REQUIRE(loop.until([&] { return back.calls == 1; }));
    CHECK(!back.ec);
  }

  // Killed (SIGKILL): the connection is reset at once; batches touching it fail fast and never
  // hang, the others keep working.
  changes.clear();
  cluster.kill(victim);
  Result killed;
  const auto killed_at = Clock::now();
  redis.send(touching, record_batch(killed));
  REQUIRE(loop.until([&] { return killed.calls == 1; }, 5s));
  const auto killed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(killed.at - killed_at).count();
  std::cout << "cluster: batch to a killed master failed after " << killed_ms << " ms ("
            << killed.ec.message() << ")\n";
  CHECK(killed.ec);
  CHECK(killed.replies.empty());
  CHECK(killed_ms < options.io_timeout.count());
  REQUIRE(loop.until([&] { return !redis.connected(); }));
  REQUIRE(loop.until([&] { return !changes.empty(); }));
  CHECK(changes.back() == false);

  // For a while (the map refreshed, the dead master retried with backoff): the victim's batches
  // fail at once with not_connected, the others succeed.
  const auto until = Clock::now() + 800ms;
  int rounds = 0;
  while (Clock::now() < until) {
    Result fail, ok;
    const auto t = Clock::now();
    redis.send(touching, record_batch(fail));
    redis.send(others, record_batch(ok));
    REQUIRE(loop.until([&] { return ok.calls == 1; }, 3s));
    CHECK(fail.ec);
    CHECK(ms_since(t) < options.io_timeout.count());
    CHECK(!ok.ec);
    CHECK(ok.replies.size() == 2);
    ++rounds;
    loop.until([] { return false; }, 50ms);
  }
  CHECK(rounds > 3);
  CHECK(!redis.connected());
}
