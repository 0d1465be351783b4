// Unit tests of chatdesk-bench-load's pure parts: options, latency percentiles, the send-time
// FIFO, frame scanning, the chat texts and /proc/<pid>/stat parsing.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "frame_scan.hpp"
#include "latency.hpp"
#include "options.hpp"
#include "proc_stat.hpp"
#include "texts.hpp"

using namespace chatdesk::bench;

namespace {
bool parse(std::vector<std::string_view> args, Options& out, std::string& error) {
  return parse_options(args, out, error);
}
}  // namespace

TEST_CASE("bench load: options parse the contract's command line", "[bench]") {
  Options o;
  std::string error;
  REQUIRE(parse(
      {"--target",     "node",        "--port",     "9000",          "--pairs",  "10",
       "--inflight",   "8",           "--seconds",  "1.5",           "--warmup", "0",
       "--rate",       "2500",        "--shop",     "a,b",           "--shop",   "c",
       "--text-chars", "12",          "--no-reply", "--avoid-every", "0",        "--server-pid",
       "42",           "--redis-pid", "43"},
      o, error));
  CHECK(o.target == Target::node);
  CHECK(o.ports == std::vector<std::uint16_t>{9000});
  CHECK(o.pairs == 10);
  CHECK(o.inflight == 8);
  CHECK(o.seconds == 1.5);
  CHECK(o.warmup == 0);
  CHECK(o.rate == 2500);
  CHECK(o.shops == std::vector<std::string>{"a", "b", "c"});
  CHECK(o.text_chars == 12);
  CHECK_FALSE(o.reply);
  CHECK(o.avoid_every == 0);
  CHECK(o.server_pids == std::vector<int>{42});
  CHECK(o.redis_pid == 43);
}

TEST_CASE("bench load: --port and --server-pid take one per gateway node", "[bench]") {
  Options o;
  std::string error;
  REQUIRE(parse({"--target", "chatdesk", "--port", "9000,9001,9002", "--server-pid", "41,42,43"}, o,
                error));
  CHECK(o.ports == std::vector<std::uint16_t>{9000, 9001, 9002});
  CHECK(o.server_pids == std::vector<int>{41, 42, 43});
  REQUIRE(parse({"--target", "chatdesk", "--port", "9000"}, o, error));
  CHECK(o.ports == std::vector<std::uint16_t>{9000});
  CHECK(o.server_pids.empty());
  CHECK_FALSE(parse({"--target", "chatdesk", "--port", "9000,x"}, o, error));
  CHECK(error.find("'x'") != std::string::npos);
  CHECK_FALSE(parse({"--target", "chatdesk", "--port", "9000,0"}, o, error));
  CHECK_FALSE(parse({"--target", "chatdesk", "--port", ","}, o, error));
  CHECK_FALSE(parse({"--target", "chatdesk", "--port", "1", "--server-pid", "42,-1"}, o, error));
}

TEST_CASE("bench load: bad options are refused with a reason", "[bench]") {
  Options o;
  std::string error;
  CHECK_FALSE(parse({"--port", "9000"}, o, error));
  CHECK(error.find("--target") != std::string::npos);
  CHECK_FALSE(parse({"--target", "nginx", "--port", "1"}, o, error));
  CHECK(error.find("nginx") != std::string::npos);
  CHECK_FALSE(parse({"--target", "echo", "--port", "70000"}, o, error));
  CHECK_FALSE(parse({"--target", "echo", "--port", "1", "--pairs", "0"}, o, error));
  CHECK_FALSE(parse({"--target", "echo", "--port", "1", "--seconds", "0"}, o, error));
  CHECK_FALSE(parse({"--target", "echo", "--port", "1", "--rate", "-1"}, o, error));
  CHECK_FALSE(parse({"--target", "echo", "--port", "1", "--inflight"}, o, error));
  CHECK(error == "--inflight needs a value");
  CHECK_FALSE(parse({"--target", "echo", "--port", "1", "--frobnicate"}, o, error));
}

TEST_CASE("bench load: percentiles are nearest-rank samples", "[bench]") {
  LatencyRecorder r;
  CHECK(r.percentile(0.5) == 0);
  for (int i = 1000; i >= 1; --i) r.add(i * 1000);  // 1..1000 us, added out of order
  CHECK(r.percentile(0.50) == 500'000);
  CHECK(r.percentile(0.99) == 990'000);
  CHECK(r.percentile(0.999) == 999'000);
  CHECK(r.percentile(1.0) == 1'000'000);
  auto s = r.summarize();
  CHECK(s.count == 1000);
  CHECK(s.p50_us == 500.0);
  CHECK(s.p99_us == 990.0);
  CHECK(s.p999_us == 999.0);
  CHECK(s.max_us == 1000.0);
  CHECK(s.mean_us == Approx(500.5));
  // One sample: every percentile is that sample; negative (clock) differences count as 0.
  LatencyRecorder one;
  one.add(-5);
  CHECK(one.percentile(0.999) == 0);
}

TEST_CASE("bench load: the send-time FIFO keeps order while it grows", "[bench]") {
  TimeRing ring;
  Nanos t = 0;
  CHECK_FALSE(ring.pop(t));
  for (Nanos i = 0; i < 5; ++i) ring.push(i);
  REQUIRE(ring.pop(t));
  CHECK(t == 0);
  for (Nanos i = 5; i < 40; ++i) ring.push(i);  // wraps, then grows past 8 and 16 and 32
  for (Nanos i = 1; i < 40; ++i) {
    REQUIRE(ring.pop(t));
    CHECK(t == i);
  }
  CHECK(ring.size() == 0);
}

TEST_CASE("bench load: frame scanning reads ids without a JSON parser", "[bench]") {
  std::string_view msg =
      R"({"type":"message","conversation":"c-00ff","id":"c-00ff:3","from":"customer","agent":"a","text":"你好","ts":1})";
  CHECK(frame_type(msg) == "message");
  CHECK(string_field(msg, "conversation") == "c-00ff");
  CHECK(string_field(msg, "id") == "c-00ff:3");
  CHECK_FALSE(string_field(msg, "customer"));
  CHECK_FALSE(string_field(msg, "ts"));  // not a string
  // Spaces (Node's or a pretty printer's) and "type" not first.
  std::string_view spaced = R"({ "state" : "available", "type": "status" })";
  CHECK(frame_type(spaced) == "status");
  CHECK(string_field(spaced, "state") == "available");
  // A key that is only the end of another key does not match.
  CHECK_FALSE(string_field(R"({"xstate":"a"})", "state"));
  // Escapes are not decoded: such a value is not found rather than misread.
  CHECK_FALSE(string_field(R"({"code":"a\"b"})", "code"));
  CHECK(frame_type("not json").empty());
  CHECK(index_suffix("b123x9c-17") == 17u);
  CHECK_FALSE(index_suffix("b123c-"));
  CHECK_FALSE(index_suffix("b123c-1x"));
  CHECK_FALSE(index_suffix("nodash"));
}

TEST_CASE("bench load: chat texts have exactly the wanted code points", "[bench]") {
  for (std::size_t chars : {1u, 3u, 13u, 40u, 200u}) {
    auto pool = make_texts(chars);
    REQUIRE(pool.customer.size() == 8);
    for (const auto& t : pool.customer) CHECK(code_points(t) == chars);
    for (const auto& t : pool.agent) CHECK(code_points(t) == chars);
    CHECK(code_points(pool.agent_avoid) == chars);
    for (const auto& t : pool.customer) CHECK(t.find_first_of("\"\\") == std::string::npos);
  }
  auto pool = make_texts(40);
  // Chinese: 40 code points are 3 bytes each apart from a few ASCII letters.
  CHECK(pool.customer[0].size() > 100);
  // Answers greet and avoid the configured phrases; the avoid variant holds one.
  for (const auto& t : pool.agent) {
    CHECK(t.rfind("您好，", 0) == 0);
    for (std::string_view bad : {"我不能", "我不会", "我不愿意", "我不可以", "但是"})
      CHECK(t.find(bad) == std::string::npos);
  }
  CHECK(pool.agent_avoid.find("但是") != std::string::npos);
}

TEST_CASE("bench load: /proc/<pid>/stat gives utime + stime", "[bench]") {
  // Field 14 utime = 250 ticks, field 15 stime = 50 ticks; the name holds spaces and a ')'.
  std::string_view stat =
      "1234 (chatdesk gw) x) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 2 0 100 "
      "1000000 500 18446744073709551615\n";
  auto cpu = parse_proc_stat_cpu(stat, 100);
  REQUIRE(cpu);
  CHECK(*cpu == Approx(3.0));
  CHECK_FALSE(parse_proc_stat_cpu("1234 (short) S 1 2", 100));
  CHECK_FALSE(parse_proc_stat_cpu("garbage", 100));
  auto self = process_cpu_seconds(static_cast<int>(::getpid()));
  REQUIRE(self);
  CHECK(*self >= 0);
  CHECK_FALSE(process_cpu_seconds(0));
}
