#include "chatdesk/gateway/desk.hpp"

#include <algorithm>
#include <boost/container/deque.hpp>
#include <charconv>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "chatdesk/gateway/conversation_record.hpp"
#include "chatdesk/gateway/protocol.hpp"
#include "chatdesk/gateway/store_codec.hpp"

namespace chatdesk::gateway {
namespace {

// Roster ("desk") frames are coalesced to at most one per shop per this interval, so a burst of
// arrivals does not send every agent a frame per customer.
constexpr Duration kRosterInterval{1000};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, 16);
}

// Compares two secret hashes in time that does not depend on where the first difference is.
bool same_secret(std::string_view expected, std::string_view given) {
  if (expected.size() != given.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ given[i]);
  return diff == 0;
}

std::string_view presence_name(AgentPresence p) {
  return p == AgentPresence::available ? "available" : "away";
}

}  // namespace

struct Desk::Impl {
  struct Shop;

  struct Conversation {
    std::string id;
    Shop* shop = nullptr;
    std::string customer;
    std::string secret_hash;         // of the resume secret (the secret itself is not kept)
    SessionId customer_session = 0;  // 0 while the customer is disconnected
    std::optional<TimePoint> left_at;
    std::string owner;                             // empty while queued
    boost::container::deque<ChatMessage> history;  // no allocation while empty
    std::uint64_t seq = 0;
    std::string note;
    std::optional<TimePoint> waiting_since;  // earliest unanswered customer message
    bool greeted = false;
    TimePoint arrived_at{};
    std::optional<TimePoint> first_message_at;
    std::optional<TimePoint> last_customer_at;
    std::optional<std::int64_t> queue_pos;  // while queued (docs/storage.md)
    std::vector<std::string> agents;        // owners so far, each once
    std::uint32_t transfers = 0;
    std::uint32_t handovers = 0;
    // Durability: messages with a sequence number above stored_seq have not been taken by the
    // store yet (they stay in history even past history_limit until then).
    std::uint64_t stored_seq = 0;
    bool dirty = false;        // in Impl::dirty
    bool ever_stored = false;  // the store has heard of it
  };

  struct Agent {
    std::string id;
    SessionId session = 0;
    AgentPresence state = AgentPresence::away;
    std::vector<std::string> open;  // conversation ids, in assignment order
    TimePoint idle_since{};         // last assignment or becoming available
    // Recovered after a restart and not reconnected yet: its conversations wait for it until then.
    std::optional<TimePoint> grace_until;
  };

  struct Shop {
    const config::ShopConfig* config = nullptr;
    std::deque<std::string> queue;  // conversation ids, FIFO
    std::int64_t next_back = 1;     // queue positions (Conversation::queue_pos) for the store
    std::int64_t next_front = 0;
    std::map<std::string, Agent, std::less<>> agents;
    std::size_t conversations = 0;
    std::uint64_t customer_messages = 0;
    std::uint64_t agent_messages = 0;
    TimePoint last_roster{};
    bool roster_dirty = false;
    std::uint64_t version = 0;  // bumped on every change a lead page may show
  };

  enum class Kind { customer, agent };
  struct Session {
    Kind kind;
    Shop* shop;
    std::string id;  // conversation id for a customer, agent id for an agent
  };

  const config::Config& config;
  const Clock& clock;
  DeskOutput& out;
  monitor::SlaEngine& engine;
  RandomSource random;
  ParseLimits limits;

  StringMap<Shop> shops;             // made once; Shop pointers stay valid
  std::vector<Shop*> dirty_rosters;  // shops whose roster_dirty is set, each once
  StringMap<Conversation> conversations;
  StringMap<std::string> conversation_of_customer;  // "<shop>/<customer>" → conversation id
  std::unordered_map<SessionId, Session> sessions;
  std::set<std::pair<TimePoint, std::string>> grace_ends;  // customers who may still come back
  // Recovered agents not reconnected yet: (grace end, shop, agent).
  std::set<std::tuple<TimePoint, Shop*, std::string>> agent_graces;

  // --- durability (docs/storage.md); only while a store is attached ------------------------
  bool storing = false;
  bool accepting = true;  // false while the store cannot write: messages and commands refused
  std::vector<Conversation*> dirty;  // changed since the last take_changes(), each once
  struct Ended {
    StoredConversation state;
    std::vector<ChatMessage> messages;  // not taken by the store yet
    ConversationRecord record;
  };
  std::vector<Ended> ended;
  std::vector<std::pair<Shop*, std::string>> agents_changed;  // (shop, agent id)
  StoredConversation scratch_state;
  std::vector<const ChatMessage*> scratch_messages;

  Impl(const config::Config& c, const Clock& clk, DeskOutput& o, monitor::SlaEngine& e,
       RandomSource r)
      : config(c), clock(clk), out(o), engine(e), random(std::move(r)) {
    limits.max_text_chars = config.limits.max_text_chars;
    // Frames come from WebSocket text messages, which Beast has checked (desk.hpp).
    limits.frame_is_valid_utf8 = true;
    for (const auto& s : config.shops) shops[s.id].config = &s;
  }

  static std::string customer_key(const Shop& shop, std::string_view customer) {
    std::string key = shop.config->id;
    key += '/';
    key += customer;
    return key;
  }

  Shop* find_shop(std::string_view id) {
    auto it = shops.find(id);
    return it == shops.end() ? nullptr : &it->second;
  }

  Conversation* find_conversation(std::string_view id) {
    auto it = conversations.find(id);
    return it == conversations.end() ? nullptr : &it->second;
  }

  Agent* find_agent(Shop& shop, std::string_view id) {
    auto it = shop.agents.find(id);
    return it == shop.agents.end() ? nullptr : &it->second;
  }

  void send_to_agent(Shop& shop, std::string_view agent, const Frame& f) {
    if (auto* a = find_agent(shop, agent); a && a->session) out.send(a->session, f);
  }

  // Tells a client its frame was refused, and counts it.
  void reject(SessionId session, const ProtocolError& error) {
    out.protocol_error(error.code);
    out.send(session, frames::error(error));
  }
  void reject(SessionId session, ErrorCode code, std::string message,
              std::string_view client_msg_id = {}) {
    reject(session, ProtocolError{code, std::move(message), std::string(client_msg_id)});
  }

  void send_to_customer(const Conversation& c, const Frame& f) {
    if (c.customer_session) out.send(c.customer_session, f);
  }

  void mark_roster(Shop& shop) {
    if (!shop.roster_dirty) dirty_rosters.push_back(&shop);
    shop.roster_dirty = true;
    ++shop.version;
  }

  // Sends the roster of every shop whose update is due; called after each event. Only shops
  // with a change are looked at (this runs for every message).
  void flush_rosters(TimePoint now) {
    std::erase_if(dirty_rosters, [&](Shop* shop) {
      flush_roster(*shop, now);
      return !shop->roster_dirty;
    });
  }

  // After each event from outside: rosters that became due go out.
  void after_event() {
    if (!dirty_rosters.empty()) flush_rosters(clock.now());
  }

  void flush_roster(Shop& shop, TimePoint now) {
    if (!shop.roster_dirty || now < shop.last_roster + kRosterInterval) return;
    std::vector<AgentSummary> list;
    list.reserve(shop.agents.size());
    for (const auto& [id, a] : shop.agents)
      list.push_back({id, presence_name(a.state), a.open.size()});
    auto frame = frames::desk(shop.queue.size(), list);
    for (const auto& [id, a] : shop.agents)
      if (a.session) out.send(a.session, frame);  // 0: recovered, not reconnected yet
    shop.roster_dirty = false;
    shop.last_roster = now;
  }

  void mark(Conversation& c) {
    if (!storing || c.dirty) return;
    c.dirty = true;
    dirty.push_back(&c);
  }

  void agent_changed(Shop& shop, std::string_view agent) {
    if (storing) agents_changed.emplace_back(&shop, std::string(agent));
  }

  // Keeps history within its limit, but never drops a message the store has not taken.
  void trim_history(Conversation& c) {
    while (c.history.size() > config.limits.history_limit &&
           (!storing || store::message_seq(c.history.front().id) <= c.stored_seq))
      c.history.pop_front();
  }

  // `c` as the store keeps it, into `out` (whose buffers are reused).
  void fill_stored(const Conversation& c, StoredConversation& out) {
    out.id.assign(c.id);
    out.shop.assign(c.shop->config->id);
    out.customer.assign(c.customer);
    out.secret_hash.assign(c.secret_hash);
    out.owner.assign(c.owner);
    out.queue_pos = c.queue_pos;
    out.created = c.arrived_at;
    out.first_message_at = c.first_message_at;
    out.last_customer_at = c.last_customer_at;
    out.waiting_since = c.waiting_since;
    out.left_at = c.left_at;
    out.greeted = c.greeted;
    out.note.assign(c.note);
    out.seq = c.seq;
    out.agents.resize(c.agents.size());
    for (std::size_t i = 0; i < c.agents.size(); ++i) out.agents[i].assign(c.agents[i]);
    out.transfers = c.transfers;
    out.handovers = c.handovers;
    out.clock = engine.conversation_clock(c.id).value_or(monitor::ConversationClock{});
  }

  // The messages of `c` the store has not taken yet, oldest first.
  void new_messages(const Conversation& c, std::vector<const ChatMessage*>& out) {
    out.clear();
    const std::uint64_t count = c.seq - c.stored_seq;
    const std::size_t n = std::min<std::size_t>(count, c.history.size());
    for (std::size_t i = c.history.size() - n; i < c.history.size(); ++i)
      out.push_back(&c.history[i]);
  }

  bool has_changes() const { return !dirty.empty() || !ended.empty() || !agents_changed.empty(); }

  void take_changes(DeskChangeSink& sink) {
    for (Conversation* c : dirty) {
      c->dirty = false;
      fill_stored(*c, scratch_state);
      new_messages(*c, scratch_messages);
      sink.conversation(scratch_state, scratch_messages, !c->ever_stored);
      c->ever_stored = true;
      c->stored_seq = c->seq;
      trim_history(*c);
    }
    dirty.clear();
    for (const Ended& e : ended) {
      scratch_messages.clear();
      for (const auto& m : e.messages) scratch_messages.push_back(&m);
      sink.ended(e.state, scratch_messages, e.record);
    }
    ended.clear();
    for (const auto& [shop, id] : agents_changed) {
      const Agent* a = find_agent(*shop, id);
      sink.agent(shop->config->id, id, a ? std::optional<AgentPresence>(a->state) : std::nullopt);
    }
    agents_changed.clear();
  }

  std::span<const ChatMessage> history_span(Conversation& c) {
    // A deque is not contiguous; history frames are rare (assignment, resume), so copy then.
    scratch_history.assign(c.history.begin(), c.history.end());
    return scratch_history;
  }
  std::vector<ChatMessage> scratch_history;

  // --- routing --------------------------------------------------------------------------

  // The available agent with the fewest open conversations below capacity; ties go to the one
  // idle longest, then to the smaller id so the choice is deterministic.
  Agent* pick_agent(Shop& shop, std::string_view avoid) {
    Agent* best = nullptr;
    for (auto& [id, a] : shop.agents) {
      // A recovered agent that has not reconnected yet (session 0) gets nothing new.
      if (a.state != AgentPresence::available || !a.session ||
          a.open.size() >= shop.config->max_concurrent)
        continue;
      if (!avoid.empty() && id == avoid) continue;
      if (!best || a.open.size() < best->open.size() ||
          (a.open.size() == best->open.size() && a.idle_since < best->idle_since))
        best = &a;
    }
    return best;
  }

  void dispatch(Shop& shop, TimePoint now, std::string_view avoid = {}) {
    while (!shop.queue.empty()) {
      Agent* agent = pick_agent(shop, avoid);
      if (!agent) break;
      std::string id = std::move(shop.queue.front());
      shop.queue.pop_front();
      mark_roster(shop);
      if (auto* c = find_conversation(id)) {
        c->queue_pos.reset();
        assign(*c, *agent, now);
      }
    }
  }

  void assign(Conversation& c, Agent& agent, TimePoint now) {
    c.owner = agent.id;
    if (std::find(c.agents.begin(), c.agents.end(), agent.id) == c.agents.end())
      c.agents.push_back(agent.id);
    mark(c);
    agent.open.push_back(c.id);
    agent.idle_since = now;
    mark_roster(*c.shop);
    engine.assigned(c.id, agent.id, now);
    out.send(agent.session, assigned_frame(c, now));
    send_to_customer(c, frames::assigned_to_customer(c.id, agent.id));
  }

  // What a (new) owner needs to continue `c`: history, note and the SLA clock's state.
  Frame assigned_frame(Conversation& c, TimePoint now) {
    AssignedFrame f;
    f.conversation = c.id;
    f.customer = c.customer;
    f.note = c.note;
    f.history = history_span(c);
    f.ts = now;
    f.waiting_since = c.waiting_since;
    f.greeted = c.greeted;
    f.customer_online = c.customer_session != 0;
    return frames::assigned_to_agent(f);
  }

  // Takes `c` from its owner (who is told why) without assigning it anywhere yet.
  void release(Conversation& c, std::string_view reason) {
    if (c.owner.empty()) return;
    if (auto* a = find_agent(*c.shop, c.owner)) {
      std::erase(a->open, c.id);
      if (!reason.empty() && a->session) out.send(a->session, frames::unassigned(c.id, reason));
    }
    c.owner.clear();
    mark(c);
    mark_roster(*c.shop);
  }

  // Back to the front of the queue: the customer has waited already and keeps its place.
  void requeue_front(Conversation& c) {
    c.shop->queue.push_front(c.id);
    c.queue_pos = c.shop->next_front--;
    mark(c);
    mark_roster(*c.shop);
  }

  void end_conversation(Conversation& c, ClosedBy closed_by, TimePoint now) {
    Shop& shop = *c.shop;
    const Party by = closed_by == ClosedBy::agent ? Party::agent : Party::customer;
    Ended* record = nullptr;
    if (storing) {
      record = &ended.emplace_back();
      fill_stored(c, record->state);
      record->state.queue_pos.reset();
      new_messages(c, scratch_messages);
      for (const ChatMessage* m : scratch_messages) record->messages.push_back(*m);
    }
    monitor::ConversationClock* last = record ? &record->state.clock : nullptr;
    if (by == Party::customer)
      engine.customer_left(c.id, now, last);
    else
      engine.closed(c.id, c.owner, true, now, last);
    if (record) record->record = build_record(record->state, now, closed_by);
    auto frame = frames::closed(c.id, by);
    if (!c.owner.empty()) {
      send_to_agent(shop, c.owner, frame);
      release(c, {});
    } else {
      std::erase(shop.queue, c.id);
      mark_roster(shop);
    }
    send_to_customer(c, frame);
    if (c.left_at) grace_ends.erase({*c.left_at + shop.config->resume_grace, c.id});
    conversation_of_customer.erase(customer_key(shop, c.customer));
    --shop.conversations;
    if (c.dirty) std::erase(dirty, &c);  // its last state went into `ended`
    std::string id = c.id;
    conversations.erase(id);
    dispatch(shop, now);
  }

  // Gives every open conversation of `agent` back to the queue front, oldest first in line.
  void requeue_all(Agent& agent, TimePoint now, std::string_view reason) {
    auto open = agent.open;
    for (auto it = open.rbegin(); it != open.rend(); ++it) {
      auto* c = find_conversation(*it);
      if (!c) continue;
      release(*c, reason);
      engine.transferred(c->id, agent.id, std::nullopt, now);
      requeue_front(*c);
    }
  }

  // --- customers ------------------------------------------------------------------------

  void customer_connected(SessionId session, std::string_view shop_id, std::string_view customer,
                          std::string_view resume) {
    Shop* shop = find_shop(shop_id);
    if (!shop) return;
    TimePoint now = clock.now();
    if (!customer.empty() && !resume.empty()) {
      auto it = conversation_of_customer.find(customer_key(*shop, customer));
      if (it != conversation_of_customer.end()) {
        Conversation* c = find_conversation(it->second);
        if (c && same_secret(c->secret_hash, store::secret_hash(resume)))
          return resume_conversation(session, *c, resume, now);
      }
    }
    open_conversation(session, *shop, customer, now);
  }

  void open_conversation(SessionId session, Shop& shop, std::string_view wanted_customer,
                         TimePoint now) {
    Conversation c;
    c.id = "c-" + hex64(random());
    c.shop = &shop;
    // A customer id already in use needs its resume secret; without it, the customer gets a new id
    // so that nobody can join another customer's conversation by guessing an id.
    std::string key = customer_key(shop, wanted_customer);
    if (!wanted_customer.empty() && is_valid_client_id(wanted_customer) &&
        !conversation_of_customer.contains(key))
      c.customer = std::string(wanted_customer);
    else
      c.customer = "u-" + hex64(random());
    std::string resume = hex64(random());
    resume += hex64(random());
    c.secret_hash = store::secret_hash(resume);
    c.customer_session = session;
    c.arrived_at = now;
    std::string id = c.id;
    conversation_of_customer[customer_key(shop, c.customer)] = id;
    auto& stored = conversations.emplace(id, std::move(c)).first->second;
    sessions[session] = Session{Kind::customer, &shop, id};
    ++shop.conversations;
    engine.customer_arrived(id, shop.config->id, now);

    bool open = engine.is_open(shop.config->id, now);
    CustomerWelcome w;
    w.conversation = stored.id;
    w.customer = stored.customer;
    w.resume = resume;
    w.shop = shop.config->id;
    w.shop_name = shop.config->name;
    w.desk_open = open;
    out.send(session, frames::customer_welcome(w));
    // Fix: say when the desk opens (docs/protocol.md: `opens_at`); it was always null.
    if (!open) out.send(session, frames::notice_offline(engine.next_opening(shop.config->id, now)));
    shop.queue.push_back(id);
    stored.queue_pos = shop.next_back++;
    mark(stored);
    mark_roster(shop);
    dispatch(shop, now);
  }

  void resume_conversation(SessionId session, Conversation& c, std::string_view resume,
                           TimePoint now) {
    Shop& shop = *c.shop;
    if (c.customer_session) {
      // The same customer in a second tab: the newest connection wins.
      sessions.erase(c.customer_session);
      out.send(c.customer_session,
               frames::error(ErrorCode::replaced, "this chat continued in another window"));
      out.close(c.customer_session, CloseReason::replaced);
    }
    if (c.left_at) grace_ends.erase({*c.left_at + shop.config->resume_grace, c.id});
    c.left_at.reset();
    mark(c);
    c.customer_session = session;
    sessions[session] = Session{Kind::customer, &shop, c.id};
    bool open = engine.is_open(shop.config->id, now);
    CustomerWelcome w;
    w.conversation = c.id;
    w.customer = c.customer;
    w.resume = resume;
    w.shop = shop.config->id;
    w.shop_name = shop.config->name;
    w.agent = c.owner;
    w.assigned = !c.owner.empty();
    w.desk_open = open;
    w.history = history_span(c);
    out.send(session, frames::customer_welcome(w));
    // Fix: say when the desk opens (docs/protocol.md: `opens_at`); it was always null.
    if (!open) out.send(session, frames::notice_offline(engine.next_opening(shop.config->id, now)));
    ++shop.version;
    if (!c.owner.empty()) send_to_agent(shop, c.owner, frames::presence(c.id, true));
  }

  Conversation* customer_conversation(SessionId session,
                                      const std::string* client_msg_id = nullptr) {
    auto it = sessions.find(session);
    if (it == sessions.end() || it->second.kind != Kind::customer) return nullptr;
    Conversation* c = find_conversation(it->second.id);
    if (!c)
      reject(session, ErrorCode::conversation_closed, "this conversation has ended",
             client_msg_id ? *client_msg_id : std::string_view{});
    return c;
  }

  void customer_frame(SessionId session, std::string_view frame) {
    if (!sessions.contains(session)) return;
    auto parsed = parse_customer_frame(frame, limits);
    if (auto* err = std::get_if<ProtocolError>(&parsed)) return reject(session, *err);
    auto& command = std::get<CustomerCommand>(parsed);
    if (!accepting && !std::holds_alternative<CustomerTyping>(command)) {
      const auto* m = std::get_if<CustomerMessage>(&command);
      return refuse_unavailable(session, m ? std::string_view(m->client_msg_id) : "");
    }
    TimePoint now = clock.now();
    if (auto* m = std::get_if<CustomerMessage>(&command)) {
      Conversation* c = customer_conversation(session, &m->client_msg_id);
      if (!c) return;
      ChatMessage& msg = append(*c, Party::customer, c->owner, std::move(m->text), now);
      if (!c->waiting_since) c->waiting_since = now;
      c->last_customer_at = now;
      ++c->shop->customer_messages;
      engine.customer_message(c->id, msg.text, now);
      out.send(session, frames::ack(m->client_msg_id, msg.id, now));
      if (!c->owner.empty()) send_to_agent(*c->shop, c->owner, frames::message(c->id, msg));
    } else if (std::holds_alternative<CustomerTyping>(command)) {
      Conversation* c = customer_conversation(session);
      if (c && !c->owner.empty())
        send_to_agent(*c->shop, c->owner, frames::typing(c->id, Party::customer, std::nullopt));
    } else {
      Conversation* c = customer_conversation(session);
      if (c) end_conversation(*c, ClosedBy::customer, now);
    }
  }

  // The store cannot write now: nothing of the frame was done, and the client may send it again.
  void refuse_unavailable(SessionId session, std::string_view client_msg_id) {
    reject(session, ErrorCode::unavailable,
           "the desk cannot store messages right now; nothing was sent, try again shortly",
           client_msg_id);
  }

  ChatMessage& append(Conversation& c, Party from, std::string_view agent, std::string text,
                      TimePoint now) {
    ChatMessage m;
    // "<conversation>:<seq>", built in place (one allocation, not three temporaries).
    char seq[20];
    const auto end = std::to_chars(seq, seq + sizeof seq, ++c.seq).ptr;
    m.id.reserve(c.id.size() + 1 + static_cast<std::size_t>(end - seq));
    m.id.append(c.id).append(1, ':').append(seq, end);
    m.from = from;
    m.agent = std::string(agent);
    m.text = std::move(text);
    m.ts = now;
    c.history.push_back(std::move(m));
    ++c.shop->version;
    if (from == Party::customer && !c.first_message_at) c.first_message_at = now;
    mark(c);
    trim_history(c);
    return c.history.back();
  }

  void customer_disconnected(SessionId session) {
    auto it = sessions.find(session);
    if (it == sessions.end()) return;
    std::string id = std::move(it->second.id);
    sessions.erase(it);
    Conversation* c = find_conversation(id);
    if (!c || c->customer_session != session) return;
    TimePoint now = clock.now();
    c->customer_session = 0;
    c->left_at = now;
    mark(*c);
    grace_ends.emplace(now + c->shop->config->resume_grace, c->id);
    ++c->shop->version;
    if (!c->owner.empty()) send_to_agent(*c->shop, c->owner, frames::presence(c->id, false));
  }

  // --- agents ---------------------------------------------------------------------------

  void agent_connected(SessionId session, std::string_view shop_id, std::string_view agent_id) {
    Shop* shop = find_shop(shop_id);
    if (!shop) return;
    TimePoint now = clock.now();
    auto [it, fresh] = shop->agents.try_emplace(std::string(agent_id));
    Agent& agent = it->second;
    if (agent.grace_until) {  // recovered after a restart: back in time
      agent_graces.erase({*agent.grace_until, shop, agent.id});
      agent.grace_until.reset();
    }
    if (fresh) {
      agent.id = std::string(agent_id);
      agent.idle_since = now;
      agent_changed(*shop, agent.id);
    } else if (agent.session) {
      sessions.erase(agent.session);
      out.send(agent.session,
               frames::error(ErrorCode::replaced, "this agent connected again elsewhere"));
      out.close(agent.session, CloseReason::replaced);
    }
    agent.session = session;
    sessions[session] = Session{Kind::agent, shop, agent.id};
    out.send(session, frames::agent_welcome(agent.id, *shop->config, presence_name(agent.state)));
    if (!fresh) {
      // The new console takes over where the old one was.
      for (const auto& id : agent.open) {
        auto* c = find_conversation(id);
        if (!c) continue;
        out.send(session, assigned_frame(*c, now));
      }
    }
    // A newcomer sees the roster at once; the others within the roster interval.
    // Fix: when the shop's update is due now, the flush that follows this event sends it to every
    // agent, this one included; sending it here too gave the newcomer the same frame twice.
    if (now < shop->last_roster + kRosterInterval) {
      std::vector<AgentSummary> list;
      for (const auto& [id, a] : shop->agents)
        list.push_back({id, presence_name(a.state), a.open.size()});
      out.send(session, frames::desk(shop->queue.size(), list));
    }
    mark_roster(*shop);
  }

  // Forgets an agent's session; the agent it was the live connection of, or null (not an agent
  // session, or one replaced already).
  Agent* end_agent_session(SessionId session, Shop*& shop) {
    auto it = sessions.find(session);
    if (it == sessions.end()) return nullptr;
    shop = it->second.shop;
    const std::string id = std::move(it->second.id);
    sessions.erase(it);
    Agent* agent = find_agent(*shop, id);
    return agent && agent->session == session ? agent : nullptr;
  }

  void agent_disconnected(SessionId session) {
    Shop* shop = nullptr;
    Agent* agent = end_agent_session(session, shop);
    if (!agent) return;
    const std::string id = agent->id;
    TimePoint now = clock.now();
    engine.agent_status(shop->config->id, id, monitor::AgentState::offline, agent->open.size(),
                        now);
    agent->session = 0;  // nothing more can be sent to it
    requeue_all(*agent, now, {});
    if (agent->grace_until) agent_graces.erase({*agent->grace_until, shop, id});
    shop->agents.erase(id);
    agent_changed(*shop, id);
    mark_roster(*shop);
    dispatch(*shop, now);
  }

  // As agent_disconnected, but the agent did not leave: the gateway node holding its connection
  // died. Its conversations wait storage.agent_grace for it, as after a restart.
  void agent_connection_lost(SessionId session) {
    Shop* shop = nullptr;
    Agent* agent = end_agent_session(session, shop);
    if (!agent) return;
    // The engine is not told: as for an owner restored after a restart, the agent is still at
    // its desk as far as the rules go, and its grace decides.
    agent->session = 0;
    if (agent->grace_until) agent_graces.erase({*agent->grace_until, shop, agent->id});
    agent->grace_until = clock.now() + config.storage.agent_grace;
    agent_graces.emplace(*agent->grace_until, shop, agent->id);
    mark_roster(*shop);
  }

  struct AgentContext {
    SessionId session;
    Shop& shop;
    Agent& agent;
    TimePoint now;
  };

  // The conversation if `ctx.agent` owns it; otherwise tells the agent so and returns null.
  Conversation* owned(AgentContext& ctx, std::string_view id, std::string_view client_msg_id = {}) {
    Conversation* c = find_conversation(id);
    if (c && c->shop == &ctx.shop && c->owner == ctx.agent.id) return c;
    reject(ctx.session, ErrorCode::not_owner, "conversation is not yours", client_msg_id);
    return nullptr;
  }

  // The agent a transfer or handover may go to, or null after telling the sender why not.
  Agent* transfer_target(AgentContext& ctx, const std::string& to) {
    Agent* target = find_agent(ctx.shop, to);
    if (target && target != &ctx.agent && target->session &&
        target->state == AgentPresence::available)
      return target;
    reject(ctx.session, ErrorCode::target_unavailable,
           "the target must be another available agent of this shop");
    return nullptr;
  }

  void agent_frame(SessionId session, std::string_view frame) {
    auto it = sessions.find(session);
    if (it == sessions.end() || it->second.kind != Kind::agent) return;
    Shop& shop = *it->second.shop;
    Agent* agent = find_agent(shop, it->second.id);
    if (!agent) return;
    auto parsed = parse_agent_frame(frame, limits);
    if (auto* err = std::get_if<ProtocolError>(&parsed)) return reject(session, *err);
    auto& command = std::get<AgentCommand>(parsed);
    if (!accepting && !std::holds_alternative<AgentTyping>(command)) {
      const auto* m = std::get_if<AgentMessage>(&command);
      return refuse_unavailable(session, m ? std::string_view(m->client_msg_id) : "");
    }
    AgentContext ctx{session, shop, *agent, clock.now()};
    std::visit([&](auto& c) { handle(ctx, c); }, command);
  }

  void handle(AgentContext& ctx, AgentStatusCommand& s) {
    auto& a = ctx.agent;
    if (s.state == AgentPresence::available) {
      if (a.state != AgentPresence::available) {
        a.state = AgentPresence::available;
        a.idle_since = ctx.now;
        agent_changed(ctx.shop, a.id);
        engine.agent_status(ctx.shop.config->id, a.id, monitor::AgentState::available,
                            a.open.size(), ctx.now);
      }
      out.send(ctx.session, frames::status("available"));
    } else {
      if (a.state != AgentPresence::away) {
        engine.agent_status(ctx.shop.config->id, a.id, monitor::AgentState::away, a.open.size(),
                            ctx.now);
        a.state = AgentPresence::away;
        agent_changed(ctx.shop, a.id);
        requeue_all(a, ctx.now, "requeued");
      }
      out.send(ctx.session, frames::status("away"));
    }
    mark_roster(ctx.shop);
    dispatch(ctx.shop, ctx.now);
  }

  void handle(AgentContext& ctx, AgentMessage& m) {
    Conversation* c = owned(ctx, m.conversation, m.client_msg_id);
    if (!c) return;
    ChatMessage& msg = append(*c, Party::agent, ctx.agent.id, std::move(m.text), ctx.now);
    c->greeted = true;
    c->waiting_since.reset();
    ++ctx.shop.agent_messages;
    engine.agent_message(c->id, ctx.agent.id, msg.text, ctx.now);
    out.send(ctx.session, frames::ack(m.client_msg_id, msg.id, ctx.now));
    send_to_customer(*c, frames::message(c->id, msg));
  }

  void handle(AgentContext& ctx, AgentTyping& t) {
    Conversation* c = owned(ctx, t.conversation);
    if (!c) return;
    engine.agent_typing(c->id, ctx.agent.id, t.start, ctx.now);
    send_to_customer(*c, frames::typing(c->id, Party::agent, t.start));
  }

  void handle(AgentContext& ctx, AgentTransfer& t) {
    Conversation* c = owned(ctx, t.conversation);
    if (!c) return;
    Agent* target = nullptr;
    if (t.to && !(target = transfer_target(ctx, *t.to))) return;
    c->note = std::move(t.note);
    ++c->transfers;
    release(*c, "transferred");
    if (target) {
      engine.transferred(c->id, ctx.agent.id, std::optional<std::string_view>(target->id), ctx.now);
      assign(*c, *target, ctx.now);
      dispatch(ctx.shop, ctx.now);
    } else {
      engine.transferred(c->id, ctx.agent.id, std::nullopt, ctx.now);
      requeue_front(*c);
      // Someone else first; the sender gets it back only on a later pull.
      dispatch(ctx.shop, ctx.now, ctx.agent.id);
    }
  }

  void handle(AgentContext& ctx, AgentClose& close) {
    Conversation* c = owned(ctx, close.conversation);
    if (!c) return;
    end_conversation(*c, ClosedBy::agent, ctx.now);
  }

  void handle(AgentContext& ctx, AgentHandover& h) {
    Agent* target = nullptr;
    if (h.to && !(target = transfer_target(ctx, *h.to))) return;
    for (const auto& id : ctx.agent.open) {
      if (Conversation* c = find_conversation(id)) {
        c->note = h.note;
        ++c->handovers;
        mark(*c);
      }
    }
    if (!target) {
      requeue_all(ctx.agent, ctx.now, "handover");
    } else {
      engine.handed_over(ctx.shop.config->id, ctx.agent.id, target->id, ctx.now);
      auto open = ctx.agent.open;
      for (const auto& id : open) {
        if (Conversation* c = find_conversation(id)) {
          release(*c, "handover");
          assign(*c, *target, ctx.now);
        }
      }
    }
    // A handover ends the sender's shift: it goes away at once, so nothing new is routed to it
    // between the handover and its next frame (and, owning nothing now, that is no breach).
    if (ctx.agent.state != AgentPresence::away) {
      ctx.agent.state = AgentPresence::away;
      agent_changed(ctx.shop, ctx.agent.id);
      engine.agent_status(ctx.shop.config->id, ctx.agent.id, monitor::AgentState::away, 0, ctx.now);
    }
    out.send(ctx.session, frames::status("away"));
    mark_roster(ctx.shop);
    dispatch(ctx.shop, ctx.now);
  }

  // --- recovery (docs/storage.md, "Recovery") -------------------------------------------

  void drop_shop(std::string_view shop_id, std::vector<SessionId>& dropped) {
    Shop* shop = find_shop(shop_id);
    if (!shop) return;
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (it->second.shop != shop) {
        ++it;
        continue;
      }
      dropped.push_back(it->first);
      it = sessions.erase(it);
    }
    std::erase_if(dirty, [&](const Conversation* c) { return c->shop == shop; });
    std::erase_if(ended, [&](const Ended& e) { return e.state.shop == shop_id; });
    std::erase_if(agents_changed, [&](const auto& change) { return change.first == shop; });
    std::erase_if(agent_graces, [&](const auto& grace) { return std::get<1>(grace) == shop; });
    std::erase_if(dirty_rosters, [&](const Shop* s) { return s == shop; });
    for (auto it = conversations.begin(); it != conversations.end();) {
      Conversation& c = it->second;
      if (c.shop != shop) {
        ++it;
        continue;
      }
      engine.forget(c.id);
      conversation_of_customer.erase(customer_key(*shop, c.customer));
      if (c.left_at) grace_ends.erase({*c.left_at + shop->config->resume_grace, c.id});
      it = conversations.erase(it);
    }
    shop->queue.clear();
    shop->agents.clear();
    shop->conversations = 0;
    shop->roster_dirty = false;
    ++shop->version;
  }

  std::size_t restore(const RecoveredDesk& from, TimePoint now) {
    // The customers' grace and the agents' absence count from when the gateway went away; the
    // time it was down is added, so nobody is dropped because of it.
    const TimePoint last_alive = from.last_alive.value_or(now);
    const Duration downtime = std::max(Duration::zero(), now - last_alive);
    std::map<std::pair<std::string, std::string>, AgentPresence> presence;
    for (const auto& a : from.agents) presence[{a.shop, a.id}] = a.state;
    std::map<Shop*, std::vector<std::pair<std::int64_t, std::string>>> queued;
    std::size_t restored = 0;
    for (const RecoveredConversation& r : from.conversations) {
      const StoredConversation& st = r.state;
      Shop* shop = find_shop(st.shop);
      if (!shop || conversations.contains(st.id)) continue;
      if (!engine.restore(st.id, st.shop, st.owner, st.clock)) continue;
      Conversation c;
      c.id = st.id;
      c.shop = shop;
      c.customer = st.customer;
      c.secret_hash = st.secret_hash;
      c.owner = st.owner;
      c.history.assign(r.history.begin(), r.history.end());
      c.seq = st.seq;
      c.stored_seq = st.seq;
      c.ever_stored = true;
      c.note = st.note;
      c.waiting_since = st.waiting_since;
      c.greeted = st.greeted;
      c.arrived_at = st.created;
      c.first_message_at = st.first_message_at;
      c.last_customer_at = st.last_customer_at;
      c.agents = st.agents;
      c.transfers = st.transfers;
      c.handovers = st.handovers;
      // Connected when the gateway went away: it left then.
      c.left_at = st.left_at.value_or(last_alive) + downtime;
      const std::string id = c.id;
      conversation_of_customer[customer_key(*shop, c.customer)] = id;
      Conversation& stored = conversations.emplace(id, std::move(c)).first->second;
      ++shop->conversations;
      ++restored;
      grace_ends.emplace(*stored.left_at + shop->config->resume_grace, id);
      mark(stored);  // its new left_at
      if (stored.owner.empty()) {
        queued[shop].emplace_back(st.queue_pos.value_or(shop->next_back), id);
        continue;
      }
      auto [it, fresh] = shop->agents.try_emplace(stored.owner);
      Agent& agent = it->second;
      if (fresh) {
        agent.id = stored.owner;
        agent.idle_since = now;
        auto p = presence.find({shop->config->id, agent.id});
        agent.state = p == presence.end() ? AgentPresence::away : p->second;
        agent.grace_until = now + config.storage.agent_grace;
        agent_graces.emplace(*agent.grace_until, shop, agent.id);
        mark_roster(*shop);
      }
      agent.open.push_back(id);
    }
    for (auto& [shop, list] : queued) {
      std::sort(list.begin(), list.end());
      for (auto& [pos, id] : list) {
        shop->queue.push_back(id);
        find_conversation(id)->queue_pos = pos;
        shop->next_back = std::max(shop->next_back, pos + 1);
        shop->next_front = std::min(shop->next_front, pos - 1);
      }
      mark_roster(*shop);
    }
    return restored;
  }

  // --- time -----------------------------------------------------------------------------

  std::optional<TimePoint> next_deadline() const {
    std::optional<TimePoint> next = engine.next_deadline();
    auto consider = [&](TimePoint t) {
      if (!next || t < *next) next = t;
    };
    if (!grace_ends.empty()) consider(grace_ends.begin()->first);
    if (!agent_graces.empty()) consider(std::get<0>(*agent_graces.begin()));
    for (const Shop* shop : dirty_rosters) consider(shop->last_roster + kRosterInterval);
    return next;
  }

  void advance(TimePoint now) {
    engine.advance(now);
    while (!grace_ends.empty() && grace_ends.begin()->first <= now) {
      std::string id = grace_ends.begin()->second;
      grace_ends.erase(grace_ends.begin());
      if (Conversation* c = find_conversation(id)) {
        c->left_at.reset();  // its grace entry is gone already
        end_conversation(*c, ClosedBy::grace, now);
      }
    }
    while (!agent_graces.empty() && std::get<0>(*agent_graces.begin()) <= now) {
      auto [until, shop, id] = *agent_graces.begin();
      agent_graces.erase(agent_graces.begin());
      Agent* agent = find_agent(*shop, id);
      if (!agent || agent->session) continue;
      // Not back after the restart: its customers go to the front of the queue, as at a
      // disconnect, but without a handover breach (the gateway was away, not the agent).
      requeue_all(*agent, now, {});
      shop->agents.erase(id);
      agent_changed(*shop, id);
      mark_roster(*shop);
      dispatch(*shop, now);
    }
    flush_rosters(now);
  }

  void notify_violation(const monitor::Violation& v) {
    // The engine's clock of that conversation moved (a level reached): the store must know.
    if (!v.conversation.empty())
      if (Conversation* c = find_conversation(v.conversation)) mark(*c);
    Shop* shop = find_shop(v.shop);
    if (!shop || v.agent.empty()) return;
    send_to_agent(*shop, v.agent, frames::sla(v));
  }

  ShopView view(std::string_view shop_id) const {
    ShopView v;
    auto it = shops.find(shop_id);
    if (it == shops.end()) return v;
    const Shop& shop = it->second;
    v.shop = shop.config->id;
    v.queue = shop.queue.size();
    for (const auto& [id, a] : shop.agents)
      v.agents.push_back({id, presence_name(a.state), a.open.size()});
    // Conversations are not indexed by shop: a lead view is built at most once a second.
    for (const auto& [id, c] : conversations) {
      if (c.shop != &shop) continue;
      ConversationView cv;
      cv.conversation = c.id;
      cv.agent = c.owner;
      cv.queued = c.owner.empty();
      cv.customer_online = c.customer_session != 0;
      cv.started_at = c.first_message_at.value_or(c.arrived_at);
      cv.waiting_since = c.waiting_since;
      cv.greeted = c.greeted;
      cv.messages = c.seq;
      v.conversations.push_back(cv);
    }
    return v;
  }

  std::uint64_t version(std::string_view shop_id) const {
    auto it = shops.find(shop_id);
    return it == shops.end() ? 0 : it->second.version;
  }

  std::vector<ShopStats> stats() const {
    std::vector<ShopStats> result;
    result.reserve(shops.size());
    for (const auto& [id, shop] : shops) {
      ShopStats s;
      s.shop = shop.config->id;
      s.queue_length = shop.queue.size();
      s.conversations_active = shop.conversations;
      for (const auto& [aid, a] : shop.agents)
        (a.state == AgentPresence::available ? s.agents_available : s.agents_away)++;
      s.messages_from_customers = shop.customer_messages;
      s.messages_from_agents = shop.agent_messages;
      result.push_back(s);
    }
    return result;
  }
};

Desk::Desk(const config::Config& config, const Clock& clock, DeskOutput& output,
           monitor::SlaEngine& engine, RandomSource random)
    : impl_(std::make_unique<Impl>(config, clock, output, engine, std::move(random))) {}
Desk::~Desk() = default;

bool Desk::has_shop(std::string_view shop) const {
  return impl_->shops.contains(shop);
}
void Desk::customer_connected(SessionId s, std::string_view shop, std::string_view customer,
                              std::string_view resume) {
  impl_->customer_connected(s, shop, customer, resume);
  impl_->after_event();
}
void Desk::customer_frame(SessionId s, std::string_view frame) {
  impl_->customer_frame(s, frame);
  impl_->after_event();
}
void Desk::customer_disconnected(SessionId s) {
  impl_->customer_disconnected(s);
  impl_->after_event();
}
void Desk::agent_connected(SessionId s, std::string_view shop, std::string_view agent) {
  impl_->agent_connected(s, shop, agent);
  impl_->after_event();
}
void Desk::agent_frame(SessionId s, std::string_view frame) {
  impl_->agent_frame(s, frame);
  impl_->after_event();
}
void Desk::agent_disconnected(SessionId s) {
  impl_->agent_disconnected(s);
  impl_->after_event();
}
void Desk::agent_connection_lost(SessionId s) {
  impl_->agent_connection_lost(s);
  impl_->after_event();
}
void Desk::attach_store() {
  impl_->storing = true;
}
void Desk::set_accepting(bool accepting) {
  impl_->accepting = accepting;
}
bool Desk::has_changes() const {
  return impl_->has_changes();
}
void Desk::take_changes(DeskChangeSink& sink) {
  impl_->take_changes(sink);
}
std::size_t Desk::restore(const RecoveredDesk& desk, TimePoint now) {
  return impl_->restore(desk, now);
}
void Desk::drop_shop(std::string_view shop, std::vector<SessionId>& sessions) {
  impl_->drop_shop(shop, sessions);
}
void Desk::notify_violation(const monitor::Violation& v) {
  impl_->notify_violation(v);
}
std::optional<TimePoint> Desk::next_deadline() const {
  return impl_->next_deadline();
}
void Desk::advance(TimePoint now) {
  impl_->advance(now);
}
std::vector<ShopStats> Desk::stats() const {
  return impl_->stats();
}
ShopView Desk::view(std::string_view shop) const {
  return impl_->view(shop);
}
std::uint64_t Desk::version(std::string_view shop) const {
  return impl_->version(shop);
}

}  // namespace chatdesk::gateway
