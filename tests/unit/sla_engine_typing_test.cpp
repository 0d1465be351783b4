#include <catch2/catch.hpp>

#include <string>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

namespace {

constexpr std::string_view kTen = "一二三四五六七八九十";  // 10 code points, 30 bytes

// Alice owns c1 and c2, bob c3 (all greeted); `now` moves on with every typed message.
struct TypingFixture : EngineFixture {
  TimePoint now = t0;

  TypingFixture() {
    for (const char* id : {"c1", "c2", "c3"}) {
      const std::string_view agent = id == std::string_view("c3") ? "bob" : "alice";
      open_conversation(id);
      engine.assigned(id, agent, t0);
      engine.agent_message(id, agent, "您好", t0);
    }
    sink.clear();
  }

  // A message of kTen typed in `took`: 10 code points, so 600 000 / took-in-ms cpm.
  void typed(Duration took, std::string_view conversation = "c1") {
    now += 1s;
    engine.agent_typing(conversation, "alice", true, now);
    now += took;
    engine.agent_message(conversation, "alice", kTen, now);
  }
  void typed_at_cpm(int cpm, int messages, std::string_view conversation = "c1") {
    for (int i = 0; i < messages; ++i) typed(Duration{600'000 / cpm}, conversation);
  }
};

}  // namespace

TEST_CASE_METHOD(TypingFixture, "typing: code points per minute from the start to the send",
                 "[sla][typing]") {
  engine.agent_typing("c1", "alice", true, at(10s));
  engine.agent_message("c1", "alice", "您好，请问有什么可以帮您？", at(16s));  // 13 in 6 s
  REQUIRE(sink.typing_rates.size() == 1);
  CHECK(sink.typing_rates[0].shop == "demo");
  CHECK(sink.typing_rates[0].agent == "alice");
  CHECK(sink.typing_rates[0].cpm == Approx(130.0));
  CHECK(sink.unmeasured.empty());
}

TEST_CASE_METHOD(TypingFixture, "typing: pauses count, the first start is kept", "[sla][typing]") {
  engine.agent_typing("c1", "alice", true, at(10s));
  engine.agent_typing("c1", "alice", false, at(12s));
  engine.agent_typing("c1", "alice", true, at(14s));
  engine.agent_message("c1", "alice", kTen, at(16s));
  REQUIRE(sink.typing_rates.size() == 1);
  CHECK(sink.typing_rates[0].cpm == Approx(100.0));
}

TEST_CASE_METHOD(TypingFixture, "typing: what cannot be measured", "[sla][typing]") {
  SECTION("no typing start") {
    engine.agent_message("c1", "alice", kTen, at(16s));
  }
  SECTION("the start belonged to the previous message") {
    engine.agent_typing("c1", "alice", true, at(10s));
    engine.agent_message("c1", "alice", kTen, at(16s));
    engine.agent_message("c1", "alice", kTen, at(20s));
    CHECK(sink.typing_rates.size() == 1);
  }
  SECTION("a start in another conversation") {
    engine.agent_typing("c2", "alice", true, at(10s));
    engine.agent_message("c1", "alice", kTen, at(16s));
  }
  SECTION("shorter than typing_min_chars (9 code points)") {
    engine.agent_typing("c1", "alice", true, at(10s));
    engine.agent_message("c1", "alice", "一二三四五六七八九", at(16s));
  }
  SECTION("sent in the same millisecond as the start") {
    engine.agent_typing("c1", "alice", true, at(10s));
    engine.agent_message("c1", "alice", kTen, at(10s));
  }
  SECTION("malformed UTF-8") {
    engine.agent_typing("c1", "alice", true, at(10s));
    engine.agent_message("c1", "alice", "一二三四五六七八九十\xE4", at(16s));
  }
  SECTION("the start was made before a transfer") {
    engine.agent_typing("c1", "alice", true, at(10s));
    engine.transferred("c1", "alice", std::string_view("bob"), at(11s));
    engine.agent_message("c1", "bob", kTen, at(16s));
    CHECK(sink.unmeasured.back().agent == "bob");
  }
  CHECK(sink.unmeasured.size() == 1);
  CHECK(sink.typing_rates.size() <= 1);
}

TEST_CASE_METHOD(TypingFixture, "typing: exactly typing_min_chars is measured", "[sla][typing]") {
  engine.agent_typing("c1", "alice", true, at(10s));
  engine.agent_message("c1", "alice", kTen, at(22s));
  REQUIRE(sink.typing_rates.size() == 1);
  CHECK(sink.typing_rates[0].cpm == Approx(50.0));
}

TEST_CASE_METHOD(TypingFixture, "typing: judged on a full window of 20 measured messages",
                 "[sla][typing]") {
  typed_at_cpm(40, 19);
  engine.agent_message("c1", "alice", kTen, now + 1s);  // unmeasured: does not fill the window
  CHECK(sink.of(Rule::typing_rate).empty());
  typed_at_cpm(40, 1, "c2");
  const auto v = sink.of(Rule::typing_rate);
  REQUIRE(v.size() == 1);
  CHECK(v[0].severity == Severity::warning);
  CHECK(v[0].level == 1);
  CHECK(v[0].shop == "demo");
  CHECK(v[0].agent == "alice");
  CHECK(v[0].conversation == "c2");  // the message that tipped it
  CHECK(v[0].detail == "40.0");
  CHECK(v[0].ts == now);
  CHECK(v[0].elapsed == 0ms);
  CHECK(v[0].id == "demo:alice:typing_rate:" + std::to_string(to_epoch_ms(now)) + ":1");
}

TEST_CASE_METHOD(TypingFixture, "typing: at most one warning per window", "[sla][typing]") {
  typed_at_cpm(40, 20);
  REQUIRE(sink.of(Rule::typing_rate).size() == 1);
  typed_at_cpm(40, 19);  // the rolling average stays low, but these are inside the next window
  CHECK(sink.of(Rule::typing_rate).size() == 1);
  typed_at_cpm(40, 1);
  const auto v = sink.of(Rule::typing_rate);
  REQUIRE(v.size() == 2);
  CHECK(v[1].id.ends_with(":2"));
  CHECK(v[0].id != v[1].id);
}

TEST_CASE_METHOD(TypingFixture, "typing: the average is the mean of the messages' cpm",
                 "[sla][typing]") {
  // 10 at 30 cpm and 10 at 80 cpm: the mean is 55 (no warning), although the 200 code points
  // took 275 s in total (43.6 per minute).
  typed_at_cpm(30, 10);
  typed_at_cpm(80, 10);
  CHECK(sink.of(Rule::typing_rate).empty());
}

TEST_CASE_METHOD(TypingFixture, "typing: an average of exactly typing_min_cpm is fine",
                 "[sla][typing]") {
  typed_at_cpm(50, 20);
  CHECK(sink.of(Rule::typing_rate).empty());
}

TEST_CASE_METHOD(TypingFixture, "typing: the window rolls", "[sla][typing]") {
  typed_at_cpm(100, 20);
  CHECK(sink.of(Rule::typing_rate).empty());
  typed_at_cpm(10, 10);  // (10 * 100 + 10 * 10) / 20 = 55
  CHECK(sink.of(Rule::typing_rate).empty());
  typed_at_cpm(10, 1);  // (9 * 100 + 11 * 10) / 20 = 50.5
  CHECK(sink.of(Rule::typing_rate).empty());
  typed_at_cpm(10, 1);  // (8 * 100 + 12 * 10) / 20 = 46
  const auto v = sink.of(Rule::typing_rate);
  REQUIRE(v.size() == 1);
  CHECK(v[0].detail == "46.0");
}

TEST_CASE_METHOD(TypingFixture, "typing: agents are judged separately", "[sla][typing]") {
  typed_at_cpm(40, 10);
  for (int i = 0; i < 10; ++i) {
    now += 1s;
    engine.agent_typing("c3", "bob", true, now);
    now += 15s;
    engine.agent_message("c3", "bob", kTen, now);
  }
  CHECK(sink.of(Rule::typing_rate).empty());
}
