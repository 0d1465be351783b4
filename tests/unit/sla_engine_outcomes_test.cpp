#include <catch2/catch.hpp>

#include <string>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

TEST_CASE_METHOD(EngineFixture, "missed: leaving unanswered before the greeting limit",
                 "[sla][missed]") {
  open_conversation("c1");
  engine.customer_left("c1", at(30s - 1ms));
  CHECK(sink.of(Rule::missed).empty());
  REQUIRE(sink.outcomes.size() == 1);
  CHECK(sink.outcomes[0].shop == "demo");
  CHECK(sink.outcomes[0].outcome == Outcome::missed);
}

TEST_CASE_METHOD(EngineFixture, "missed: leaving unanswered at the greeting limit",
                 "[sla][missed]") {
  open_conversation("c1", 5s);
  engine.assigned("c1", "alice", at(6s));
  engine.customer_left("c1", at(35s));
  const auto v = sink.of(Rule::missed);
  REQUIRE(v.size() == 1);
  CHECK(v[0].id == "c1:missed");
  CHECK(v[0].severity == Severity::breach);
  CHECK(v[0].agent == "alice");
  CHECK(v[0].elapsed == 30s);
  CHECK(v[0].target == 30s);
  CHECK(v[0].ts == at(35s));
  // The greeting breach due at the same moment came first.
  CHECK(sink.violations.back().rule == Rule::missed);
  CHECK(sink.of(Rule::greeting).size() == 2);
  CHECK(sink.count(Outcome::missed) == 1);
  CHECK_FALSE(engine.next_deadline());
}

TEST_CASE_METHOD(EngineFixture, "missed: a customer who never wrote is no breach",
                 "[sla][missed]") {
  engine.customer_arrived("c1", "demo", t0);
  engine.customer_left("c1", at(1h));
  CHECK(sink.violations.empty());
  CHECK(sink.count(Outcome::missed) == 1);
}

TEST_CASE_METHOD(EngineFixture, "missed: any agent message makes it served", "[sla][missed]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.agent_message("c1", "alice", "您好", at(2s));
  engine.customer_message("c1", "在吗", at(3s));
  engine.customer_left("c1", at(10min));
  CHECK(sink.of(Rule::missed).empty());
  CHECK(sink.count(Outcome::served) == 1);
  engine.customer_left("c1", at(11min));  // already gone: ignored
  CHECK(sink.outcomes.size() == 1);
}

TEST_CASE_METHOD(EngineFixture, "outcomes: closed by the agent", "[sla][outcome]") {
  open_conversation("c1");
  open_conversation("c2");
  engine.assigned("c1", "alice", at(1s));
  engine.assigned("c2", "alice", at(1s));
  engine.agent_message("c1", "alice", "您好，再见", at(2s));
  engine.closed("c1", "alice", true, at(3s));
  engine.closed("c2", "alice", true, at(4s));  // closed without a word to an unanswered customer
  REQUIRE(sink.outcomes.size() == 2);
  CHECK(sink.outcomes[0].outcome == Outcome::served);
  CHECK(sink.outcomes[1].outcome == Outcome::missed);
  CHECK(sink.of(Rule::missed).empty());  // the missed breach is about customers giving up
}

TEST_CASE_METHOD(EngineFixture, "outcomes: transfers and requeues change the owner",
                 "[sla][outcome]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.transferred("c1", "alice", std::string_view("bob"), at(2s));
  engine.advance(at(15s));
  engine.transferred("c1", "bob", std::nullopt, at(16s));
  engine.advance(at(30s));
  REQUIRE(sink.outcomes.size() == 2);
  CHECK(sink.outcomes[0].outcome == Outcome::transferred);
  CHECK(sink.outcomes[1].outcome == Outcome::requeued);
  REQUIRE(sink.violations.size() == 2);
  CHECK(sink.violations[0].agent == "bob");
  CHECK(sink.violations[1].agent.empty());
}

TEST_CASE_METHOD(EngineFixture, "outcomes: a handover moves every open conversation",
                 "[sla][outcome][handover]") {
  open_conversation("c1");
  open_conversation("c2");
  open_conversation("c3");
  engine.assigned("c1", "alice", at(1s));
  engine.assigned("c2", "alice", at(1s));
  engine.assigned("c3", "carol", at(1s));
  engine.closed("c1", "alice", true, at(2s));
  sink.clear();
  open_conversation("c4", 3s);
  engine.assigned("c4", "alice", at(3s));

  engine.handed_over("demo", "alice", "bob", at(5s));
  CHECK(sink.count(Outcome::handed_over) == 2);  // c2 and c4
  engine.assigned("c2", "bob", at(5s));          // the desk then assigns each: no change
  engine.assigned("c4", "bob", at(5s));
  engine.advance(at(15s));
  const auto v = sink.of(Rule::greeting);
  REQUIRE(v.size() == 2);
  CHECK(v[0].conversation == "c2");
  CHECK(v[0].agent == "bob");
  CHECK(v[1].conversation == "c3");
  CHECK(v[1].agent == "carol");

  // Bob now owns both: handing over again moves them on, alice has none left.
  engine.handed_over("demo", "alice", "dave", at(16s));
  engine.handed_over("demo", "bob", "", at(17s));  // back to the queue
  CHECK(sink.count(Outcome::handed_over) == 4);
  engine.advance(at(30s));
  for (const auto& b : sink.of(Rule::greeting))
    if (b.severity == Severity::breach && b.conversation != "c3") CHECK(b.agent.empty());
}

TEST_CASE_METHOD(EngineFixture, "handover: going away or offline with open conversations",
                 "[sla][handover]") {
  engine.agent_status("demo", "alice", AgentState::available, 3, at(1s));
  engine.agent_status("demo", "alice", AgentState::away, 0, at(2s));
  CHECK(sink.violations.empty());

  engine.agent_status("demo", "alice", AgentState::away, 2, at(3s));
  engine.agent_status("demo", "bob", AgentState::offline, 1, at(4s));
  engine.agent_status("no-such-shop", "bob", AgentState::offline, 1, at(5s));
  const auto v = sink.of(Rule::handover);
  REQUIRE(v.size() == 2);
  CHECK(v[0].severity == Severity::breach);
  CHECK(v[0].level == 1);
  CHECK(v[0].shop == "demo");
  CHECK(v[0].agent == "alice");
  CHECK(v[0].conversation.empty());
  CHECK(v[0].detail == "2");
  CHECK(v[0].ts == at(3s));
  CHECK(v[0].id == "demo:alice:handover:" + std::to_string(to_epoch_ms(at(3s))) + ":1");
  CHECK(v[1].agent == "bob");
  CHECK(v[1].detail == "1");
  CHECK(v[1].id == "demo:bob:handover:" + std::to_string(to_epoch_ms(at(4s))) + ":2");
}

TEST_CASE_METHOD(EngineFixture, "ids: unique across conversations and rules", "[sla]") {
  for (int i = 0; i < 50; ++i) open_conversation("c" + std::to_string(i));
  engine.advance(at(2min));
  engine.agent_status("demo", "alice", AgentState::away, 1, at(2min));
  engine.agent_status("demo", "alice", AgentState::away, 1, at(2min));
  std::vector<std::string> ids;
  for (const auto& v : sink.violations) ids.push_back(v.id);
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(ids.size() == 50 * 5 + 2);  // warning, breach levels 1-4 each
}
