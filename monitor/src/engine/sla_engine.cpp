#include "chatdesk/monitor/sla_engine.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatdesk/monitor/business_hours.hpp"
#include "chatdesk/monitor/utf8.hpp"
#include "deadline_queue.hpp"
#include "id_index.hpp"
#include "phrase_set.hpp"

// The rules are defined in docs/sla.md; this file follows its wording.

namespace chatdesk::monitor {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
// Heap entries for a shop's shift transition carry this bit in their slot.
constexpr std::uint32_t kShopEntry = 0x8000'0000U;
constexpr TimePoint kNever = TimePoint::max();

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
// Keyed by owned strings but looked up with the events' string_views, without a temporary string.
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// One decimal, truncated rather than rounded, so that an average below the floor never reads as
// the floor itself ("49.96" is "49.9", not "50.0").
void append_cpm(std::string& out, double cpm) {
  char buf[32];
  const double shown = std::floor(cpm * 10.0) / 10.0;
  const auto r = std::to_chars(buf, buf + sizeof buf, shown, std::chars_format::fixed, 1);
  out.append(buf, r.ptr);
}

std::vector<std::string> all_phrases(const config::LanguageConfig& language) {
  std::vector<std::string> all = language.avoid;
  all.insert(all.end(), language.greetings.begin(), language.greetings.end());
  all.insert(all.end(), language.farewells.begin(), language.farewells.end());
  return all;
}

// Greeting deadlines by step: step 0 is the warning at greeting_target, step n >= 1 the breach of
// level n at greeting_limit + (n - 1) * escalate_every.
Duration greeting_threshold(const config::SlaConfig& sla, std::uint32_t step) {
  if (step == 0) return sla.greeting_target;
  return sla.greeting_limit + (step - 1) * sla.escalate_every;
}

enum class Phase : std::uint8_t { idle, greeting, reply };

// The records below belong to one SlaEngine::Impl and share its (lack of) thread-safety.

// A desk agent of one shop: interned once, never freed (agents are staff, a bounded set).
struct Agent {
  std::string name;
  std::uint32_t shop = 0;
  std::vector<std::uint32_t> owned;  // conversation slots, unordered (swap-removed)
  std::vector<double> typing;        // ring of the last typing_window measured cpm
  std::size_t typing_next = 0;
  std::size_t typing_filled = 0;
  std::size_t typing_since_warning = 0;  // measured messages since the last warning
};

// 128 bytes in two cache lines of one 128-byte block (at 100k open conversations the records are
// far beyond the L2, so each line is a likely miss): the first holds the id, compared on every
// lookup, and the state most events touch; the second the rest. Ids longer than the desk's
// ("c-" and 16 hex digits) spill to the heap.
struct alignas(128) Conversation {
  static constexpr std::size_t kInlineId = 24;

  std::string_view id() const {
    return id_length <= kInlineId ? std::string_view(id_inline, id_length) : *id_long;
  }
  void set_id(std::string_view id) {
    id_length = static_cast<std::uint32_t>(id.size());
    if (id.size() <= kInlineId)
      id.copy(id_inline, id.size());
    else
      id_long = std::make_unique<std::string>(id);
  }

  // --- first cache line: the lookup and the hot state
  char id_inline[kInlineId] = {};
  std::uint32_t id_length = 0;
  std::uint32_t slot = 0;
  std::uint32_t shop = 0;
  std::uint32_t owner = kNone;
  std::uint32_t typing_agent = kNone;
  std::uint32_t messages = 0;  // customer and agent messages so far
  Phase phase = Phase::idle;
  bool live = false;
  bool wrote = false;    // the customer wrote at least once
  bool greeted = false;  // an agent wrote at least once
  bool waiting = false;  // the latest customer message is unanswered
  bool has_due = false;  // `due` is the next deadline of the running (or paused) clock
  bool queued = false;   // `queued_due` is in the queue (and Impl::queue_token names that entry)
  bool last_agent_farewell = false;
  TimePoint typing_start{};  // here: a typing start (a quarter of all events) needs this line only
  // --- second cache line
  std::uint32_t owner_pos = 0;  // index in the owner's `owned`
  std::uint32_t agent_messages = 0;
  std::uint32_t waits = 0;  // reply waits begun after the greeting
  std::uint32_t greeting_step = 0;
  std::uint32_t id_hash = 0;
  std::unique_ptr<std::string> id_long;  // only for ids longer than kInlineId
  TimePoint first_customer{};
  TimePoint clock_start{};  // start of the greeting clock or of the current reply wait
  TimePoint due{};
  TimePoint queued_due{};
};
static_assert(sizeof(Conversation) == 128);
static_assert(offsetof(Conversation, typing_start) + sizeof(TimePoint) == 64,
              "hot fields fill one line");

// A conversation's figures for its record (ConversationClock, second half): touched only when an
// agent answers or a violation fires, so they live apart from the hot 128-byte record.
struct Figures {
  std::optional<Duration> first_response;
  std::uint32_t reply_waits = 0;
  Duration reply_wait_total{0};
  Duration reply_wait_max{0};
  std::uint32_t typing_measured = 0;
  double typing_cpm_total = 0;
  bool greeting_warned = false;
  std::uint32_t greeting_breach_level = 0;
  std::array<std::uint32_t, kRuleCount> violations{};
};

// The stretch of time around "now" in which a shop's open state does not change, so that most
// clock arithmetic is a subtraction instead of a time-zone lookup.
struct Segment {
  TimePoint from = kNever;
  TimePoint to = kNever;
  bool open = true;
  bool valid = false;
};

// A shop's configuration, schedule and phrases, prepared once, plus its live counters.
struct Shop {
  explicit Shop(const config::ShopConfig& c)
      : cfg(&c),
        hours(c),
        phrases(all_phrases(c.language)),
        avoid_count(c.language.avoid.size()),
        greeting_end(c.language.avoid.size() + c.language.greetings.size()) {
    if (hours.always_open()) seg = {TimePoint::min(), kNever, true, true};
  }

  const config::ShopConfig* cfg;
  BusinessHours hours;
  PhraseSet phrases;         // avoid, then greetings, then farewells
  std::size_t avoid_count;   // phrases [0, avoid_count) are to avoid
  std::size_t greeting_end;  // [avoid_count, greeting_end) greet; the rest say goodbye
  Segment seg;
  std::size_t waiting = 0;  // customers_waiting()
  StringMap<std::uint32_t> agents;
  bool queued = false;  // a shift transition is in the heap, at queued_due
  TimePoint queued_due{};
};

// A deadline in the queue (see Impl::heap): `slot` is a conversation slot, or kShopEntry | shop
// index; `token` tells whether it is stale (see Impl::queue_token), 0 for shops.
using Entry = DeadlineQueue::Entry;

}  // namespace

struct SlaEngine::Impl {
  Impl(const config::Config& c, SlaSink& s, std::string_view run_id) : sink(s) {
    if (!run_id.empty()) agent_sequence_prefix.append(run_id).append("-");
    shops.reserve(c.shops.size());
    for (const auto& shop : c.shops) {
      if (shop_index.contains(shop.id)) continue;
      shop_index.emplace(shop.id, static_cast<std::uint32_t>(shops.size()));
      shops.emplace_back(shop);
    }
  }

  SlaSink& sink;
  std::vector<Shop> shops;
  StringMap<std::uint32_t> shop_index;
  IdIndex conversations;  // id → slot
  std::vector<Conversation> slots;
  std::vector<Figures> figures;  // by slot, as `slots`
  std::vector<std::uint32_t> free_slots;
  // Indexed by the agent numbers in the conversations. A vector, not a deque (whose blocks hold
  // only four agents, and whose indexing costs a division): nothing keeps a reference to an
  // agent across intern_agent(), and the shops' maps key by their own copy of the name.
  std::vector<Agent> agents;
  // Deadlines with lazy invalidation: an entry is live only while its conversation (or shop)
  // still has it as `queued_due`; a later deadline is re-pushed when the earlier entry surfaces,
  // so each conversation keeps about one entry however often its clock moves.
  DeadlineQueue heap;
  // Per conversation slot, the token of its one live queue entry (0: none). Entries of closed
  // conversations and superseded ones are recognised as stale by this 4-byte array, small enough
  // for the L2 cache, without reading the conversation's record. (Dropping the entry when the
  // customer is answered as well was tried: more pushes, no faster.)
  std::vector<std::uint32_t> queue_token;
  std::uint32_t last_token = 0;
  std::uint64_t agent_violations = 0;  // sequence in agent-level violation ids
  std::string agent_sequence_prefix;   // "<run id>-", or empty
  Violation scratch;                   // reused so that emitting does not allocate

  // --- lookups --------------------------------------------------------------------------------

  const Shop* find_shop(std::string_view id) const {
    const auto it = shop_index.find(id);
    return it == shop_index.end() ? nullptr : &shops[it->second];
  }

  std::uint32_t find_agent(const Shop& shop, std::string_view name) const {
    const auto it = shop.agents.find(name);
    return it == shop.agents.end() ? kNone : it->second;
  }

  std::uint32_t intern_agent(Shop& shop, std::string_view name) {
    if (const std::uint32_t a = find_agent(shop, name); a != kNone) return a;
    const auto index = static_cast<std::uint32_t>(agents.size());
    Agent& agent = agents.emplace_back();
    agent.name = std::string(name);
    agent.shop = static_cast<std::uint32_t>(&shop - shops.data());
    agent.typing.assign(shop.cfg->sla.typing_window, 0.0);
    shop.agents.emplace(agent.name, index);
    return index;
  }

  // The sender of a conversation event is nearly always its owner: skip the hash lookup then.
  std::uint32_t agent_in(const Conversation& c, std::string_view name) {
    if (c.owner != kNone && agents[c.owner].name == name) return c.owner;
    return intern_agent(shops[c.shop], name);
  }

  std::string_view owner_name(const Conversation& c) const {
    return c.owner == kNone ? std::string_view{} : std::string_view{agents[c.owner].name};
  }

  // --- business hours -------------------------------------------------------------------------

  void refresh(Shop& s, TimePoint t) {
    Segment& g = s.seg;
    if (t >= g.from && t < g.to) return;
    if (g.valid && t >= g.to) {
      // Time moved on into the next segment: it starts exactly at the old one's end.
      const TimePoint start = g.to;
      const TimePoint end = s.hours.next_transition(start).value_or(kNever);
      if (t < end) {
        g = {start, end, s.hours.is_open(start), true};
        return;
      }
    }
    g = {t, s.hours.next_transition(t).value_or(kNever), s.hours.is_open(t), true};
  }

  // Open time in [a, b); the shop's segment must have been refreshed at b.
  static Duration elapsed(const Shop& s, TimePoint a, TimePoint b) {
    if (b <= a) return Duration::zero();
    if (a >= s.seg.from && b <= s.seg.to) return s.seg.open ? b - a : Duration::zero();
    return s.hours.open_time_between(a, b);
  }

  // Where a clock at `from` (no later than the refresh time) reaches `d` more of open time.
  static TimePoint deadline(const Shop& s, TimePoint from, Duration d) {
    if (s.seg.open && from >= s.seg.from && from + d <= s.seg.to) return from + d;
    return s.hours.after_open_time(from, d);
  }

  // --- the deadline queue ---------------------------------------------------------------------

  void push(Entry e) { heap.push(e); }

  Entry pop() {
    const Entry e = heap.top();
    heap.pop();
    return e;
  }

  void schedule(Conversation& c) {
    if (!c.has_due) return;
    if (c.queued && c.queued_due <= c.due) return;  // that entry surfaces first and re-plans
    c.queued = true;
    c.queued_due = c.due;
    if (++last_token == 0) ++last_token;  // 0 means none
    queue_token[c.slot] = last_token;
    push({to_epoch_ms(c.due), c.slot, last_token});
  }

  // The conversation's queue entry, if any, no longer counts.
  void unqueue(Conversation& c) {
    c.queued = false;
    queue_token[c.slot] = 0;
  }

  // Wakes the engine at the shop's next shift change while customers wait there, so that
  // next_deadline() shows when their clocks pause or resume. Needs a segment refreshed at "now".
  void schedule_transition(Shop& s) {
    if (s.waiting == 0 || s.seg.to == kNever) return;
    if (s.queued && s.queued_due <= s.seg.to) return;
    s.queued = true;
    s.queued_due = s.seg.to;
    push({to_epoch_ms(s.seg.to), kShopEntry | static_cast<std::uint32_t>(&s - shops.data()), 0});
  }

  void fire_due(TimePoint now) {
    const std::int64_t now_ms = to_epoch_ms(now);
    while (!heap.empty() && heap.top().due <= now_ms) {
      const Entry e = pop();
      const TimePoint at = from_epoch_ms(e.due);
      if (e.slot & kShopEntry) {
        Shop& s = shops[e.slot & ~kShopEntry];
        if (!s.queued || s.queued_due != at) continue;
        s.queued = false;
        if (s.waiting == 0) continue;
        refresh(s, at);  // the deadlines are exact already; this only re-reads the shift state
        schedule_transition(s);
        continue;
      }
      if (queue_token[e.slot] != e.token) continue;
      Conversation& c = slots[e.slot];
      if (!c.live || !c.queued || c.queued_due != at) continue;
      unqueue(c);
      if (!c.has_due) continue;
      if (c.due > at) {
        schedule(c);
        continue;
      }
      fire(c);
      schedule(c);
    }
  }

  // Drops stale entries from the top so that next_deadline() is exact.
  void prune() {
    while (!heap.empty()) {
      const Entry& e = heap.top();
      const TimePoint at = from_epoch_ms(e.due);
      if (e.slot & kShopEntry) {
        Shop& s = shops[e.slot & ~kShopEntry];
        const bool current = s.queued && s.queued_due == at;
        if (current && s.waiting > 0) return;
        if (current) s.queued = false;
        pop();
        continue;
      }
      if (queue_token[e.slot] != e.token) {
        pop();
        continue;
      }
      Conversation& c = slots[e.slot];
      const bool current = c.live && c.queued && c.queued_due == at;
      if (current && c.has_due && c.due == at) return;
      pop();
      if (current) {
        unqueue(c);
        schedule(c);
      }
    }
  }

  // --- violations -----------------------------------------------------------------------------

  Violation& violation(Rule rule, Severity severity, const Shop& s, std::string_view agent,
                       std::string_view conversation, TimePoint ts) {
    Violation& v = scratch;
    v.id.clear();
    v.rule = rule;
    v.severity = severity;
    v.level = 1;
    v.shop.assign(s.cfg->id);
    v.agent.assign(agent);
    v.conversation.assign(conversation);
    v.elapsed = Duration::zero();
    v.target = Duration::zero();
    v.ts = ts;
    v.detail.clear();
    return v;
  }

  // "<conversation>:<rule>:"
  static void conversation_id(Violation& v, Rule rule) {
    v.id.append(v.conversation).append(":").append(to_string(rule)).append(":");
  }

  // "<shop>:<agent>:<rule>:<ts ms>:[<run>-]<seq>": the sequence keeps ids unique within this
  // engine; the run id across restarts of the gateway (the sequence starts again), where the
  // timestamp alone would not do if the wall clock stepped back.
  void agent_id(Violation& v, Rule rule) {
    v.id.append(v.shop).append(":").append(v.agent).append(":").append(to_string(rule));
    v.id.append(":");
    append_number(v.id, static_cast<std::uint64_t>(to_epoch_ms(v.ts)));
    v.id.append(":").append(agent_sequence_prefix);
    append_number(v.id, ++agent_violations);
  }

  // Emits `v`, a violation of conversation `c` (counted in its record's figures).
  void emit(Conversation& c, const Violation& v) {
    ++figures[c.slot].violations[static_cast<std::size_t>(v.rule)];
    sink.on_violation(v);
  }

  void fire(Conversation& c) {
    Shop& s = shops[c.shop];
    const config::SlaConfig& sla = s.cfg->sla;
    const TimePoint at = c.due;
    refresh(s, at);
    if (c.phase == Phase::greeting) {
      const std::uint32_t step = c.greeting_step;
      const Duration threshold = greeting_threshold(sla, step);
      const bool warning = step == 0;
      Violation& v = violation(Rule::greeting, warning ? Severity::warning : Severity::breach, s,
                               owner_name(c), c.id(), at);
      v.level = warning ? 1 : static_cast<int>(step);
      v.elapsed = threshold;
      v.target = warning ? sla.greeting_target : sla.greeting_limit;
      conversation_id(v, Rule::greeting);
      append_number(v.id, static_cast<std::uint64_t>(v.level));
      v.id.append(":").append(to_string(v.severity));
      if (warning)
        figures[c.slot].greeting_warned = true;
      else
        figures[c.slot].greeting_breach_level = step;
      emit(c, v);
      ++c.greeting_step;
      if (c.greeting_step >= 2 && sla.escalate_every <= Duration::zero()) {
        c.has_due = false;
      } else {
        c.due = deadline(s, at, greeting_threshold(sla, c.greeting_step) - threshold);
      }
    } else if (c.phase == Phase::reply) {
      Violation& v = violation(Rule::reply_wait, Severity::breach, s, owner_name(c), c.id(), at);
      v.elapsed = sla.reply_wait_limit;
      v.target = sla.reply_wait_limit;
      conversation_id(v, Rule::reply_wait);
      append_number(v.id, c.waits);
      emit(c, v);
      c.has_due = false;  // once per wait
    } else {
      c.has_due = false;
    }
  }

  void judge_typing(Agent& a, const Shop& s, const Conversation& c, double cpm, TimePoint t) {
    const config::SlaConfig& sla = s.cfg->sla;
    const std::size_t window = a.typing.size();
    if (window == 0) return;
    a.typing[a.typing_next] = cpm;
    a.typing_next = (a.typing_next + 1) % window;
    if (a.typing_filled < window) ++a.typing_filled;
    ++a.typing_since_warning;
    // Only a full window of messages none of which was behind an earlier warning is judged.
    if (a.typing_filled < window || a.typing_since_warning < window) return;
    double sum = 0;
    for (const double x : a.typing) sum += x;
    const double average = sum / static_cast<double>(window);
    if (!(average < sla.typing_min_cpm)) return;
    a.typing_since_warning = 0;
    Violation& v = violation(Rule::typing_rate, Severity::warning, s, a.name, c.id(), t);
    append_cpm(v.detail, average);
    agent_id(v, Rule::typing_rate);
    ++figures[c.slot].violations[static_cast<std::size_t>(Rule::typing_rate)];
    sink.on_violation(v);
  }

  // --- ownership ------------------------------------------------------------------------------

  void detach(Conversation& c) {
    if (c.owner == kNone) return;
    auto& owned = agents[c.owner].owned;
    const std::uint32_t last = owned.back();
    owned[c.owner_pos] = last;
    slots[last].owner_pos = c.owner_pos;
    owned.pop_back();
    c.owner = kNone;
  }

  void attach(Conversation& c, std::uint32_t agent) {
    if (agent == kNone) return;
    auto& owned = agents[agent].owned;
    c.owner = agent;
    c.owner_pos = static_cast<std::uint32_t>(owned.size());
    owned.push_back(c.slot);
  }

  void set_owner(Conversation& c, std::uint32_t agent) {
    if (c.owner == agent) return;
    detach(c);
    attach(c, agent);
    c.typing_agent = kNone;  // a typing start belongs to the previous owner's reply
  }

  Conversation* find(std::string_view id) {
    const std::uint32_t slot = conversations.find(
        id, IdIndex::hash(id), [this](std::uint32_t s) { return slots[s].id(); });
    return slot == IdIndex::kAbsent ? nullptr : &slots[slot];
  }
  const Conversation* find(std::string_view id) const {
    const std::uint32_t slot = conversations.find(
        id, IdIndex::hash(id), [this](std::uint32_t s) { return slots[s].id(); });
    return slot == IdIndex::kAbsent ? nullptr : &slots[slot];
  }

  // --- durability ---------------------------------------------------------------------------

  ConversationClock clock_of(const Conversation& c) const {
    ConversationClock k;
    k.wrote = c.wrote;
    k.first_customer = c.first_customer;
    k.greeted = c.greeted;
    k.waiting = c.waiting;
    k.clock_start = c.clock_start;
    k.armed = c.has_due;
    k.greeting_step = c.greeting_step;
    k.waits = c.waits;
    k.messages = c.messages;
    k.agent_messages = c.agent_messages;
    k.last_agent_farewell = c.last_agent_farewell;
    const Figures& f = figures[c.slot];
    k.first_response = f.first_response;
    k.reply_waits = f.reply_waits;
    k.reply_wait_total = f.reply_wait_total;
    k.reply_wait_max = f.reply_wait_max;
    k.typing_measured = f.typing_measured;
    k.typing_cpm_total = f.typing_cpm_total;
    k.greeting_warned = f.greeting_warned;
    k.greeting_breach_level = f.greeting_breach_level;
    k.violations = f.violations;
    return k;
  }

  bool restore(std::string_view id, std::string_view shop_id, std::string_view owner,
               const ConversationClock& k) {
    const auto shop = shop_index.find(shop_id);
    if (shop == shop_index.end() || find(id)) return false;
    customer_arrived(id, shop_id);
    Conversation& c = *find(id);
    Shop& s = shops[c.shop];
    if (!owner.empty()) attach(c, intern_agent(s, owner));
    c.wrote = k.wrote;
    c.first_customer = k.first_customer;
    c.greeted = k.greeted;
    c.clock_start = k.clock_start;
    c.greeting_step = k.greeting_step;
    c.waits = k.waits;
    c.messages = k.messages;
    c.agent_messages = k.agent_messages;
    c.last_agent_farewell = k.last_agent_farewell;
    Figures& f = figures[c.slot];
    f.first_response = k.first_response;
    f.reply_waits = k.reply_waits;
    f.reply_wait_total = k.reply_wait_total;
    f.reply_wait_max = k.reply_wait_max;
    f.typing_measured = k.typing_measured;
    f.typing_cpm_total = k.typing_cpm_total;
    f.greeting_warned = k.greeting_warned;
    f.greeting_breach_level = k.greeting_breach_level;
    f.violations = k.violations;
    if (!k.waiting) return true;  // idle: no clock runs
    c.waiting = true;
    // The clock's shift state as of its start; transitions after it are planned from there, as
    // customer_message() and fire() would have.
    refresh(s, k.clock_start);
    if (s.waiting++ == 0) schedule_transition(s);
    const config::SlaConfig& sla = s.cfg->sla;
    c.phase = c.greeted ? Phase::reply : Phase::greeting;
    if (!k.armed) return true;  // this wait's deadline fired already
    c.due = deadline(s, k.clock_start,
                     c.phase == Phase::greeting ? greeting_threshold(sla, c.greeting_step)
                                                : sla.reply_wait_limit);
    c.has_due = true;
    schedule(c);
    return true;
  }

  // --- events ---------------------------------------------------------------------------------

  void customer_arrived(std::string_view id, std::string_view shop_id) {
    const auto shop = shop_index.find(shop_id);
    if (shop == shop_index.end() || find(id)) return;
    std::uint32_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slots.size());
      slots.emplace_back();
      figures.emplace_back();
      queue_token.push_back(0);
    }
    Conversation& c = slots[slot];
    c = Conversation{};
    figures[slot] = Figures{};
    c.slot = slot;
    c.shop = shop->second;
    c.live = true;
    c.set_id(id);
    c.id_hash = IdIndex::hash(id);
    conversations.insert(c.id_hash, slot);
  }

  void customer_message(Conversation& c, TimePoint t) {
    Shop& s = shops[c.shop];
    refresh(s, t);
    ++c.messages;
    if (!c.wrote) {
      c.wrote = true;
      c.first_customer = t;
    }
    if (c.waiting) return;  // the earliest unanswered message keeps the clock
    c.waiting = true;
    if (s.waiting++ == 0) schedule_transition(s);
    const config::SlaConfig& sla = s.cfg->sla;
    c.clock_start = t;
    if (!c.greeted) {
      c.phase = Phase::greeting;
      // A warning only makes sense before the limit; at the same moment the breach says it all.
      c.greeting_step = sla.greeting_target < sla.greeting_limit ? 0 : 1;
      c.due = deadline(s, t, greeting_threshold(sla, c.greeting_step));
    } else {
      c.phase = Phase::reply;
      ++c.waits;
      c.due = deadline(s, t, sla.reply_wait_limit);
    }
    c.has_due = true;
    schedule(c);
  }

  void stop_waiting(Shop& s, Conversation& c) {
    c.phase = Phase::idle;
    c.has_due = false;  // the queued entry, if any, stays: it may serve the next wait too
    if (!c.waiting) return;
    c.waiting = false;
    --s.waiting;
  }

  void agent_message(Conversation& c, std::string_view name, std::string_view text, TimePoint t) {
    Shop& s = shops[c.shop];
    refresh(s, t);
    const config::SlaConfig& sla = s.cfg->sla;
    const std::uint32_t a = agent_in(c, name);
    const std::string_view shop_id = s.cfg->id;
    ++c.messages;
    ++c.agent_messages;
    const bool greeting = !c.greeted;
    if (greeting) {
      c.greeted = true;
      // Greeting before the customer wrote: the clock never started, nobody waited.
      const Duration latency = c.wrote ? elapsed(s, c.first_customer, t) : Duration::zero();
      figures[c.slot].first_response = latency;
      sink.on_greeting(shop_id, name, latency);
      stop_waiting(s, c);
    } else if (c.waiting) {
      const Duration wait = elapsed(s, c.clock_start, t);
      Figures& f = figures[c.slot];
      ++f.reply_waits;
      f.reply_wait_total += wait;
      f.reply_wait_max = std::max(f.reply_wait_max, wait);
      sink.on_reply_wait(shop_id, name, wait);
      stop_waiting(s, c);
    }

    bool greeted_politely = false;
    bool said_goodbye = false;
    s.phrases.for_each_match(text, [&](std::size_t i) {
      if (i < s.avoid_count) {
        Violation& v = violation(Rule::language, Severity::warning, s, name, c.id(), t);
        v.detail.assign(s.phrases.phrase(i));
        conversation_id(v, Rule::language);
        append_number(v.id, c.messages);
        v.id.append(":");
        append_number(v.id, i);
        emit(c, v);
      } else if (i < s.greeting_end) {
        greeted_politely = true;
      } else {
        said_goodbye = true;
      }
    });
    c.last_agent_farewell = said_goodbye;
    if (greeting && s.greeting_end > s.avoid_count && !greeted_politely) {
      Violation& v = violation(Rule::courtesy, Severity::warning, s, name, c.id(), t);
      v.detail.assign("greeting");
      conversation_id(v, Rule::courtesy);
      v.id.append("greeting");
      emit(c, v);
    }

    if (c.typing_agent != a) {
      sink.on_typing_unmeasured(shop_id, name);
      return;
    }
    c.typing_agent = kNone;
    const Duration took = t - c.typing_start;
    const std::optional<std::size_t> chars =
        took > Duration::zero() ? utf8::count_code_points_trusted(text) : std::nullopt;
    if (!chars || *chars < sla.typing_min_chars) {
      sink.on_typing_unmeasured(shop_id, name);
      return;
    }
    const double cpm = static_cast<double>(*chars) * 60'000.0 / static_cast<double>(took.count());
    ++figures[c.slot].typing_measured;
    figures[c.slot].typing_cpm_total += cpm;
    sink.on_typing_rate(shop_id, name, cpm);
    judge_typing(agents[a], s, c, cpm, t);
  }

  void agent_typing(Conversation& c, std::string_view name, bool start, TimePoint t) {
    if (!start) return;  // pauses count: the rate runs from the first start to the send
    const std::uint32_t a = agent_in(c, name);
    if (c.typing_agent == a) return;
    c.typing_agent = a;
    c.typing_start = t;
  }

  void end(Conversation& c, bool by_agent, std::string_view closer, TimePoint t,
           ConversationClock* final) {
    Shop& s = shops[c.shop];
    refresh(s, t);
    const config::SlaConfig& sla = s.cfg->sla;
    const std::string_view shop_id = s.cfg->id;
    if (by_agent && s.phrases.size() > s.greeting_end && !c.last_agent_farewell) {
      Violation& v = violation(Rule::courtesy, Severity::warning, s,
                               closer.empty() ? owner_name(c) : closer, c.id(), t);
      v.detail.assign("farewell");
      conversation_id(v, Rule::courtesy);
      v.id.append("farewell");
      emit(c, v);
    }
    if (c.agent_messages == 0) {
      if (!by_agent && c.wrote) {
        const Duration waited = elapsed(s, c.first_customer, t);
        if (waited >= sla.greeting_limit) {
          Violation& v = violation(Rule::missed, Severity::breach, s, owner_name(c), c.id(), t);
          v.elapsed = waited;
          v.target = sla.greeting_limit;
          conversation_id(v, Rule::missed);
          v.id.pop_back();  // "<conversation>:missed"
          emit(c, v);
        }
      }
      sink.on_outcome(shop_id, Outcome::missed);
    } else {
      sink.on_outcome(shop_id, Outcome::served);
    }
    if (final) *final = clock_of(c);
    release(c);
  }

  // The conversation leaves the engine: its deadlines, its place in the waiting count, its slot.
  void release(Conversation& c) {
    stop_waiting(shops[c.shop], c);
    detach(c);
    c.live = false;
    unqueue(c);
    free_slots.push_back(c.slot);
    conversations.erase(c.id_hash, c.slot);
  }

  void agent_status(std::string_view shop_id, std::string_view name, AgentState state,
                    std::size_t open, TimePoint t) {
    const auto shop = shop_index.find(shop_id);
    if (shop == shop_index.end()) return;
    Shop& s = shops[shop->second];
    intern_agent(s, name);
    if (state == AgentState::available || open == 0) return;
    Violation& v = violation(Rule::handover, Severity::breach, s, name, {}, t);
    append_number(v.detail, open);
    agent_id(v, Rule::handover);
    sink.on_violation(v);
  }

  void transferred(Conversation& c, std::optional<std::string_view> to) {
    Shop& s = shops[c.shop];
    set_owner(c, to ? intern_agent(s, *to) : kNone);
    sink.on_outcome(s.cfg->id, to ? Outcome::transferred : Outcome::requeued);
  }

  void handed_over(std::string_view shop_id, std::string_view from, std::string_view to) {
    const auto shop = shop_index.find(shop_id);
    if (shop == shop_index.end()) return;
    Shop& s = shops[shop->second];
    const std::uint32_t source = find_agent(s, from);
    if (source == kNone) return;
    const std::uint32_t target = to.empty() ? kNone : intern_agent(s, to);
    if (target == source) return;
    std::vector<std::uint32_t> moved;
    moved.swap(agents[source].owned);
    for (const std::uint32_t slot : moved) {
      Conversation& c = slots[slot];
      c.owner = kNone;  // already out of the source's list
      attach(c, target);
      c.typing_agent = kNone;
      sink.on_outcome(s.cfg->id, Outcome::handed_over);
    }
    moved.clear();
    moved.swap(agents[source].owned);  // keep the capacity for the agent's next conversations
  }
};

SlaEngine::SlaEngine(const config::Config& config, SlaSink& sink, std::string_view run_id)
    : impl_(std::make_unique<Impl>(config, sink, run_id)) {}

SlaEngine::~SlaEngine() = default;

void SlaEngine::customer_arrived(std::string_view conversation, std::string_view shop,
                                 TimePoint t) {
  impl_->fire_due(t);
  impl_->customer_arrived(conversation, shop);
  impl_->prune();
}

void SlaEngine::customer_message(std::string_view conversation, std::string_view /*text*/,
                                 TimePoint t) {
  impl_->fire_due(t);
  if (Conversation* c = impl_->find(conversation)) impl_->customer_message(*c, t);
  impl_->prune();
}

void SlaEngine::customer_left(std::string_view conversation, TimePoint t,
                              ConversationClock* final) {
  impl_->fire_due(t);
  if (Conversation* c = impl_->find(conversation)) impl_->end(*c, false, {}, t, final);
  impl_->prune();
}

void SlaEngine::agent_message(std::string_view conversation, std::string_view agent,
                              std::string_view text, TimePoint t) {
  impl_->fire_due(t);
  if (Conversation* c = impl_->find(conversation)) impl_->agent_message(*c, agent, text, t);
  impl_->prune();
}

void SlaEngine::agent_typing(std::string_view conversation, std::string_view agent, bool start,
                             TimePoint t) {
  impl_->fire_due(t);
  if (Conversation* c = impl_->find(conversation)) impl_->agent_typing(*c, agent, start, t);
  impl_->prune();
}

void SlaEngine::agent_status(std::string_view shop, std::string_view agent, AgentState state,
                             std::size_t open_conversations, TimePoint t) {
  impl_->fire_due(t);
  impl_->agent_status(shop, agent, state, open_conversations, t);
  impl_->prune();
}

void SlaEngine::assigned(std::string_view conversation, std::string_view agent, TimePoint t) {
  impl_->fire_due(t);
  if (Conversation* c = impl_->find(conversation))
    impl_->set_owner(*c, impl_->intern_agent(impl_->shops[c->shop], agent));
  impl_->prune();
}

void SlaEngine::transferred(std::string_view conversation, std::string_view /*from_agent*/,
                            std::optional<std::string_view> to_agent, TimePoint t) {
  impl_->fire_due(t);
  if (Conversation* c = impl_->find(conversation)) impl_->transferred(*c, to_agent);
  impl_->prune();
}

void SlaEngine::handed_over(std::string_view shop, std::string_view from_agent,
                            std::string_view to_agent, TimePoint t) {
  impl_->fire_due(t);
  impl_->handed_over(shop, from_agent, to_agent);
  impl_->prune();
}

void SlaEngine::closed(std::string_view conversation, std::string_view agent, bool by_agent,
                       TimePoint t, ConversationClock* final) {
  impl_->fire_due(t);
  if (Conversation* c = impl_->find(conversation)) impl_->end(*c, by_agent, agent, t, final);
  impl_->prune();
}

std::optional<ConversationClock> SlaEngine::conversation_clock(
    std::string_view conversation) const {
  const Conversation* c = impl_->find(conversation);
  if (!c) return std::nullopt;
  return impl_->clock_of(*c);
}

bool SlaEngine::restore(std::string_view conversation, std::string_view shop,
                        std::string_view owner, const ConversationClock& clock) {
  const bool done = impl_->restore(conversation, shop, owner, clock);
  impl_->prune();
  return done;
}

bool SlaEngine::forget(std::string_view conversation) {
  Conversation* c = impl_->find(conversation);
  if (!c) return false;
  impl_->release(*c);
  impl_->prune();
  return true;
}

std::optional<TimePoint> SlaEngine::next_deadline() const {
  if (impl_->heap.empty()) return std::nullopt;
  return from_epoch_ms(impl_->heap.top().due);
}

void SlaEngine::advance(TimePoint now) {
  impl_->fire_due(now);
  impl_->prune();
}

std::size_t SlaEngine::customers_waiting(std::string_view shop) const {
  const Shop* s = impl_->find_shop(shop);
  return s ? s->waiting : 0;
}

bool SlaEngine::is_open(std::string_view shop, TimePoint t) const {
  const Shop* s = impl_->find_shop(shop);
  return s && s->hours.is_open(t);
}

std::optional<TimePoint> SlaEngine::next_opening(std::string_view shop, TimePoint t) const {
  const Shop* s = impl_->find_shop(shop);
  if (!s) return std::nullopt;
  return s->hours.next_opening(t);
}

}  // namespace chatdesk::monitor
