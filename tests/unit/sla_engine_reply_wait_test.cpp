#include <catch2/catch.hpp>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

namespace {

// c1 in the demo shop, greeted by alice at t0 + 5 s.
struct GreetedFixture : EngineFixture {
  GreetedFixture() {
    open_conversation("c1");
    engine.assigned("c1", "alice", t0);
    engine.agent_message("c1", "alice", "您好", at(5s));
    sink.clear();
  }
};

}  // namespace

TEST_CASE_METHOD(GreetedFixture, "reply_wait: a breach at exactly 20 s, not at 19.999 s",
                 "[sla][reply_wait]") {
  engine.customer_message("c1", "这个有货吗？", at(10s));
  CHECK(engine.next_deadline() == at(30s));
  engine.advance(at(30s - 1ms));
  CHECK(sink.violations.empty());
  engine.advance(at(30s));
  REQUIRE(sink.violations.size() == 1);
  const Violation& v = sink.violations[0];
  CHECK(v.rule == Rule::reply_wait);
  CHECK(v.severity == Severity::breach);
  CHECK(v.level == 1);
  CHECK(v.id == "c1:reply_wait:1");
  CHECK(v.agent == "alice");
  CHECK(v.conversation == "c1");
  CHECK(v.elapsed == 20s);
  CHECK(v.target == 20s);
  CHECK(v.ts == at(30s));
}

TEST_CASE_METHOD(GreetedFixture, "reply_wait: once per wait, however long it lasts",
                 "[sla][reply_wait]") {
  engine.customer_message("c1", "这个有货吗？", at(10s));
  engine.advance(at(30s));
  CHECK_FALSE(engine.next_deadline());
  engine.advance(at(10min));
  CHECK(sink.violations.size() == 1);
  engine.agent_message("c1", "alice", "有的", at(10min));
  REQUIRE(sink.reply_waits.size() == 1);
  CHECK(sink.reply_waits[0].duration == 10min - 10s);
}

TEST_CASE_METHOD(GreetedFixture, "reply_wait: from the earliest unanswered customer message",
                 "[sla][reply_wait]") {
  engine.customer_message("c1", "这个有货吗？", at(10s));
  engine.customer_message("c1", "红色的", at(25s));  // does not restart the wait
  CHECK(engine.next_deadline() == at(30s));
  engine.agent_message("c1", "alice", "有的", at(29s + 999ms));
  CHECK(sink.violations.empty());
  REQUIRE(sink.reply_waits.size() == 1);
  CHECK(sink.reply_waits[0].shop == "demo");
  CHECK(sink.reply_waits[0].agent == "alice");
  CHECK(sink.reply_waits[0].duration == 19s + 999ms);
  CHECK_FALSE(engine.next_deadline());
}

TEST_CASE_METHOD(GreetedFixture, "reply_wait: each wait has its own number and breach",
                 "[sla][reply_wait]") {
  engine.customer_message("c1", "一", at(10s));
  engine.advance(at(30s));
  engine.agent_message("c1", "alice", "好的", at(31s));
  engine.customer_message("c1", "二", at(40s));
  engine.agent_message("c1", "alice", "好的", at(45s));  // in time
  engine.customer_message("c1", "三", at(50s));
  engine.advance(at(70s));
  const auto v = sink.of(Rule::reply_wait);
  REQUIRE(v.size() == 2);
  CHECK(v[0].id == "c1:reply_wait:1");
  CHECK(v[1].id == "c1:reply_wait:3");
  REQUIRE(sink.reply_waits.size() == 2);
  CHECK(sink.reply_waits[0].duration == 21s);
  CHECK(sink.reply_waits[1].duration == 5s);
}

TEST_CASE_METHOD(GreetedFixture, "reply_wait: agent messages with nobody waiting measure nothing",
                 "[sla][reply_wait]") {
  engine.agent_message("c1", "alice", "还有其他问题吗？", at(6s));
  engine.agent_message("c1", "alice", "？", at(7s));
  CHECK(sink.reply_waits.empty());
  CHECK_FALSE(engine.next_deadline());
}

TEST_CASE_METHOD(GreetedFixture, "reply_wait: a queued conversation's breach names nobody",
                 "[sla][reply_wait]") {
  engine.customer_message("c1", "在吗", at(10s));
  engine.transferred("c1", "alice", std::nullopt, at(12s));
  engine.advance(at(30s));
  REQUIRE(sink.violations.size() == 1);
  CHECK(sink.violations[0].agent.empty());
}

TEST_CASE_METHOD(EngineFixture, "customers_waiting: unanswered latest customer message",
                 "[sla][reply_wait]") {
  CHECK(engine.customers_waiting("demo") == 0);
  engine.customer_arrived("c1", "demo", t0);
  CHECK(engine.customers_waiting("demo") == 0);  // arrived but has not written
  engine.customer_message("c1", "在吗", at(1s));
  open_conversation("c2", 2s);
  CHECK(engine.customers_waiting("demo") == 2);  // queued ones count
  engine.assigned("c1", "alice", at(3s));
  engine.agent_message("c1", "alice", "您好", at(4s));
  CHECK(engine.customers_waiting("demo") == 1);
  engine.customer_message("c1", "我要退货", at(5s));
  CHECK(engine.customers_waiting("demo") == 2);
  engine.advance(at(5min));  // breaches do not answer anyone
  CHECK(engine.customers_waiting("demo") == 2);
  engine.customer_left("c2", at(6min));
  CHECK(engine.customers_waiting("demo") == 1);
  engine.closed("c1", "alice", true, at(7min));
  CHECK(engine.customers_waiting("demo") == 0);
  CHECK(engine.customers_waiting("night-market") == 0);
  CHECK(engine.customers_waiting("no-such-shop") == 0);
}
