#include <catch2/catch.hpp>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

TEST_CASE_METHOD(EngineFixture, "greeting: the clock starts at the first customer message",
                 "[sla][greeting]") {
  engine.customer_arrived("c1", "demo", t0);
  CHECK_FALSE(engine.next_deadline());  // arrival alone starts nothing
  engine.advance(at(1h));
  CHECK(sink.violations.empty());

  engine.customer_message("c1", "你好", at(1h));
  CHECK(engine.next_deadline() == at(1h + 15s));
}

TEST_CASE_METHOD(EngineFixture, "greeting: warning at 15 s, breach at 30 s, exactly",
                 "[sla][greeting]") {
  open_conversation("c1");
  CHECK(engine.next_deadline() == at(15s));

  engine.advance(at(15s - 1ms));
  CHECK(sink.violations.empty());
  engine.advance(at(15s));
  REQUIRE(sink.violations.size() == 1);
  const Violation& w = sink.violations[0];
  CHECK(w.rule == Rule::greeting);
  CHECK(w.severity == Severity::warning);
  CHECK(w.level == 1);
  CHECK(w.id == "c1:greeting:1:warning");
  CHECK(w.shop == "demo");
  CHECK(w.agent.empty());  // still queued
  CHECK(w.conversation == "c1");
  CHECK(w.elapsed == 15s);
  CHECK(w.target == 15s);
  CHECK(w.ts == at(15s));
  CHECK(engine.next_deadline() == at(30s));

  engine.advance(at(30s - 1ms));
  CHECK(sink.violations.size() == 1);
  engine.advance(at(30s));
  REQUIRE(sink.violations.size() == 2);
  const Violation& b = sink.violations[1];
  CHECK(b.severity == Severity::breach);
  CHECK(b.level == 1);
  CHECK(b.id == "c1:greeting:1:breach");
  CHECK(b.elapsed == 30s);
  CHECK(b.target == 30s);
  CHECK(engine.next_deadline() == at(60s));
}

TEST_CASE_METHOD(EngineFixture, "greeting: escalates every 30 s to level 2, 3, ...",
                 "[sla][greeting]") {
  open_conversation("c1");
  engine.advance(at(30s));
  sink.clear();

  engine.advance(at(60s - 1ms));
  CHECK(sink.violations.empty());
  engine.advance(at(60s));
  REQUIRE(sink.violations.size() == 1);
  CHECK(sink.violations[0].level == 2);
  CHECK(sink.violations[0].severity == Severity::breach);
  CHECK(sink.violations[0].id == "c1:greeting:2:breach");
  CHECK(sink.violations[0].elapsed == 60s);
  CHECK(sink.violations[0].target == 30s);

  engine.advance(at(90s - 1ms));
  CHECK(sink.violations.size() == 1);
  engine.advance(at(90s));
  REQUIRE(sink.violations.size() == 2);
  CHECK(sink.violations[1].level == 3);
  CHECK(sink.violations[1].id == "c1:greeting:3:breach");
  CHECK(sink.violations[1].elapsed == 90s);
  CHECK(engine.next_deadline() == at(120s));
}

TEST_CASE_METHOD(EngineFixture, "greeting: a late timer fires everything due, in time order",
                 "[sla][greeting]") {
  open_conversation("c1");
  open_conversation("c2", 10s);
  engine.advance(at(70s));
  REQUIRE(sink.violations.size() == 6);
  const char* expected[] = {"c1:greeting:1:warning", "c2:greeting:1:warning",
                            "c1:greeting:1:breach",  "c2:greeting:1:breach",
                            "c1:greeting:2:breach",  "c2:greeting:2:breach"};
  for (std::size_t i = 0; i < 6; ++i) CHECK(sink.violations[i].id == expected[i]);
  // Each carries the moment it was due, not the moment the timer woke up.
  CHECK(sink.violations[3].ts == at(40s));
  CHECK(sink.violations[5].ts == at(70s));
  CHECK(sink.violations[5].level == 2);
  CHECK(engine.next_deadline() == at(90s));
}

TEST_CASE_METHOD(EngineFixture, "greeting: the first agent message stops the clock",
                 "[sla][greeting]") {
  open_conversation("c1", 2s);
  engine.assigned("c1", "alice", at(3s));
  engine.advance(at(17s));  // warning
  engine.agent_message("c1", "alice", "您好，请问有什么可以帮您？", at(22s));
  REQUIRE(sink.greetings.size() == 1);
  CHECK(sink.greetings[0].shop == "demo");
  CHECK(sink.greetings[0].agent == "alice");
  CHECK(sink.greetings[0].duration == 20s);
  CHECK_FALSE(engine.next_deadline());
  engine.advance(at(1h));
  REQUIRE(sink.of(Rule::greeting).size() == 1);
  CHECK(sink.of(Rule::greeting)[0].agent == "alice");  // named after the owner at that moment
  CHECK(sink.reply_waits.empty());                     // the greeting is not a reply wait
}

TEST_CASE_METHOD(EngineFixture, "greeting: a reply at exactly the limit is late",
                 "[sla][greeting]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  // No advance() in between: the event itself fires what was due first.
  engine.agent_message("c1", "alice", "您好", at(30s));
  REQUIRE(sink.of(Rule::greeting).size() == 2);
  CHECK(sink.of(Rule::greeting)[1].severity == Severity::breach);
  CHECK(sink.greetings[0].duration == 30s);
}

TEST_CASE_METHOD(EngineFixture, "greeting: a reply 1 ms before the limit is only a warning",
                 "[sla][greeting]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.agent_message("c1", "alice", "您好", at(30s - 1ms));
  REQUIRE(sink.of(Rule::greeting).size() == 1);
  CHECK(sink.of(Rule::greeting)[0].severity == Severity::warning);
}

TEST_CASE_METHOD(EngineFixture, "greeting: later customer messages do not restart the clock",
                 "[sla][greeting]") {
  open_conversation("c1");
  engine.customer_message("c1", "有人吗？", at(10s));
  engine.customer_message("c1", "？？", at(14s));
  CHECK(engine.next_deadline() == at(15s));
}

TEST_CASE_METHOD(EngineFixture, "greeting: a greeting before the customer wrote took no time",
                 "[sla][greeting]") {
  engine.customer_arrived("c1", "demo", t0);
  engine.assigned("c1", "alice", at(1s));
  engine.agent_message("c1", "alice", "您好，欢迎光临", at(5s));
  REQUIRE(sink.greetings.size() == 1);
  CHECK(sink.greetings[0].duration == 0ms);
  // The customer's first message then waits for a reply, not for a greeting.
  engine.customer_message("c1", "我想问一下", at(10s));
  CHECK(engine.next_deadline() == at(30s));
}

TEST_CASE_METHOD(EngineFixture, "greeting: the clock keeps running across transfers",
                 "[sla][greeting]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.advance(at(15s));
  engine.transferred("c1", "alice", std::nullopt, at(20s));
  engine.advance(at(30s));
  engine.assigned("c1", "bob", at(40s));
  engine.advance(at(60s));
  const auto v = sink.of(Rule::greeting);
  REQUIRE(v.size() == 3);
  CHECK(v[0].agent == "alice");
  CHECK(v[1].agent.empty());  // back in the queue
  CHECK(v[2].agent == "bob");
  CHECK(v[2].level == 2);
}

TEST_CASE_METHOD(EngineFixture, "greeting: ending the conversation stops escalation",
                 "[sla][greeting]") {
  open_conversation("c1");
  engine.customer_left("c1", at(45s));
  CHECK_FALSE(engine.next_deadline());
  engine.advance(at(10min));
  CHECK(sink.of(Rule::greeting).size() == 2);
}

TEST_CASE_METHOD(EngineFixture, "greeting: events about unknown conversations are ignored",
                 "[sla][greeting]") {
  engine.customer_message("nope", "hi", t0);
  engine.agent_message("nope", "alice", "hi", t0);
  engine.customer_arrived("c1", "no-such-shop", t0);
  engine.customer_message("c1", "hi", t0);
  CHECK_FALSE(engine.next_deadline());
  CHECK(sink.violations.empty());
  CHECK(sink.greetings.empty());
}

TEST_CASE("greeting: no warning when the target equals the limit", "[sla][greeting]") {
  config::Config config = sla_test_config();
  config.shops[0].sla.greeting_target = std::chrono::seconds(30);
  RecordingSlaSink sink;
  SlaEngine engine(config, sink);
  const TimePoint t0 = from_epoch_ms(1'700'000'000'000);
  engine.customer_arrived("c1", "demo", t0);
  engine.customer_message("c1", "在吗", t0);
  CHECK(engine.next_deadline() == t0 + std::chrono::seconds(30));
  engine.advance(t0 + std::chrono::seconds(30));
  REQUIRE(sink.violations.size() == 1);
  CHECK(sink.violations[0].id == "c1:greeting:1:breach");
}
