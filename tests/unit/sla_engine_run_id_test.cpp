// Violation ids across restarts of the gateway: two engines (two runs) fed the very same events at
// the very same times (a wall clock that stepped back) still give different agent-level ids when
// each has its own run id; conversation-level ids come from the conversation ids, which the desk
// draws at random.

#include <algorithm>
#include <catch2/catch.hpp>

#include "sla_engine_fixture.hpp"

namespace chatdesk::monitor::testing {

namespace {

std::vector<std::string> run_once(const config::Config& config, std::string_view run_id,
                                  TimePoint t0) {
  RecordingSlaSink sink;
  SlaEngine engine(config, sink, run_id);
  engine.agent_status("demo", "alice", AgentState::available, 0, t0);
  engine.agent_status("demo", "alice", AgentState::away, 2, t0 + 1s);
  engine.agent_status("demo", "bob", AgentState::offline, 1, t0 + 1s);
  std::vector<std::string> ids;
  for (const auto& v : sink.violations) ids.push_back(v.id);
  return ids;
}

}  // namespace

TEST_CASE("ids: agent-level ids carry the run id, so a restart cannot repeat one", "[sla]") {
  const config::Config config = sla_test_config();
  const TimePoint t0 = from_epoch_ms(1'700'000'000'000);
  const std::string ts = std::to_string(to_epoch_ms(t0 + 1s));

  // Without a run id (tests, tools): the sequence alone, as before.
  const auto plain = run_once(config, "", t0);
  REQUIRE(plain.size() == 2);
  CHECK(plain[0] == "demo:alice:handover:" + ts + ":1");
  // Two runs replaying the same events at the same instants collide without a run id...
  CHECK(run_once(config, "", t0) == plain);

  // ...and do not with one.
  const auto first = run_once(config, "0123456789abcdef", t0);
  const auto second = run_once(config, "fedcba9876543210", t0);
  REQUIRE(first.size() == 2);
  REQUIRE(second.size() == 2);
  CHECK(first[0] == "demo:alice:handover:" + ts + ":0123456789abcdef-1");
  CHECK(first[1] == "demo:bob:handover:" + ts + ":0123456789abcdef-2");
  CHECK(second[0] == "demo:alice:handover:" + ts + ":fedcba9876543210-1");
  for (const auto& id : first) CHECK(std::find(second.begin(), second.end(), id) == second.end());
}

TEST_CASE("ids: conversation-level ids do not depend on the run id", "[sla]") {
  const config::Config config = sla_test_config();
  RecordingSlaSink sink;
  SlaEngine engine(config, sink, "0123456789abcdef");
  const TimePoint t0 = from_epoch_ms(1'700'000'000'000);
  engine.customer_arrived("c-1", "demo", t0);
  engine.customer_message("c-1", "在吗？", t0);
  engine.advance(t0 + 15s);
  REQUIRE(sink.violations.size() == 1);
  CHECK(sink.violations[0].id == "c-1:greeting:1:warning");
}

}  // namespace chatdesk::monitor::testing
