#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

// A restarted gateway rebuilds its engine from the stored clocks (docs/storage.md, "Recovery"):
// each test runs an uninterrupted engine beside one restored from a snapshot and checks that the
// restored one continues exactly as the uninterrupted one does.

namespace {

std::size_t index(Rule r) {
  return static_cast<std::size_t>(r);
}

// A second engine with the same configuration and its own sink, as after a restart.
struct Restarted {
  explicit Restarted(const config::Config& c) : engine(c, sink) {}
  RecordingSlaSink sink;
  SlaEngine engine;
};

// Everything a consumer sees of a violation, in one comparable (and printable) string.
std::string describe(const Violation& v) {
  std::string s = v.id;
  s.append(" ").append(to_string(v.rule)).append(" ").append(to_string(v.severity));
  s.append(" level=").append(std::to_string(v.level));
  s.append(" ts=").append(std::to_string(to_epoch_ms(v.ts)));
  s.append(" elapsed=").append(std::to_string(v.elapsed.count()));
  s.append(" target=").append(std::to_string(v.target.count()));
  s.append(" shop=").append(v.shop).append(" agent=").append(v.agent);
  s.append(" conversation=").append(v.conversation).append(" detail=").append(v.detail);
  return s;
}

std::vector<std::string> describe(const std::vector<Violation>& vs) {
  std::vector<std::string> out;
  for (const Violation& v : vs) out.push_back(describe(v));
  return out;
}

// For failure messages: Catch cannot print a ConversationClock.
std::string describe(const std::optional<ConversationClock>& k) {
  if (!k) return "none";
  std::string s;
  const auto add = [&s](const char* name, auto value) {
    s.append(name).append("=").append(std::to_string(value)).append(" ");
  };
  add("wrote", k->wrote);
  add("first_customer", to_epoch_ms(k->first_customer));
  add("greeted", k->greeted);
  add("waiting", k->waiting);
  add("clock_start", to_epoch_ms(k->clock_start));
  add("armed", k->armed);
  add("greeting_step", k->greeting_step);
  add("waits", k->waits);
  add("messages", k->messages);
  add("agent_messages", k->agent_messages);
  add("farewell", k->last_agent_farewell);
  add("first_response", k->first_response ? k->first_response->count() : -1);
  add("reply_waits", k->reply_waits);
  add("reply_wait_total", k->reply_wait_total.count());
  add("reply_wait_max", k->reply_wait_max.count());
  add("typing_measured", k->typing_measured);
  add("typing_cpm_total", k->typing_cpm_total);
  add("greeting_warned", k->greeting_warned);
  add("greeting_breach_level", k->greeting_breach_level);
  s.append("violations=");
  for (const std::uint32_t n : k->violations) s.append(std::to_string(n)).append(",");
  return s;
}

}  // namespace

TEST_CASE_METHOD(EngineFixture, "restore: a fired greeting warning stays fired, the breach comes",
                 "[sla][restore]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.advance(at(15s));
  REQUIRE(sink.violations.size() == 1);
  const std::optional<ConversationClock> clock = engine.conversation_clock("c1");
  REQUIRE(clock);
  CHECK(clock->wrote);
  CHECK(clock->first_customer == t0);
  CHECK_FALSE(clock->greeted);
  CHECK(clock->waiting);
  CHECK(clock->clock_start == t0);
  CHECK(clock->armed);
  CHECK(clock->greeting_step == 1);  // next: the breach of level 1
  CHECK(clock->messages == 1);
  CHECK(clock->agent_messages == 0);
  CHECK(clock->greeting_warned);
  CHECK(clock->greeting_breach_level == 0);
  CHECK(clock->violations[index(Rule::greeting)] == 1);

  Restarted r(config);
  REQUIRE(r.engine.restore("c1", "demo", "alice", *clock));
  CHECK(r.engine.conversation_clock("c1") == clock);
  CHECK(r.engine.customers_waiting("demo") == 1);
  CHECK(r.engine.next_deadline() == at(30s));

  r.engine.advance(at(30s - 1ms));
  CHECK(r.sink.violations.empty());
  r.engine.advance(at(30s));
  engine.advance(at(30s));
  REQUIRE(r.sink.violations.size() == 1);
  const Violation& b = r.sink.violations[0];
  CHECK(b.rule == Rule::greeting);
  CHECK(b.severity == Severity::breach);
  CHECK(b.level == 1);
  CHECK(b.id == "c1:greeting:1:breach");
  CHECK(b.ts == at(30s));
  CHECK(b.elapsed == 30s);
  CHECK(b.agent == "alice");  // the restored owner
  CHECK(describe(b) == describe(sink.violations.back()));

  // The escalation goes on as uninterrupted; the warning never comes again.
  r.engine.advance(at(60s));
  engine.advance(at(60s));
  REQUIRE(r.sink.violations.size() == 2);
  CHECK(r.sink.violations[1].id == "c1:greeting:2:breach");
  CHECK(describe(r.sink.violations[1]) == describe(sink.violations.back()));
  CHECK(r.sink.of(Rule::greeting).size() == 2);
  CHECK(std::none_of(r.sink.violations.begin(), r.sink.violations.end(),
                     [](const Violation& v) { return v.severity == Severity::warning; }));
  CHECK(r.engine.conversation_clock("c1") == engine.conversation_clock("c1"));
}

TEST_CASE_METHOD(EngineFixture, "restore: greeting deadlines that passed while down fire once",
                 "[sla][restore]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.advance(at(20s));  // the warning at 15 s
  const std::optional<ConversationClock> clock = engine.conversation_clock("c1");
  REQUIRE(clock);

  // Down from 20 s to 70 s = greeting_limit + 40 s: the breach (30 s) and level 2 (60 s) fell
  // due meanwhile, level 3 (90 s) is still ahead.
  Restarted r(config);
  REQUIRE(r.engine.restore("c1", "demo", "alice", *clock));
  CHECK(r.engine.next_deadline() == at(30s));  // in the past: the gateway's timer fires at once

  SECTION("at the first advance") {
    r.engine.advance(at(70s));
    engine.advance(at(70s));
  }
  SECTION("at the first event, before the event itself") {
    r.engine.customer_message("c1", "还在吗？", at(70s));
    engine.customer_message("c1", "还在吗？", at(70s));
  }
  REQUIRE(r.sink.violations.size() == 2);
  CHECK(r.sink.violations[0].id == "c1:greeting:1:breach");
  CHECK(r.sink.violations[0].ts == at(30s));  // when it was due, not when it was noticed
  CHECK(r.sink.violations[0].elapsed == 30s);
  CHECK(r.sink.violations[1].id == "c1:greeting:2:breach");
  CHECK(r.sink.violations[1].level == 2);
  CHECK(r.sink.violations[1].ts == at(60s));
  CHECK(r.sink.violations[1].elapsed == 60s);
  CHECK(describe(r.sink.violations) ==
        describe(std::vector<Violation>(sink.violations.begin() + 1, sink.violations.end())));
  CHECK(r.engine.next_deadline() == at(90s));

  r.engine.advance(at(70s));
  r.engine.advance(at(90s - 1ms));
  CHECK(r.sink.violations.size() == 2);  // nothing twice
  r.engine.advance(at(90s));
  REQUIRE(r.sink.violations.size() == 3);
  CHECK(r.sink.violations[2].id == "c1:greeting:3:breach");
  CHECK(r.sink.violations[2].ts == at(90s));
  engine.advance(at(90s));
  CHECK(r.engine.conversation_clock("c1") == engine.conversation_clock("c1"));
}

TEST_CASE_METHOD(EngineFixture, "restore: only the reply wait that has not breached yet fires",
                 "[sla][restore]") {
  for (const char* id : {"c1", "c2"}) {
    open_conversation(id);
    engine.assigned(id, "alice", at(1s));
    engine.agent_message(id, "alice", "您好", at(2s));
  }
  engine.customer_message("c1", "发货了吗", at(10s));  // wait 1, breach at 30 s
  engine.customer_message("c2", "发货了吗", at(25s));  // wait 1, breach at 45 s
  engine.advance(at(35s));
  REQUIRE(sink.of(Rule::reply_wait).size() == 1);
  const std::optional<ConversationClock> k1 = engine.conversation_clock("c1");
  const std::optional<ConversationClock> k2 = engine.conversation_clock("c2");
  REQUIRE(k1);
  REQUIRE(k2);
  CHECK(k1->waiting);
  CHECK_FALSE(k1->armed);  // breached: once per wait
  CHECK(k1->waits == 1);
  CHECK(k1->clock_start == at(10s));
  CHECK(k1->violations[index(Rule::reply_wait)] == 1);
  CHECK(k2->waiting);
  CHECK(k2->armed);
  CHECK(k2->clock_start == at(25s));
  sink.clear();

  Restarted r(config);
  REQUIRE(r.engine.restore("c1", "demo", "alice", *k1));
  REQUIRE(r.engine.restore("c2", "demo", "alice", *k2));
  CHECK(r.engine.customers_waiting("demo") == 2);  // a breached wait is still a waiting customer
  CHECK(r.engine.next_deadline() == at(45s));

  r.engine.advance(at(45s - 1ms));
  CHECK(r.sink.violations.empty());
  r.engine.advance(at(45s));
  engine.advance(at(45s));
  REQUIRE(r.sink.violations.size() == 1);
  CHECK(r.sink.violations[0].id == "c2:reply_wait:1");
  CHECK(r.sink.violations[0].ts == at(45s));
  CHECK(r.sink.violations[0].elapsed == 20s);
  CHECK(describe(r.sink.violations) == describe(sink.violations));
  r.engine.advance(at(49s));
  CHECK(r.sink.violations.size() == 1);
  CHECK_FALSE(r.engine.next_deadline());

  // The waits go on from the restored clock: the answer measures from 10 s, the next wait is 2.
  for (SlaEngine* e : {&engine, &r.engine}) {
    e->agent_message("c1", "alice", "今天发", at(50s));
    e->customer_message("c1", "几点？", at(55s));
    e->advance(at(75s));
  }
  REQUIRE(r.sink.reply_waits.size() == 1);
  CHECK(r.sink.reply_waits[0].duration == 40s);
  REQUIRE(r.sink.violations.size() == 2);
  CHECK(r.sink.violations[1].id == "c1:reply_wait:2");
  CHECK(r.sink.violations[1].ts == at(75s));
  CHECK(describe(r.sink.violations) == describe(sink.violations));
  CHECK(r.engine.conversation_clock("c1") == engine.conversation_clock("c1"));
  CHECK(r.engine.conversation_clock("c2") == engine.conversation_clock("c2"));
}

TEST_CASE_METHOD(EngineFixture, "restore: a clock started before the closing pauses as before",
                 "[sla][restore][business_hours]") {
  // The night market closes at 01:00 and opens at 08:30 (Shanghai). c1 waits for its greeting
  // from 00:59:50 (10 s before the closing), c2 for a reply from 00:59:55 (5 s).
  engine.customer_arrived("c1", "night-market", shanghai(2024, 11, 26, 0, 59, 50));
  engine.customer_message("c1", "还营业吗？", shanghai(2024, 11, 26, 0, 59, 50));
  engine.customer_arrived("c2", "night-market", shanghai(2024, 11, 26, 0, 50));
  engine.assigned("c2", "alice", shanghai(2024, 11, 26, 0, 50));
  engine.customer_message("c2", "在吗", shanghai(2024, 11, 26, 0, 50));
  engine.agent_message("c2", "alice", "您好", shanghai(2024, 11, 26, 0, 50, 5));
  engine.customer_message("c2", "发货了吗", shanghai(2024, 11, 26, 0, 59, 55));
  engine.advance(shanghai(2024, 11, 26, 0, 59, 58));
  const std::optional<ConversationClock> k1 = engine.conversation_clock("c1");
  const std::optional<ConversationClock> k2 = engine.conversation_clock("c2");
  REQUIRE(k1);
  REQUIRE(k2);

  // Restarted while the shop is closed.
  Restarted r(config);
  REQUIRE(r.engine.restore("c1", "night-market", "", *k1));
  REQUIRE(r.engine.restore("c2", "night-market", "alice", *k2));
  CHECK(r.engine.customers_waiting("night-market") == 2);
  for (SlaEngine* e : {&engine, &r.engine}) e->advance(shanghai(2024, 11, 26, 3, 0));
  CHECK(r.sink.violations.empty());
  CHECK(r.engine.next_deadline() == shanghai(2024, 11, 26, 8, 30));  // the opening
  CHECK(r.engine.next_deadline() == engine.next_deadline());

  // 10 s before the closing and 5 s after the opening: the warning at 08:30:05.
  r.engine.advance(shanghai(2024, 11, 26, 8, 30, 4, 999));
  CHECK(r.sink.violations.empty());
  r.engine.advance(shanghai(2024, 11, 26, 8, 30, 5));
  REQUIRE(r.sink.violations.size() == 1);
  CHECK(r.sink.violations[0].id == "c1:greeting:1:warning");
  CHECK(r.sink.violations[0].elapsed == 15s);
  CHECK(r.sink.violations[0].ts == shanghai(2024, 11, 26, 8, 30, 5));
  // c2: 5 s before the closing, 15 s after the opening.
  r.engine.advance(shanghai(2024, 11, 26, 8, 30, 14, 999));
  CHECK(r.sink.violations.size() == 1);
  r.engine.advance(shanghai(2024, 11, 26, 8, 30, 15));
  REQUIRE(r.sink.violations.size() == 2);
  CHECK(r.sink.violations[1].id == "c2:reply_wait:1");
  CHECK(r.sink.violations[1].agent == "alice");
  CHECK(r.sink.violations[1].ts == shanghai(2024, 11, 26, 8, 30, 15));
  r.engine.advance(shanghai(2024, 11, 26, 8, 30, 19, 999));
  CHECK(r.sink.violations.size() == 2);
  r.engine.advance(shanghai(2024, 11, 26, 8, 30, 20));
  REQUIRE(r.sink.violations.size() == 3);
  CHECK(r.sink.violations[2].id == "c1:greeting:1:breach");
  CHECK(r.sink.violations[2].elapsed == 30s);

  engine.advance(shanghai(2024, 11, 26, 8, 30, 20));
  CHECK(describe(r.sink.violations) == describe(sink.violations));
  for (SlaEngine* e : {&engine, &r.engine})
    e->agent_message("c2", "alice", "发了", shanghai(2024, 11, 26, 8, 31));
  REQUIRE(r.sink.reply_waits.size() == 1);
  CHECK(r.sink.reply_waits[0].duration == 65s);  // 5 s before the closing, 60 s after the opening
  CHECK(r.engine.next_deadline() == engine.next_deadline());
  CHECK(r.engine.conversation_clock("c1") == engine.conversation_clock("c1"));
  CHECK(r.engine.conversation_clock("c2") == engine.conversation_clock("c2"));
}

TEST_CASE_METHOD(EngineFixture, "restore: refused for an unknown shop or an open conversation",
                 "[sla][restore]") {
  open_conversation("c1");
  const std::optional<ConversationClock> before = engine.conversation_clock("c1");
  REQUIRE(before);
  ConversationClock other = *before;
  other.greeted = true;
  other.messages = 7;
  CHECK_FALSE(engine.restore("c1", "demo", "alice", other));
  CHECK_FALSE(engine.restore("c2", "no-such-shop", "alice", other));
  CHECK(engine.conversation_clock("c1") == before);
  CHECK_FALSE(engine.conversation_clock("c2"));
  CHECK(engine.customers_waiting("demo") == 1);
  CHECK(engine.next_deadline() == at(15s));
  CHECK_FALSE(engine.conversation_clock("never-arrived"));
}

TEST_CASE_METHOD(EngineFixture, "restore: an idle conversation restores without a clock",
                 "[sla][restore]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.agent_message("c1", "alice", "您好，再见", at(5s));
  const std::optional<ConversationClock> clock = engine.conversation_clock("c1");
  REQUIRE(clock);
  CHECK_FALSE(clock->waiting);
  CHECK_FALSE(clock->armed);
  CHECK(clock->last_agent_farewell);

  Restarted r(config);
  REQUIRE(r.engine.restore("c1", "demo", "alice", *clock));
  CHECK(r.engine.customers_waiting("demo") == 0);
  CHECK_FALSE(r.engine.next_deadline());
  // The farewell is remembered: closing now is polite; the next customer message is wait 1.
  r.engine.customer_message("c1", "谢谢", at(10s));
  r.engine.advance(at(30s));
  REQUIRE(r.sink.violations.size() == 1);
  CHECK(r.sink.violations[0].id == "c1:reply_wait:1");
  r.engine.agent_message("c1", "alice", "不客气，再见", at(31s));
  r.engine.closed("c1", "alice", true, at(32s));
  CHECK(r.sink.of(Rule::courtesy).empty());
  CHECK(r.sink.count(Outcome::served) == 1);
}

TEST_CASE_METHOD(EngineFixture, "record figures: hand-computed for one served conversation",
                 "[sla][restore][record]") {
  open_conversation("c1");
  engine.assigned("c1", "alice", at(1s));
  engine.advance(at(30s));  // warning at 15 s, breach of level 1 at 30 s
  engine.agent_typing("c1", "alice", true, at(31s));
  engine.agent_message("c1", "alice", "您好，请问有什么可以帮您？", at(35s));  // 13 in 4 s: 195
  engine.customer_message("c1", "我的快递", at(40s));                          // wait 1
  engine.agent_message("c1", "alice", "好的", at(45s));  // 5 s; no typing start
  engine.customer_message("c1", "到哪了", at(50s));      // wait 2, breach at 70 s
  engine.agent_typing("c1", "alice", true, at(60s));
  // 20 code points in 20 s: 60 cpm; the wait was 30 s; "但是" (language.avoid[4]) is message 6.
  engine.agent_message("c1", "alice", "但是这个商品今天已经发货了请您耐心等待哦", at(80s));

  REQUIRE(sink.greetings.size() == 1);
  CHECK(sink.greetings[0].duration == 35s);
  REQUIRE(sink.of(Rule::language).size() == 1);
  CHECK(sink.of(Rule::language)[0].id == "c1:language:6:4");

  const std::optional<ConversationClock> k = engine.conversation_clock("c1");
  REQUIRE(k);
  INFO(describe(k));
  CHECK(k->wrote);
  CHECK(k->first_customer == t0);
  CHECK(k->greeted);
  CHECK_FALSE(k->waiting);
  CHECK(k->clock_start == at(50s));
  CHECK_FALSE(k->armed);
  CHECK(k->greeting_step == 2);
  CHECK(k->waits == 2);
  CHECK(k->messages == 6);
  CHECK(k->agent_messages == 3);
  CHECK_FALSE(k->last_agent_farewell);
  CHECK(k->first_response == 35s);
  CHECK(k->reply_waits == 2);
  CHECK(k->reply_wait_total == 35s);
  CHECK(k->reply_wait_max == 30s);
  CHECK(k->typing_measured == 2);
  CHECK(k->typing_cpm_total == Approx(195.0 + 60.0));
  CHECK(k->greeting_warned);
  CHECK(k->greeting_breach_level == 1);
  std::array<std::uint32_t, kRuleCount> expected{};
  expected[index(Rule::greeting)] = 2;
  expected[index(Rule::reply_wait)] = 1;
  expected[index(Rule::language)] = 1;
  CHECK(k->violations == expected);

  // The agent closes without a farewell: the final clock includes that courtesy warning.
  ConversationClock final;
  engine.closed("c1", "alice", true, at(90s), &final);
  REQUIRE(sink.of(Rule::courtesy).size() == 1);
  CHECK(sink.of(Rule::courtesy)[0].id == "c1:courtesy:farewell");
  ConversationClock expected_final = *k;
  expected_final.violations[index(Rule::courtesy)] = 1;
  CHECK(final == expected_final);
  CHECK_FALSE(engine.conversation_clock("c1"));

  // An unknown (already ended) conversation leaves `final` alone.
  ConversationClock untouched;
  untouched.messages = 99;
  engine.closed("c1", "alice", true, at(91s), &untouched);
  engine.customer_left("c1", at(92s), &untouched);
  CHECK(untouched.messages == 99);
}

TEST_CASE_METHOD(EngineFixture, "record figures: the final clock of a missed customer",
                 "[sla][restore][record]") {
  open_conversation("c1", 5s);
  engine.assigned("c1", "alice", at(6s));
  ConversationClock final;
  // The greeting warning (20 s) and breach (35 s) fire first, then the missed breach.
  engine.customer_left("c1", at(45s), &final);
  REQUIRE(sink.of(Rule::missed).size() == 1);
  CHECK(sink.of(Rule::missed)[0].elapsed == 40s);
  INFO(describe(final));
  CHECK(final.wrote);
  CHECK(final.first_customer == at(5s));
  CHECK_FALSE(final.greeted);
  CHECK(final.waiting);  // as it was when the customer left
  CHECK(final.messages == 1);
  CHECK(final.agent_messages == 0);
  CHECK(final.greeting_step == 2);
  CHECK_FALSE(final.first_response);
  CHECK(final.reply_waits == 0);
  CHECK(final.greeting_warned);
  CHECK(final.greeting_breach_level == 1);
  std::array<std::uint32_t, kRuleCount> expected{};
  expected[index(Rule::greeting)] = 2;
  expected[index(Rule::missed)] = 1;
  CHECK(final.violations == expected);
  CHECK_FALSE(engine.conversation_clock("c1"));
  CHECK(engine.customers_waiting("demo") == 0);
}

TEST_CASE_METHOD(EngineFixture, "record figures: a greeting before the customer wrote is 0",
                 "[sla][restore][record]") {
  engine.customer_arrived("c1", "demo", t0);
  engine.assigned("c1", "alice", t0);
  CHECK_FALSE(engine.conversation_clock("c1")->first_response);
  engine.agent_message("c1", "alice", "您好，欢迎光临", at(5s));
  const std::optional<ConversationClock> k = engine.conversation_clock("c1");
  REQUIRE(k);
  CHECK(k->first_response == 0ms);
  CHECK_FALSE(k->wrote);
  CHECK(k->greeted);
  CHECK(k->violations == std::array<std::uint32_t, kRuleCount>{});
}

TEST_CASE("record figures: a typing_rate warning counts for the conversation that tipped it",
          "[sla][restore][record]") {
  config::Config config = sla_test_config();
  config.shops[0].sla.typing_window = 1;  // judged from the first measured message on
  RecordingSlaSink sink;
  SlaEngine engine(config, sink);
  const TimePoint t0 = from_epoch_ms(1'700'000'000'000);
  for (const char* id : {"c1", "c2"}) {
    engine.customer_arrived(id, "demo", t0);
    engine.assigned(id, "alice", t0);
  }
  engine.agent_typing("c2", "alice", true, t0);
  engine.agent_message("c2", "alice", "一二三四五六七八九十", t0 + 20s);  // 10 in 20 s: 30 cpm
  REQUIRE(sink.of(Rule::typing_rate).size() == 1);
  const std::optional<ConversationClock> k2 = engine.conversation_clock("c2");
  REQUIRE(k2);
  CHECK(k2->violations[index(Rule::typing_rate)] == 1);
  CHECK(k2->typing_measured == 1);
  CHECK(k2->typing_cpm_total == Approx(30.0));
  // The greeting had no greeting phrase: a courtesy warning too, of c2 as well.
  CHECK(k2->violations[index(Rule::courtesy)] == 1);
  CHECK(engine.conversation_clock("c1")->violations == std::array<std::uint32_t, kRuleCount>{});
}

// --- property: a restored engine continues as the uninterrupted one -----------------------------

namespace {

enum class Kind { arrive, customer, agent, typing, assign, transfer, close, leave, advance };

struct Event {
  Kind kind = Kind::advance;
  std::string conversation;
  std::string shop;   // arrive
  std::string agent;  // agent, typing, assign, close; transfer: the target (empty: to the queue)
  std::string from;   // transfer
  std::string text;
  bool flag = true;  // typing: start; close: by the agent
  TimePoint t{};
};

struct Script {
  std::vector<Event> events;
  // Where the cut may fall (restore before events[cut]): no typing start is pending there.
  std::vector<std::size_t> cuts;
};

// A few conversations in both shops (the night market closes at 01:00 and opens at 08:30, so some
// clocks pause and resume), owned, transferred and requeued among three agents.
Script generate(std::uint32_t seed) {
  std::mt19937 random(seed);
  const auto roll = [&random](int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(random);
  };
  struct Open {
    std::string id;
    std::string shop;
    std::string owner;
    bool typing = false;  // a typing start by the owner awaits its message
  };
  std::vector<Open> open;
  const char* const agents[] = {"alice", "bob", "carol"};
  const char* const texts[] = {
      "您好，请问有什么可以帮您？",   "好的", "但是这个我不能保证，请您谅解一下",
      "已经为您安排发货了，祝您愉快", "再见", "稍等，我帮您查一下订单的物流信息"};
  int next_id = 0;
  TimePoint now = shanghai(2024, 11, 26, 0, 56);
  Script s;
  for (int i = 0; i < 400; ++i) {
    // Mostly seconds apart, so that deadlines fall between events and at them; now and then
    // hours (the night market's closed night, or a deadline long overdue).
    now += Duration{std::uniform_int_distribution<int>(0, 12'000)(random)};
    if (roll(120) == 0) now += std::chrono::hours{1 + roll(5)};
    Event e;
    e.t = now;
    if (open.empty() || (open.size() < 6 && roll(10) == 0)) {
      e.kind = Kind::arrive;
      e.conversation = "c" + std::to_string(++next_id);
      e.shop = roll(2) == 0 ? "demo" : "night-market";
      open.push_back({e.conversation, e.shop, {}, false});
    } else {
      const std::size_t pick = static_cast<std::size_t>(roll(static_cast<int>(open.size())));
      Open& c = open[pick];
      e.conversation = c.id;
      const int what = roll(20);
      const std::string other = agents[roll(3)];
      if (what < 2) {
        e.kind = Kind::advance;
      } else if (c.owner.empty() && what < 12) {
        e.kind = Kind::assign;
        e.agent = other;
        c.owner = other;
        c.typing = false;
      } else if (what < 6) {
        e.kind = Kind::customer;
        e.text = "在吗";
      } else if (what < 10) {
        e.kind = Kind::agent;
        e.agent = c.owner;
        e.text = texts[roll(6)];
        c.typing = false;
      } else if (what < 12) {
        e.kind = Kind::typing;
        e.agent = c.owner;
        e.flag = roll(4) != 0;
        if (e.flag) c.typing = true;
      } else if (what < 14) {
        e.kind = Kind::transfer;
        e.from = c.owner;
        e.agent = roll(3) == 0 ? std::string{} : other;
        if (e.agent != c.owner) c.typing = false;
        c.owner = e.agent;
      } else if (what == 14 && !c.owner.empty()) {
        e.kind = Kind::close;
        e.agent = c.owner;
        e.flag = roll(3) != 0;
      } else if (what == 15) {
        e.kind = Kind::leave;
      } else {
        e.kind = Kind::customer;
        e.text = "还在吗";
      }
      if (e.kind == Kind::close || e.kind == Kind::leave) open.erase(open.begin() + pick);
    }
    s.events.push_back(std::move(e));
    if (std::none_of(open.begin(), open.end(), [](const Open& c) { return c.typing; }))
      s.cuts.push_back(s.events.size());
  }
  return s;
}

void apply(SlaEngine& engine, const Event& e) {
  switch (e.kind) {
    case Kind::arrive:
      engine.customer_arrived(e.conversation, e.shop, e.t);
      break;
    case Kind::customer:
      engine.customer_message(e.conversation, e.text, e.t);
      break;
    case Kind::agent:
      engine.agent_message(e.conversation, e.agent, e.text, e.t);
      break;
    case Kind::typing:
      engine.agent_typing(e.conversation, e.agent, e.flag, e.t);
      break;
    case Kind::assign:
      engine.assigned(e.conversation, e.agent, e.t);
      break;
    case Kind::transfer:
      engine.transferred(e.conversation, e.from,
                         e.agent.empty() ? std::nullopt : std::optional<std::string_view>(e.agent),
                         e.t);
      break;
    case Kind::close:
      engine.closed(e.conversation, e.agent, e.flag, e.t);
      break;
    case Kind::leave:
      engine.customer_left(e.conversation, e.t);
      break;
    case Kind::advance:
      engine.advance(e.t);
      break;
  }
}

// What one event made the engine report, in a form that compares two engines. Violations that
// fall due at the same moment in several conversations may come out in either order (the queue
// keeps the order of the pushes, which a restore changes), so they are sorted within the event.
// typing_rate and handover are left out: their ids carry the engine's per-agent sequence and the
// typing windows are agent state, neither of which is restored (docs/storage.md, "Recovery").
struct Reported {
  std::vector<std::string> violations;
  std::vector<std::string> observations;
  friend bool operator==(const Reported&, const Reported&) = default;
};

Reported take(RecordingSlaSink& sink) {
  Reported r;
  for (const Violation& v : sink.violations)
    if (v.rule != Rule::typing_rate && v.rule != Rule::handover)
      r.violations.push_back(describe(v));
  std::sort(r.violations.begin(), r.violations.end());
  for (const auto& g : sink.greetings)
    r.observations.push_back("greeting " + g.agent + " " + std::to_string(g.duration.count()));
  for (const auto& w : sink.reply_waits)
    r.observations.push_back("reply_wait " + w.agent + " " + std::to_string(w.duration.count()));
  for (const auto& m : sink.typing_rates)
    r.observations.push_back("typing_rate " + m.agent + " " + std::to_string(m.cpm));
  for (const auto& u : sink.unmeasured) r.observations.push_back("unmeasured " + u.agent);
  for (const auto& o : sink.outcomes)
    r.observations.push_back("outcome " + std::string(to_string(o.outcome)));
  sink.clear();
  return r;
}

// The open conversations just before events[cut], with their shops and owners, as the desk's
// store knows them.
struct Owned {
  std::string shop;
  std::string owner;
};
std::map<std::string, Owned> open_before(const Script& s, std::size_t cut) {
  std::map<std::string, Owned> open;
  for (std::size_t i = 0; i < cut; ++i) {
    const Event& e = s.events[i];
    switch (e.kind) {
      case Kind::arrive:
        open[e.conversation] = {e.shop, {}};
        break;
      case Kind::assign:
      case Kind::transfer:
        open[e.conversation].owner = e.agent;
        break;
      case Kind::close:
      case Kind::leave:
        open.erase(e.conversation);
        break;
      default:
        break;
    }
  }
  return open;
}

// The stored clock minus what is not restored: typing_rate warnings come from the agents'
// windows (agent state), so after a restart they differ by design.
std::optional<ConversationClock> comparable(std::optional<ConversationClock> k) {
  if (k) k->violations[index(Rule::typing_rate)] = 0;
  return k;
}

}  // namespace

TEST_CASE("restore: a restored engine continues exactly as the uninterrupted one",
          "[sla][restore][property]") {
  config::Config config = sla_test_config();
  // Small windows, so that typing_rate warnings (left out of the comparison) do occur.
  for (auto& shop : config.shops) shop.sla.typing_window = 3;
  std::size_t compared_violations = 0;
  std::size_t restored_armed = 0;
  for (std::uint32_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    const Script script = generate(seed);
    std::mt19937 random(seed * 7919U);
    const std::size_t cut =
        script.cuts[std::uniform_int_distribution<std::size_t>(0, script.cuts.size() - 1)(random)];
    CAPTURE(cut);

    RecordingSlaSink sink;
    SlaEngine uninterrupted(config, sink);
    Restarted before(config);
    for (std::size_t i = 0; i < cut; ++i) {
      apply(uninterrupted, script.events[i]);
      apply(before.engine, script.events[i]);
    }
    sink.clear();

    // The restart: every open conversation's clock into a fresh engine, with its owner.
    Restarted after(config);
    for (const auto& [id, c] : open_before(script, cut)) {
      const std::optional<ConversationClock> k = before.engine.conversation_clock(id);
      REQUIRE(k);
      if (k->armed) ++restored_armed;
      REQUIRE(after.engine.restore(id, c.shop, c.owner, *k));
      CHECK(after.engine.conversation_clock(id) == k);
    }

    for (std::size_t i = cut; i < script.events.size(); ++i) {
      CAPTURE(i);
      apply(uninterrupted, script.events[i]);
      apply(after.engine, script.events[i]);
      const Reported expected = take(sink);
      const Reported got = take(after.sink);
      CHECK(got.violations == expected.violations);
      CHECK(got.observations == expected.observations);
      compared_violations += expected.violations.size();
    }
    for (const auto& [id, c] : open_before(script, script.events.size())) {
      CAPTURE(id);
      const auto expected = comparable(uninterrupted.conversation_clock(id));
      const auto got = comparable(after.engine.conversation_clock(id));
      INFO("uninterrupted: " << describe(expected));
      INFO("restored:      " << describe(got));
      CHECK(got == expected);
    }
    for (const char* shop : {"demo", "night-market"})
      CHECK(after.engine.customers_waiting(shop) == uninterrupted.customers_waiting(shop));
    CHECK(after.engine.next_deadline() == uninterrupted.next_deadline());
  }
  // The scripts do exercise what they claim to.
  CHECK(compared_violations > 500);
  CHECK(restored_armed > 30);
}
