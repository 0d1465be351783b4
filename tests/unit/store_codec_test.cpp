// Tests of the store's spelling in Redis (gateway/core/store_codec.cpp): a conversation's state,
// its messages and its record survive the round trip through field/value pairs exactly, and a
// damaged hash is refused with the field named instead of read half.

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "chatdesk/gateway/store_codec.hpp"
#include "chatdesk/monitor/cluster_slots.hpp"

namespace chatdesk::gateway::testing {
namespace {

using namespace std::chrono_literals;

std::map<std::string, std::string> as_hash(const StoredConversation& c) {
  store::StateFields f;
  f.encode(c);
  return {{"state", std::string(f.state())}, {"note", std::string(f.note())}};
}

// The hash of `c` with the value `name` replaced by `value` (or left out when nullopt).
std::map<std::string, std::string> with(const StoredConversation& c, std::string_view name,
                                        std::optional<std::string> value) {
  store::StateFields f;
  f.encode(c);
  std::string state;
  bool first = true;
  for (std::size_t i = 0; i < store::StateFields::kCount; ++i) {
    if (i == store::StateFields::kNote) continue;
    const bool target = store::StateFields::names()[i] == name;
    if (target && !value) continue;
    if (!first) state += '|';
    first = false;
    state += target ? *value : std::string(f.value(i));
  }
  return {{"state", state}, {"note", std::string(f.note())}};
}

StoredConversation random_conversation(std::mt19937_64& rng) {
  auto coin = [&] { return rng() % 2 == 0; };
  auto ms = [&] {
    return from_epoch_ms(1'700'000'000'000 + static_cast<std::int64_t>(rng() % 1'000'000'000));
  };
  auto small = [&] { return static_cast<std::uint32_t>(rng() % 1000); };
  StoredConversation c;
  c.id = "c-" + std::to_string(rng());
  c.shop = "demo";
  c.customer = coin() ? "u-" + std::to_string(rng()) : "客户:42";
  c.secret_hash = store::secret_hash(std::to_string(rng()));
  c.owner = coin() ? "alice" : "";
  if (coin()) c.queue_pos = static_cast<std::int64_t>(rng() % 2000) - 1000;
  c.created = ms();
  if (coin()) c.first_message_at = ms();
  if (coin()) c.last_customer_at = ms();
  if (coin()) c.waiting_since = ms();
  if (coin()) c.left_at = ms();
  c.greeted = coin();
  c.note = coin() ? "客户要退款，已核实订单，明天跟进" : "";
  c.seq = rng() % 100000;
  if (coin()) c.agents = {"alice", "bob.z", "c:1"};
  c.transfers = small();
  c.handovers = small();
  auto& k = c.clock;
  k.wrote = coin();
  k.first_customer = ms();
  k.greeted = coin();
  k.waiting = coin();
  k.clock_start = ms();
  k.armed = coin();
  k.greeting_step = small();
  k.waits = small();
  k.messages = small();
  k.agent_messages = small();
  k.last_agent_farewell = coin();
  if (coin()) k.first_response = Duration{static_cast<std::int64_t>(rng() % 100000)};
  k.reply_waits = small();
  k.reply_wait_total = Duration{static_cast<std::int64_t>(rng() % 10'000'000)};
  k.reply_wait_max = Duration{static_cast<std::int64_t>(rng() % 100'000)};
  k.typing_measured = small();
  k.typing_cpm_total = static_cast<double>(rng() % 100000) / 7.0;
  k.greeting_warned = coin();
  k.greeting_breach_level = small();
  for (auto& v : k.violations) v = small();
  return c;
}

}  // namespace

TEST_CASE("a conversation's state survives the hash round trip exactly", "[storage][codec]") {
  std::mt19937_64 rng(20261206);
  for (int i = 0; i < 500; ++i) {
    const StoredConversation c = random_conversation(rng);
    std::string error;
    auto back = store::decode_state(c.id, as_hash(c), error);
    INFO("error: " << error);
    REQUIRE(back);
    CHECK(*back == c);
  }
}

TEST_CASE("a damaged state hash is refused with the field named", "[storage][codec]") {
  std::mt19937_64 rng(7);
  const StoredConversation c = random_conversation(rng);
  std::string error;
  auto hash = as_hash(c);
  hash.erase("note");
  CHECK_FALSE(store::decode_state(c.id, hash, error));
  CHECK(error == "note: missing");
  CHECK_FALSE(store::decode_state(c.id, with(c, "owner", std::nullopt), error));
  CHECK(error == "state: 42 values expected");
  CHECK_FALSE(store::decode_state(c.id, with(c, "sla_greeting_step", "x1"), error));
  CHECK(error == "sla_greeting_step: not a number");
  CHECK_FALSE(store::decode_state(c.id, with(c, "sla_armed", "yes"), error));
  CHECK(error == "sla_armed: not 0 or 1");
  CHECK_FALSE(store::decode_state(c.id, with(c, "version", "2"), error));
  CHECK(error == "version: unknown layout");
  // A note may hold anything, '|' and newlines included.
  StoredConversation noted = c;
  noted.note = "退款|换货\n明天 | 跟进";
  auto back = store::decode_state(c.id, as_hash(noted), error);
  REQUIRE(back);
  CHECK(back->note == noted.note);
}

TEST_CASE("messages survive the stream entry round trip, under ids a retry recognises",
          "[storage][codec]") {
  ChatMessage m;
  m.id = "c-00ff:17";
  m.from = Party::agent;
  m.agent = "alice";
  m.text = "您好，\"退款\"已处理\n谢谢";
  m.ts = from_epoch_ms(1'700'000'123'456);
  store::MessageFields f;
  f.encode(store::message_seq(m.id), m);
  CHECK(f.entry_id() == "0-17");
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i < store::MessageFields::kCount; ++i)
    fields.emplace(std::string(store::MessageFields::names()[i]), std::string(f.value(i)));
  auto back = store::decode_message("c-00ff", f.entry_id(), fields);
  REQUIRE(back);
  CHECK(back->id == m.id);
  CHECK(back->from == m.from);
  CHECK(back->agent == m.agent);
  CHECK(back->text == m.text);
  CHECK(back->ts == m.ts);

  CHECK_FALSE(store::decode_message("c-00ff", "1700-0", fields));
  fields["from"] = "robot";
  CHECK_FALSE(store::decode_message("c-00ff", "0-17", fields));
  CHECK(store::message_seq("c-1:0042") == 42);
  CHECK(store::message_seq("c-1") == 0);
  CHECK(store::message_seq("c-1:x") == 0);
}

TEST_CASE("keys share their conversation's or shop's hash tag", "[storage][codec]") {
  CHECK(store::state_key("c-1a") == "chatdesk:{c-1a}:state");
  CHECK(store::messages_key("c-1a") == "chatdesk:{c-1a}:messages");
  CHECK(store::open_key("demo") == "chatdesk:{shop:demo}:open");
  CHECK(store::agents_key("demo") == "chatdesk:{shop:demo}:agents");
}

TEST_CASE("a record's mark shares the records stream's slot, tagged or not", "[storage][codec]") {
  using chatdesk::monitor::cluster_key_slot;
  const auto mark = store::record_mark_key("chatdesk:conversations", "c-1a");
  CHECK(mark == "{chatdesk:conversations}:recorded:c-1a");
  CHECK(cluster_key_slot(mark) == cluster_key_slot("chatdesk:conversations"));
  CHECK(cluster_key_slot(mark) != cluster_key_slot(store::state_key("c-1a")));
  // A stream named with a tag keeps it: the mark carries the same tag.
  const auto tagged = store::record_mark_key("shop{eu}:records", "c-1a");
  CHECK(tagged == "shop{eu}:records:recorded:c-1a");
  CHECK(cluster_key_slot(tagged) == cluster_key_slot("shop{eu}:records"));
  // (An untagged name with a '}' cannot be wrapped: the config refuses it.)
}

TEST_CASE("the secret is kept as its SHA-256 only", "[storage][codec]") {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  CHECK(store::secret_hash("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("a record lists every field of docs/storage.md, in order", "[storage][codec]") {
  ConversationRecord r;
  r.conversation = "c-1";
  r.shop = "demo";
  r.customer = "u-2";
  r.agents = {"alice", "bob"};
  r.created = from_epoch_ms(1000);
  r.ended = from_epoch_ms(61000);
  r.outcome = "served";
  r.closed_by = ClosedBy::grace;
  r.first_response = 3500ms;
  r.greeting = "warning";
  r.reply_waits = 2;
  r.reply_wait_mean = 4000ms;
  r.reply_wait_max = 6000ms;
  r.customer_messages = 3;
  r.agent_messages = 4;
  r.typing_cpm = 87.25;
  r.violations[static_cast<std::size_t>(monitor::Rule::greeting)] = 1;
  r.transfers = 1;
  std::vector<std::string> got;
  for (const auto& [name, value] : store::record_fields(r))
    got.push_back(std::string(name) + "=" + value);
  CHECK(got == std::vector<std::string>{"conversation=c-1",
                                        "shop=demo",
                                        "customer=u-2",
                                        "agents=alice,bob",
                                        "created=1000",
                                        "ended=61000",
                                        "outcome=served",
                                        "closed_by=grace",
                                        "first_response_ms=3500",
                                        "greeting=warning",
                                        "greeting_level=0",
                                        "reply_waits=2",
                                        "reply_wait_mean_ms=4000",
                                        "reply_wait_max_ms=6000",
                                        "customer_messages=3",
                                        "agent_messages=4",
                                        "typing_cpm=87.2",
                                        "v_greeting=1",
                                        "v_reply_wait=0",
                                        "v_typing_rate=0",
                                        "v_missed=0",
                                        "v_language=0",
                                        "v_courtesy=0",
                                        "v_handover=0",
                                        "transfers=1",
                                        "handovers=0",
                                        "version=1"});

  // And back, as the reports read it (the typing rate as it was written, to one decimal).
  std::map<std::string, std::string> fields;
  for (const auto& [name, value] : store::record_fields(r)) fields.emplace(name, value);
  std::string error;
  const auto back = store::decode_record(fields, error);
  REQUIRE(back);
  CHECK(error.empty());
  CHECK(back->conversation == "c-1");
  CHECK(back->agents == std::vector<std::string>{"alice", "bob"});
  CHECK(back->created == r.created);
  CHECK(back->ended == r.ended);
  CHECK(back->outcome == "served");
  CHECK(back->closed_by == ClosedBy::grace);
  CHECK(back->first_response == 3500ms);
  CHECK(back->greeting == "warning");
  CHECK(back->reply_waits == 2);
  CHECK(back->reply_wait_mean == 4000ms);
  CHECK(back->reply_wait_max == 6000ms);
  CHECK(back->typing_cpm == 87.2);
  CHECK(back->violations == r.violations);
  CHECK(back->transfers == 1);
  // No first response and no typing rate: empty fields, empty optionals.
  r.first_response.reset();
  r.typing_cpm.reset();
  r.agents.clear();
  fields.clear();
  for (const auto& [name, value] : store::record_fields(r)) fields.emplace(name, value);
  const auto bare = store::decode_record(fields, error);
  REQUIRE(bare);
  CHECK_FALSE(bare->first_response);
  CHECK_FALSE(bare->typing_cpm);
  CHECK(bare->agents.empty());
}

TEST_CASE("a damaged record is refused with the field named", "[storage][codec]") {
  ConversationRecord r;
  r.conversation = "c-1";
  r.outcome = "served";
  r.greeting = "on_time";
  std::map<std::string, std::string> fields;
  for (const auto& [name, value] : store::record_fields(r)) fields.emplace(name, value);
  std::string error;
  for (auto [field, value] : {std::pair<std::string, std::string>{"outcome", "won"},
                              {"ended", "yesterday"},
                              {"greeting", ""},
                              {"version", "2"},
                              {"v_missed", "-1"}}) {
    INFO(field << " = " << value);
    auto bad = fields;
    bad[field] = value;
    CHECK_FALSE(store::decode_record(bad, error));
    CHECK_THAT(error, Catch::Matchers::StartsWith(field + ": "));
  }
  auto missing = fields;
  missing.erase("shop");
  CHECK_FALSE(store::decode_record(missing, error));
  CHECK(error == "shop: missing");
}

}  // namespace chatdesk::gateway::testing
