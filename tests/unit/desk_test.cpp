// Tests of the desk (gateway/core/desk.cpp): routing of customers to agents, relaying, transfers,
// handovers, disconnects and resumes, the roster, and what the desk reports to the SLA engine.
// Driven with a ManualClock, a counter as the random source, a real SlaEngine with a recording
// sink, and a recording output: every test asserts exactly which frames went to whom, in order.

#include <algorithm>
#include <string>

#include "desk_fixture.hpp"

namespace chatdesk::gateway::testing {

// --- connecting -----------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "a customer gets a welcome and waits in the queue", "[desk]") {
  CHECK(desk.has_shop("demo"));
  CHECK(desk.has_shop("tea"));
  CHECK_FALSE(desk.has_shop("nope"));

  auto c1 = connect_customer("c1");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 welcome"});
  const auto& w = sent[0];
  // Ids come from the random source: conversation, customer, then two halves of the secret.
  CHECK(w.str("conversation") == "c-" + hex16(1));
  CHECK(w.str("customer") == "u-" + hex16(2));
  // The two halves of the secret: their order is the compiler's (operands of one `+`).
  CHECK((w.str("resume") == hex16(3) + hex16(4) || w.str("resume") == hex16(4) + hex16(3)));
  CHECK(w.str("shop") == "demo");
  CHECK(w.str("shop_name") == "Demo shop");
  CHECK(w.str("state") == "queued");
  CHECK(flag(w, "desk_open"));
  CHECK(array(w, "history").empty());
  CHECK_FALSE(w.frame.contains("agent"));
  CHECK(out.closes.empty());

  const auto& s = stats("demo");
  CHECK(s.queue_length == 1);
  CHECK(s.conversations_active == 1);
  CHECK(s.agents_available == 0);
  CHECK(s.agents_away == 0);
  CHECK(stats("tea").queue_length == 0);
  CHECK(c1.conversation == "c-" + hex16(1));
}

TEST_CASE_METHOD(DeskFixture, "a customer keeps a valid unused customer id, not an invalid one",
                 "[desk]") {
  auto kept = connect_customer("c1", "demo", "shopper-42");
  CHECK(kept.id == "shopper-42");
  auto invalid = connect_customer("c2", "demo", "bad id!");
  CHECK(invalid.id.rfind("u-", 0) == 0);
  // The same id in another shop is another customer.
  auto other_shop = connect_customer("t1", "tea", "shopper-42");
  CHECK(other_shop.id == "shopper-42");
}

TEST_CASE_METHOD(DeskFixture, "connections to an unknown shop and unknown sessions are ignored",
                 "[desk]") {
  desk.customer_connected(50, "nope", "", "");
  desk.agent_connected(51, "nope", "alice");
  desk.customer_frame(50, customer_message("hi"));
  desk.agent_frame(51, status("available"));
  desk.customer_frame(99, customer_message("hi"));
  desk.agent_frame(99, status("available"));
  desk.customer_disconnected(99);
  desk.agent_disconnected(99);
  CHECK(out.sent.empty());
  CHECK(out.closes.empty());
  for (const auto& s : desk.stats()) {
    CHECK(s.queue_length == 0);
    CHECK(s.conversations_active == 0);
    CHECK(s.agents_available + s.agents_away == 0);
  }
}

TEST_CASE_METHOD(DeskFixture, "an agent starts away, gets the roster, and pulls when available",
                 "[desk]") {
  auto c1 = customer("c1");
  SessionId alice = connect_agent("alice");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice welcome", "alice desk"});
  CHECK(sent[0].str("agent") == "alice");
  CHECK(sent[0].str("shop") == "demo");
  CHECK(sent[0].str("shop_name") == "Demo shop");
  CHECK(sent[0].str("state") == "away");
  CHECK(num(sent[0], "max_concurrent") == 2);
  CHECK(num(sent[1], "queue") == 1);
  CHECK(roster(sent[1]) == Strings{"alice:away:0"});
  CHECK(stats("demo").agents_away == 1);

  at(5ms);
  desk.agent_frame(alice, status("available"));
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice assigned", "c1 assigned"});
  CHECK(sent[0].str("state") == "available");
  const auto& a = sent[1];
  CHECK(a.str("conversation") == c1.conversation);
  CHECK(a.str("customer") == c1.id);
  CHECK(a.str("note") == "");
  CHECK(num(a, "ts") == to_epoch_ms(t0 + 5ms));
  CHECK(a.at("waiting_since").is_null());
  CHECK_FALSE(flag(a, "greeted"));
  CHECK(flag(a, "customer_online"));
  CHECK(array(a, "history").empty());
  CHECK(sent[2].str("conversation") == c1.conversation);
  CHECK(sent[2].str("agent") == "alice");

  const auto& s = stats("demo");
  CHECK(s.queue_length == 0);
  CHECK(s.conversations_active == 1);
  CHECK(s.agents_available == 1);
  CHECK(s.agents_away == 0);
}

TEST_CASE_METHOD(DeskFixture, "an agent's status is confirmed even when it does not change",
                 "[desk]") {
  SessionId alice = connect_agent("alice");
  out.take();
  desk.agent_frame(alice, status("away"));
  CHECK(summary(out.take()) == Strings{"alice status"});
  desk.agent_frame(alice, status("available"));
  desk.agent_frame(alice, status("available"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice status"});
  CHECK(sent[1].str("state") == "available");
  CHECK(sla.violations.empty());
}

TEST_CASE_METHOD(DeskFixture, "the first agent of a fresh desk gets the roster once", "[desk]") {
  connect_agent("alice");
  auto sent = out.take();
  CHECK(summary(sent) == Strings{"alice welcome", "alice desk"});

  // Later, with the roster due: the newcomer still gets exactly one, the others theirs.
  at(5s);
  connect_agent("bob");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"bob welcome", "alice desk", "bob desk"});
  CHECK(roster(sent[1]) == Strings{"alice:away:0", "bob:away:0"});
  CHECK(sent[1].raw == sent[2].raw);
}

// --- routing --------------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "messages written while queued reach the agent in history",
                 "[desk]") {
  auto c1 = customer("c1");
  say(c1, "在吗？", "m1");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack"});
  CHECK(sent[0].str("client_msg_id") == "m1");
  CHECK(sent[0].str("id") == c1.conversation + ":1");
  CHECK(num(sent[0], "ts") == to_epoch_ms(t0));

  at(400ms);
  say(c1, "我想退货", "m2");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack"});
  CHECK(sent[0].str("id") == c1.conversation + ":2");

  at(600ms);
  SessionId alice = connect_agent("alice");
  out.take();
  desk.agent_frame(alice, status("available"));
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice assigned", "c1 assigned"});
  const auto& a = sent[1];
  CHECK(history_ids(a) == Strings{c1.conversation + ":1", c1.conversation + ":2"});
  const auto& h = array(a, "history");
  CHECK(str(h[0], "conversation") == c1.conversation);
  CHECK(str(h[0], "from") == "customer");
  CHECK(str(h[0], "agent") == "");  // nobody owned it yet
  CHECK(str(h[0], "text") == "在吗？");
  CHECK(num(h[0], "ts") == to_epoch_ms(t0));
  CHECK(str(h[1], "text") == "我想退货");
  CHECK(num(h[1], "ts") == to_epoch_ms(t0 + 400ms));
  CHECK_FALSE(h[0].as_object().contains("type"));
  // The earliest unanswered message starts the wait.
  CHECK(num(a, "waiting_since") == to_epoch_ms(t0));
  CHECK_FALSE(flag(a, "greeted"));
}

TEST_CASE_METHOD(DeskFixture, "messages and typing are relayed both ways with acks", "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");

  say(c1, "你好", "m1");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack", "alice message"});
  CHECK(sent[0].str("client_msg_id") == "m1");
  CHECK(sent[0].str("id") == c1.conversation + ":1");
  const auto& m = sent[1];
  CHECK(m.str("conversation") == c1.conversation);
  CHECK(m.str("id") == c1.conversation + ":1");
  CHECK(m.str("from") == "customer");
  CHECK(m.str("agent") == "alice");
  CHECK(m.str("text") == "你好");
  CHECK(num(m, "ts") == to_epoch_ms(t0));

  at(300ms);
  reply(alice, c1, "您好，请问有什么可以帮您？", "a1");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice ack", "c1 message"});
  CHECK(sent[0].str("client_msg_id") == "a1");
  CHECK(sent[0].str("id") == c1.conversation + ":2");
  CHECK(num(sent[0], "ts") == to_epoch_ms(t0 + 300ms));
  CHECK(sent[1].str("id") == c1.conversation + ":2");
  CHECK(sent[1].str("from") == "agent");
  CHECK(sent[1].str("agent") == "alice");
  CHECK(sent[1].str("text") == "您好，请问有什么可以帮您？");

  desk.customer_frame(c1.session, kCustomerTyping);
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice typing"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[0].str("from") == "customer");
  CHECK_FALSE(sent[0].frame.contains("state"));

  desk.agent_frame(alice, agent_typing(c1.conversation, "start"));
  desk.agent_frame(alice, agent_typing(c1.conversation, "stop"));
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 typing", "c1 typing"});
  CHECK(sent[0].str("from") == "agent");
  CHECK(sent[0].str("state") == "start");
  CHECK(sent[1].str("state") == "stop");

  // Without client_msg_id the ack still comes, with an empty one; the sequence goes on.
  say(c1, "谢谢");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack", "alice message"});
  CHECK(sent[0].str("client_msg_id") == "");
  CHECK(sent[0].str("id") == c1.conversation + ":3");

  const auto& s = stats("demo");
  CHECK(s.messages_from_customers == 2);
  CHECK(s.messages_from_agents == 1);
  CHECK(sla.greetings.size() == 1);
}

TEST_CASE_METHOD(DeskFixture, "customer typing while queued goes nowhere", "[desk]") {
  auto c1 = customer("c1");
  desk.customer_frame(c1.session, kCustomerTyping);
  CHECK(out.sent.empty());
}

TEST_CASE_METHOD(DeskFixture, "each conversation counts its own sequence", "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  say(c1, "a");
  say(c2, "b");
  reply(alice, c2, "c");
  say(c1, "d");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack", "alice message", "c2 ack", "alice message",
                                   "alice ack", "c2 message", "c1 ack", "alice message"});
  CHECK(sent[0].str("id") == c1.conversation + ":1");
  CHECK(sent[2].str("id") == c2.conversation + ":1");
  CHECK(sent[4].str("id") == c2.conversation + ":2");
  CHECK(sent[6].str("id") == c1.conversation + ":2");
  CHECK(c1.conversation != c2.conversation);
}

TEST_CASE_METHOD(DeskFixture, "assignment: fewest open first, ties to the agent idle longest",
                 "[desk]") {
  SessionId alice = agent("alice");  // idle since t0
  at(10ms);
  SessionId bob = agent("bob");  // idle since t0 + 10 ms
  (void)alice;
  (void)bob;

  auto owner_of_next = [&](std::string label) {
    connect_customer(label);
    auto sent = out.take();
    for (const auto& f : sent)
      if (f.type() == "assigned" && f.to == label) return f.str("agent");
    return std::string("queued");
  };
  at(20ms);
  CHECK(owner_of_next("c1") == "alice");  // both 0 open; alice idle longer
  at(30ms);
  CHECK(owner_of_next("c2") == "bob");  // bob has fewer
  at(40ms);
  CHECK(owner_of_next("c3") == "alice");  // 1 each; alice's last assignment is older
  at(50ms);
  CHECK(owner_of_next("c4") == "bob");
  at(60ms);
  CHECK(owner_of_next("c5") == "queued");  // both at max_concurrent (2)
  const auto& s = stats("demo");
  CHECK(s.queue_length == 1);
  CHECK(s.conversations_active == 5);
}

TEST_CASE_METHOD(DeskFixture, "equally idle agents: the smaller id wins, whatever the order",
                 "[desk]") {
  SessionId bob = connect_agent("bob");
  SessionId alice = connect_agent("alice");
  desk.agent_frame(bob, status("available"));
  desk.agent_frame(alice, status("available"));
  out.take();
  connect_customer("c1");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 welcome", "alice assigned", "c1 assigned"});
}

TEST_CASE_METHOD(DeskFixture, "the assigned frame of a customer connecting", "[desk]") {
  agent("alice");
  auto c1 = connect_customer("c1");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 welcome", "alice assigned", "c1 assigned"});
  // The welcome is written before routing: the customer learns the agent from "assigned".
  CHECK(sent[0].str("state") == "queued");
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[2].str("agent") == "alice");
  CHECK(stats("demo").queue_length == 0);
}

TEST_CASE_METHOD(DeskFixture, "capacity: the queue is FIFO and a closed slot pulls the next",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  auto c3 = customer("c3");
  auto c4 = customer("c4");
  CHECK(stats("demo").queue_length == 2);

  desk.agent_frame(alice, close_frame(c1.conversation));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice closed", "c1 closed", "alice assigned", "c3 assigned"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[0].str("by") == "agent");
  CHECK(sent[1].str("by") == "agent");
  CHECK(sent[2].str("conversation") == c3.conversation);
  CHECK(stats("demo").queue_length == 1);

  // The closed conversation refuses more messages, echoing the client's id.
  say(c1, "还在吗", "m9");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 error"});
  check_error(sent[0], "conversation_closed", "m9");
  desk.customer_frame(c1.session, kCustomerTyping);
  desk.customer_frame(c1.session, kCustomerClose);
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 error", "c1 error"});
  check_error(sent[0], "conversation_closed");

  // The customer closing frees a slot as well.
  desk.customer_frame(c2.session, kCustomerClose);
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice closed", "c2 closed", "alice assigned", "c4 assigned"});
  CHECK(sent[0].str("by") == "customer");
  CHECK(sent[1].str("by") == "customer");
  CHECK(sent[2].str("conversation") == c4.conversation);

  const auto& s = stats("demo");
  CHECK(s.queue_length == 0);
  CHECK(s.conversations_active == 2);
  CHECK(sla.count(Outcome::missed) == 2);
}

TEST_CASE_METHOD(DeskFixture, "a queued customer closing leaves the queue", "[desk]") {
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  desk.customer_frame(c1.session, kCustomerClose);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 closed"});
  CHECK(sent[0].str("by") == "customer");
  CHECK(stats("demo").queue_length == 1);
  CHECK(stats("demo").conversations_active == 1);
  SessionId alice = connect_agent("alice");
  out.take();
  desk.agent_frame(alice, status("available"));
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice assigned", "c2 assigned"});
  CHECK(sent[1].str("conversation") == c2.conversation);
}

TEST_CASE_METHOD(DeskFixture, "an agent becoming available pulls in arrival order", "[desk]") {
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  auto c3 = customer("c3");
  SessionId alice = connect_agent("alice");
  out.take();
  desk.agent_frame(alice, status("available"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice assigned", "c1 assigned",
                                   "alice assigned", "c2 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[3].str("conversation") == c2.conversation);
  CHECK(stats("demo").queue_length == 1);
  (void)c3;
}

TEST_CASE_METHOD(DeskFixture, "each shop has its own queue and agents", "[desk]") {
  auto d1 = customer("d1", "demo");
  auto t1 = customer("t1", "tea");
  auto t2 = customer("t2", "tea");
  SessionId tina = connect_agent("tina", "tea");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"tina welcome", "tina desk"});
  CHECK(num(sent[1], "queue") == 2);
  desk.agent_frame(tina, status("available"));
  sent = out.take();
  // tea allows one conversation per agent.
  REQUIRE(summary(sent) == Strings{"tina status", "tina assigned", "t1 assigned"});
  CHECK(sent[1].str("conversation") == t1.conversation);
  CHECK(stats("tea").queue_length == 1);
  CHECK(stats("demo").queue_length == 1);

  agent("alice", "demo");
  CHECK(stats("demo").queue_length == 0);
  CHECK(stats("tea").queue_length == 1);
  (void)d1;
  (void)t2;
}

// --- ownership ------------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "not_owner for another agent's, another shop's or no conversation",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");  // alice's
  SessionId bob = agent("bob");
  auto c2 = customer("c2");  // bob's (fewer open)
  SessionId tina = agent("tina", "tea");
  auto t1 = customer("t1", "tea");  // tina's
  auto t2 = customer("t2", "tea");  // queued
  // "alice" is also an agent id in the tea shop: a different agent.
  SessionId tea_alice = connect_agent("alice", "tea", "tea/alice");
  out.take();
  auto sla_before = sla.violations.size();
  auto outcomes_before = sla.outcomes.size();
  (void)tina;

  const std::string unknown = "c-ffffffffffffffff";
  struct Case {
    SessionId who;
    std::string frame;
    std::string client_msg_id;
  };
  std::vector<Case> cases{
      {alice, agent_message(c2.conversation, "hi", "a1"), "a1"},
      {alice, agent_typing(c2.conversation, "start"), ""},
      {alice, transfer(c2.conversation, "bob"), ""},
      {alice, transfer(c2.conversation, std::nullopt), ""},
      {alice, close_frame(c2.conversation), ""},
      {alice, agent_message(t1.conversation, "hi", "a2"), "a2"},
      {alice, close_frame(t1.conversation), ""},
      {alice, agent_message(unknown, "hi", "a3"), "a3"},
      {alice, close_frame(unknown), ""},
      {alice, agent_message(t2.conversation, "hi"), ""},
      {tea_alice, agent_message(c1.conversation, "hi", "a4"), "a4"},
      {tea_alice, close_frame(c1.conversation), ""},
      {tea_alice, transfer(t2.conversation, "tina"), ""},
      {bob, agent_message(c1.conversation, "hi"), ""},
  };
  std::string message;
  for (const auto& c : cases) {
    INFO("frame: " << c.frame << " from " << out.label(c.who));
    desk.agent_frame(c.who, c.frame);
    auto sent = out.take();
    REQUIRE(summary(sent) == Strings{out.label(c.who) + " error"});
    check_error(sent[0], "not_owner", c.client_msg_id);
    // The same answer whether the conversation exists or not, so ids cannot be probed.
    if (message.empty()) message = sent[0].str("message");
    CHECK(sent[0].str("message") == message);
  }
  CHECK(out.closes.empty());
  CHECK(sla.violations.size() == sla_before);
  CHECK(sla.outcomes.size() == outcomes_before);

  // Nothing changed: the owners are the same and the sequences did not move.
  say(c2, "还在吗");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c2 ack", "bob message"});
  CHECK(sent[0].str("id") == c2.conversation + ":1");
  say(c1, "在吗");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack", "alice message"});
  CHECK(sent[0].str("id") == c1.conversation + ":1");
  CHECK(stats("tea").queue_length == 1);
  CHECK(stats("demo").conversations_active == 2);
}

TEST_CASE_METHOD(DeskFixture, "a bad frame gets an error and changes nothing", "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");

  desk.agent_frame(alice, "not json");
  desk.agent_frame(alice, R"({"type":"dance"})");
  desk.agent_frame(alice, R"({"type":"status","state":"busy"})");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice error", "alice error", "alice error"});
  check_error(sent[0], "bad_request");
  check_error(sent[1], "unknown_type");
  check_error(sent[2], "bad_request");

  // limits.max_text_chars is 50 in this config.
  say(c1, std::string(51, 'x'), "m1");
  say(c1, "", "m2");
  desk.customer_frame(c1.session, R"({"type":"status","state":"away"})");
  reply(alice, c1, std::string(51, 'y'), "a1");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 error", "c1 error", "c1 error", "alice error"});
  check_error(sent[0], "too_large", "m1");
  check_error(sent[1], "too_large", "m2");
  check_error(sent[2], "unknown_type");
  check_error(sent[3], "too_large", "a1");

  say(c1, std::string(50, 'x'), "m3");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack", "alice message"});
  CHECK(sent[0].str("id") == c1.conversation + ":1");
  CHECK(stats("demo").messages_from_customers == 1);
  CHECK(stats("demo").messages_from_agents == 0);
  CHECK(stats("demo").agents_available == 1);
}

// --- transfers ------------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "transfer to an agent: the note travels, the sender lets go",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  say(c1, "我要退货", "m1");
  SessionId bob = agent("bob");
  out.take();

  at(200ms);
  desk.agent_frame(alice, transfer(c1.conversation, "bob", "VIP 客户，订单 42"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice unassigned", "bob assigned", "c1 assigned"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[0].str("reason") == "transferred");
  const auto& a = sent[1];
  CHECK(a.str("conversation") == c1.conversation);
  CHECK(a.str("customer") == c1.id);
  CHECK(a.str("note") == "VIP 客户，订单 42");
  CHECK(history_ids(a) == Strings{c1.conversation + ":1"});
  CHECK(num(a, "waiting_since") == to_epoch_ms(t0));
  CHECK(num(a, "ts") == to_epoch_ms(t0 + 200ms));
  CHECK_FALSE(flag(a, "greeted"));
  CHECK(sent[2].str("agent") == "bob");
  CHECK(sla.count(Outcome::transferred) == 1);

  // Now bob's, not alice's.
  reply(alice, c1, "hi", "a1");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice error"});
  check_error(sent[0], "not_owner", "a1");
  reply(bob, c1, "您好");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"bob ack", "c1 message"});
  CHECK(sent[1].str("agent") == "bob");
  say(c1, "好的");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack", "bob message"});
}

TEST_CASE_METHOD(DeskFixture, "a transfer may exceed the target's capacity, the sender pulls",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");  // alice
  agent("bob");
  auto c2 = customer("c2");  // bob
  auto c3 = customer("c3");  // alice
  auto c4 = customer("c4");  // bob
  auto c5 = customer("c5");  // queued
  CHECK(stats("demo").queue_length == 1);

  desk.agent_frame(alice, transfer(c1.conversation, "bob"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice unassigned", "bob assigned", "c1 assigned",
                                   "alice assigned", "c5 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[1].str("note") == "");
  CHECK(sent[3].str("conversation") == c5.conversation);
  CHECK(stats("demo").queue_length == 0);
  (void)c2;
  (void)c3;
  (void)c4;
}

TEST_CASE_METHOD(DeskFixture, "transfer to null: another available agent is preferred", "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  auto c3 = customer("c3");  // queued
  agent("bob");              // pulls c3
  CHECK(stats("demo").queue_length == 0);

  desk.agent_frame(alice, transfer(c1.conversation, std::nullopt, "请换个同事"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice unassigned", "bob assigned", "c1 assigned"});
  CHECK(sent[0].str("reason") == "transferred");
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[1].str("note") == "请换个同事");
  CHECK(sla.count(Outcome::requeued) == 1);
  (void)c2;
  (void)c3;
}

TEST_CASE_METHOD(DeskFixture, "transfer to null goes to the front of the queue", "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  auto c3 = customer("c3");  // queued

  desk.agent_frame(alice, transfer(c1.conversation, std::nullopt, "n"));
  auto sent = out.take();
  // Nobody else is available, and the sender is not given it back at once.
  REQUIRE(summary(sent) == Strings{"alice unassigned"});
  CHECK(stats("demo").queue_length == 2);

  SessionId bob = connect_agent("bob");
  out.take();
  desk.agent_frame(bob, status("available"));
  sent = out.take();
  // c1 first. Then alice and bob have one each, equally idle (both since t0): alice's turn by id.
  REQUIRE(summary(sent) ==
          Strings{"bob status", "bob assigned", "c1 assigned", "alice assigned", "c3 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[1].str("note") == "n");
  CHECK(sent[3].str("conversation") == c3.conversation);
  (void)c2;
}

TEST_CASE_METHOD(DeskFixture,
                 "transfer to null with nobody else: the sender gets it on a later "
                 "pull",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  desk.agent_frame(alice, transfer(c1.conversation, std::nullopt));
  CHECK(summary(out.take()) == Strings{"alice unassigned"});
  CHECK(stats("demo").queue_length == 1);
  desk.agent_frame(alice, status("available"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice assigned", "c1 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
}

TEST_CASE_METHOD(DeskFixture, "transfer and handover targets must be available agents of the shop",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  say(c1, "hi");
  connect_agent("bob");  // away
  agent("tina", "tea");
  agent("carol");
  SessionId carol_session = 0;
  for (const auto& [s, label] : out.labels)
    if (label == "carol") carol_session = s;
  desk.agent_disconnected(carol_session);
  out.take();
  auto outcomes_before = sla.outcomes.size();

  for (std::string target : {"alice", "nobody", "bob", "tina", "carol"}) {
    INFO("target: " << target);
    desk.agent_frame(alice, transfer(c1.conversation, target, "note"));
    auto sent = out.take();
    REQUIRE(summary(sent) == Strings{"alice error"});
    check_error(sent[0], "target_unavailable");
    desk.agent_frame(alice, handover(target, "note"));
    sent = out.take();
    REQUIRE(summary(sent) == Strings{"alice error"});
    check_error(sent[0], "target_unavailable");
  }
  CHECK(sla.outcomes.size() == outcomes_before);
  CHECK(out.closes.empty());

  // Still alice's, with no note set by the failed attempts: requeued, it arrives without one.
  reply(alice, c1, "您好");
  CHECK(summary(out.take()) == Strings{"alice ack", "c1 message"});
  agent("dave");
  desk.agent_frame(alice, status("away"));
  auto sent = out.take();
  REQUIRE(summary(sent) ==
          Strings{"alice unassigned", "alice status", "dave assigned", "c1 assigned"});
  CHECK(sent[2].str("conversation") == c1.conversation);
  CHECK(sent[2].str("note") == "");
}

// --- handover -------------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "handover to an agent moves every open conversation with the note",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  say(c1, "在吗");
  reply(alice, c1, "您好");
  SessionId bob = agent("bob");
  out.take();

  at(100ms);
  desk.agent_frame(alice, handover("bob", "交班：c1 要退款"));
  auto sent = out.take();
  // The handover signs alice off: she is away at once, owning nothing.
  REQUIRE(summary(sent) == Strings{"alice unassigned", "bob assigned", "c1 assigned",
                                   "alice unassigned", "bob assigned", "c2 assigned",
                                   "alice status"});
  CHECK(sent[6].str("state") == "away");
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[0].str("reason") == "handover");
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[1].str("note") == "交班：c1 要退款");
  CHECK(history_ids(sent[1]) == Strings{c1.conversation + ":1", c1.conversation + ":2"});
  CHECK(flag(sent[1], "greeted"));
  CHECK(sent[1].at("waiting_since").is_null());
  CHECK(sent[2].str("agent") == "bob");
  CHECK(sent[3].str("conversation") == c2.conversation);
  CHECK(sent[3].str("reason") == "handover");
  CHECK(sent[4].str("conversation") == c2.conversation);
  CHECK(sent[4].str("note") == "交班：c1 要退款");
  CHECK(sla.count(Outcome::handed_over) == 2);

  reply(bob, c2, "您好");
  CHECK(summary(out.take()) == Strings{"bob ack", "c2 message"});
  reply(alice, c2, "hi");
  CHECK(summary(out.take()) == Strings{"alice error"});
  // The handover was announced: going away (again) afterwards is no breach.
  desk.agent_frame(alice, status("away"));
  CHECK(summary(out.take()) == Strings{"alice status"});
  CHECK(sla.of(Rule::handover).empty());
}

TEST_CASE_METHOD(DeskFixture, "handover with nothing open only signs the sender off", "[desk]") {
  SessionId alice = agent("alice");
  SessionId bob = agent("bob");
  desk.agent_frame(alice, handover("bob", "n"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status"});
  CHECK(sent[0].str("state") == "away");
  desk.agent_frame(alice, handover(std::nullopt, "n"));
  CHECK(summary(out.take()) == Strings{"alice status"});
  CHECK(stats("demo").agents_away == 1);
  CHECK(sla.of(Rule::handover).empty());
  (void)bob;
}

TEST_CASE_METHOD(DeskFixture, "handover to null: all back to the front of the queue", "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  auto c3 = customer("c3");  // queued

  desk.agent_frame(alice, handover(std::nullopt, "下班了"));
  auto sent = out.take();
  // Taken back newest first, so that the oldest ends up first in line.
  REQUIRE(summary(sent) == Strings{"alice unassigned", "alice unassigned", "alice status"});
  CHECK(sent[0].str("conversation") == c2.conversation);
  CHECK(sent[0].str("reason") == "handover");
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(stats("demo").queue_length == 3);

  // The shift change ends with going away: nothing open, so no handover breach.
  desk.agent_frame(alice, status("away"));
  CHECK(summary(out.take()) == Strings{"alice status"});
  CHECK(sla.of(Rule::handover).empty());

  SessionId bob = connect_agent("bob");
  out.take();
  desk.agent_frame(bob, status("available"));
  sent = out.take();
  REQUIRE(summary(sent) ==
          Strings{"bob status", "bob assigned", "c1 assigned", "bob assigned", "c2 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[1].str("note") == "下班了");
  CHECK(sent[3].str("conversation") == c2.conversation);
  CHECK(sent[3].str("note") == "下班了");
  CHECK(stats("demo").queue_length == 1);
  (void)c3;
}

TEST_CASE_METHOD(DeskFixture,
                 "after a handover to null the sender is away, so the next agent gets them",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  desk.agent_frame(alice, handover(std::nullopt));
  CHECK(summary(out.take()) == Strings{"alice unassigned", "alice status"});
  // alice (idle since t0) would win a tie with bob (available at 10 ms), but she is away now.
  at(10ms);
  SessionId bob = connect_agent("bob");
  out.take();
  desk.agent_frame(bob, status("available"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"bob status", "bob assigned", "c1 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sla.of(Rule::handover).empty());
}

// --- agents leaving -------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "going away with open conversations requeues them: handover breach",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  auto c3 = customer("c3");  // queued

  at(300ms);
  desk.agent_frame(alice, status("away"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice unassigned", "alice unassigned", "alice status"});
  CHECK(sent[0].str("conversation") == c2.conversation);
  CHECK(sent[0].str("reason") == "requeued");
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[1].str("reason") == "requeued");
  CHECK(sent[2].str("state") == "away");

  auto breaches = sla.of(Rule::handover);
  REQUIRE(breaches.size() == 1);
  CHECK(breaches[0].severity == Severity::breach);
  CHECK(breaches[0].shop == "demo");
  CHECK(breaches[0].agent == "alice");
  CHECK(breaches[0].conversation == "");
  CHECK(breaches[0].detail == "2");
  CHECK(breaches[0].ts == t0 + 300ms);
  CHECK(sla.count(Outcome::requeued) == 2);

  const auto& s = stats("demo");
  CHECK(s.queue_length == 3);
  CHECK(s.agents_available == 0);
  CHECK(s.agents_away == 1);

  SessionId bob = connect_agent("bob");
  out.take();
  desk.agent_frame(bob, status("available"));
  sent = out.take();
  REQUIRE(summary(sent) ==
          Strings{"bob status", "bob assigned", "c1 assigned", "bob assigned", "c2 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(sent[3].str("conversation") == c2.conversation);
  (void)c3;
}

TEST_CASE_METHOD(DeskFixture, "going away hands the conversations to another available agent",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  agent("bob");
  desk.agent_frame(alice, status("away"));
  auto sent = out.take();
  REQUIRE(summary(sent) ==
          Strings{"alice unassigned", "alice status", "bob assigned", "c1 assigned"});
  CHECK(sent[2].str("conversation") == c1.conversation);
  CHECK(sent[3].str("agent") == "bob");
}

TEST_CASE_METHOD(DeskFixture, "an agent disconnecting: conversations requeued with their history",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  say(c1, "hi");
  reply(alice, c1, "您好");
  auto c2 = customer("c2");
  auto c3 = customer("c3");  // queued
  out.take();

  at(500ms);
  desk.agent_disconnected(alice);
  CHECK(out.take().empty());  // the customers are not told; they wait for the next agent
  auto breaches = sla.of(Rule::handover);
  REQUIRE(breaches.size() == 1);
  CHECK(breaches[0].agent == "alice");
  CHECK(breaches[0].detail == "2");
  const auto& s = stats("demo");
  CHECK(s.queue_length == 3);
  CHECK(s.agents_available + s.agents_away == 0);

  // Late frames of the dead session are ignored.
  desk.agent_frame(alice, agent_message(c1.conversation, "hi"));
  desk.agent_disconnected(alice);
  CHECK(out.take().empty());

  SessionId bob = connect_agent("bob");
  out.take();
  desk.agent_frame(bob, status("available"));
  auto sent = out.take();
  REQUIRE(summary(sent) ==
          Strings{"bob status", "bob assigned", "c1 assigned", "bob assigned", "c2 assigned"});
  CHECK(sent[1].str("conversation") == c1.conversation);
  CHECK(history_ids(sent[1]) == Strings{c1.conversation + ":1", c1.conversation + ":2"});
  CHECK(flag(sent[1], "greeted"));
  CHECK(sent[3].str("conversation") == c2.conversation);
  (void)c3;
}

TEST_CASE_METHOD(DeskFixture, "an agent disconnecting: an available colleague takes over at once",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  agent("bob");
  desk.agent_disconnected(alice);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"bob assigned", "c1 assigned"});
  CHECK(sent[0].str("conversation") == c1.conversation);
}

TEST_CASE_METHOD(DeskFixture, "the same agent id connecting again replaces the old connection",
                 "[desk]") {
  SessionId old_session = agent("alice");
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  say(c1, "在吗");
  out.take();

  at(100ms);
  SessionId fresh = connect_agent("alice", "demo", "alice#2");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice error", "alice#2 welcome", "alice#2 assigned",
                                   "alice#2 assigned", "alice#2 desk"});
  check_error(sent[0], "replaced");
  auto closes = out.take_closes();
  REQUIRE(closes.size() == 1);
  CHECK(closes[0].session == old_session);
  CHECK(closes[0].reason == CloseReason::replaced);
  CHECK(closes[0].after_frames == out.total_sent - 4);  // right after its error frame
  // The new console takes over where the old one was: the welcome has the agent's state.
  CHECK(sent[1].str("state") == "available");
  CHECK(sent[2].str("conversation") == c1.conversation);
  CHECK(history_ids(sent[2]) == Strings{c1.conversation + ":1"});
  CHECK(num(sent[2], "waiting_since") == to_epoch_ms(t0));
  CHECK(sent[3].str("conversation") == c2.conversation);
  CHECK(roster(sent[4]) == Strings{"alice:available:2"});
  CHECK(sla.of(Rule::handover).empty());

  // The old connection's disconnect and frames are ignored; messages reach the new one.
  desk.agent_disconnected(old_session);
  desk.agent_frame(old_session, agent_message(c1.conversation, "x"));
  CHECK(out.take().empty());
  say(c1, "还在吗");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 ack", "alice#2 message"});
  reply(fresh, c1, "在的");
  CHECK(summary(out.take()) == Strings{"alice#2 ack", "c1 message"});
  CHECK(stats("demo").agents_available == 1);
}

// --- customers leaving and coming back ------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "a customer resuming within the grace keeps the conversation",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  say(c1, "在吗");
  reply(alice, c1, "在的");
  out.take();

  at(200ms);
  desk.customer_disconnected(c1.session);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice presence"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK_FALSE(flag(sent[0], "customer_online"));

  // Agent messages while the customer is away are kept.
  reply(alice, c1, "您还在吗？", "a2");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice ack"});
  CHECK(sent[0].str("id") == c1.conversation + ":3");

  at(200ms + 29'999ms);
  desk.advance(clock.now());
  out.take();
  auto back = connect_customer("c1'", "demo", c1.id, c1.resume);
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1' welcome", "alice presence"});
  const auto& w = sent[0];
  CHECK(w.str("conversation") == c1.conversation);
  CHECK(w.str("customer") == c1.id);
  CHECK(w.str("resume") == c1.resume);
  CHECK(w.str("state") == "assigned");
  CHECK(w.str("agent") == "alice");
  CHECK(flag(w, "desk_open"));
  CHECK(history_ids(w) ==
        Strings{c1.conversation + ":1", c1.conversation + ":2", c1.conversation + ":3"});
  CHECK(str(array(w, "history")[2], "text") == "您还在吗？");
  CHECK(flag(sent[1], "customer_online"));
  CHECK(back.conversation == c1.conversation);

  // The grace timer is gone: the conversation outlives the old deadline.
  advance_to(10min);
  sent = out.take();
  for (const auto& f : sent) CHECK(f.type() != "closed");
  say(back, "我回来了");
  CHECK(summary(out.take()) == Strings{"c1' ack", "alice message"});
  CHECK(stats("demo").conversations_active == 1);
}

TEST_CASE_METHOD(DeskFixture, "a wrong secret opens a new conversation for a new customer id",
                 "[desk]") {
  agent("alice");
  auto c1 = customer("c1");
  say(c1, "在吗");
  desk.customer_disconnected(c1.session);
  out.take();

  auto wrong = connect_customer("x1", "demo", c1.id, "0000000000000000ffffffffffffffff");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"x1 welcome", "alice assigned", "x1 assigned"});
  CHECK(wrong.conversation != c1.conversation);
  CHECK(wrong.id != c1.id);
  CHECK(wrong.resume != c1.resume);
  CHECK(array(sent[0], "history").empty());

  // The customer id alone is not enough either.
  auto bare = connect_customer("x2", "demo", c1.id, "");
  CHECK(bare.conversation != c1.conversation);
  CHECK(bare.id != c1.id);
  // Nor the right secret in another shop.
  auto elsewhere = connect_customer("x3", "tea", c1.id, c1.resume);
  CHECK(elsewhere.conversation != c1.conversation);
  out.take();

  // The real customer still can.
  auto back = connect_customer("c1'", "demo", c1.id, c1.resume);
  CHECK(back.conversation == c1.conversation);
  CHECK(stats("demo").conversations_active == 3);
}

TEST_CASE_METHOD(DeskFixture, "the same customer in a second window replaces the first", "[desk]") {
  agent("alice");
  auto c1 = customer("c1");
  auto second = connect_customer("c1'", "demo", c1.id, c1.resume);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"c1 error", "c1' welcome", "alice presence"});
  check_error(sent[0], "replaced");
  auto closes = out.take_closes();
  REQUIRE(closes.size() == 1);
  CHECK(closes[0].session == c1.session);
  CHECK(closes[0].reason == CloseReason::replaced);
  CHECK(second.conversation == c1.conversation);
  // The old window's disconnect does not mark the customer offline.
  desk.customer_disconnected(c1.session);
  CHECK(out.take().empty());
  say(second, "hi");
  CHECK(summary(out.take()) == Strings{"c1' ack", "alice message"});
}

TEST_CASE_METHOD(DeskFixture, "no return within the grace: closed by the customer, to the second",
                 "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  say(c1, "在吗");
  reply(alice, c1, "您好");
  out.take();

  at(1s);
  desk.customer_disconnected(c1.session);
  // The roster changes of the set-up (t0) are due by now and go with this event.
  CHECK(summary(out.take()) == Strings{"alice presence", "alice desk"});
  // The agent answered, so the engine has nothing pending: the grace end is the next deadline.
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 1s + 30s);

  advance_to(1s + 30s - 1ms);
  CHECK(out.take().empty());
  CHECK(stats("demo").conversations_active == 1);

  advance_to(1s + 30s);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice closed", "alice desk"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[0].str("by") == "customer");
  CHECK(roster(sent[1]) == Strings{"alice:available:0"});
  CHECK(stats("demo").conversations_active == 0);
  CHECK(sla.of(Rule::missed).empty());
  CHECK(sla.count(Outcome::served) == 1);
  CHECK_FALSE(desk.next_deadline());

  reply(alice, c1, "hi", "a9");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice error"});
  check_error(sent[0], "not_owner", "a9");
}

TEST_CASE_METHOD(DeskFixture, "a customer never answered who does not return is a missed chat",
                 "[desk]") {
  agent("alice");
  auto c1 = customer("c1");
  say(c1, "有人吗");
  out.take();
  desk.customer_disconnected(c1.session);
  CHECK(summary(out.take()) == Strings{"alice presence"});

  advance_to(30s - 1ms);
  CHECK(summary(out.take()) == Strings{"alice desk"});  // the set-up's roster, due since t0 + 1 s
  CHECK(stats("demo").conversations_active == 1);
  CHECK(sla.of(Rule::missed).empty());
  advance_to(30s);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice closed"});
  CHECK(sent[0].str("by") == "customer");
  auto missed = sla.of(Rule::missed);
  REQUIRE(missed.size() == 1);
  CHECK(missed[0].severity == Severity::breach);
  CHECK(missed[0].shop == "demo");
  CHECK(missed[0].agent == "alice");
  CHECK(missed[0].conversation == c1.conversation);
  CHECK(missed[0].elapsed == 30s);
  CHECK(missed[0].target == 30s);
  CHECK(missed[0].ts == t0 + 30s);
  CHECK(sla.count(Outcome::missed) == 1);
}

TEST_CASE_METHOD(DeskFixture, "a queued customer who left is assigned offline and dropped later",
                 "[desk]") {
  auto c1 = customer("c1");
  say(c1, "hi");
  desk.customer_disconnected(c1.session);
  CHECK(summary(out.take()) == Strings{"c1 ack"});  // and no presence: nobody to tell

  SessionId alice = connect_agent("alice");
  out.take();
  desk.agent_frame(alice, status("available"));
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice assigned"});  // no customer to tell
  CHECK_FALSE(flag(sent[1], "customer_online"));

  auto c2 = customer("c2");  // alice's second
  desk.customer_disconnected(c2.session);
  CHECK(summary(out.take()) == Strings{"alice presence"});
  auto c3 = customer("c3");  // queued: alice is full
  at(1s);
  desk.customer_disconnected(c3.session);
  CHECK(summary(out.take()) == Strings{"alice desk"});  // only the roster due since t0 + 1 s
  CHECK(stats("demo").queue_length == 1);

  // c1 and c2 end; c1's slot pulls c3, whose customer is gone as well.
  advance_to(30s);
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice closed", "alice assigned", "alice closed", "alice desk"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[1].str("conversation") == c3.conversation);
  CHECK_FALSE(flag(sent[1], "customer_online"));
  CHECK(sent[2].str("conversation") == c2.conversation);
  CHECK(stats("demo").queue_length == 0);
  CHECK(stats("demo").conversations_active == 1);

  advance_to(31s - 1ms);
  CHECK(out.take().empty());
  advance_to(31s);
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice closed", "alice desk"});
  CHECK(sent[0].str("conversation") == c3.conversation);
  CHECK(stats("demo").conversations_active == 0);
}

TEST_CASE_METHOD(DeskFixture, "each shop has its own resume grace", "[desk]") {
  auto t1 = customer("t1", "tea");
  desk.customer_disconnected(t1.session);
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 10s);
  advance_to(10s);
  CHECK(stats("tea").conversations_active == 0);
}

// --- time -----------------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "next_deadline: the earliest of SLA, grace and roster", "[desk]") {
  CHECK_FALSE(desk.next_deadline());
  auto c1 = customer("c1");
  CHECK_FALSE(desk.next_deadline());  // the roster went at once; no message, no SLA clock
  say(c1, "hi");
  out.take();
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 15s);  // greeting warning

  at(100ms);
  connect_agent("alice");  // the roster went at t0: the others' copy is due at t0 + 1 s
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 1s);
  advance_to(1s);
  CHECK(summary(out.take()) == Strings{"alice welcome", "alice desk", "alice desk"});
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 15s);

  at(2s);
  desk.customer_disconnected(c1.session);
  CHECK(*desk.next_deadline() == t0 + 15s);
  advance_to(15s);
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 30s);  // greeting breach
  advance_to(30s);
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 32s);  // the grace end
  advance_to(32s);
  CHECK_FALSE(desk.next_deadline());
  CHECK(stats("demo").conversations_active == 0);
}

TEST_CASE_METHOD(DeskFixture, "the roster is sent at most once per shop per second", "[desk]") {
  agent("tina", "tea");      // the tea shop's roster is its own
  auto c1 = customer("c1");  // the first demo roster update (to nobody) at t0
  at(100ms);
  SessionId alice = connect_agent("alice");
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice welcome", "alice desk"});
  CHECK(num(sent[1], "queue") == 1);
  CHECK(roster(sent[1]) == Strings{"alice:away:0"});

  at(200ms);
  SessionId bob = connect_agent("bob");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"bob welcome", "bob desk"});  // alice: later
  CHECK(roster(sent[1]) == Strings{"alice:away:0", "bob:away:0"});

  at(300ms);
  desk.agent_frame(alice, status("available"));
  CHECK(summary(out.take()) == Strings{"alice status", "alice assigned", "c1 assigned"});
  CHECK(*desk.next_deadline() == t0 + 1s);

  advance_to(999ms);
  CHECK(out.take().empty());
  advance_to(1s);
  sent = out.take();
  // Shops are flushed in no particular order; within a shop, agents by id.
  std::stable_partition(sent.begin(), sent.end(), [](const Sent& f) { return f.to != "tina"; });
  REQUIRE(summary(sent) == Strings{"alice desk", "bob desk", "tina desk"});
  CHECK(roster(sent[2]) == Strings{"tina:available:0"});
  CHECK(num(sent[0], "queue") == 0);
  CHECK(roster(sent[0]) == Strings{"alice:available:1", "bob:away:0"});
  CHECK(sent[0].raw == sent[1].raw);

  at(1500ms);
  desk.agent_frame(bob, status("available"));
  CHECK(summary(out.take()) == Strings{"bob status"});
  REQUIRE(desk.next_deadline());
  CHECK(*desk.next_deadline() == t0 + 2s);

  at(2500ms);
  connect_customer("c2");  // the due update goes with this event, no timer needed
  sent = out.take();
  REQUIRE(summary(sent) ==
          Strings{"c2 welcome", "bob assigned", "c2 assigned", "alice desk", "bob desk"});
  CHECK(roster(sent[3]) == Strings{"alice:available:1", "bob:available:1"});
  CHECK(num(sent[3], "queue") == 0);
}

TEST_CASE_METHOD(DeskFixture, "roster updates for departures and queue changes", "[desk]") {
  SessionId alice = agent("alice");
  SessionId bob = agent("bob");
  at(2s);
  desk.agent_disconnected(bob);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice desk"});
  CHECK(roster(sent[0]) == Strings{"alice:available:0"});

  at(4s);
  desk.agent_frame(alice, status("away"));
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice desk"});
  CHECK(roster(sent[1]) == Strings{"alice:away:0"});

  at(6s);
  customer("c1");
  at(8s);
  connect_customer("c2");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"c2 welcome", "alice desk"});
  CHECK(num(sent[1], "queue") == 2);
}

// --- SLA ------------------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "notify_violation sends sla frames to the owning agent only",
                 "[desk]") {
  agent("alice");
  auto c1 = customer("c1");
  agent("bob");
  auto c2 = customer("c2");
  agent("alice", "tea", "tea/alice");
  out.take();

  monitor::Violation v;
  v.id = c1.conversation + ":greeting:1:warning";
  v.rule = Rule::greeting;
  v.severity = Severity::warning;
  v.shop = "demo";
  v.agent = "alice";
  v.conversation = c1.conversation;
  v.elapsed = 15s;
  v.target = 15s;
  v.ts = t0 + 15s;
  desk.notify_violation(v);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice sla"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[0].str("rule") == "greeting");
  CHECK(sent[0].str("severity") == "warning");
  CHECK(num(sent[0], "level") == 1);
  CHECK(num(sent[0], "elapsed_ms") == 15'000);
  CHECK(num(sent[0], "target_ms") == 15'000);

  v.shop = "tea";
  desk.notify_violation(v);
  CHECK(summary(out.take()) == Strings{"tea/alice sla"});

  v.shop = "demo";
  v.agent = "";  // queued: nobody to tell
  desk.notify_violation(v);
  v.agent = "zed";  // not connected
  desk.notify_violation(v);
  v.agent = "alice";
  v.shop = "nope";
  desk.notify_violation(v);
  CHECK(out.take().empty());
  (void)c2;
}

TEST_CASE_METHOD(DeskFixture, "live violations reach the owner's console through the sink",
                 "[desk]") {
  sink.desk = &desk;
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  agent("bob");
  auto c2 = customer("c2");
  say(c1, "在吗");
  at(10s);
  say(c2, "在吗");
  out.take();

  advance_to(15s);
  auto sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice sla"});
  CHECK(sent[0].str("conversation") == c1.conversation);
  CHECK(sent[0].str("rule") == "greeting");
  CHECK(num(sent[0], "ts") == to_epoch_ms(t0 + 15s));

  reply(alice, c1, "您好");
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"alice ack", "c1 message"});
  advance_to(25s);
  sent = out.take();
  REQUIRE(summary(sent) == Strings{"bob sla"});
  CHECK(sent[0].str("conversation") == c2.conversation);
}

TEST_CASE_METHOD(DeskFixture, "the desk reports its events to the SLA engine", "[desk]") {
  SessionId alice = agent("alice");
  auto c1 = customer("c1");
  say(c1, "在吗");
  at(4s);
  reply(alice, c1, "您好，在的");
  REQUIRE(sla.greetings.size() == 1);
  CHECK(sla.greetings[0].shop == "demo");
  CHECK(sla.greetings[0].agent == "alice");
  CHECK(sla.greetings[0].duration == 4s);
  CHECK(engine.customers_waiting("demo") == 0);
  at(5s);
  say(c1, "多少钱");
  CHECK(engine.customers_waiting("demo") == 1);
  at(7s);
  reply(alice, c1, "99 元");
  REQUIRE(sla.reply_waits.size() == 1);
  CHECK(sla.reply_waits[0].duration == 2s);
  desk.agent_frame(alice, close_frame(c1.conversation));
  CHECK(sla.count(Outcome::served) == 1);
  // Closing without a farewell phrase is a courtesy warning by the agent.
  auto courtesy = sla.of(Rule::courtesy);
  REQUIRE(courtesy.size() == 1);
  CHECK(courtesy[0].detail == "farewell");
  CHECK(courtesy[0].agent == "alice");
}

// --- figures --------------------------------------------------------------------------------

TEST_CASE_METHOD(DeskFixture, "stats per shop", "[desk]") {
  SessionId alice = agent("alice");
  connect_agent("bob");  // away
  auto c1 = customer("c1");
  auto c2 = customer("c2");
  customer("c3");  // queued
  say(c1, "a");
  say(c2, "b");
  say(c1, "c");
  reply(alice, c1, "d");
  SessionId tina = agent("tina", "tea");
  auto t1 = customer("t1", "tea");
  reply(tina, t1, "您好");

  auto all = desk.stats();
  REQUIRE(all.size() == 2);
  const auto& demo = stats("demo");
  CHECK(demo.shop == "demo");
  CHECK(demo.queue_length == 1);
  CHECK(demo.conversations_active == 3);
  CHECK(demo.agents_available == 1);
  CHECK(demo.agents_away == 1);
  CHECK(demo.messages_from_customers == 3);
  CHECK(demo.messages_from_agents == 1);
  const auto& tea = stats("tea");
  CHECK(tea.queue_length == 0);
  CHECK(tea.conversations_active == 1);
  CHECK(tea.agents_available == 1);
  CHECK(tea.agents_away == 0);
  CHECK(tea.messages_from_customers == 0);
  CHECK(tea.messages_from_agents == 1);

  // Closing keeps the message counters (they count since start).
  desk.agent_frame(alice, close_frame(c1.conversation));
  CHECK(stats("demo").conversations_active == 2);
  CHECK(stats("demo").messages_from_customers == 3);
}

TEST_CASE("history keeps the last history_limit messages", "[desk]") {
  auto config = two_shops();
  config.limits.history_limit = 3;
  DeskFixture f(config);
  auto c1 = f.customer("c1");
  for (int i = 1; i <= 5; ++i) f.say(c1, "m" + std::to_string(i));
  f.out.take();
  SessionId alice = f.connect_agent("alice");
  f.out.take();
  f.desk.agent_frame(alice, status("available"));
  auto sent = f.out.take();
  REQUIRE(summary(sent) == Strings{"alice status", "alice assigned", "c1 assigned"});
  CHECK(history_ids(sent[1]) ==
        Strings{c1.conversation + ":3", c1.conversation + ":4", c1.conversation + ":5"});
  // waiting_since is still the first unanswered message, even if it fell out of the history.
  CHECK(num(sent[1], "waiting_since") == to_epoch_ms(f.t0));
}

TEST_CASE("outside every shift the customer is told when the desk opens", "[desk]") {
  auto config = two_shops();
  // The fixture's clock starts at 22:13:20 UTC: the day shift 09:00–17:00 UTC is over.
  config.shops[0].shifts = {{"day", {9 * 60}, {17 * 60}}};
  DeskFixture f(config);
  f.agent("alice");
  auto c1 = f.connect_customer("c1");
  auto sent = f.out.take();
  REQUIRE(summary(sent) == Strings{"c1 welcome", "c1 notice", "alice assigned", "c1 assigned"});
  CHECK_FALSE(flag(sent[0], "desk_open"));
  CHECK(sent[1].str("code") == "desk_offline");
  CHECK_FALSE(sent[1].str("message").empty());
  // Next opening: 2023-11-15 09:00 UTC.
  const TimePoint opens =
      TimePoint{std::chrono::sys_days{std::chrono::year{2023} / std::chrono::November / 15}} + 9h;
  CHECK(num(sent[1], "opens_at") == to_epoch_ms(opens));

  // On resume too.
  f.desk.customer_disconnected(c1.session);
  f.out.take();
  f.connect_customer("c1'", "demo", c1.id, c1.resume);
  sent = f.out.take();
  REQUIRE(summary(sent) == Strings{"c1' welcome", "c1' notice", "alice presence"});
  CHECK(num(sent[1], "opens_at") == to_epoch_ms(opens));

  // The other shop is open.
  f.connect_customer("t1", "tea");
  sent = f.out.take();
  REQUIRE(summary(sent) == Strings{"t1 welcome"});
  CHECK(flag(sent[0], "desk_open"));
}

}  // namespace chatdesk::gateway::testing
