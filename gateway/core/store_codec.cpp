#include "chatdesk/gateway/store_codec.hpp"

#include <openssl/sha.h>

#include <charconv>
#include <cstdio>

namespace chatdesk::gateway::store {
namespace {

constexpr std::array<std::string_view, StateFields::kCount> kStateNames{"shop",
                                                                        "customer",
                                                                        "secret_hash",
                                                                        "owner",
                                                                        "queue_pos",
                                                                        "created",
                                                                        "first_message_at",
                                                                        "last_customer_at",
                                                                        "waiting_since",
                                                                        "left_at",
                                                                        "greeted",
                                                                        "note",
                                                                        "seq",
                                                                        "agents",
                                                                        "transfers",
                                                                        "handovers",
                                                                        "sla_wrote",
                                                                        "sla_first_customer",
                                                                        "sla_greeted",
                                                                        "sla_waiting",
                                                                        "sla_clock_start",
                                                                        "sla_armed",
                                                                        "sla_greeting_step",
                                                                        "sla_waits",
                                                                        "sla_messages",
                                                                        "sla_agent_messages",
                                                                        "sla_farewell",
                                                                        "rec_first_response",
                                                                        "rec_reply_waits",
                                                                        "rec_reply_wait_total",
                                                                        "rec_reply_wait_max",
                                                                        "rec_typing_measured",
                                                                        "rec_typing_cpm_total",
                                                                        "rec_greeting_warned",
                                                                        "rec_greeting_level",
                                                                        "v_greeting",
                                                                        "v_reply_wait",
                                                                        "v_typing_rate",
                                                                        "v_missed",
                                                                        "v_language",
                                                                        "v_courtesy",
                                                                        "v_handover",
                                                                        "version"};

// Where the per-rule violation counts start in kStateNames (v_greeting … v_handover, Rule order).
constexpr std::size_t kFirstViolation = 35;
static_assert(kStateNames[kFirstViolation] == "v_greeting" &&
              kStateNames[kFirstViolation + monitor::kRuleCount - 1] == "v_handover");

// Agent ids never hold ',' (is_valid_client_id).
void split_agents(const std::string& joined, std::vector<std::string>& out) {
  for (std::size_t from = 0; from < joined.size();) {
    std::size_t comma = joined.find(',', from);
    if (comma == std::string::npos) comma = joined.size();
    out.push_back(joined.substr(from, comma - from));
    from = comma + 1;
  }
}

void join_agents(const std::vector<std::string>& agents, std::string& out) {
  out.clear();
  for (const auto& a : agents) {
    if (!out.empty()) out += ',';
    out += a;
  }
}

// The state hash's layout; a reader that finds another one refuses it instead of guessing.
constexpr std::string_view kStateVersion = "1";

constexpr std::array<std::string_view, MessageFields::kCount> kMessageNames{"from", "agent", "text",
                                                                            "ts"};

void set_number(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.assign(buf, r.ptr);
}
void set_time(std::string& out, TimePoint t) {
  set_number(out, to_epoch_ms(t));
}
void set_time(std::string& out, const std::optional<TimePoint>& t) {
  if (t)
    set_time(out, *t);
  else
    out.clear();
}
void set_bool(std::string& out, bool b) {
  out.assign(b ? "1" : "0");
}
void set_double(std::string& out, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.assign(buf, r.ptr);
}

template <typename Int>
bool parse_int(std::string_view s, Int& out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// Reads the fields of one state hash, remembering the first that was missing or malformed.
struct Reader {
  const std::map<std::string, std::string>& fields;
  std::string& error;

  const std::string* raw(std::string_view name) {
    auto it = fields.find(std::string(name));
    if (it == fields.end()) {
      fail(name, "missing");
      return nullptr;
    }
    return &it->second;
  }
  void fail(std::string_view name, std::string_view why) {
    if (error.empty()) error = std::string(name) + ": " + std::string(why);
  }
  std::string text(std::string_view name) {
    const std::string* v = raw(name);
    return v ? *v : std::string();
  }
  template <typename Int>
  Int integer(std::string_view name) {
    Int out{};
    const std::string* v = raw(name);
    if (v && !parse_int(*v, out)) fail(name, "not a number");
    return out;
  }
  std::optional<std::int64_t> optional_integer(std::string_view name) {
    const std::string* v = raw(name);
    if (!v || v->empty()) return std::nullopt;
    std::int64_t out = 0;
    if (!parse_int(*v, out)) fail(name, "not a number");
    return out;
  }
  TimePoint time(std::string_view name) { return from_epoch_ms(integer<std::int64_t>(name)); }
  std::optional<TimePoint> optional_time(std::string_view name) {
    auto v = optional_integer(name);
    return v ? std::optional<TimePoint>(from_epoch_ms(*v)) : std::nullopt;
  }
  bool boolean(std::string_view name) {
    const std::string* v = raw(name);
    if (v && *v != "0" && *v != "1") fail(name, "not 0 or 1");
    return v && *v == "1";
  }
  double real(std::string_view name) {
    const std::string* v = raw(name);
    double out = 0;
    if (v) {
      const auto r = std::from_chars(v->data(), v->data() + v->size(), out);
      if (r.ec != std::errc{} || r.ptr != v->data() + v->size()) fail(name, "not a number");
    }
    return out;
  }
};

std::string key(std::string_view tag_prefix, std::string_view id, std::string_view suffix) {
  std::string k;
  k.reserve(12 + tag_prefix.size() + id.size() + suffix.size());
  k.append("chatdesk:{").append(tag_prefix).append(id).append("}:").append(suffix);
  return k;
}

}  // namespace

std::string state_key(std::string_view conversation) {
  return key("", conversation, "state");
}
std::string messages_key(std::string_view conversation) {
  return key("", conversation, "messages");
}
std::string open_key(std::string_view shop) {
  return key("shop:", shop, "open");
}
std::string shop_records_key(std::string_view shop) {
  return key("shop:", shop, "records");
}
std::string shop_orders_key(std::string_view shop) {
  return key("shop:", shop, "orders");
}
std::string shop_ratings_key(std::string_view shop) {
  return key("shop:", shop, "ratings");
}
std::string shop_record_mark_key(std::string_view shop, std::string_view conversation) {
  return key("shop:", shop, "recorded:").append(conversation);
}
std::string customers_key(std::string_view shop) {
  return key("shop:", shop, "customers");
}
std::string order_mark_key(std::string_view shop, std::string_view order_id) {
  return key("shop:", shop, "order:").append(order_id);
}
std::string record_mark_key(std::string_view records_stream, std::string_view conversation) {
  // The cluster spec's hash tag: from the first '{' to the next '}', when not empty.
  const auto open = records_stream.find('{');
  const auto close = open == std::string_view::npos ? open : records_stream.find('}', open + 1);
  const bool tagged = close != std::string_view::npos && close > open + 1;
  std::string k;
  if (tagged)
    k.append(records_stream);
  else
    k.append("{").append(records_stream).append("}");
  k.append(":recorded:").append(conversation);
  return k;
}
std::string agents_key(std::string_view shop) {
  return key("shop:", shop, "agents");
}

std::string secret_hash(std::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (std::size_t i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

const std::array<std::string_view, StateFields::kCount>& StateFields::names() {
  return kStateNames;
}

void StateFields::encode(const StoredConversation& c) {
  const monitor::ConversationClock& k = c.clock;
  auto v = values_.begin();
  (v++)->assign(c.shop);
  (v++)->assign(c.customer);
  (v++)->assign(c.secret_hash);
  (v++)->assign(c.owner);
  if (c.queue_pos)
    set_number(*v++, *c.queue_pos);
  else
    (v++)->clear();
  set_time(*v++, c.created);
  set_time(*v++, c.first_message_at);
  set_time(*v++, c.last_customer_at);
  set_time(*v++, c.waiting_since);
  set_time(*v++, c.left_at);
  set_bool(*v++, c.greeted);
  (v++)->assign(c.note);
  set_number(*v++, static_cast<std::int64_t>(c.seq));
  join_agents(c.agents, *v++);
  set_number(*v++, c.transfers);
  set_number(*v++, c.handovers);
  set_bool(*v++, k.wrote);
  set_time(*v++, k.first_customer);
  set_bool(*v++, k.greeted);
  set_bool(*v++, k.waiting);
  set_time(*v++, k.clock_start);
  set_bool(*v++, k.armed);
  set_number(*v++, k.greeting_step);
  set_number(*v++, k.waits);
  set_number(*v++, k.messages);
  set_number(*v++, k.agent_messages);
  set_bool(*v++, k.last_agent_farewell);
  if (k.first_response)
    set_number(*v++, k.first_response->count());
  else
    (v++)->clear();
  set_number(*v++, k.reply_waits);
  set_number(*v++, k.reply_wait_total.count());
  set_number(*v++, k.reply_wait_max.count());
  set_number(*v++, k.typing_measured);
  set_double(*v++, k.typing_cpm_total);
  set_bool(*v++, k.greeting_warned);
  set_number(*v++, k.greeting_breach_level);
  for (const std::uint32_t n : k.violations) set_number(*v++, n);
  (v++)->assign(kStateVersion);
  state_.clear();
  for (std::size_t i = 0; i < kCount; ++i) {
    if (i == kNote) continue;
    if (i > 0) state_ += '|';
    state_ += values_[i];
  }
}

std::optional<StoredConversation> decode_state(std::string_view id,
                                               const std::map<std::string, std::string>& hash,
                                               std::string& error) {
  error.clear();
  auto state = hash.find("state");
  auto note = hash.find("note");
  if (state == hash.end() || note == hash.end()) {
    error = state == hash.end() ? "state: missing" : "note: missing";
    return std::nullopt;
  }
  std::map<std::string, std::string> fields;
  std::string_view rest = state->second;
  for (std::size_t i = 0; i < StateFields::kCount; ++i) {
    if (i == StateFields::kNote) continue;
    const std::size_t bar = rest.find('|');
    const bool last = i + 1 == StateFields::kCount;
    if (last != (bar == std::string_view::npos)) {
      error = "state: " + std::to_string(StateFields::kCount - 1) + " values expected";
      return std::nullopt;
    }
    fields.emplace(std::string(kStateNames[i]), std::string(rest.substr(0, bar)));
    rest = last ? std::string_view{} : rest.substr(bar + 1);
  }
  fields.emplace("note", note->second);
  Reader r{fields, error};
  if (r.text("version") != kStateVersion) {
    r.fail("version", "unknown layout");
    return std::nullopt;
  }
  StoredConversation c;
  monitor::ConversationClock& k = c.clock;
  c.id = std::string(id);
  c.shop = r.text("shop");
  c.customer = r.text("customer");
  c.secret_hash = r.text("secret_hash");
  c.owner = r.text("owner");
  c.queue_pos = r.optional_integer("queue_pos");
  c.created = r.time("created");
  c.first_message_at = r.optional_time("first_message_at");
  c.last_customer_at = r.optional_time("last_customer_at");
  c.waiting_since = r.optional_time("waiting_since");
  c.left_at = r.optional_time("left_at");
  c.greeted = r.boolean("greeted");
  c.note = r.text("note");
  c.seq = r.integer<std::uint64_t>("seq");
  const std::string agents = r.text("agents");
  split_agents(agents, c.agents);
  c.transfers = r.integer<std::uint32_t>("transfers");
  c.handovers = r.integer<std::uint32_t>("handovers");
  k.wrote = r.boolean("sla_wrote");
  k.first_customer = r.time("sla_first_customer");
  k.greeted = r.boolean("sla_greeted");
  k.waiting = r.boolean("sla_waiting");
  k.clock_start = r.time("sla_clock_start");
  k.armed = r.boolean("sla_armed");
  k.greeting_step = r.integer<std::uint32_t>("sla_greeting_step");
  k.waits = r.integer<std::uint32_t>("sla_waits");
  k.messages = r.integer<std::uint32_t>("sla_messages");
  k.agent_messages = r.integer<std::uint32_t>("sla_agent_messages");
  k.last_agent_farewell = r.boolean("sla_farewell");
  if (auto ms = r.optional_integer("rec_first_response")) k.first_response = Duration{*ms};
  k.reply_waits = r.integer<std::uint32_t>("rec_reply_waits");
  k.reply_wait_total = Duration{r.integer<std::int64_t>("rec_reply_wait_total")};
  k.reply_wait_max = Duration{r.integer<std::int64_t>("rec_reply_wait_max")};
  k.typing_measured = r.integer<std::uint32_t>("rec_typing_measured");
  k.typing_cpm_total = r.real("rec_typing_cpm_total");
  k.greeting_warned = r.boolean("rec_greeting_warned");
  k.greeting_breach_level = r.integer<std::uint32_t>("rec_greeting_level");
  for (std::size_t i = 0; i < monitor::kRuleCount; ++i)
    k.violations[i] = r.integer<std::uint32_t>(kStateNames[kFirstViolation + i]);
  if (c.shop.empty()) r.fail("shop", "empty");
  if (!error.empty()) return std::nullopt;
  return c;
}

const std::array<std::string_view, MessageFields::kCount>& MessageFields::names() {
  return kMessageNames;
}

void MessageFields::encode(std::uint64_t seq, const ChatMessage& m) {
  entry_id_.assign("0-");
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, seq);
  entry_id_.append(buf, r.ptr);
  values_[0].assign(m.from == Party::agent ? "agent" : "customer");
  values_[1].assign(m.agent);
  values_[2].assign(m.text);
  set_time(values_[3], m.ts);
}

std::uint64_t message_seq(std::string_view message_id) {
  const auto colon = message_id.rfind(':');
  std::uint64_t seq = 0;
  if (colon == std::string_view::npos || !parse_int(message_id.substr(colon + 1), seq)) return 0;
  return seq;
}

std::optional<ChatMessage> decode_message(std::string_view conversation, std::string_view entry_id,
                                          const std::map<std::string, std::string>& fields) {
  std::uint64_t seq = 0;
  if (!entry_id.starts_with("0-") || !parse_int(entry_id.substr(2), seq) || seq == 0)
    return std::nullopt;
  auto get = [&](std::string_view name) -> const std::string* {
    auto it = fields.find(std::string(name));
    return it == fields.end() ? nullptr : &it->second;
  };
  const std::string *from = get("from"), *agent = get("agent"), *text = get("text"),
                    *ts = get("ts");
  std::int64_t ms = 0;
  if (!from || !agent || !text || !ts || !parse_int(*ts, ms)) return std::nullopt;
  if (*from != "agent" && *from != "customer") return std::nullopt;
  ChatMessage m;
  m.id.assign(conversation).append(":").append(entry_id.substr(2));
  m.from = *from == "agent" ? Party::agent : Party::customer;
  m.agent = *agent;
  m.text = *text;
  m.ts = from_epoch_ms(ms);
  return m;
}

std::vector<std::pair<std::string_view, std::string>> record_fields(const ConversationRecord& r) {
  std::vector<std::pair<std::string_view, std::string>> out;
  out.reserve(24 + monitor::kRuleCount);
  auto add = [&](std::string_view name, std::string value) {
    out.emplace_back(name, std::move(value));
  };
  auto number = [](std::int64_t v) { return std::to_string(v); };
  std::string agents;
  join_agents(r.agents, agents);
  add("conversation", r.conversation);
  add("shop", r.shop);
  add("customer", r.customer);
  add("agents", agents);
  add("created", number(to_epoch_ms(r.created)));
  add("ended", number(to_epoch_ms(r.ended)));
  add("outcome", std::string(r.outcome));
  add("closed_by", std::string(to_string(r.closed_by)));
  add("first_response_ms", r.first_response ? number(r.first_response->count()) : std::string());
  add("greeting", std::string(r.greeting));
  add("greeting_level", number(r.greeting_level));
  add("reply_waits", number(r.reply_waits));
  add("reply_wait_mean_ms", number(r.reply_wait_mean.count()));
  add("reply_wait_max_ms", number(r.reply_wait_max.count()));
  add("customer_messages", number(r.customer_messages));
  add("agent_messages", number(r.agent_messages));
  std::string cpm;
  if (r.typing_cpm) {
    char buf[32];
    const auto res =
        std::to_chars(buf, buf + sizeof buf, *r.typing_cpm, std::chars_format::fixed, 1);
    cpm.assign(buf, res.ptr);
  }
  add("typing_cpm", cpm);
  for (std::size_t i = 0; i < monitor::kRuleCount; ++i)
    add(kStateNames[kFirstViolation + i], number(r.violations[i]));
  add("transfers", number(r.transfers));
  add("handovers", number(r.handovers));
  add("version", std::string(kStateVersion));
  return out;
}

std::optional<ConversationRecord> decode_record(const std::map<std::string, std::string>& fields,
                                                std::string& error) {
  error.clear();
  Reader r{fields, error};
  // The record's string_views point at these, not at `fields`.
  const auto one_of = [&](std::string_view name,
                          std::initializer_list<std::string_view> allowed) -> std::string_view {
    const std::string value = r.text(name);
    for (std::string_view a : allowed)
      if (a == value) return a;
    r.fail(name, "unknown value");
    return {};
  };
  if (r.text("version") != kStateVersion) r.fail("version", "not " + std::string(kStateVersion));
  ConversationRecord c;
  c.conversation = r.text("conversation");
  c.shop = r.text("shop");
  c.customer = r.text("customer");
  const std::string agents = r.text("agents");
  split_agents(agents, c.agents);
  c.created = r.time("created");
  c.ended = r.time("ended");
  c.outcome = one_of("outcome", {"served", "missed", "empty"});
  const std::string closed_by = r.text("closed_by");
  c.closed_by = closed_by == "agent"   ? ClosedBy::agent
                : closed_by == "grace" ? ClosedBy::grace
                                       : ClosedBy::customer;
  if (closed_by != "agent" && closed_by != "grace" && closed_by != "customer")
    r.fail("closed_by", "unknown value");
  if (auto ms = r.optional_integer("first_response_ms")) c.first_response = Duration{*ms};
  c.greeting = one_of("greeting", {"on_time", "warning", "breach", "none"});
  c.greeting_level = r.integer<std::uint32_t>("greeting_level");
  c.reply_waits = r.integer<std::uint32_t>("reply_waits");
  c.reply_wait_mean = Duration{r.integer<std::int64_t>("reply_wait_mean_ms")};
  c.reply_wait_max = Duration{r.integer<std::int64_t>("reply_wait_max_ms")};
  c.customer_messages = r.integer<std::uint32_t>("customer_messages");
  c.agent_messages = r.integer<std::uint32_t>("agent_messages");
  if (!r.text("typing_cpm").empty()) c.typing_cpm = r.real("typing_cpm");
  for (std::size_t i = 0; i < monitor::kRuleCount; ++i)
    c.violations[i] = r.integer<std::uint32_t>(kStateNames[kFirstViolation + i]);
  c.transfers = r.integer<std::uint32_t>("transfers");
  c.handovers = r.integer<std::uint32_t>("handovers");
  if (!error.empty()) return std::nullopt;
  return c;
}

}  // namespace chatdesk::gateway::store
