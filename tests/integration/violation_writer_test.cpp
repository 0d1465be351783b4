// ViolationWriter against a real redis-server: every field lands, a Redis restart or a connection
// cut mid-batch loses nothing and duplicates nothing, a full spool is counted.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "chatdesk/monitor/violation_writer.hpp"
#include "support/redis_server.hpp"

namespace {

using chatdesk::from_epoch_ms;
using chatdesk::monitor::Rule;
using chatdesk::monitor::Severity;
using chatdesk::monitor::Violation;
using chatdesk::monitor::ViolationWriter;
using chatdesk::monitor::ViolationWriterOptions;
using chatdesk::test::eventually;
using chatdesk::test::RedisServer;
using chatdesk::test::SilentServer;
using chatdesk::test::TcpCutProxy;
using namespace std::chrono_literals;

constexpr const char* kStream = "test:violations";

Violation make_violation(int i) {
  static constexpr Rule kRules[] = {Rule::greeting, Rule::reply_wait, Rule::typing_rate,
                                    Rule::missed,   Rule::language,   Rule::courtesy,
                                    Rule::handover};
  Violation v;
  v.id = "v-" + std::to_string(i);
  v.rule = kRules[i % 7];
  v.severity = i % 2 ? Severity::breach : Severity::warning;
  v.level = 1 + i % 3;
  v.shop = "demo";
  v.agent = i % 5 == 0 ? "" : "alice";
  v.conversation = i % 7 == 2 ? "" : "c-" + std::to_string(i);
  v.elapsed = chatdesk::Duration{15'000 + i};
  v.target = chatdesk::Duration{15'000};
  v.ts = from_epoch_ms(1'732'350'000'000 + i);
  v.detail = v.rule == Rule::language ? "但是 " + std::to_string(i) : "";
  return v;
}

chatdesk::config::RedisConfig redis_config(const std::string& url, std::size_t spool = 10'000) {
  chatdesk::config::RedisConfig c;
  c.url = url;
  c.violations_stream = kStream;
  c.maxlen = 1'000'000;
  c.spool_size = spool;
  return c;
}

ViolationWriterOptions fast_options() {
  ViolationWriterOptions o;
  o.backoff_initial = 10ms;
  o.backoff_max = 200ms;
  o.connect_timeout = 500ms;
  o.io_timeout = 2000ms;
  o.batch_max = 64;
  return o;
}

using Entry = std::map<std::string, std::string>;

std::vector<Entry> read_stream(const RedisServer& redis, int db = 0) {
  auto reply = redis.command({"XRANGE", kStream, "-", "+"}, db);
  REQUIRE(reply->type == REDIS_REPLY_ARRAY);
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* fields = reply->element[i]->element[1];
    Entry e;
    for (std::size_t f = 0; f + 1 < fields->elements; f += 2)
      e[std::string(fields->element[f]->str, fields->element[f]->len)] =
          std::string(fields->element[f + 1]->str, fields->element[f + 1]->len);
    entries.push_back(std::move(e));
  }
  return entries;
}

// Every violation 0..count-1 exactly once and in order.
void require_each_once_in_order(const std::vector<Entry>& entries, int count) {
  REQUIRE(entries.size() == static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i)
    REQUIRE(entries[static_cast<std::size_t>(i)].at("id") == "v-" + std::to_string(i));
}

void stop_cleanly(ViolationWriter& writer) {
  CHECK(writer.stop(std::chrono::steady_clock::now() + 5s) == 0);
}

}  // namespace

TEST_CASE("violation writer: 1000 violations land with every field", "[redis]") {
  RedisServer redis;
  ViolationWriter writer(redis_config(redis.url()), fast_options());
  std::string error;
  REQUIRE(writer.start(error));

  for (int i = 0; i < 1000; ++i) REQUIRE(writer.submit(make_violation(i)));
  REQUIRE(eventually([&] { return writer.stats().ok == 1000; }));

  const auto entries = read_stream(redis);
  require_each_once_in_order(entries, 1000);
  for (int i = 0; i < 1000; ++i) {
    const Violation v = make_violation(i);
    const Entry& e = entries[static_cast<std::size_t>(i)];
    INFO("entry " << i);
    CHECK(e.size() == 11);
    CHECK(e.at("rule") == std::string(to_string(v.rule)));
    CHECK(e.at("severity") == std::string(to_string(v.severity)));
    CHECK(e.at("level") == std::to_string(v.level));
    CHECK(e.at("shop") == v.shop);
    CHECK(e.at("agent") == v.agent);
    CHECK(e.at("conversation") == v.conversation);
    CHECK(e.at("elapsed_ms") == std::to_string(v.elapsed.count()));
    CHECK(e.at("target_ms") == std::to_string(v.target.count()));
    CHECK(e.at("ts") == std::to_string(chatdesk::to_epoch_ms(v.ts)));
    CHECK(e.at("detail") == v.detail);
  }
  stop_cleanly(writer);
  CHECK(writer.stats().error == 0);
  CHECK(writer.stats().dropped == 0);
  CHECK(writer.stats().spooled == 0);
}

TEST_CASE("violation writer: Redis restarted mid-stream, each violation once and in order",
          "[redis]") {
  RedisServer redis;
  ViolationWriter writer(redis_config(redis.url()), fast_options());
  std::string error;
  REQUIRE(writer.start(error));

  // The gateway keeps submitting while Redis is away; pace it so the outage falls mid-stream.
  std::jthread submitter([&] {
    for (int i = 0; i < 1000; ++i) {
      writer.submit(make_violation(i));
      if (i % 10 == 9) std::this_thread::sleep_for(1ms);
    }
  });
  REQUIRE(eventually([&] { return writer.stats().ok >= 200; }));
  redis.stop();
  const auto failures_before = writer.stats().connect_failures.load();
  submitter.join();
  // Down until the writer has backed off to its cap (10+20+40+80+160 ms, then 200 ms) while the
  // rest waits in the spool; bounded by eventually's deadline.
  const bool retried =
      eventually([&] { return writer.stats().connect_failures >= failures_before + 6; });
  const auto written = writer.stats().ok.load();
  const auto spooled = writer.stats().spooled.load();
  redis.restart();
  REQUIRE(retried);
  CHECK(written < 1000);
  CHECK(written + spooled == 1000);
  REQUIRE(eventually([&] { return writer.stats().ok == 1000; }, 30s));

  require_each_once_in_order(read_stream(redis), 1000);
  stop_cleanly(writer);
  CHECK(writer.stats().dropped == 0);
  CHECK(writer.stats().error > 0);
}

TEST_CASE("violation writer: a batch cut after Redis ran it is not written twice", "[redis]") {
  RedisServer redis;
  TcpCutProxy proxy(redis.port());
  ViolationWriter writer(redis_config(proxy.url()), fast_options());
  std::string error;
  REQUIRE(writer.start(error));

  // Some acknowledged first: the check after the cut starts from the last acknowledged entry.
  // Without any: it looks at the newest entries of the stream. Both must find what landed.
  const int before = GENERATE(0, 10);
  for (int i = 0; i < before; ++i) REQUIRE(writer.submit(make_violation(i)));
  REQUIRE(eventually([&] { return writer.stats().ok == static_cast<std::uint64_t>(before); }));

  proxy.arm_cut();
  for (int i = before; i < before + 300; ++i) REQUIRE(writer.submit(make_violation(i)));
  REQUIRE(
      eventually([&] { return writer.stats().ok == static_cast<std::uint64_t>(before + 300); }));

  CHECK(proxy.cuts() == 1);
  CHECK(writer.stats().error > 0);
  require_each_once_in_order(read_stream(redis), before + 300);
  stop_cleanly(writer);
}

TEST_CASE("violation writer: AUTH and SELECT from the URL", "[redis]") {
  RedisServer redis({"--requirepass", "s3cret"}, "s3cret");
  ViolationWriter writer(
      redis_config("redis://:s3cret@127.0.0.1:" + std::to_string(redis.port()) + "/2"),
      fast_options());
  std::string error;
  REQUIRE(writer.start(error));
  for (int i = 0; i < 5; ++i) REQUIRE(writer.submit(make_violation(i)));
  REQUIRE(eventually([&] { return writer.stats().ok == 5; }));
  require_each_once_in_order(read_stream(redis, 2), 5);
  CHECK(read_stream(redis, 0).empty());
  stop_cleanly(writer);
}

TEST_CASE("violation writer: a full spool counts what it drops", "[redis]") {
  // Nobody listens there: everything stays spooled.
  const int port = chatdesk::test::free_loopback_port();
  ViolationWriter writer(redis_config("redis://127.0.0.1:" + std::to_string(port), 10),
                         fast_options());
  std::string error;
  REQUIRE(writer.start(error));

  int accepted = 0;
  for (int i = 0; i < 25; ++i) accepted += writer.submit(make_violation(i)) ? 1 : 0;
  CHECK(accepted == 10);
  CHECK(writer.stats().dropped == 15);
  CHECK(writer.stats().spooled == 10);
  REQUIRE(eventually([&] { return writer.stats().connect_failures >= 2; }));
  CHECK(writer.stats().ok == 0);

  // stop() gives up at the deadline; what is left is dropped, and counted.
  const auto started = std::chrono::steady_clock::now();
  CHECK(writer.stop(started + 100ms) == 10);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(writer.stats().dropped == 25);
  CHECK(writer.stats().spooled == 0);
  CHECK_FALSE(writer.submit(make_violation(99)));
  CHECK(writer.stats().dropped == 26);
}

TEST_CASE("violation writer: stop() flushes what is spooled before the deadline", "[redis]") {
  RedisServer redis;
  ViolationWriter writer(redis_config(redis.url()), fast_options());
  std::string error;
  REQUIRE(writer.start(error));
  for (int i = 0; i < 500; ++i) REQUIRE(writer.submit(make_violation(i)));
  CHECK(writer.stop(std::chrono::steady_clock::now() + 10s) == 0);
  CHECK(writer.stats().ok == 500);
  require_each_once_in_order(read_stream(redis), 500);
}

TEST_CASE("violation writer: stop() does not wait for a Redis that never answers", "[redis]") {
  SilentServer hung;
  auto options = fast_options();
  options.io_timeout = 30s;  // far beyond the stop deadline: stop() must cut the request itself
  ViolationWriter writer(redis_config(hung.url()), options);
  std::string error;
  REQUIRE(writer.start(error));
  for (int i = 0; i < 20; ++i) REQUIRE(writer.submit(make_violation(i)));
  // Connected, and the batch is on its way (or waiting for an answer that never comes).
  REQUIRE(eventually([&] { return writer.stats().connected.load(); }));

  const auto started = std::chrono::steady_clock::now();
  CHECK(writer.stop(started + 200ms) == 20);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
  CHECK(writer.stats().dropped == 20);
  CHECK(writer.stats().ok == 0);
}
