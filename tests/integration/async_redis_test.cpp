// AsyncRedis (gateway/server/async_redis.*) against real redis-servers: pipelined batches, error
// replies, AUTH/SELECT, a Redis that goes away, hangs, is not there yet, or cuts a reply, and
// stop()/destruction with batches pending. Each test drives the io_context in the test thread.

#include "async_redis.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/async_loop.hpp"
#include "support/redis_server.hpp"

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using namespace std::string_view_literals;
using chatdesk::gateway::AsyncRedis;
using chatdesk::gateway::AsyncRedisOptions;
using chatdesk::gateway::RedisBatch;
using chatdesk::test::RedisServer;
using chatdesk::test::SilentServer;
using chatdesk::test::TcpCutProxy;
using Clock = std::chrono::steady_clock;

using Loop = chatdesk::test::AsyncLoop;

chatdesk::monitor::RedisEndpoint endpoint(const std::string& url) {
  auto e = chatdesk::monitor::parse_redis_url(url);
  REQUIRE(e);
  return *e;
}
using Result = chatdesk::test::BatchResult;
using Reply = chatdesk::test::BatchReply;
using chatdesk::test::record_batch;

AsyncRedisOptions quick_options() {
  AsyncRedisOptions o;
  o.connect_timeout = 1000ms;
  o.io_timeout = 2000ms;
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  return o;
}

std::string text(const chatdesk::test::RedisReply& r) {
  return std::string(r->str, r->len);
}

}  // namespace

TEST_CASE("RedisBatch formats binary-safe RESP and keeps its buffer",
          "[integration][async_redis]") {
  RedisBatch b;
  CHECK(b.empty());
  const std::string binary("a\0b\r\n", 5);
  b.add({"SET", "k", binary});
  b.add({"PING"});
  REQUIRE(b.size() == 2);
  CHECK(b.command(0) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n"sv);
  CHECK(b.command(1) == "*1\r\n$4\r\nPING\r\n");
  b.clear();
  CHECK(b.empty());
  CHECK(b.size() == 0);
  CHECK_THROWS_AS(b.add(std::span<const std::string_view>()), std::invalid_argument);
}

TEST_CASE("AsyncRedis: pipelined batches complete in order with their replies",
          "[integration][async_redis]") {
  RedisServer server;
  Loop loop;
  AsyncRedis redis(loop.ioc, endpoint(server.url()), quick_options());
  std::vector<bool> changes;
  redis.on_connection([&](bool up) { changes.push_back(up); });
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));
  REQUIRE(loop.until([&] { return !changes.empty(); }));
  CHECK(changes == std::vector<bool>{true});

  // 1,000 commands in three round trips; keys and values built in place, binary included.
  const std::string binary("v\0\r\n", 4);
  RedisBatch sets, incrs, xadds;
  std::vector<std::string> keys, values;
  for (int i = 0; i < 400; ++i) {
    keys.push_back("k:" + std::to_string(i));
    values.push_back(binary + std::to_string(i));
  }
  for (int i = 0; i < 400; ++i) sets.add({"SET", keys[i], values[i]});
  for (int i = 0; i < 300; ++i) incrs.add({"INCR", "counter"});
  std::vector<std::string> fields;
  for (int i = 0; i < 300; ++i) fields.push_back(std::to_string(i));
  for (int i = 0; i < 300; ++i) xadds.add({"XADD", "events", "*", "n", fields[i]});

  std::vector<int> order;
  Result a, b, c, nothing;
  redis.send(sets, record_batch(a, &order, 0));
  redis.send(RedisBatch{},
             record_batch(nothing, &order, 3));  // no round trip; completes in its turn
  redis.send(incrs, record_batch(b, &order, 1));
  redis.send(xadds, record_batch(c, &order, 2));
  CHECK(a.calls == 0);  // never inside send()
  REQUIRE(loop.until([&] { return order.size() == 4; }));

  CHECK(order == std::vector<int>{0, 3, 1, 2});
  CHECK(!nothing.ec);
  CHECK(nothing.replies.empty());
  CHECK((a.calls == 1 && b.calls == 1 && c.calls == 1));
  CHECK(!a.ec);
  CHECK(!b.ec);
  CHECK(!c.ec);
  REQUIRE(a.replies.size() == 400);
  REQUIRE(b.replies.size() == 300);
  REQUIRE(c.replies.size() == 300);
  for (const Reply& r : a.replies) CHECK((r.type == REDIS_REPLY_STATUS && r.str == "OK"));
  for (int i = 0; i < 300; ++i) {
    CHECK(b.replies[i].type == REDIS_REPLY_INTEGER);
    CHECK(b.replies[i].integer == i + 1);
  }
  for (int i = 0; i < 300; ++i) {
    CHECK(c.replies[i].type == REDIS_REPLY_STRING);
    if (i > 0) CHECK(c.replies[i].str != c.replies[i - 1].str);
  }
  CHECK(redis.round_trips() == 3);
  CHECK(redis.commands() == 1000);

  CHECK(text(server.command({"GET", "k:7"})) == values[7]);
  CHECK(text(server.command({"GET", "counter"})) == "300");
  CHECK(server.command({"XLEN", "events"})->integer == 300);
}

TEST_CASE("AsyncRedis: an error reply is an entry of a successful batch",
          "[integration][async_redis]") {
  RedisServer server;
  Loop loop;
  AsyncRedis redis(loop.ioc, endpoint(server.url()), quick_options());
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));

  RedisBatch batch;
  batch.add({"SET", "s", "text"});
  batch.add({"INCR", "s"});
  batch.add({"GET", "s"});
  batch.add({"GET", "missing"});
  Result r;
  redis.send(batch, record_batch(r));
  REQUIRE(loop.until([&] { return r.calls == 1; }));
  CHECK(!r.ec);
  REQUIRE(r.replies.size() == 4);
  CHECK(r.replies[0].type == REDIS_REPLY_STATUS);
  CHECK(r.replies[1].type == REDIS_REPLY_ERROR);
  CHECK(r.replies[1].str.find("not an integer") != std::string::npos);
  CHECK(r.replies[2].str == "text");
  CHECK(r.replies[3].type == REDIS_REPLY_NIL);
  CHECK(redis.connected());  // an error reply is not a connection problem
}

TEST_CASE("AsyncRedis: replies of a large batch stay valid until the batch completes",
          "[integration][async_redis]") {
  RedisServer server;
  Loop loop;
  AsyncRedis redis(loop.ioc, endpoint(server.url()), quick_options());
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));

  std::string big(200 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  RedisBatch batch;
  batch.add({"SET", "big", big});
  for (int i = 0; i < 20; ++i) batch.add({"GET", "big"});  // about 4 MB of replies
  Result r;
  redis.send(batch, record_batch(r));
  REQUIRE(loop.until([&] { return r.calls == 1; }));
  CHECK(!r.ec);
  REQUIRE(r.replies.size() == 21);
  for (int i = 1; i <= 20; ++i) CHECK(r.replies[i].str == big);
}

TEST_CASE("AsyncRedis: AUTH and SELECT, a wrong password never connects",
          "[integration][async_redis]") {
  RedisServer server({"--requirepass", "s3cret"}, "s3cret");
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  Loop loop;

  SECTION("the right password, and db 3") {
    AsyncRedis redis(loop.ioc, endpoint("redis://:s3cret@" + address + "/3"), quick_options());
    std::vector<bool> changes;
    redis.on_connection([&](bool up) { changes.push_back(up); });
    redis.start();
    REQUIRE(loop.until([&] { return redis.connected() && !changes.empty(); }));
    CHECK(changes == std::vector<bool>{true});
    RedisBatch batch;
    batch.add({"SET", "where", "db3"});
    Result r;
    redis.send(batch, record_batch(r));
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    CHECK(!r.ec);
    CHECK(text(server.command({"GET", "where"}, 3)) == "db3");
    CHECK(server.command({"GET", "where"}, 0)->type == REDIS_REPLY_NIL);
  }

  SECTION("a wrong password: refused, retried with backoff, never connected") {
    auto connections = [&] {
      const std::string info = text(server.command({"INFO", "stats"}));
      const auto at = info.find("total_connections_received:");
      return std::stoll(info.substr(at + 27));
    };
    const long long before = connections();
    AsyncRedis redis(loop.ioc, endpoint("redis://:wrong@" + address), quick_options());
    std::vector<bool> changes;
    redis.on_connection([&](bool up) { changes.push_back(up); });
    redis.start();
    bool ever = false;
    loop.until(
        [&] {
          ever = ever || redis.connected();
          return false;
        },
        1000ms);
    CHECK(!ever);
    CHECK(changes.empty());
    // Each refusal drops the connection at once (not after connect_timeout) and tries again.
    CHECK(connections() - before >= 4);  // minus the command() connections of this check
    Result r;
    redis.send(RedisBatch{}, record_batch(r));
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    CHECK(r.ec == net::error::not_connected);
  }
}

TEST_CASE("AsyncRedis: Redis stopped under a batch in flight, then restarted",
          "[integration][async_redis]") {
  RedisServer server;
  Loop loop;
  AsyncRedis redis(loop.ioc, endpoint(server.url()), quick_options());
  std::vector<bool> changes;
  redis.on_connection([&](bool up) { changes.push_back(up); });
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));

  RedisBatch blocking;
  blocking.add({"SET", "before", "1"});
  blocking.add({"BLPOP", "nothing", "10"});  // in flight until Redis goes
  Result r;
  redis.send(blocking, record_batch(r));
  loop.run_for(100ms);  // written, Redis blocks on it
  CHECK(r.calls == 0);
  server.stop();

  REQUIRE(loop.until([&] { return r.calls == 1; }));
  CHECK(r.ec == net::error::connection_reset);
  CHECK(r.replies.empty());
  REQUIRE(loop.until([&] { return changes.size() == 2; }));
  CHECK(changes == std::vector<bool>{true, false});
  CHECK(!redis.connected());

  // While it is away: completes with an error, posted.
  RedisBatch ping;
  ping.add({"PING"});
  Result away;
  redis.send(ping, record_batch(away));
  CHECK(away.calls == 0);
  REQUIRE(loop.until([&] { return away.calls == 1; }));
  CHECK(away.ec == net::error::not_connected);

  server.restart();
  REQUIRE(loop.until([&] { return changes.size() == 3; }));
  CHECK(changes == std::vector<bool>{true, false, true});
  CHECK(redis.connected());
  RedisBatch after;
  after.add({"GET", "before"});
  Result back;
  redis.send(after, record_batch(back));
  REQUIRE(loop.until([&] { return back.calls == 1; }));
  CHECK(!back.ec);
  REQUIRE(back.replies.size() == 1);
  CHECK(back.replies[0].str == "1");  // the SET of the failed batch ran: outcome was unknown
  CHECK(r.calls == 1);
}

TEST_CASE("AsyncRedis: a Redis that never answers times the batch out",
          "[integration][async_redis]") {
  SilentServer silent;
  Loop loop;
  AsyncRedisOptions options = quick_options();
  options.io_timeout = 200ms;
  AsyncRedis redis(loop.ioc, endpoint(silent.url()), options);
  std::vector<bool> changes;
  redis.on_connection([&](bool up) { changes.push_back(up); });
  redis.start();
  // No AUTH/SELECT: connected means the TCP connection, which the kernel completes.
  REQUIRE(loop.until([&] { return redis.connected(); }));

  RedisBatch batch;
  batch.add({"PING"});
  Result r;
  const auto sent = Clock::now();
  redis.send(batch, record_batch(r));
  REQUIRE(loop.until([&] { return r.calls == 1; }, 5s));
  CHECK(r.ec == net::error::timed_out);
  CHECK(r.at - sent >= options.io_timeout);
  CHECK(r.at - sent < 3s);
  // Dropped, then connected again (at TCP level) by itself.
  REQUIRE(loop.until([&] { return changes.size() >= 3; }));
  CHECK(changes[0]);
  CHECK(!changes[1]);
  CHECK(changes[2]);
}

TEST_CASE("AsyncRedis: nothing listening yet: sends fail, start() keeps trying",
          "[integration][async_redis]") {
  RedisServer server;
  server.stop();  // its port, with nobody on it
  Loop loop;
  AsyncRedis redis(loop.ioc, endpoint(server.url()), quick_options());
  std::vector<bool> changes;
  redis.on_connection([&](bool up) { changes.push_back(up); });
  redis.start();

  RedisBatch batch;
  batch.add({"SET", "late", "yes"});
  Result early;
  redis.send(batch, record_batch(early));
  CHECK(early.calls == 0);  // posted, not inside send()
  REQUIRE(loop.until([&] { return early.calls == 1; }));
  CHECK(early.ec == net::error::not_connected);

  loop.run_for(300ms);  // several refused attempts
  CHECK(!redis.connected());
  CHECK(changes.empty());

  server.restart();
  REQUIRE(loop.until([&] { return redis.connected(); }, 5s));
  Result late;
  redis.send(batch, record_batch(late));
  REQUIRE(loop.until([&] { return late.calls == 1; }));
  CHECK(!late.ec);
  CHECK(text(server.command({"GET", "late"})) == "yes");
  REQUIRE(loop.until([&] { return !changes.empty(); }));
  CHECK(changes == std::vector<bool>{true});
}

TEST_CASE("AsyncRedis: a reply cut off by the network fails the batch, the next one works",
          "[integration][async_redis]") {
  RedisServer server;
  TcpCutProxy proxy(server.port());
  Loop loop;
  AsyncRedis redis(loop.ioc, endpoint(proxy.url()), quick_options());
  std::vector<bool> changes;
  redis.on_connection([&](bool up) { changes.push_back(up); });
  redis.start();
  REQUIRE(loop.until([&] { return redis.connected(); }));

  proxy.arm_cut();
  RedisBatch batch;
  batch.add({"INCR", "n"});
  Result cut;
  redis.send(batch, record_batch(cut));
  REQUIRE(loop.until([&] { return cut.calls == 1; }));
  CHECK(cut.ec == net::error::connection_reset);
  CHECK(proxy.cuts() == 1);

  REQUIRE(loop.until([&] { return changes.size() == 3; }));
  CHECK(changes == std::vector<bool>{true, false, true});
  Result again;
  redis.send(batch, record_batch(again));
  REQUIRE(loop.until([&] { return again.calls == 1; }));
  CHECK(!again.ec);
  REQUIRE(again.replies.size() == 1);
  CHECK(again.replies[0].integer == 2);  // the cut INCR ran
}

TEST_CASE("AsyncRedis: stop() and destruction with batches pending", "[integration][async_redis]") {
  RedisServer server;
  Loop loop;
  RedisBatch blocking;
  blocking.add({"BLPOP", "nothing", "10"});

  SECTION("stop(): done once with operation_aborted; start() again reconnects") {
    auto redis = std::make_unique<AsyncRedis>(loop.ioc, endpoint(server.url()), quick_options());
    std::vector<bool> changes;
    redis->on_connection([&](bool up) { changes.push_back(up); });
    redis->start();
    REQUIRE(loop.until([&] { return redis->connected(); }));
    Result r;
    redis->send(blocking, record_batch(r));
    loop.run_for(50ms);
    redis->stop();
    CHECK(!redis->connected());
    CHECK(r.calls == 0);  // posted
    REQUIRE(loop.until([&] { return r.calls == 1; }));
    CHECK(r.ec == net::error::operation_aborted);
    REQUIRE(loop.until([&] { return changes.size() == 2; }));
    CHECK(changes == std::vector<bool>{true, false});

    RedisBatch ping;
    ping.add({"PING"});
    Result stopped;
    redis->send(ping, record_batch(stopped));
    REQUIRE(loop.until([&] { return stopped.calls == 1; }));
    CHECK(stopped.ec == net::error::not_connected);
    loop.run_for(300ms);  // no reconnect after stop()
    CHECK(!redis->connected());
    CHECK(changes.size() == 2);

    redis->start();
    REQUIRE(loop.until([&] { return redis->connected(); }));
    Result pong;
    redis->send(ping, record_batch(pong));
    REQUIRE(loop.until([&] { return pong.calls == 1; }));
    CHECK(!pong.ec);

    redis->stop();
    redis.reset();  // after stop
    loop.run_for(200ms);
    CHECK(r.calls == 1);
    CHECK(pong.calls == 1);
  }

  SECTION("the destructor without stop(): pending batches complete with operation_aborted") {
    auto redis = std::make_unique<AsyncRedis>(loop.ioc, endpoint(server.url()), quick_options());
    bool notified_after = false;
    redis->start();
    REQUIRE(loop.until([&] { return redis->connected(); }));
    Result first, second;
    redis->send(blocking, record_batch(first));
    redis->send(blocking, record_batch(second));
    loop.run_for(50ms);
    redis->on_connection([&](bool) { notified_after = true; });
    redis.reset();
    REQUIRE(loop.until([&] { return first.calls == 1 && second.calls == 1; }));
    CHECK(first.ec == net::error::operation_aborted);
    CHECK(second.ec == net::error::operation_aborted);
    loop.run_for(200ms);
    CHECK(first.calls == 1);
    CHECK(!notified_after);  // nothing of a destroyed client runs
  }

  SECTION("done may stop and destroy the client") {
    auto redis = std::make_unique<AsyncRedis>(loop.ioc, endpoint(server.url()), quick_options());
    redis->start();
    REQUIRE(loop.until([&] { return redis->connected(); }));
    RedisBatch ping;
    ping.add({"PING"});
    int calls = 0;
    Result second;
    redis->send(ping, [&](const boost::system::error_code& ec, std::span<redisReply* const>) {
      ++calls;
      CHECK(!ec);
      redis->stop();
      redis.reset();
    });
    redis->send(ping, record_batch(second));
    REQUIRE(loop.until([&] { return calls == 1 && second.calls == 1; }));
    // Answered in the same read as the first (then completed as answered) or not yet (aborted).
    CHECK((!second.ec || second.ec == net::error::operation_aborted));
    loop.run_for(100ms);
    CHECK(calls == 1);
    CHECK(second.calls == 1);
  }
}
