#include <catch2/catch.hpp>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

// The night market is open 08:30–01:00 Shanghai time (day 08:30–17:30, night 17:30–01:00).

TEST_CASE_METHOD(EngineFixture,
                 "business hours: the greeting clock pauses at 01:00 and resumes "
                 "at 08:30",
                 "[sla][business_hours]") {
  const TimePoint arrived = shanghai(2024, 11, 26, 0, 59, 50);
  engine.customer_arrived("c1", "night-market", arrived);
  engine.customer_message("c1", "还营业吗？", arrived);
  // Clocks run until the shift ends: the engine wakes at the closing to re-read the shift state.
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 1, 0));
  engine.advance(shanghai(2024, 11, 26, 1, 0));
  CHECK(sink.violations.empty());
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30));
  engine.advance(shanghai(2024, 11, 26, 8, 30));
  CHECK(sink.violations.empty());
  // 10 s ran before closing, 5 s more after opening.
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30, 5));
  engine.advance(shanghai(2024, 11, 26, 8, 30, 4, 999));
  CHECK(sink.violations.empty());
  engine.advance(shanghai(2024, 11, 26, 8, 30, 5));
  REQUIRE(sink.violations.size() == 1);
  CHECK(sink.violations[0].severity == Severity::warning);
  CHECK(sink.violations[0].elapsed == 15s);
  CHECK(sink.violations[0].ts == shanghai(2024, 11, 26, 8, 30, 5));
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30, 20));
  engine.advance(shanghai(2024, 11, 26, 8, 30, 20));
  REQUIRE(sink.violations.size() == 2);
  CHECK(sink.violations[1].severity == Severity::breach);
  CHECK(sink.violations[1].elapsed == 30s);

  engine.assigned("c1", "alice", shanghai(2024, 11, 26, 8, 30, 25));
  engine.agent_message("c1", "alice", "您好，久等了", shanghai(2024, 11, 26, 8, 30, 25));
  REQUIRE(sink.greetings.size() == 1);
  CHECK(sink.greetings[0].duration == 35s);  // open time only, not 7.5 hours
  CHECK_FALSE(engine.next_deadline());       // nobody waits: no more wake-ups at shift changes
}

TEST_CASE_METHOD(EngineFixture, "business hours: a late timer over the closed night",
                 "[sla][business_hours]") {
  const TimePoint arrived = shanghai(2024, 11, 26, 0, 59, 50);
  engine.customer_arrived("c1", "night-market", arrived);
  engine.customer_message("c1", "还营业吗？", arrived);
  engine.advance(shanghai(2024, 11, 26, 8, 30, 30));
  const auto v = sink.of(Rule::greeting);
  REQUIRE(v.size() == 2);
  CHECK(v[0].ts == shanghai(2024, 11, 26, 8, 30, 5));
  CHECK(v[1].ts == shanghai(2024, 11, 26, 8, 30, 20));
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30, 50));  // level 2 at 60 s
}

TEST_CASE_METHOD(EngineFixture,
                 "business hours: a message written while closed waits for the "
                 "opening",
                 "[sla][business_hours]") {
  const TimePoint wrote = shanghai(2024, 11, 26, 3, 0);
  engine.customer_arrived("c1", "night-market", wrote);
  engine.customer_message("c1", "你好", wrote);
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30));
  engine.advance(shanghai(2024, 11, 26, 8, 30));
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30, 15));
  // Leaving before the desk opens is no missed breach: no open time passed.
  engine.customer_left("c1", shanghai(2024, 11, 26, 8, 30, 10));
  CHECK(sink.violations.empty());
  CHECK(sink.count(Outcome::missed) == 1);
}

TEST_CASE_METHOD(EngineFixture, "business hours: a reply wait across the closing",
                 "[sla][business_hours]") {
  engine.customer_arrived("c1", "night-market", shanghai(2024, 11, 26, 0, 50));
  engine.assigned("c1", "alice", shanghai(2024, 11, 26, 0, 50));
  engine.customer_message("c1", "在吗", shanghai(2024, 11, 26, 0, 50));
  engine.agent_message("c1", "alice", "您好", shanghai(2024, 11, 26, 0, 50, 5));
  engine.customer_message("c1", "发货了吗", shanghai(2024, 11, 26, 0, 59, 55));
  engine.advance(shanghai(2024, 11, 26, 8, 30, 14, 999));
  CHECK(sink.of(Rule::reply_wait).empty());
  engine.advance(shanghai(2024, 11, 26, 8, 30, 15));
  REQUIRE(sink.of(Rule::reply_wait).size() == 1);
  CHECK(sink.of(Rule::reply_wait)[0].elapsed == 20s);
  engine.agent_message("c1", "alice", "发了", shanghai(2024, 11, 26, 8, 31));
  REQUIRE(sink.reply_waits.size() == 1);
  CHECK(sink.reply_waits[0].duration == 65s);
}

TEST_CASE_METHOD(EngineFixture, "business hours: a deadline falling exactly on the closing",
                 "[sla][business_hours]") {
  const TimePoint wrote = shanghai(2024, 11, 26, 0, 59, 45);
  engine.customer_arrived("c1", "night-market", wrote);
  engine.customer_message("c1", "在吗", wrote);
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 1, 0));  // warning and closing at once
  engine.advance(shanghai(2024, 11, 26, 1, 0));
  REQUIRE(sink.violations.size() == 1);
  CHECK(sink.violations[0].severity == Severity::warning);
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30));
  engine.advance(shanghai(2024, 11, 26, 8, 30));
  CHECK(engine.next_deadline() == shanghai(2024, 11, 26, 8, 30, 15));
}

TEST_CASE_METHOD(EngineFixture, "business hours: is_open and next_opening by shop",
                 "[sla][business_hours]") {
  const TimePoint closed = shanghai(2024, 11, 26, 1, 0);
  CHECK_FALSE(engine.is_open("night-market", closed));
  CHECK(engine.is_open("night-market", closed - 1ms));
  CHECK(engine.next_opening("night-market", closed) == shanghai(2024, 11, 26, 8, 30));
  CHECK(engine.next_opening("night-market", closed - 1ms) == closed - 1ms);
  CHECK(engine.is_open("demo", closed));  // no shifts: always open
  CHECK(engine.next_opening("demo", closed) == closed);
  CHECK_FALSE(engine.is_open("no-such-shop", closed));
  CHECK_FALSE(engine.next_opening("no-such-shop", closed));
}

TEST_CASE_METHOD(EngineFixture, "next_deadline: the earliest of all conversations",
                 "[sla][next_deadline]") {
  CHECK_FALSE(engine.next_deadline());
  open_conversation("c1", 10s);
  open_conversation("c2", 12s);
  CHECK(engine.next_deadline() == at(25s));
  engine.assigned("c1", "alice", at(13s));
  engine.agent_message("c1", "alice", "您好", at(13s));
  CHECK(engine.next_deadline() == at(27s));
  engine.customer_message("c1", "我想问", at(14s));
  CHECK(engine.next_deadline() == at(27s));
  engine.customer_left("c2", at(15s));
  CHECK(engine.next_deadline() == at(34s));  // c1's reply wait
  engine.agent_message("c1", "alice", "请说", at(16s));
  CHECK_FALSE(engine.next_deadline());
  engine.advance(at(1h));
  CHECK(sink.violations.empty());
}
