// Tests of the desk's durability (docs/storage.md): what take_changes() hands to the store, and a
// desk rebuilt with restore() from what a store kept: customers resume the same conversation
// with their secret and the whole history, owners get theirs back, queue order and SLA clocks
// survive, every ended conversation leaves one record. The store here is a map of the latest
// state per conversation (what Redis holds after the writes), so the round trip is that of the
// gateway without Redis.

#include <algorithm>
#include <map>
#include <string>

#include "chatdesk/gateway/store_codec.hpp"
#include "desk_fixture.hpp"

namespace chatdesk::gateway::testing {
namespace {

// What Redis holds after the desk's writes: the latest state per conversation, its messages,
// ended conversations' records, agents' presence.
class MemoryStore final : public DeskChangeSink {
 public:
  void conversation(const StoredConversation& state,
                    std::span<const ChatMessage* const> new_messages, bool first) override {
    if (first) firsts.push_back(state.id);
    CHECK((first == !open.contains(state.id)));
    open[state.id] = state;
    for (const ChatMessage* m : new_messages) messages[state.id].push_back(*m);
    ++writes;
  }
  void ended(const StoredConversation& state, std::span<const ChatMessage* const> new_messages,
             const ConversationRecord& record) override {
    open.erase(state.id);
    for (const ChatMessage* m : new_messages) messages[state.id].push_back(*m);
    records.push_back(record);
  }
  void agent(std::string_view shop, std::string_view agent,
             std::optional<AgentPresence> state) override {
    const std::pair<std::string, std::string> key{std::string(shop), std::string(agent)};
    if (state)
      agents[key] = *state;
    else
      agents.erase(key);
  }

  // What the gateway reads back at start (history: the newest `limit`).
  RecoveredDesk recovered(TimePoint last_alive, std::size_t limit = 500) const {
    RecoveredDesk d;
    d.last_alive = last_alive;
    for (const auto& [id, state] : open) {
      RecoveredConversation r;
      r.state = state;
      auto it = messages.find(id);
      if (it != messages.end()) {
        const auto& all = it->second;
        const std::size_t from = all.size() > limit ? all.size() - limit : 0;
        r.history.assign(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
      }
      d.conversations.push_back(std::move(r));
    }
    for (const auto& [key, state] : agents) d.agents.push_back({key.first, key.second, state});
    return d;
  }

  std::map<std::string, StoredConversation> open;
  std::map<std::string, std::vector<ChatMessage>> messages;
  std::vector<ConversationRecord> records;
  std::map<std::pair<std::string, std::string>, AgentPresence> agents;
  std::vector<std::string> firsts;
  int writes = 0;
};

// A desk with a store attached; take() moves its changes into `store` as a loop turn's flush.
struct StoredDeskFixture : DeskFixture {
  StoredDeskFixture() { desk.attach_store(); }
  void take() { desk.take_changes(store); }
  MemoryStore store;
};

// A second gateway started at `start` on what the first one stored, which was last alive at
// `last_alive`.
struct Restarted {
  Restarted(const config::Config& c, const MemoryStore& store, TimePoint last_alive,
            TimePoint start)
      : config(c), clock(start) {
    desk.attach_store();
    restored = desk.restore(store.recovered(last_alive), start);
  }
  ShopStats demo() const {
    for (const auto& s : desk.stats())
      if (s.shop == "demo") return s;
    FAIL("no demo shop");
    return {};
  }
  config::Config config;
  ManualClock clock;
  RecordingSlaSink sla;
  monitor::SlaEngine engine{config, sla};
  RecordingDeskOutput out;
  std::uint64_t random_calls = 1000;
  Desk desk{config, clock, out, engine, [this] { return ++random_calls; }};
  std::size_t restored = 0;
};

const Sent* find(const std::vector<Sent>& sent, SessionId to, std::string_view type) {
  for (const auto& f : sent)
    if (f.session == to && f.type() == type) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE_METHOD(StoredDeskFixture,
                 "take_changes hands each changed conversation once, with "
                 "its new messages, and nothing when nothing changed",
                 "[desk][storage]") {
  SessionId alice = agent("alice");
  take();
  auto c1 = customer("c1");
  say(c1, "你好", "m1");
  say(c1, "在吗", "m2");
  take();
  REQUIRE(store.open.size() == 1);
  const StoredConversation& s = store.open.at(c1.conversation);
  CHECK(s.owner == "alice");
  CHECK(s.agents == Strings{"alice"});
  CHECK(s.seq == 2);
  CHECK(s.customer == c1.id);
  CHECK(s.secret_hash == store::secret_hash(c1.resume));
  CHECK(s.secret_hash != c1.resume);
  CHECK_FALSE(s.queue_pos);
  CHECK(s.clock.waiting);
  CHECK(s.clock.messages == 2);
  CHECK(store.messages.at(c1.conversation).size() == 2);
  CHECK(store.writes == 1);  // two messages and an assignment in one turn: one state
  CHECK(store.agents.at({"demo", "alice"}) == AgentPresence::available);

  CHECK_FALSE(desk.has_changes());
  take();
  CHECK(store.writes == 1);

  desk.agent_frame(alice, agent_typing(c1.conversation, "start"));
  CHECK_FALSE(desk.has_changes());  // typing is not stored
  reply(alice, c1, "您好，请问有什么可以帮您？");
  take();
  CHECK(store.writes == 2);
  CHECK(store.messages.at(c1.conversation).size() == 3);
  CHECK(store.open.at(c1.conversation).clock.greeted);
  CHECK(store.open.at(c1.conversation).clock.first_response == Duration::zero());
}

TEST_CASE_METHOD(StoredDeskFixture, "history keeps messages the store has not taken past its limit",
                 "[desk][storage]") {
  config.limits.history_limit = 2;
  auto c1 = customer("c1");
  for (int i = 0; i < 5; ++i) say(c1, "msg " + std::to_string(i));
  take();
  REQUIRE(store.messages.at(c1.conversation).size() == 5);
  CHECK(store.messages.at(c1.conversation).front().text == "msg 0");
  // Once taken, the history is back within its limit.
  SessionId alice = connect_agent("alice");
  desk.agent_frame(alice, status("available"));
  const auto sent = out.take();
  const Sent* assigned = find(sent, alice, "assigned");
  REQUIRE(assigned);
  CHECK(history_ids(*assigned) == Strings{c1.conversation + ":4", c1.conversation + ":5"});
}

TEST_CASE_METHOD(StoredDeskFixture,
                 "while the store cannot write, messages and commands are "
                 "refused with unavailable and change nothing",
                 "[desk][storage]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  take();
  out.take();
  desk.set_accepting(false);
  say(c1, "有人吗", "m1");
  reply(alice, c1, "您好", "a1");
  desk.agent_frame(alice, status("away"));
  desk.customer_frame(c1.session, kCustomerTyping);
  auto sent = out.take();
  REQUIRE(sent.size() == 4);
  check_error(sent[0], "unavailable", "m1");
  check_error(sent[1], "unavailable", "a1");
  check_error(sent[2], "unavailable");
  CHECK(sent[3].type() == "typing");  // not stored, so it goes on
  CHECK_FALSE(desk.has_changes());
  CHECK(stats("demo").messages_from_customers == 0);
  CHECK(sla.violations.empty());

  desk.set_accepting(true);
  say(c1, "有人吗", "m1");
  sent = out.take();
  REQUIRE(sent.size() >= 1);
  CHECK(sent[0].type() == "ack");
}

TEST_CASE_METHOD(StoredDeskFixture,
                 "a restarted desk gives customers, owners, queue order and "
                 "SLA clocks back",
                 "[desk][storage]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");  // demo takes 2 per agent: c1 and c2 go to alice
  say(c1, "第一条", "m1");
  reply(alice, c1, "您好", "a1");
  say(c1, "第二条", "m2");
  at(1s);
  auto q1 = customer("q1");
  auto q2 = customer("q2");
  auto q3 = customer("q3");
  say(q2, "排队中");
  // c2 goes back to the queue, in front of q1, q2, q3 (a requeued customer has waited already).
  desk.agent_frame(alice, transfer(c2.conversation, std::nullopt, "请同事接手"));
  take();
  out.take();
  const std::size_t history_before = store.messages.at(c1.conversation).size();
  REQUIRE(history_before == 3);

  // The gateway dies at t0 + 5 s and is back 20 s later.
  Restarted b(config, store, t0 + 5s, t0 + 25s);
  CHECK(b.restored == 5);

  // The customer with its secret resumes the same conversation with the whole history.
  b.out.labels[100] = "c1 again";
  b.desk.customer_connected(100, "demo", c1.id, c1.resume);
  auto sent = b.out.take();
  const Sent* welcome = find(sent, 100, "welcome");
  REQUIRE(welcome);
  CHECK(welcome->str("conversation") == c1.conversation);
  CHECK(welcome->str("agent") == "alice");
  CHECK(history_ids(*welcome) ==
        Strings{c1.conversation + ":1", c1.conversation + ":2", c1.conversation + ":3"});
  // A wrong secret gets a new conversation (and no history).
  b.desk.customer_connected(101, "demo", c2.id, "not-the-secret");
  sent = b.out.take();
  welcome = find(sent, 101, "welcome");
  REQUIRE(welcome);
  CHECK(welcome->str("conversation") != c2.conversation);
  const std::string stranger = welcome->str("conversation");

  // Alice reconnects: her conversation comes back with its history; the queue order is kept:
  // c2 (requeued to the front), then q1, q2, q3.
  b.desk.agent_connected(200, "demo", "alice");
  sent = b.out.take();
  const Sent* assigned = find(sent, 200, "assigned");
  REQUIRE(assigned);
  CHECK(assigned->str("conversation") == c1.conversation);
  CHECK(history_ids(*assigned).size() == 3);
  CHECK(find(sent, 200, "welcome")->str("state") == "available");
  b.desk.agent_connected(201, "demo", "bob");
  b.desk.agent_frame(201, status("available"));
  b.desk.agent_connected(202, "demo", "carol");
  b.desk.agent_frame(202, status("available"));
  Strings order;
  for (const auto& f : b.out.take())
    if (f.type() == "assigned" && f.session >= 200) order.push_back(f.str("conversation"));
  // Behind them, the new conversation of the customer with the wrong secret.
  CHECK(order ==
        Strings{c2.conversation, q1.conversation, q2.conversation, q3.conversation, stranger});

  // c1's reply wait started at its second message (t0): it breached at t0 + 20 s, while the
  // gateway was down; it fires once now, with its true deadline.
  b.desk.advance(b.clock.now());
  std::vector<monitor::Violation> waits;
  for (const auto& v : b.sla.violations)
    if (v.rule == Rule::reply_wait) waits.push_back(v);
  REQUIRE(waits.size() == 1);
  CHECK(waits[0].conversation == c1.conversation);
  CHECK(waits[0].ts == t0 + 20s);
  CHECK(waits[0].id == c1.conversation + ":reply_wait:1");
}

TEST_CASE_METHOD(StoredDeskFixture,
                 "after a restart, grace counts from the last disconnect plus "
                 "the downtime, and an owner who does not come back loses its "
                 "conversations to the queue",
                 "[desk][storage]") {
  agent("alice");
  auto c1 = customer("c1");  // demo: resume_grace 30 s
  auto c2 = customer("c2");
  say(c1, "你好");
  at(2s);
  desk.customer_disconnected(c2.session);  // left at t0 + 2 s
  take();
  // Down from t0 + 10 s to t0 + 70 s: a minute.
  Restarted b(config, store, t0 + 10s, t0 + 70s);
  REQUIRE(b.restored == 2);
  // c2 left at 2 s: its grace ends at 2 + 30 + 60 = 92 s. c1 was connected: 10 + 30 + 60 = 100 s.
  b.clock.set(t0 + 92s - 1ms);
  b.desk.advance(b.clock.now());
  CHECK(b.demo().conversations_active == 2);
  b.clock.set(t0 + 92s);
  b.desk.advance(b.clock.now());
  CHECK(b.demo().conversations_active == 1);
  b.desk.customer_connected(300, "demo", c1.id, c1.resume);  // c1 back in time
  // alice never comes back: after storage.agent_grace (60 s from the start) c1 is queued again.
  b.clock.set(t0 + 130s - 1ms);
  b.desk.advance(b.clock.now());
  CHECK(b.demo().queue_length == 0);
  b.clock.set(t0 + 130s);
  b.desk.advance(b.clock.now());
  CHECK(b.demo().queue_length == 1);
  for (const auto& v : b.sla.violations) CHECK(v.rule != Rule::handover);
}

TEST_CASE_METHOD(StoredDeskFixture, "every ended conversation leaves one record, with its figures",
                 "[desk][storage]") {
  SessionId alice = agent("alice");
  SessionId bob = agent("bob");
  auto c1 = customer("c1");  // alice (both idle since t0; the smaller id)
  say(c1, "你好");
  at(3s);
  reply(alice, c1, "您好");
  at(4s);
  desk.agent_frame(alice, transfer(c1.conversation, std::string_view("bob"), "请跟进"));
  at(10s);
  say(c1, "还在吗");
  at(14s);
  reply(bob, c1, "在的，再见");
  desk.agent_frame(bob, close_frame(c1.conversation));
  auto c2 = customer("c2");
  say(c2, "有人吗");
  at(50s);
  desk.customer_frame(c2.session, kCustomerClose);
  auto c3 = customer("c3");
  desk.customer_disconnected(c3.session);
  at(50s + 30s);  // c3's grace ends
  desk.advance(clock.now());
  take();
  REQUIRE(store.records.size() == 3);
  CHECK(store.open.empty());

  const ConversationRecord& r1 = store.records[0];
  CHECK(r1.conversation == c1.conversation);
  CHECK(r1.agents == Strings{"alice", "bob"});
  CHECK(r1.outcome == "served");
  CHECK(r1.closed_by == ClosedBy::agent);
  CHECK(r1.first_response == 3s);
  CHECK(r1.greeting == "on_time");
  CHECK(r1.reply_waits == 1);
  CHECK(r1.reply_wait_mean == 4s);
  CHECK(r1.reply_wait_max == 4s);
  CHECK(r1.customer_messages == 2);
  CHECK(r1.agent_messages == 2);
  CHECK(r1.transfers == 1);
  CHECK(r1.handovers == 0);
  CHECK(r1.created == t0);
  CHECK(r1.ended == t0 + 14s);

  const ConversationRecord& r2 = store.records[1];
  CHECK(r2.outcome == "missed");
  CHECK(r2.closed_by == ClosedBy::customer);
  CHECK_FALSE(r2.first_response);
  CHECK(r2.greeting == "breach");
  CHECK(r2.greeting_level == 1);
  CHECK(r2.violations[static_cast<std::size_t>(Rule::missed)] == 1);

  const ConversationRecord& r3 = store.records[2];
  CHECK(r3.outcome == "empty");
  CHECK(r3.closed_by == ClosedBy::grace);
  CHECK(r3.agents.size() == 1);  // assigned at once, never answered: it wrote nothing
}

TEST_CASE_METHOD(StoredDeskFixture,
                 "a handover is counted in the records of the conversations "
                 "it moved",
                 "[desk][storage]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  SessionId bob = agent("bob");
  desk.agent_frame(alice, handover(std::string_view("bob"), "两位客户在等退款"));
  desk.agent_frame(bob, close_frame(c1.conversation));
  desk.agent_frame(bob, close_frame(c2.conversation));
  take();
  REQUIRE(store.records.size() == 2);
  for (const auto& r : store.records) {
    CHECK(r.handovers == 1);
    CHECK(r.agents == Strings{"alice", "bob"});
  }
}

TEST_CASE_METHOD(StoredDeskFixture,
                 "a conversation that spans a restart leaves one record, with "
                 "the figures of both sides of it",
                 "[desk][storage]") {
  SessionId alice = agent("alice");
  agent("bob");
  auto c1 = customer("c1");  // alice
  say(c1, "你好");
  at(3s);
  reply(alice, c1, "您好");
  at(4s);
  desk.agent_frame(alice, transfer(c1.conversation, std::string_view("bob"), "请跟进"));
  at(5s);
  say(c1, "还在吗");  // waits from here, across the downtime
  take();
  REQUIRE(store.records.empty());

  // Down from t0 + 6 s to t0 + 8 s; bob reconnects, answers at 9 s and closes.
  Restarted b(config, store, t0 + 6s, t0 + 8s);
  REQUIRE(b.restored == 1);
  b.desk.agent_connected(200, "demo", "bob");
  b.clock.set(t0 + 9s);
  b.desk.agent_frame(200, agent_message(c1.conversation, "在的，再见"));
  b.desk.agent_frame(200, close_frame(c1.conversation));
  MemoryStore after = store;
  b.desk.take_changes(after);

  REQUIRE(after.records.size() == 1);
  CHECK(after.open.empty());
  const ConversationRecord& r = after.records[0];
  CHECK(r.conversation == c1.conversation);
  CHECK(r.agents == Strings{"alice", "bob"});
  CHECK(r.outcome == "served");
  CHECK(r.closed_by == ClosedBy::agent);
  CHECK(r.created == t0);
  CHECK(r.ended == t0 + 9s);
  CHECK(r.first_response == 3s);
  CHECK(r.greeting == "on_time");
  CHECK(r.reply_waits == 1);
  CHECK(r.reply_wait_mean == 4s);
  CHECK(r.reply_wait_max == 4s);
  CHECK(r.customer_messages == 2);
  CHECK(r.agent_messages == 2);
  CHECK(r.transfers == 1);
  CHECK(after.messages.at(c1.conversation).size() == 4);
}

TEST_CASE_METHOD(StoredDeskFixture,
                 "a shop dropped by a node that is no longer its home comes back whole when "
                 "restored, and the other shops do not notice",
                 "[desk][storage][scale]") {
  SessionId alice = agent("alice");
  SessionId tom = agent("tom", "tea");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  auto q1 = customer("q1");  // alice is full: queued
  auto t1 = customer("t1", "tea");
  say(c1, "你好", "m1");
  reply(alice, c1, "您好", "a1");
  at(1s);
  say(c1, "在吗", "m2");  // a reply wait runs
  say(t1, "有绿茶吗", "m3");
  take();
  out.take();
  const auto tea_before = stats("tea");

  // Something of demo not taken by the store yet: dropped with the rest (its frames were held).
  say(c2, "还没存", "m4");
  out.take();

  std::vector<SessionId> dropped;
  desk.drop_shop("demo", dropped);
  std::sort(dropped.begin(), dropped.end());
  CHECK(dropped == std::vector<SessionId>{alice, c1.session, c2.session, q1.session});
  CHECK(out.take().empty());  // nothing sent, nothing closed by the desk
  const auto& demo = stats("demo");
  CHECK(demo.queue_length == 0);
  CHECK(demo.conversations_active == 0);
  CHECK(demo.agents_available + demo.agents_away == 0);
  CHECK(desk.view("demo").conversations.empty());
  CHECK(engine.customers_waiting("demo") == 0);
  const auto& tea = stats("tea");
  CHECK(tea.conversations_active == tea_before.conversations_active);
  CHECK(tea.agents_available == 1);
  // The dropped shop's changes are gone; tea's flow on.
  desk.take_changes(store);
  // Frames for a dropped session go nowhere; its disconnect is ignored.
  desk.customer_frame(c1.session, customer_message("还在吗", "m5"));
  desk.customer_disconnected(c2.session);
  desk.agent_disconnected(alice);
  CHECK(out.take().empty());
  // No deadline of demo fires on this node any more; tea's still do.
  const auto violations_before = sla.violations.size();
  advance_to(120s);
  for (std::size_t i = violations_before; i < sla.violations.size(); ++i)
    CHECK(sla.violations[i].shop == "tea");
  CHECK(std::any_of(sla.violations.begin() + static_cast<std::ptrdiff_t>(violations_before),
                    sla.violations.end(), [](const auto& v) { return v.shop == "tea"; }));
  (void)tom;

  // Taken back (or by the next node): demo's open conversations, as stored, come back.
  RecoveredDesk demo_only = store.recovered(t0 + 1s);
  std::erase_if(demo_only.conversations,
                [](const RecoveredConversation& r) { return r.state.shop != "demo"; });
  std::erase_if(demo_only.agents, [](const auto& a) { return a.shop != "demo"; });
  CHECK(desk.restore(demo_only, clock.now()) == 3);
  CHECK(stats("demo").conversations_active == 3);
  CHECK(stats("demo").queue_length == 1);
  desk.customer_connected(500, "demo", c1.id, c1.resume);
  const auto sent = out.take();
  const Sent* welcome = find(sent, 500, "welcome");
  REQUIRE(welcome);
  CHECK(welcome->str("conversation") == c1.conversation);
  CHECK(history_ids(*welcome) ==
        Strings{c1.conversation + ":1", c1.conversation + ":2", c1.conversation + ":3"});
  // c1's reply wait (from t0 + 1 s) breached at t0 + 21 s while nobody held demo: once, now.
  desk.advance(clock.now());
  std::vector<monitor::Violation> waits;
  for (const auto& v : sla.violations)
    if (v.rule == Rule::reply_wait && v.conversation == c1.conversation) waits.push_back(v);
  REQUIRE(waits.size() == 1);
  CHECK(waits[0].ts == t0 + 21s);
}

TEST_CASE_METHOD(StoredDeskFixture,
                 "an agent whose node died keeps its conversations for storage.agent_grace, "
                 "and gets them back on reconnecting anywhere",
                 "[desk][storage][scale]") {
  SessionId alice = agent("alice");
  SessionId bob = agent("bob");
  auto c1 = customer("c1");  // alice (both idle: the smaller id)
  auto c2 = customer("c2");  // bob
  say(c1, "你好");
  out.take();
  at(1s);
  desk.agent_connection_lost(alice);
  for (const auto& f : out.take()) {  // nothing requeued: at most the roster changes
    INFO(f.raw);
    CHECK(f.type() == "desk");
  }
  CHECK(stats("demo").queue_length == 0);
  // A disconnect of the lost session later is ignored.
  desk.agent_disconnected(alice);
  CHECK(stats("demo").queue_length == 0);

  SECTION("back within the grace, through another node: the conversation comes back") {
    advance_to(1s + 60s - 1ms);
    SessionId again = connect_agent("alice");
    bool assigned = false;
    for (const auto& f : out.take())
      assigned = assigned || (f.session == again && f.type() == "assigned" &&
                              f.str("conversation") == c1.conversation);
    CHECK(assigned);
    advance_to(200s);
    CHECK(stats("demo").queue_length == 0);
  }
  SECTION("not back: at the end of the grace the conversation goes to the next agent") {
    const auto to_bob = [&] {
      for (const auto& f : out.take())
        if (f.session == bob && f.type() == "assigned" && f.str("conversation") == c1.conversation)
          return true;
      return false;
    };
    advance_to(1s + 60s - 1ms);
    CHECK_FALSE(to_bob());
    advance_to(1s + 60s);
    CHECK(to_bob());  // bob has room: 1 of 2 (c2)
    (void)c2;
  }
}

}  // namespace chatdesk::gateway::testing
