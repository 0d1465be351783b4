#include <catch2/catch.hpp>

#include <string>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

namespace {

// c1 in the demo shop (default phrases), owned by alice; the customer wrote once.
struct LanguageFixture : EngineFixture {
  LanguageFixture() {
    open_conversation("c1");
    engine.assigned("c1", "alice", t0);
  }
};

}  // namespace

TEST_CASE_METHOD(LanguageFixture, "language: one warning per avoided phrase found",
                 "[sla][language]") {
  engine.agent_message("c1", "alice", "您好，我不能退款，但是可以换货，但是要快", at(5s));
  const auto v = sink.of(Rule::language);
  REQUIRE(v.size() == 2);  // 但是 twice is still one warning
  CHECK(v[0].detail == "我不能");
  CHECK(v[0].id == "c1:language:2:0");  // message 2 of the conversation, phrase 0
  CHECK(v[0].severity == Severity::warning);
  CHECK(v[0].agent == "alice");
  CHECK(v[0].conversation == "c1");
  CHECK(v[0].ts == at(5s));
  CHECK(v[1].detail == "但是");
  CHECK(v[1].id == "c1:language:2:4");
  CHECK(sink.of(Rule::courtesy).empty());  // it greeted with 您好
}

TEST_CASE_METHOD(LanguageFixture, "language: phrases at the edges of the text", "[sla][language]") {
  engine.agent_message("c1", "alice", "您好", at(1s));
  engine.agent_message("c1", "alice", "但是", at(2s));
  engine.agent_message("c1", "alice", "好的我不愿意", at(3s));
  engine.agent_message("c1", "alice", "我不可", at(4s));  // only a prefix of 我不可以
  const auto v = sink.of(Rule::language);
  REQUIRE(v.size() == 2);
  CHECK(v[0].detail == "但是");
  CHECK(v[0].id == "c1:language:3:4");
  CHECK(v[1].detail == "我不愿意");
}

TEST_CASE_METHOD(LanguageFixture, "courtesy: a greeting without a greeting phrase",
                 "[sla][courtesy]") {
  engine.agent_message("c1", "alice", "请问有什么可以帮您", at(5s));
  engine.agent_message("c1", "alice", "在的", at(6s));  // only the first message is the greeting
  const auto v = sink.of(Rule::courtesy);
  REQUIRE(v.size() == 1);
  CHECK(v[0].detail == "greeting");
  CHECK(v[0].id == "c1:courtesy:greeting");
  CHECK(v[0].severity == Severity::warning);
  CHECK(v[0].agent == "alice");
}

TEST_CASE_METHOD(LanguageFixture, "courtesy: closing without a farewell", "[sla][courtesy]") {
  engine.agent_message("c1", "alice", "您好，祝您愉快", at(5s));
  engine.agent_message("c1", "alice", "好的", at(6s));
  engine.closed("c1", "alice", true, at(7s));
  const auto v = sink.of(Rule::courtesy);
  REQUIRE(v.size() == 1);
  CHECK(v[0].detail == "farewell");
  CHECK(v[0].id == "c1:courtesy:farewell");
  CHECK(v[0].agent == "alice");
  CHECK(v[0].ts == at(7s));
}

TEST_CASE_METHOD(LanguageFixture, "courtesy: a farewell in the last agent message is enough",
                 "[sla][courtesy]") {
  engine.agent_message("c1", "alice", "您好", at(5s));
  engine.agent_message("c1", "alice", "感谢您的耐心，再见！", at(6s));
  engine.customer_message("c1", "拜拜", at(7s));  // the customer may have the last word
  engine.closed("c1", "alice", true, at(8s));
  CHECK(sink.of(Rule::courtesy).empty());
}

TEST_CASE_METHOD(LanguageFixture, "courtesy: the customer leaving needs no farewell",
                 "[sla][courtesy]") {
  engine.agent_message("c1", "alice", "您好", at(5s));
  engine.customer_left("c1", at(8s));
  CHECK(sink.of(Rule::courtesy).empty());
}

TEST_CASE_METHOD(LanguageFixture, "courtesy: closing without having written at all",
                 "[sla][courtesy]") {
  engine.closed("c1", "alice", true, at(8s));
  REQUIRE(sink.of(Rule::courtesy).size() == 1);
  CHECK(sink.of(Rule::courtesy)[0].detail == "farewell");
}

TEST_CASE("language: empty phrase lists check nothing", "[sla][language][courtesy]") {
  config::Config config = sla_test_config();
  config.shops[0].language = {{}, {}, {}};
  RecordingSlaSink sink;
  SlaEngine engine(config, sink);
  const TimePoint t0 = from_epoch_ms(1'700'000'000'000);
  engine.customer_arrived("c1", "demo", t0);
  engine.agent_message("c1", "alice", "我不能", t0);
  engine.closed("c1", "alice", true, t0);
  CHECK(sink.violations.empty());
}

TEST_CASE("language: shop-specific phrases, ASCII ones and long lists", "[sla][language]") {
  config::Config config = sla_test_config();
  auto& avoid = config.shops[0].language.avoid;
  avoid.clear();
  for (int i = 0; i < 70; ++i) avoid.push_back("never" + std::to_string(i) + "!");
  avoid.push_back("?");
  RecordingSlaSink sink;
  SlaEngine engine(config, sink);
  const TimePoint t0 = from_epoch_ms(1'700'000'000'000);
  engine.customer_arrived("c1", "demo", t0);
  engine.agent_message("c1", "alice", "您好 never3! never69! ok?", t0);
  const auto v = sink.of(Rule::language);
  REQUIRE(v.size() == 3);
  CHECK(v[0].detail == "never3!");
  CHECK(v[1].detail == "never69!");  // past the 64 found in one pass
  CHECK(v[2].detail == "?");
  CHECK(v[2].id == "c1:language:1:70");
}
