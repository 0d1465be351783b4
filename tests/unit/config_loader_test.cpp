#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "chatdesk/config/config_loader.hpp"

namespace {

using namespace chatdesk::config;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

// Test documents start with a newline after R"( for readability; dropping it makes the first key
// line 1, so that the line numbers in the expectations can be read off the literal.
std::string_view trimmed(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return text;
}

Config parse(std::string_view text) {
  return parse_config(trimmed(text), "test.yaml");
}

// The ConfigError message that `text` is rejected with.
std::string error_of(std::string_view text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("accepted:\n" << text);
  return {};
}

std::string duration_error(std::string_view text) {
  try {
    parse_duration(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("accepted duration '" << text << "'");
  return {};
}

// The repository root, found from this file (tests/unit/config_loader_test.cpp) so that the test
// needs nothing from CMake and runs from any working directory.
std::filesystem::path source_dir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

// A file in the temp directory, removed again when the test ends. One test thread only.
class TempFile {
 public:
  explicit TempFile(std::string_view content)
      : path_(std::filesystem::temp_directory_path() /
              ("chatdesk_config_test_" + std::to_string(::getpid()) + ".yaml")) {
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

constexpr int at(int hours, int minutes) {
  return hours * 60 + minutes;
}

}  // namespace

// --- durations ------------------------------------------------------------------------------

TEST_CASE("parse_duration reads every unit", "[config]") {
  CHECK(parse_duration("15s") == 15s);
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("2m") == 2min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("0s") == 0ms);
  CHECK(parse_duration("90m") == 90min);
  CHECK(parse_duration("1000000h") == std::chrono::hours(1'000'000));
}

TEST_CASE("parse_duration rejects everything else", "[config]") {
  CHECK_THAT(duration_error("abc"), Equals("bad duration 'abc' (use 15s, 500ms, 2m)"));
  CHECK_THAT(duration_error("-5s"), Contains("bad duration '-5s'") && Contains("negative"));
  CHECK_THAT(duration_error("-0s"), Contains("negative"));
  CHECK_THAT(duration_error("15"), Contains("bad duration '15'") && Contains("missing unit"));
  CHECK_THAT(duration_error("0"), Contains("missing unit"));
  CHECK_THAT(duration_error("99999999999999999999s"), Contains("too large"));
  CHECK_THAT(duration_error("9223372036854775807h"), Contains("too large"));
  for (std::string_view bad : {"", "s", "ms", "1.5s", "15 s", " 15s", "15s ", "+5s", "15S", "15sec",
                               "15sm", "1h30m", "0x10s", "15d", "fifteen seconds"}) {
    INFO("duration '" << bad << "'");
    CHECK_THAT(duration_error(bad), Contains("bad duration '" + std::string(bad) + "'") &&
                                        Contains("(use 15s, 500ms, 2m)"));
  }
}

// --- whole documents ------------------------------------------------------------------------

TEST_CASE("config with only a shop id takes every default", "[config]") {
  const Config c = parse("shops: [{id: demo}]");
  const Config d;
  CHECK(c.listen.address == "127.0.0.1");
  CHECK(c.listen.port == 8080);
  CHECK(c.web_root.empty());
  CHECK(c.redis.url == d.redis.url);
  CHECK(c.redis.violations_stream == "chatdesk:violations");
  CHECK(c.redis.maxlen == 1'000'000);
  CHECK(c.redis.spool_size == 100'000);
  CHECK(c.redis.enabled);
  CHECK(c.auth.mode == AuthMode::open);
  CHECK(c.limits.max_message_bytes == 65536);
  CHECK(c.limits.max_text_chars == 5000);
  CHECK(c.limits.send_queue_limit == 1024);
  CHECK(c.limits.history_limit == 500);
  CHECK(c.limits.max_connections_per_ip == 256);
  CHECK(c.limits.message_rate.per_second == 20);
  CHECK(c.limits.message_rate.burst == 40);
  CHECK(c.limits.handshake_timeout == 10s);
  CHECK(c.limits.idle_timeout == 300s);
  CHECK(c.allowed_origins.empty());

  REQUIRE(c.shops.size() == 1);
  const ShopConfig& shop = c.shops[0];
  const ShopConfig defaults;
  CHECK(shop.id == "demo");
  CHECK(shop.name == "demo");  // the id stands in for a missing name
  CHECK(shop.timezone == "UTC");
  CHECK(shop.max_concurrent == 5);
  CHECK(shop.resume_grace == 30s);
  CHECK(shop.sla.greeting_target == 15s);
  CHECK(shop.sla.greeting_limit == 30s);
  CHECK(shop.sla.escalate_every == 30s);
  CHECK(shop.sla.reply_wait_limit == 20s);
  CHECK(shop.sla.typing_min_cpm == 50);
  CHECK(shop.sla.typing_min_chars == 10);
  CHECK(shop.sla.typing_window == 20);
  CHECK(shop.language.avoid == defaults.language.avoid);
  CHECK(shop.language.greetings == defaults.language.greetings);
  CHECK(shop.language.farewells == defaults.language.farewells);
  CHECK(shop.shifts.empty());
  CHECK(c.find_shop("demo") == &shop);
}

TEST_CASE("sections with every key commented out keep their defaults", "[config]") {
  const Config c = parse(R"(
listen:
  # port: 9000
redis:
auth:
limits:
shops:
  - id: demo
    sla:
    language:
)");
  CHECK(c.listen.port == 8080);
  CHECK(c.shops.at(0).sla.greeting_limit == 30s);
  CHECK(c.shops.at(0).language.avoid.size() == 5);
}

TEST_CASE("the full example parses to its values", "[config]") {
  const Config c = parse(R"(
listen: {address: 0.0.0.0, port: 9090}
web_root: "/srv/chatdesk/web"
redis: {url: "redis://:secret@redis.local:6380/2", violations_stream: "desk:v", maxlen: 5000, spool_size: 200, enabled: false}
auth: {mode: open}
limits: {max_message_bytes: 32768, max_text_chars: 2000, send_queue_limit: 64, history_limit: 100}
shops:
  - id: demo
    name: "Demo shop"
    timezone: Asia/Shanghai
    max_concurrent: 4
    resume_grace: 45s
    sla: {greeting_target: 10s, greeting_limit: 1m, escalate_every: 500ms, reply_wait_limit: 2m,
          typing_min_cpm: 62.5, typing_min_chars: 12, typing_window: 7}
    language: {avoid: ["我不能", "但是"], greetings: ["您好"], farewells: []}
    shifts: [{name: day, start: "08:30", end: "17:30"}, {name: night, start: "17:30", end: "01:00"}]
  - id: Shop_2-b
    timezone: Europe/Berlin
)");
  CHECK(c.listen.address == "0.0.0.0");
  CHECK(c.listen.port == 9090);
  CHECK(c.web_root == "/srv/chatdesk/web");
  CHECK(c.redis.url == "redis://:secret@redis.local:6380/2");
  CHECK(c.redis.violations_stream == "desk:v");
  CHECK(c.redis.maxlen == 5000);
  CHECK(c.redis.spool_size == 200);
  CHECK_FALSE(c.redis.enabled);
  CHECK(c.auth.mode == AuthMode::open);
  CHECK(c.limits.max_message_bytes == 32768);
  CHECK(c.limits.max_text_chars == 2000);
  CHECK(c.limits.send_queue_limit == 64);
  CHECK(c.limits.history_limit == 100);

  REQUIRE(c.shops.size() == 2);
  const ShopConfig& demo = c.shops[0];
  CHECK(demo.id == "demo");
  CHECK(demo.name == "Demo shop");
  CHECK(demo.timezone == "Asia/Shanghai");
  CHECK(demo.max_concurrent == 4);
  CHECK(demo.resume_grace == 45s);
  CHECK(demo.sla.greeting_target == 10s);
  CHECK(demo.sla.greeting_limit == 1min);
  CHECK(demo.sla.escalate_every == 500ms);
  CHECK(demo.sla.reply_wait_limit == 2min);
  CHECK(demo.sla.typing_min_cpm == 62.5);
  CHECK(demo.sla.typing_min_chars == 12);
  CHECK(demo.sla.typing_window == 7);
  CHECK(demo.language.avoid == std::vector<std::string>{"我不能", "但是"});
  CHECK(demo.language.greetings == std::vector<std::string>{"您好"});
  CHECK(demo.language.farewells.empty());
  REQUIRE(demo.shifts.size() == 2);
  CHECK(demo.shifts[0].name == "day");
  CHECK(demo.shifts[0].start.minutes == at(8, 30));
  CHECK(demo.shifts[0].end.minutes == at(17, 30));
  CHECK(demo.shifts[1].name == "night");
  CHECK(demo.shifts[1].start.minutes == at(17, 30));
  CHECK(demo.shifts[1].end.minutes == at(1, 0));

  CHECK(c.shops[1].id == "Shop_2-b");
  CHECK(c.shops[1].timezone == "Europe/Berlin");
  CHECK(c.find_shop("Shop_2-b") == &c.shops[1]);
  CHECK(c.find_shop("nope") == nullptr);
}

TEST_CASE("the shipped config/chatdesk.yaml loads", "[config]") {
  const Config c = load_config((source_dir() / "config" / "chatdesk.yaml").string());
  CHECK(c.listen.address == "127.0.0.1");
  CHECK(c.listen.port == 8080);
  CHECK(c.auth.mode == AuthMode::open);
  REQUIRE(c.shops.size() == 2);

  const ShopConfig& demo = c.shops[0];
  CHECK(demo.id == "demo");
  CHECK(demo.name == "Demo shop");
  CHECK(demo.timezone == "Asia/Shanghai");
  CHECK(demo.max_concurrent == 5);
  CHECK(demo.shifts.empty());  // the local demo must be open whenever someone tries it
  CHECK(demo.language.avoid.size() == 5);

  const ShopConfig& night = c.shops[1];
  CHECK(night.id == "night-market");
  CHECK(night.name == "Night market");
  CHECK(night.timezone == "Asia/Shanghai");
  CHECK(night.max_concurrent == 3);
  CHECK(night.sla.typing_min_cpm == 80);
  REQUIRE(night.shifts.size() == 2);
  CHECK(night.shifts[0].start.minutes == at(8, 30));
  CHECK(night.shifts[1].start.minutes == at(17, 30));
  CHECK(night.shifts[1].end.minutes == at(1, 0));
}

// --- keys -----------------------------------------------------------------------------------

TEST_CASE("unknown keys are rejected everywhere with their path and line", "[config]") {
  CHECK_THAT(error_of(R"(
shops: [{id: demo}]
lisen: {port: 1}
)"),
             Contains("lisen (line 2): unknown key"));
  CHECK_THAT(error_of(R"(
listen: {address: 127.0.0.1, prot: 1}
shops: [{id: demo}]
)"),
             Contains("listen.prot (line 1): unknown key"));
  CHECK_THAT(error_of(R"(
redis:
  url: "redis://127.0.0.1:6379"
  stream: x
shops: [{id: demo}]
)"),
             Contains("redis.stream (line 3): unknown key"));
  CHECK_THAT(error_of("auth: {mode: open, token: x}\nshops: [{id: demo}]"),
             Contains("auth.token (line 1): unknown key"));
  CHECK_THAT(error_of("limits: {max_bytes: 1}\nshops: [{id: demo}]"),
             Contains("limits.max_bytes (line 1): unknown key"));
  CHECK_THAT(error_of(R"(
shops:
  - id: demo
  - id: other
    timezon: UTC
)"),
             Contains("shops[1].timezon (line 4): unknown key"));
  CHECK_THAT(error_of(R"(
shops:
  - id: demo
    sla:
      greeting_target: 15s
      greeting_limt: 30s
)"),
             Contains("shops[0].sla.greeting_limt (line 5): unknown key"));
  CHECK_THAT(error_of(R"(
shops:
  - id: demo
    language: {avoid: [], greeting: []}
)"),
             Contains("shops[0].language.greeting (line 3): unknown key"));
  CHECK_THAT(error_of(R"(
shops:
  - id: demo
    shifts:
      - {name: day, start: "08:00", end: "12:00"}
      - {name: late, start: "13:00", end: "18:00", days: weekdays}
)"),
             Contains("shops[0].shifts[1].days (line 5): unknown key"));
}

TEST_CASE("repeated keys are rejected", "[config]") {
  CHECK_THAT(error_of(R"(
shops:
  - id: demo
    max_concurrent: 2
    max_concurrent: 3
)"),
             Contains("shops[0].max_concurrent (line 4): duplicate key (first at line 3)"));
}

TEST_CASE("keys must be plain names", "[config]") {
  CHECK_THAT(error_of("? [a, b]\n: 1\nshops: [{id: demo}]"),
             Contains("(line 1): keys must be plain names"));
}

// --- types ----------------------------------------------------------------------------------

TEST_CASE("wrong types are rejected with their path and line", "[config]") {
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: [127.0.0.1, 8080]"),
             Contains("listen (line 2): expected a map, got a list"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {port: abc}"),
             Contains("listen.port (line 2): expected an integer, got 'abc'"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {port: [8080]}"),
             Contains("listen.port (line 2): expected an integer, got a list"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {port: 8080.5}"),
             Contains("listen.port (line 2): expected an integer, got '8080.5'"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten:\n  port:\n"),
             Contains("listen.port (line 3): expected an integer, got nothing"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {address: {ip: 1}}"),
             Contains("listen.address (line 2): expected a non-empty string, got a map"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {address: ''}"),
             Contains("listen.address (line 2): must not be empty"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nweb_root: [a]"),
             Contains("web_root (line 2): expected a string, got a list"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nredis: {enabled: maybe}"),
             Contains("redis.enabled (line 2): expected true or false, got 'maybe'"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlimits: {history_limit: many}"),
             Contains("limits.history_limit (line 2): expected an integer, got 'many'"));
  CHECK_THAT(error_of("shops: [{id: demo, max_concurrent: 1.5}]"),
             Contains("shops[0].max_concurrent (line 1): expected an integer, got '1.5'"));
  CHECK_THAT(error_of("shops: [{id: demo, sla: {typing_min_cpm: fast}}]"),
             Contains("shops[0].sla.typing_min_cpm (line 1): expected a number, got 'fast'"));
  CHECK_THAT(error_of("shops: [{id: demo, sla: {typing_min_cpm: .inf}}]"),
             Contains("shops[0].sla.typing_min_cpm (line 1): expected a number, got '.inf'"));
  CHECK_THAT(error_of("shops: [{id: demo, sla: [15s]}]"),
             Contains("shops[0].sla (line 1): expected a map, got a list"));
  CHECK_THAT(error_of("shops: [{id: demo, resume_grace: {s: 1}}]"),
             Contains("shops[0].resume_grace (line 1): expected a duration like 15s, got a map"));
  CHECK_THAT(error_of("shops: [{id: demo, shifts: {name: day}}]"),
             Contains("shops[0].shifts (line 1): expected a list, got a map"));
  CHECK_THAT(error_of("shops: [{id: demo, shifts: [day]}]"),
             Contains("shops[0].shifts[0] (line 1): expected a map, got 'day'"));
  CHECK_THAT(error_of("- shops"), Contains("top level (line 1): expected a map, got a list"));
}

TEST_CASE("the port must be 1 to 65535", "[config]") {
  CHECK(parse("listen: {port: 1}\nshops: [{id: demo}]").listen.port == 1);
  CHECK(parse("listen: {port: 65535}\nshops: [{id: demo}]").listen.port == 65535);
  for (const char* port : {"0", "65536", "70000", "-1", "99999999999999999999999"}) {
    INFO("port " << port);
    CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {port: " + std::string(port) + "}"),
               Contains("listen.port (line 2):"));
  }
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {port: 70000}"),
             Contains("listen.port (line 2): must be from 1 to 65535, got 70000"));
}

TEST_CASE("durations in the config carry their path and line", "[config]") {
  CHECK(parse("shops: [{id: demo, resume_grace: 500ms}]").shops[0].resume_grace == 500ms);
  CHECK(parse("shops: [{id: demo, resume_grace: 0s}]").shops[0].resume_grace == 0ms);
  const char* const doc = R"(
shops:
  - id: demo
    sla:
      greeting_target: 15s
      greeting_limit: abc
)";
  CHECK_THAT(error_of(doc),
             Contains("shops[0].sla.greeting_limit (line 5): bad duration 'abc' (use 15s, "
                      "500ms, 2m)"));
  CHECK_THAT(error_of("shops: [{id: demo, resume_grace: 30}]"),
             Contains("shops[0].resume_grace (line 1): bad duration '30': missing unit"));
  CHECK_THAT(error_of("shops: [{id: demo, resume_grace: -30s}]"),
             Contains("shops[0].resume_grace (line 1): bad duration '-30s': must not be negative"));
}

// --- shops ----------------------------------------------------------------------------------

TEST_CASE("shops must be a non-empty list", "[config]") {
  CHECK_THAT(error_of("listen: {port: 8080}"), Contains("shops (line 1): required"));
  CHECK_THAT(error_of(""), Contains("shops (line 1): required"));
  CHECK_THAT(error_of("# nothing but a comment\n"), Contains("shops (line 1): required"));
  CHECK_THAT(error_of("listen: {port: 8080}\nshops: []"),
             Contains("shops (line 2): list at least one shop"));
  CHECK_THAT(error_of("listen: {port: 8080}\nshops:\n"),
             Contains("shops (line 2): expected a list, got nothing"));
  CHECK_THAT(error_of("shops: {id: demo}"), Contains("shops (line 1): expected a list, got a map"));
}

TEST_CASE("every shop needs a valid, unique id", "[config]") {
  CHECK_THAT(error_of(R"(
shops:
  - id: demo
  - name: "No id"
    timezone: UTC
)"),
             Contains("shops[1].id (line 3): required"));
  CHECK_THAT(error_of("shops: [{id: 'my shop'}]"),
             Contains("shops[0].id (line 1): bad shop id 'my shop'"));
  CHECK_THAT(error_of("shops: [{id: ''}]"), Contains("shops[0].id (line 1): bad shop id ''"));
  CHECK_THAT(error_of("shops: [{id: 店}]"), Contains("shops[0].id (line 1): bad shop id"));
  CHECK_THAT(error_of("shops: [{id: a.b}]"), Contains("shops[0].id (line 1): bad shop id"));
  CHECK_THAT(error_of("shops: [{id: [a]}]"), Contains("shops[0].id (line 1): expected a string"));
  CHECK(parse("shops: [{id: " + std::string(64, 'x') + "}]").shops[0].id.size() == 64);
  CHECK_THAT(error_of("shops: [{id: " + std::string(65, 'x') + "}]"),
             Contains("shops[0].id (line 1): bad shop id"));
  CHECK_THAT(error_of(R"(
shops:
  - id: demo
  - id: other
  - id: demo
)"),
             Contains("shops[2].id (line 4): duplicate shop id 'demo' (first at line 2)"));
  CHECK_THAT(error_of(R"(
shops:
  - name: "First"
    id: demo
  - name: "Second"
    timezone: UTC
    id: demo
)"),
             Contains("shops[1].id (line 6): duplicate shop id 'demo' (first at line 3)"));
}

TEST_CASE("a shop's time zone must be in tzdata", "[config]") {
  CHECK(parse("shops: [{id: a, timezone: America/New_York}]").shops[0].timezone ==
        "America/New_York");
  CHECK_THAT(error_of("shops:\n  - id: a\n    timezone: Mars/Olympus_Mons"),
             Contains("shops[0].timezone (line 3): unknown time zone 'Mars/Olympus_Mons'"));
  CHECK_THAT(error_of("shops: [{id: a, timezone: ''}]"),
             Contains("shops[0].timezone (line 1): must not be empty"));
}

TEST_CASE("shop and sla numbers are range-checked", "[config]") {
  CHECK_THAT(error_of("shops: [{id: a, max_concurrent: 0}]"),
             Contains("shops[0].max_concurrent (line 1): must be at least 1, got 0"));
  CHECK_THAT(error_of("shops: [{id: a, max_concurrent: -2}]"),
             Contains("shops[0].max_concurrent (line 1): must be at least 1"));
  CHECK_THAT(error_of("shops: [{id: a, sla: {escalate_every: 0s}}]"),
             Contains("shops[0].sla.escalate_every (line 1): must be longer than 0s"));
  CHECK_THAT(error_of("shops: [{id: a, sla: {greeting_target: 0ms}}]"),
             Contains("shops[0].sla.greeting_target (line 1): must be longer than 0s"));
  CHECK_THAT(error_of("shops: [{id: a, sla: {reply_wait_limit: 0m}}]"),
             Contains("shops[0].sla.reply_wait_limit (line 1): must be longer than 0s"));
  CHECK_THAT(error_of("shops: [{id: a, sla: {typing_window: 0}}]"),
             Contains("shops[0].sla.typing_window (line 1): must be at least 1, got 0"));
  CHECK_THAT(error_of("shops: [{id: a, sla: {typing_min_cpm: 0}}]"),
             Contains("shops[0].sla.typing_min_cpm (line 1): must be greater than 0"));
  CHECK_THAT(error_of("shops: [{id: a, sla: {typing_min_cpm: -10}}]"),
             Contains("shops[0].sla.typing_min_cpm (line 1): must be greater than 0"));
  CHECK_THAT(error_of("shops: [{id: a, sla: {typing_min_chars: -1}}]"),
             Contains("shops[0].sla.typing_min_chars (line 1): must be at least 0"));
  CHECK(parse("shops: [{id: a, sla: {typing_min_chars: 0}}]").shops[0].sla.typing_min_chars == 0);
  CHECK(parse("shops: [{id: a, sla: {typing_window: 1}}]").shops[0].sla.typing_window == 1);
}

TEST_CASE("greeting_target must not exceed greeting_limit", "[config]") {
  const auto sla =
      parse("shops: [{id: a, sla: {greeting_target: 30s, greeting_limit: 30s}}]").shops[0].sla;
  CHECK(sla.greeting_target == sla.greeting_limit);
  CHECK_THAT(error_of(R"(
shops:
  - id: a
    sla:
      greeting_target: 20s
      greeting_limit: 10s
)"),
             Contains("shops[0].sla.greeting_limit (line 5):") &&
                 Contains("greeting_target (20000ms) must not be longer than greeting_limit "
                          "(10000ms)"));
  // Against the default limit (30s), only the target is in the file.
  CHECK_THAT(error_of("shops:\n  - id: a\n    sla:\n      greeting_target: 1m"),
             Contains("shops[0].sla.greeting_target (line 4):"));
  // Against the default target (15s), only the limit is in the file.
  CHECK_THAT(error_of("shops:\n  - id: a\n    sla:\n      greeting_limit: 5s"),
             Contains("shops[0].sla.greeting_limit (line 4):"));
}

// --- shifts ---------------------------------------------------------------------------------

TEST_CASE("a shift ending before it starts crosses midnight", "[config]") {
  const Config c = parse(R"(
shops:
  - id: a
    shifts:
      - {name: night, start: "22:00", end: "06:00"}
      - {name: edges, start: "00:00", end: "23:59"}
      - {name: unquoted, start: 07:05, end: 09:10}
)");
  const auto& shifts = c.shops[0].shifts;
  REQUIRE(shifts.size() == 3);
  CHECK(shifts[0].start.minutes == at(22, 0));
  CHECK(shifts[0].end.minutes == at(6, 0));
  CHECK(shifts[1].start.minutes == 0);
  CHECK(shifts[1].end.minutes == at(23, 59));
  CHECK(shifts[2].start.minutes == at(7, 5));
  CHECK(shifts[2].end.minutes == at(9, 10));
}

TEST_CASE("a shift that starts when it ends is rejected", "[config]") {
  CHECK_THAT(error_of(R"(
shops:
  - id: a
    shifts:
      - name: all
        start: "08:30"
        end: "08:30"
)"),
             Contains("shops[0].shifts[0].end (line 6): shift 'all' starts and ends at the same "
                      "time"));
}

TEST_CASE("shift times are HH:MM from 00:00 to 23:59", "[config]") {
  for (const char* bad : {"24:00", "12:60", "8:30", "08:3", "0830", "08.30", "noon", "12:30:00",
                          "-1:30", "+1:30", "08:-1", " 8:30", "", "ab:cd"}) {
    INFO("time '" << bad << "'");
    CHECK_THAT(error_of("shops:\n  - id: a\n    shifts:\n      - {name: x, start: '" +
                        std::string(bad) + "', end: '23:00'}"),
               Contains("shops[0].shifts[0].start (line 4): bad time '" + std::string(bad) +
                        "' (use HH:MM, 00:00 to 23:59)"));
  }
  CHECK_THAT(error_of("shops: [{id: a, shifts: [{name: x, start: 1:00, end: [2]}]}]"),
             Contains("shops[0].shifts[0].start (line 1): bad time '1:00'"));
  CHECK_THAT(error_of("shops: [{id: a, shifts: [{name: x, start: '01:00', end: [2]}]}]"),
             Contains("shops[0].shifts[0].end (line 1): expected a string, got a list"));
}

TEST_CASE("a shift needs a name, a start and an end", "[config]") {
  CHECK_THAT(error_of("shops: [{id: a, shifts: [{name: x, start: '08:00'}]}]"),
             Contains("shops[0].shifts[0].end (line 1): required"));
  CHECK_THAT(error_of("shops: [{id: a, shifts: [{name: x, end: '08:00'}]}]"),
             Contains("shops[0].shifts[0].start (line 1): required"));
  CHECK_THAT(error_of("shops: [{id: a, shifts: [{start: '08:00', end: '09:00'}]}]"),
             Contains("shops[0].shifts[0].name (line 1): required"));
  CHECK_THAT(error_of("shops: [{id: a, shifts: [{name: '', start: '08:00', end: '09:00'}]}]"),
             Contains("shops[0].shifts[0].name (line 1): must not be empty"));
  CHECK(parse("shops: [{id: a, shifts: []}]").shops[0].shifts.empty());
}

// --- auth, redis, limits, language ----------------------------------------------------------

TEST_CASE("auth.mode is open or token", "[config]") {
  CHECK(parse("auth: {mode: open}\nshops: [{id: a}]").auth.mode == AuthMode::open);
  CHECK(parse("shops: [{id: a}]\nauth:\n  mode: token").auth.mode == AuthMode::token);
  CHECK_THAT(error_of("shops: [{id: a}]\nauth: {mode: password}"),
             Contains("auth.mode (line 2): expected open or token, got 'password'"));
  CHECK_THAT(error_of("shops: [{id: a}]\nauth: {mode: [open]}"),
             Contains("auth.mode (line 2): expected a string, got a list"));
}

TEST_CASE("auth: secret_env and max_ttl have defaults and are checked", "[config]") {
  const Config defaults = parse("shops: [{id: a}]");
  CHECK(defaults.auth.mode == AuthMode::open);
  CHECK(defaults.auth.secret_env == "CHATDESK_AUTH_SECRET");
  CHECK(defaults.auth.max_ttl == 24h);

  const Config token =
      parse("auth: {mode: token, secret_env: DESK_SECRET_2, max_ttl: 8h}\nshops: [{id: a}]");
  CHECK(token.auth.mode == AuthMode::token);
  CHECK(token.auth.secret_env == "DESK_SECRET_2");
  CHECK(token.auth.max_ttl == 8h);
  CHECK(parse("auth: {max_ttl: 1s}\nshops: [{id: a}]").auth.max_ttl == 1s);
  CHECK(parse("auth: {max_ttl: 8760h}\nshops: [{id: a}]").auth.max_ttl == 8760h);
  CHECK(parse("auth: {secret_env: _x}\nshops: [{id: a}]").auth.secret_env == "_x");

  for (const char* bad : {"''", "1SECRET", "MY-SECRET", "'MY SECRET'", "'A=B'", "[A]"}) {
    INFO(bad);
    CHECK_THAT(error_of(std::string("shops: [{id: a}]\nauth: {secret_env: ") + bad + "}"),
               Contains("auth.secret_env (line 2): "));
  }
  // A secret pasted where the variable's name belongs is not echoed back into logs.
  const std::string pasted = error_of("shops: [{id: a}]\nauth: {secret_env: 'k9/+Q==s3cr3t'}");
  CHECK_THAT(pasted, Contains("auth.secret_env (line 2): not an environment variable name"));
  CHECK(pasted.find("k9/+Q==s3cr3t") == std::string::npos);

  CHECK_THAT(error_of("shops: [{id: a}]\nauth: {max_ttl: 999ms}"),
             Contains("auth.max_ttl (line 2): must be between 1s and 8760h"));
  CHECK_THAT(error_of("shops: [{id: a}]\nauth: {max_ttl: 8761h}"),
             Contains("auth.max_ttl (line 2): must be between 1s and 8760h"));
  CHECK_THAT(error_of("shops: [{id: a}]\nauth: {max_ttl: 24}"),
             Contains("auth.max_ttl (line 2): bad duration '24': missing unit"));
  // The secret itself has no key: it never goes in the file.
  CHECK_THAT(error_of("shops: [{id: a}]\nauth: {mode: token, secret: abc}"),
             Contains("auth.secret (line 2): unknown key"));
}

TEST_CASE("redis settings are checked", "[config]") {
  CHECK_THAT(error_of("shops: [{id: a}]\nredis: {url: 'http://127.0.0.1:6379'}"),
             Contains("redis.url (line 2): bad url 'http://127.0.0.1:6379'"));
  CHECK_THAT(error_of("shops: [{id: a}]\nredis: {url: 'redis://'}"),
             Contains("redis.url (line 2): bad url"));
  CHECK_THAT(error_of("shops: [{id: a}]\nredis: {url: ''}"),
             Contains("redis.url (line 2): bad url"));
  CHECK_THAT(error_of("shops: [{id: a}]\nredis: {maxlen: 0}"),
             Contains("redis.maxlen (line 2): must be at least 1"));
  CHECK_THAT(error_of("shops: [{id: a}]\nredis: {spool_size: -5}"),
             Contains("redis.spool_size (line 2): must be at least 1"));
  CHECK_THAT(error_of("shops: [{id: a}]\nredis: {violations_stream: ''}"),
             Contains("redis.violations_stream (line 2): must not be empty"));
  CHECK_FALSE(parse("shops: [{id: a}]\nredis: {enabled: false}").redis.enabled);
}

TEST_CASE("redis.cluster: host:port nodes, or left out for one Redis", "[config][scale]") {
  CHECK(parse("shops: [{id: a}]").redis.cluster.empty());
  const auto set = parse(
      "shops: [{id: a}]\nredis: {url: 'redis://:pw@x:1', cluster: ['127.0.0.1:7000', "
      "'redis-2.local:7001', '[::1]:7002']}");
  CHECK(set.redis.cluster ==
        std::vector<std::string>{"127.0.0.1:7000", "redis-2.local:7001", "[::1]:7002"});
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":7000", "::1:7000",
                          "redis://127.0.0.1:7000", "a b:7000", "host:70x"}) {
    INFO(bad);
    CHECK_THAT(error_of("shops: [{id: a}]\nredis:\n  cluster: ['" + std::string(bad) + "']"),
               Contains("redis.cluster[0] (line 3): bad cluster node") && Contains("host:port"));
  }
  CHECK_THAT(error_of("shops: [{id: a}]\nredis: {cluster: []}"),
             Contains("redis.cluster (line 2): list at least one node"));
}

TEST_CASE("limits must be greater than 0", "[config]") {
  for (const char* key :
       {"max_message_bytes", "max_text_chars", "send_queue_limit", "history_limit"}) {
    INFO(key);
    CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  " + std::string(key) + ": 0"),
               Contains("limits." + std::string(key) + " (line 3): must be at least 1, got 0"));
  }
  CHECK(parse("shops: [{id: a}]\nlimits: {history_limit: 1}").limits.history_limit == 1);
}

TEST_CASE("the hardening limits are read and checked", "[config]") {
  const Config c = parse(R"(
limits:
  max_connections_per_ip: 3
  max_header_bytes: 4096
  message_rate: {per_second: 1, burst: 5}
  handshake_timeout: 500ms
  idle_timeout: 2m
allowed_origins: ["http://127.0.0.1:8080", "https://desk.example.com"]
shops: [{id: a}]
)");
  CHECK(c.limits.max_connections_per_ip == 3);
  CHECK(c.limits.max_header_bytes == 4096);
  CHECK(parse("shops: [{id: a}]").limits.max_header_bytes == 8192);
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  max_header_bytes: 1023"),
             Contains("limits.max_header_bytes (line 3)"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  max_header_bytes: 65537"),
             Contains("limits.max_header_bytes (line 3)"));
  CHECK(c.limits.message_rate.per_second == 1);
  CHECK(c.limits.message_rate.burst == 5);
  CHECK(c.limits.handshake_timeout == 500ms);
  CHECK(c.limits.idle_timeout == 2min);
  CHECK(c.allowed_origins ==
        std::vector<std::string>{"http://127.0.0.1:8080", "https://desk.example.com"});

  // Writing one key of message_rate keeps the other's default.
  const Config only_burst = parse("shops: [{id: a}]\nlimits: {message_rate: {burst: 7}}");
  CHECK(only_burst.limits.message_rate.per_second == 20);
  CHECK(only_burst.limits.message_rate.burst == 7);
  CHECK(parse("shops: [{id: a}]\nallowed_origins: []").allowed_origins.empty());

  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  max_connections_per_ip: 0"),
             Contains("limits.max_connections_per_ip (line 3): must be at least 1, got 0"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  message_rate: {per_second: 0}"),
             Contains("limits.message_rate.per_second (line 3): must be from 1 to 1000000, got 0"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  message_rate: {burst: -1}"),
             Contains("limits.message_rate.burst (line 3): must be from 1 to 1000000, got -1"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  message_rate: {burst: 1000001}"),
             Contains("limits.message_rate.burst (line 3)"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  message_rate: {per_second: 2.5}"),
             Contains("limits.message_rate.per_second (line 3)"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  message_rate: {rate: 2}"),
             Contains("limits.message_rate.rate (line 3): unknown key"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  message_rate: 20"),
             Contains("limits.message_rate (line 3)"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  handshake_timeout: 0s"),
             Contains("limits.handshake_timeout (line 3): must be longer than 0s"));
  CHECK_THAT(error_of("shops: [{id: a}]\nlimits:\n  idle_timeout: 300"),
             Contains("limits.idle_timeout (line 3): bad duration '300'"));

  for (const char* bad : {"127.0.0.1:8080", "http://", "http://host/", "http://host/chat",
                          "ftp://host", "http://user@host", "http://host?x=1"}) {
    INFO(bad);
    CHECK_THAT(error_of("shops: [{id: a}]\nallowed_origins:\n  - \"" + std::string(bad) + "\""),
               Contains("allowed_origins[0] (line 3): bad origin '" + std::string(bad) + "'"));
  }
  CHECK_THAT(error_of("shops: [{id: a}]\nallowed_origins: ['']"),
             Contains("allowed_origins[0] (line 2): must not be empty"));
  CHECK_THAT(error_of("shops: [{id: a}]\nallowed_origins: http://a"),
             Contains("allowed_origins (line 2)"));
  CHECK_THAT(error_of("shops: [{id: a}]\nallowed_origins:"), Contains("allowed_origins (line 2)"));
}

TEST_CASE("language lists hold non-empty strings", "[config]") {
  CHECK_THAT(error_of(R"(
shops:
  - id: a
    language:
      avoid: ["我不能",
              ""]
)"),
             Contains("shops[0].language.avoid[1] (line 5): must not be empty"));
  CHECK_THAT(error_of("shops: [{id: a, language: {greetings: 您好}}]"),
             Contains("shops[0].language.greetings (line 1): expected a list, got '您好'"));
  CHECK_THAT(error_of("shops: [{id: a, language: {farewells: [[再见]]}}]"),
             Contains("shops[0].language.farewells[0] (line 1): expected a non-empty string, got "
                      "a list"));
  CHECK_THAT(error_of("shops: [{id: a, language: {farewells: }}]"),
             Contains("shops[0].language.farewells (line 1): expected a list, got nothing"));
  CHECK(parse("shops: [{id: a, language: {avoid: []}}]").shops[0].language.avoid.empty());
}

// --- documents and files --------------------------------------------------------------------

TEST_CASE("YAML syntax errors become ConfigError with the source and line", "[config]") {
  CHECK_THAT(
      error_of(R"(
shops:
  - id: demo
    language: {avoid: ["a", "b"
listen: {port: 1}
)"),
      Contains("test.yaml: syntax error (line 4, column 1): end of sequence flow not found"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nlisten: {port: 1\n"),
             Contains("test.yaml: syntax error (line 3"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nb: x: y\n"),
             Contains("test.yaml: syntax error (line 2"));
  CHECK_THAT(error_of("shops:\n\t- id: a\n"), Contains("test.yaml: syntax error (line 2"));
  CHECK_THAT(error_of("shops: [{id: demo}]\nx: *nope\n"),
             Contains("test.yaml: syntax error (line 2"));
}

TEST_CASE("one document only", "[config]") {
  CHECK_THAT(error_of("shops: [{id: a}]\n---\nshops: [{id: b}]\n"),
             Contains("top level (line 3): only one YAML document is allowed"));
}

// Whether parsing `text` ends (with a config or a ConfigError) within `limit`. It runs in a child
// process, so that a regression to an endless loop fails here instead of hanging CTest while the
// loop takes all memory.
bool parse_ends_within(std::string_view text, std::chrono::seconds limit) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      parse(text);
    } catch (const ConfigError&) {
    }
    _exit(0);
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Found by tests/fuzz/config_fuzz: yaml-cpp 0.7's LoadAll loops forever, allocating, on a ','
// where a document starts, so a stray comma hung the gateway's start-up and --check-config.
TEST_CASE("a stray comma is a syntax error, not an endless loop", "[config]") {
  for (std::string_view text : {",", "[a],", "- a\n,", "\"x\" ,", "|\n x\n,", ",..L/limits:"}) {
    INFO("text: " << text);
    REQUIRE(parse_ends_within(text, 10s));
  }
  CHECK_THAT(error_of(","), Equals("test.yaml: syntax error (line 1, column 1): unexpected ','"));
  CHECK_THAT(error_of("[a],"), Contains("syntax error (line 1, column 4): unexpected ','"));
  CHECK_THAT(error_of("- id: a\n,\n"), Contains("syntax error (line 2, column 1): unexpected ','"));
  // After a map, yaml-cpp itself already said what is wrong, and still does.
  CHECK_THAT(error_of("shops: [{id: a}]\n,"),
             Contains("syntax error (line 2, column 1): end of map not found"));
  // A second document after the first is still refused as one.
  CHECK_THAT(error_of("shops: [{id: a}]\n--- ,"),
             Contains("top level (line 2): only one YAML document is allowed"));
}

TEST_CASE("errors name the source", "[config]") {
  try {
    parse_config("shops: [{id: demo, bogus: 1}]", "/etc/chatdesk.yaml");
    FAIL("accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Equals("/etc/chatdesk.yaml: shops[0].bogus (line 1): unknown key"));
  }
}

TEST_CASE("load_config reads a file and names it in errors", "[config]") {
  {
    const TempFile file("shops:\n  - id: from-file\n");
    CHECK(load_config(file.path()).shops.at(0).id == "from-file");
  }
  {
    const TempFile file("shops:\n  - id: x\n    max_concurrent: 0\n");
    CHECK_THROWS_WITH(load_config(file.path()),
                      Contains(file.path() + ": shops[0].max_concurrent (line 3)"));
  }
  {
    const TempFile file("");
    CHECK_THROWS_WITH(load_config(file.path()), Contains(file.path() + ": shops (line 1)"));
  }
}

TEST_CASE("load_config on a missing or unreadable path", "[config]") {
  const std::string missing = "/nonexistent/chatdesk/config.yaml";
  CHECK_THROWS_AS(load_config(missing), ConfigError);
  CHECK_THROWS_WITH(load_config(missing), Contains("cannot read " + missing));
  const std::string dir = std::filesystem::temp_directory_path().string();
  CHECK_THROWS_WITH(load_config(dir), Contains("cannot read " + dir));
}

TEST_CASE("control bytes from the file are shown as '?' so an error prints whole", "[config]") {
  // Found by tests/fuzz/config_fuzz: a NUL in a quoted value cut the message after the file name.
  const std::string text("shops:\n'\0\0\0\1\0\0\0de\x98o\n", 20);
  try {
    chatdesk::config::parse_config(text, "fuzz.yaml");
    FAIL("accepted");
  } catch (const chatdesk::config::ConfigError& e) {
    const std::string what = e.what();
    CHECK(what.size() > std::string("fuzz.yaml: ").size() + 10);
    CHECK(what.find("(line 2): unknown key") != std::string::npos);
  }
}

TEST_CASE("storage: defaults, every key, and its dependence on redis", "[config][storage]") {
  const Config plain = parse(R"(
shops:
  - id: demo
)");
  CHECK(plain.storage.enabled);
  CHECK(plain.storage.transcript_ttl == 720h);
  CHECK(plain.storage.conversations_stream == "chatdesk:conversations");
  CHECK(plain.storage.conversations_maxlen == 10'000'000);
  CHECK(plain.storage.agent_grace == 60s);

  const Config set = parse(R"(
storage: {enabled: true, transcript_ttl: 48h, conversations_stream: "desk:records",
          conversations_maxlen: 500, agent_grace: 2m}
shops:
  - id: demo
)");
  CHECK(set.storage.transcript_ttl == 48h);
  CHECK(set.storage.conversations_stream == "desk:records");
  CHECK(set.storage.conversations_maxlen == 500);
  CHECK(set.storage.agent_grace == 2min);

  // Without Redis and without a storage section, the desk is in memory (as before the store).
  const Config no_redis = parse(R"(
redis: {enabled: false}
shops:
  - id: demo
)");
  CHECK_FALSE(no_redis.storage.enabled);
  CHECK_THAT(error_of(R"(
redis: {enabled: false}
storage: {enabled: true}
shops:
  - id: demo
)"),
             Contains("storage (line 2)") && Contains("needs redis.enabled"));
  CHECK_THAT(error_of(R"(
storage: {transcript_ttl: 0s}
shops:
  - id: demo
)"),
             Contains("storage.transcript_ttl (line 1)"));
  CHECK_THAT(error_of(R"(
storage: {agent_grace: soon}
shops:
  - id: demo
)"),
             Contains("storage.agent_grace (line 1)"));
  CHECK_THAT(error_of(R"(
storage: {conversations_stream: ""}
shops:
  - id: demo
)"),
             Contains("storage.conversations_stream (line 1)"));
  // A '}' outside a hash tag would put a record's mark in another slot than the stream.
  CHECK_THAT(error_of("storage: {conversations_stream: 'desk}records'}\nshops: [{id: a}]"),
             Contains("storage.conversations_stream (line 1)") && Contains("hash tag"));
  CHECK(parse("storage: {conversations_stream: '{eu}:records'}\nshops: [{id: a}]")
            .storage.conversations_stream == "{eu}:records");
}

TEST_CASE("scale: off by default, every key, and its dependence on storage", "[config][scale]") {
  const Config plain = parse(R"(
shops:
  - id: demo
)");
  CHECK_FALSE(plain.scale.enabled);
  CHECK(plain.scale.lease_ttl == 5s);

  const Config set = parse(R"(
scale: {enabled: true, lease_ttl: 2s}
shops:
  - id: demo
)");
  CHECK(set.scale.enabled);
  CHECK(set.scale.lease_ttl == 2s);

  CHECK_THAT(error_of(R"(
storage: {enabled: false}
scale: {enabled: true}
shops:
  - id: demo
)"),
             Contains("scale (line 2)") && Contains("needs storage.enabled"));
  CHECK_THAT(error_of(R"(
scale: {lease_ttl: 999ms}
shops:
  - id: demo
)"),
             Contains("scale.lease_ttl (line 1)") && Contains("at least 1s"));
  CHECK_THAT(error_of(R"(
scale: {nodes: 3}
shops:
  - id: demo
)"),
             Contains("nodes"));
}

TEST_CASE("reports: defaults, every key, quiet hours across midnight", "[config][reports]") {
  const Config plain = parse("shops: [{id: a}]");
  CHECK(plain.reports.conversion_window == 24h);
  CHECK(plain.reports.retention == std::chrono::hours{400 * 24});
  CHECK_FALSE(plain.reports.exclude_hours);

  const Config set = parse(
      "reports: {conversion_window: 2h, retention: 720h, exclude_hours: {from: \"23:00\", to: "
      "\"09:00\"}}\nshops: [{id: a}]");
  CHECK(set.reports.conversion_window == 2h);
  CHECK(set.reports.retention == 720h);
  REQUIRE(set.reports.exclude_hours);
  CHECK(set.reports.exclude_hours->from_minute == 23 * 60);
  CHECK(set.reports.exclude_hours->to_minute == 9 * 60);

  CHECK_THAT(error_of("reports: {conversion_window: 0s}\nshops: [{id: a}]"),
             Contains("reports.conversion_window (line 1)"));
  CHECK_THAT(error_of("reports: {retention: 23h}\nshops: [{id: a}]"),
             Contains("reports.retention (line 1): must be at least 24h"));
  CHECK_THAT(error_of("reports: {exclude_hours: {from: \"23:00\"}}\nshops: [{id: a}]"),
             Contains("reports.exclude_hours") && Contains("to"));
  CHECK_THAT(
      error_of("reports: {exclude_hours: {from: \"9:00\", to: \"10:00\"}}\nshops: [{id: a}]"),
      Contains("reports.exclude_hours.from (line 1): bad time"));
  CHECK_THAT(
      error_of("reports: {exclude_hours: {from: \"09:00\", to: \"09:00\"}}\nshops: [{id: a}]"),
      Contains("reports.exclude_hours (line 1): from and to are the same"));
  CHECK_THAT(error_of("reports: {window: 1h}\nshops: [{id: a}]"), Contains("window"));
}
