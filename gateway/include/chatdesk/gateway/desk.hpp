#pragma once
// The desk: routing of customers to agents (docs/protocol.md, "The desk" in docs/design.md).
// It owns every conversation, the per-shop FIFO queues and the agents' states, talks to
// connections only through DeskOutput, and reports every desk event to the SLA engine. Pure: no
// sockets or threads, so it is unit-tested with a ManualClock and a recording output.
// Not thread-safe: the gateway calls it from its one event-loop thread.
//
// State is keyed by conversation id, so a later multi-node gateway can move ownership of a
// conversation to a shared store (Redis) without changing the wire protocol.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/desk_changes.hpp"
#include "chatdesk/gateway/desk_output.hpp"
#include "chatdesk/monitor/sla_engine.hpp"

namespace chatdesk::gateway {

// 64 random bits per call; ids and resume secrets are made from it. The server passes a
// std::random_device; tests pass a seeded sequence.
using RandomSource = std::function<std::uint64_t()>;

// Per-shop figures for gauges and counters, read when /metrics is scraped.
struct ShopStats {
  std::string_view shop;
  std::size_t queue_length = 0;
  std::size_t conversations_active = 0;  // open: queued or assigned
  std::size_t agents_available = 0;
  std::size_t agents_away = 0;
  std::uint64_t messages_from_customers = 0;  // since start
  std::uint64_t messages_from_agents = 0;
};

// A read-only view of one shop for the lead page: timings and states, never chat text or customer
// ids. Views point into the desk and are valid until its next event.
struct ConversationView {
  std::string_view conversation;
  std::string_view agent;  // empty while queued
  bool queued = false;
  bool customer_online = true;
  std::optional<TimePoint> started_at;     // first customer message, or arrival if none yet
  std::optional<TimePoint> waiting_since;  // earliest unanswered customer message
  bool greeted = false;
  std::size_t messages = 0;
};

struct AgentView {
  std::string_view id;
  std::string_view state;  // available | away
  std::size_t open = 0;
};

struct ShopView {
  std::string_view shop;
  std::size_t queue = 0;
  std::vector<AgentView> agents;
  std::vector<ConversationView> conversations;
};

class Desk {
 public:
  Desk(const config::Config& config, const Clock& clock, DeskOutput& output,
       monitor::SlaEngine& engine, RandomSource random);
  ~Desk();
  Desk(const Desk&) = delete;
  Desk& operator=(const Desk&) = delete;

  bool has_shop(std::string_view shop) const;

  // A customer connection in `shop`; `customer` and `resume` may be empty. Resumes that
  // customer's open conversation when the resume secret matches, else opens a new one.
  void customer_connected(SessionId session, std::string_view shop, std::string_view customer,
                          std::string_view resume);
  // `frame` (here and in agent_frame) must be valid UTF-8, as a WebSocket text message is once
  // Beast has accepted it: the desk does not check it again.
  void customer_frame(SessionId session, std::string_view frame);
  void customer_disconnected(SessionId session);

  // An agent connection; `agent` must be a valid id (is_valid_client_id). If the agent is
  // already connected, the new connection takes over and the old one is closed.
  void agent_connected(SessionId session, std::string_view shop, std::string_view agent);
  void agent_frame(SessionId session, std::string_view frame);
  void agent_disconnected(SessionId session);
  // The agent's connection was lost with the gateway node holding it (docs/scaling.md), not
  // closed by the agent: its conversations wait storage.agent_grace for it to reconnect (on any
  // node), as after a restart, instead of going back to the queue at once.
  void agent_connection_lost(SessionId session);

  // --- durability (docs/storage.md) ---------------------------------------------------------
  // From now on the desk keeps what changed for take_changes(), and never drops from a history a
  // message the store has not taken. Call once, before any event.
  void attach_store();
  // false while the store cannot write: chat messages and agent commands are refused with
  // `unavailable` (nothing done); connections, typing, disconnects and timers go on.
  void set_accepting(bool accepting);
  bool has_changes() const;
  // Hands everything changed since the last call to `sink`, each conversation once, and forgets it.
  void take_changes(DeskChangeSink& sink);
  // Rebuilds the open conversations, queues and owners read from the store at start, before any
  // connection (`now`: the start). Owners come back as agents not connected yet, whose
  // conversations wait storage.agent_grace for them; customers may resume within resume_grace
  // of their last disconnect plus the downtime. The SLA engine gets every clock back. Returns
  // how many conversations were restored (unknown shops are skipped). May run again while the
  // desk runs, for a shop it does not hold (taken over from another node; docs/scaling.md):
  // conversations it already has are skipped.
  std::size_t restore(const RecoveredDesk& desk, TimePoint now);
  // Forgets everything of `shop` (conversations, queue, agents, sessions, SLA clocks, changes not
  // taken by the store yet) without ending anything or sending a frame: this node is no longer the
  // shop's home, and the next one restores the shop from the store. Appends the shop's sessions
  // to `sessions`; the caller closes them.
  void drop_shop(std::string_view shop, std::vector<SessionId>& sessions);

  // Pushes a live SLA violation to the console of the agent it concerns, if connected.
  void notify_violation(const monitor::Violation& violation);

  // The earliest moment advance() has work: a resume grace ending, a roster update due, or an
  // SLA deadline of the engine.
  std::optional<TimePoint> next_deadline() const;
  void advance(TimePoint now);

  std::vector<ShopStats> stats() const;

  // The lead page's view of `shop` (empty for an unknown shop).
  ShopView view(std::string_view shop) const;
  // Changes whenever anything in `shop`'s view may have changed; cheap.
  std::uint64_t version(std::string_view shop) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatdesk::gateway
