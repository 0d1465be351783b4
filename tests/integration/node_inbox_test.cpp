// NodeInbox (gateway/server/node_inbox.*) against a real redis-server: batches between nodes
// arrive once each and in order, through a Redis restart (append-only file) and a flush whose
// answer was lost; a gap is reported; a reader trims what it read.

#include "node_inbox.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "support/async_loop.hpp"
#include "support/redis_server.hpp"

namespace {

using namespace std::chrono_literals;
using chatdesk::gateway::AsyncRedis;
using chatdesk::gateway::AsyncRedisOptions;
using chatdesk::gateway::BusBatchReader;
using chatdesk::gateway::BusMessage;
using chatdesk::gateway::global_session;
using chatdesk::gateway::node_inbox_key;
using chatdesk::gateway::NodeId;
using chatdesk::gateway::NodeInbox;
using chatdesk::test::RedisServer;
using chatdesk::test::TcpCutProxy;
using Loop = chatdesk::test::AsyncLoop;

AsyncRedisOptions reader_options() {
  AsyncRedisOptions o;
  o.io_timeout = 3000ms;  // above the XREAD BLOCK
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  return o;
}

// One node: a connection for sending (shared with the store in the gateway), one for its inbox;
// the sending one may go through another port (a proxy).
struct Node {
  Node(Loop& loop, int port, NodeId id) : Node(loop, port, port, id) {}
  Node(Loop& loop, int send_port, int read_port, NodeId id)
      : sender(loop.ioc, endpoint(send_port), reader_options()),
        reader(loop.ioc, endpoint(read_port), reader_options()),
        inbox(loop.ioc, sender, reader, id, 200ms) {
    sender.start();
    reader.start();
    inbox.start(handlers());
  }
  // Records every frame received, its sender and the gaps.
  NodeInbox::Handlers handlers() {
    return {[this](BusBatchReader& batch) {
              BusMessage m;
              while (batch.next(m)) frames.emplace_back(m.text[0]);
              froms.push_back(batch.header().from);
            },
            [this](NodeId from) { gaps.push_back(from); }};
  }
  static chatdesk::monitor::RedisEndpoint endpoint(int port) {
    return *chatdesk::monitor::parse_redis_url("redis://127.0.0.1:" + std::to_string(port));
  }
  AsyncRedis sender, reader;
  NodeInbox inbox;
  std::vector<std::string> frames;
  std::vector<NodeId> froms;
  std::vector<NodeId> gaps;
};

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("frame " + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("node inbox: batches arrive once each and in order, through a Redis restart",
          "[inbox][redis]") {
  RedisServer redis({"--appendonly", "yes", "--appendfsync", "always"});
  Loop loop;
  Node a(loop, redis.port(), 1), b(loop, redis.port(), 2);
  REQUIRE(loop.until([&] { return a.sender.connected() && b.reader.connected(); }));

  // 2,000 frames from a to b, 10 per loop turn, some turns coalesced while a flush is in flight.
  int next = 0;
  auto send_turns = [&](int turns) {
    for (int t = 0; t < turns; ++t) {
      for (int i = 0; i < 10; ++i) {
        const auto text = "frame " + std::to_string(next++);
        a.inbox.batch_for(2).send(global_session(2, 1), text);
      }
      a.inbox.flush();
      loop.ioc.poll();
    }
  };
  send_turns(100);
  REQUIRE(loop.until([&] { return b.frames.size() == 1000; }));
  CHECK(b.frames == numbered(0, 1000));

  // Redis goes away and comes back with what its append-only file holds: nothing is lost, nothing
  // arrives twice, order holds.
  redis.stop();
  send_turns(50);  // written while Redis is away: resent when it is back
  redis.restart();
  send_turns(50);
  REQUIRE(loop.until([&] { return b.frames.size() == 2000; }, 15s));
  CHECK(b.frames == numbered(0, 2000));
  CHECK(b.gaps.empty());
  CHECK(a.inbox.counters().resends >= 1);
  REQUIRE(loop.until([&] { return a.inbox.idle(); }));
  CHECK(b.inbox.counters().batches_received == a.inbox.counters().batches_sent);

  // The reader trims what it read: the inbox keeps at most the last entry read.
  REQUIRE(loop.until([&] { return redis.command({"XLEN", node_inbox_key(2)})->integer <= 1; }));
  CHECK(redis.command({"PTTL", node_inbox_key(2)})->integer > 0);  // expires if b dies
}

TEST_CASE("node inbox: a flush whose answer was lost is sent again and not handed over twice",
          "[inbox][redis]") {
  RedisServer redis;
  TcpCutProxy proxy(redis.port());
  Loop loop;
  Node b(loop, redis.port(), 2);
  // a sends through a proxy that swallows an answer: the XADD ran, a never hears of it.
  Node node_a(loop, proxy.port(), redis.port(), 1);
  NodeInbox& a = node_a.inbox;
  REQUIRE(loop.until([&] { return node_a.sender.connected() && b.reader.connected(); }));
  a.batch_for(2).send(global_session(2, 1), "first");
  a.flush();
  REQUIRE(loop.until([&] { return b.frames.size() == 1; }));
  proxy.arm_cut();
  a.batch_for(2).send(global_session(2, 1), "second");
  a.flush();
  a.batch_for(2).send(global_session(2, 1), "third");  // waits behind the unanswered flush
  a.flush();
  REQUIRE(loop.until([&] { return a.idle(); }, 10s));
  REQUIRE(loop.until([&] { return b.frames.size() >= 3; }));
  loop.run_for(300ms);  // a second copy would have arrived by now
  CHECK(b.frames == std::vector<std::string>{"first", "second", "third"});
  CHECK(b.inbox.counters().duplicates_dropped == 1);
  CHECK(a.counters().resends >= 1);
}

TEST_CASE("node inbox: batches lost with their stream are reported as a gap", "[inbox][redis]") {
  RedisServer redis;  // no persistence: a restart loses what the stream held
  Loop loop;
  Node b(loop, redis.port(), 2);
  Node node_a(loop, redis.port(), 1);
  NodeInbox& a = node_a.inbox;
  REQUIRE(loop.until([&] { return node_a.sender.connected() && b.reader.connected(); }));
  a.batch_for(2).send(global_session(2, 1), "one");
  a.flush();
  REQUIRE(loop.until([&] { return b.frames.size() == 1; }));
  b.inbox.stop();  // b does not read for a while; a's next batch is lost from Redis meanwhile
  a.batch_for(2).send(global_session(2, 1), "lost");
  a.flush();
  REQUIRE(loop.until([&] { return a.idle(); }));
  redis.command({"DEL", node_inbox_key(2)});
  b.inbox.start(b.handlers());
  a.batch_for(2).send(global_session(2, 1), "three");
  a.flush();
  REQUIRE(loop.until([&] { return b.frames.size() == 2; }));
  CHECK(b.frames == std::vector<std::string>{"one", "three"});
  CHECK(b.gaps == std::vector<NodeId>{1});
}
