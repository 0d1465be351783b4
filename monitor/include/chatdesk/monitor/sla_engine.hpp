#pragma once
// The pure SLA engine: turns timestamped desk events into observations and violations of the shops'
// service rules (docs/sla.md). No sockets, threads, Redis or Prometheus: the gateway feeds it from
// its event loop and wakes it at next_deadline() with one timer; tests feed it with a ManualClock.
// Built for one core: per event a hash lookup and no allocation (conversation and agent records are
// made once, deadlines sit in one lazily invalidated timing wheel of 16 ms buckets).
// Not thread-safe: one owner thread calls every method, and the sink must not call back into it.

#include <memory>
#include <optional>
#include <string_view>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"
#include "chatdesk/monitor/conversation_clock.hpp"
#include "chatdesk/monitor/sla_sink.hpp"

namespace chatdesk::monitor {

enum class AgentState { available, away, offline };

class SlaEngine {
 public:
  // `config` must outlive the engine. Unknown shops in events are ignored. Throws
  // std::runtime_error if a shop with shifts names an unknown time zone (start-up only).
  // `run_id`, when not empty, goes into agent-level violation ids ("<ts>:<run_id>-<seq>" instead
  // of "<ts>:<seq>"): give each process start a new random one, so that the sequence starting
  // again cannot repeat an id already in the stream, even if the wall clock steps back or two
  // gateways write to one stream (docs/sla.md).
  SlaEngine(const config::Config& config, SlaSink& sink, std::string_view run_id = {});
  ~SlaEngine();
  SlaEngine(const SlaEngine&) = delete;
  SlaEngine& operator=(const SlaEngine&) = delete;

  // --- desk events, in time order; `t` is when it happened ---------------------------------
  // Each event first fires every deadline <= t (as advance(t) would), so a late timer loses
  // nothing and a reply at exactly a limit is late. Events about unknown conversations (never
  // arrived, or already ended) are ignored, and so is a second arrival of a known one.
  // A conversation opened in `shop` (customer connected). Clocks start at its first message.
  void customer_arrived(std::string_view conversation, std::string_view shop, TimePoint t);
  void customer_message(std::string_view conversation, std::string_view text, TimePoint t);
  // The customer is gone for good (closed, or did not come back within resume_grace).
  // With `final`, it receives the conversation's last clock (its record's figures), including the
  // violations its end caused.
  void customer_left(std::string_view conversation, TimePoint t,
                     ConversationClock* final = nullptr);
  // `text` must be well-formed UTF-8, as the gateway's WebSocket layer and protocol parser have
  // made sure: its code points are counted for the typing rate without validating it again (text
  // ending inside a character is still noticed and not measured; other malformed text is safe
  // but miscounted).
  void agent_message(std::string_view conversation, std::string_view agent, std::string_view text,
                     TimePoint t);
  void agent_typing(std::string_view conversation, std::string_view agent, bool start, TimePoint t);
  // `open_conversations`: how many it still owned at that moment. Going away or offline with any
  // (not handed over first) is a handover breach; the desk then requeues them (transferred()).
  void agent_status(std::string_view shop, std::string_view agent, AgentState state,
                    std::size_t open_conversations, TimePoint t);
  void assigned(std::string_view conversation, std::string_view agent, TimePoint t);
  // Back to the shop queue (transfer to null, agent away/offline) or to another agent.
  void transferred(std::string_view conversation, std::string_view from_agent,
                   std::optional<std::string_view> to_agent, TimePoint t);
  // All of `from_agent`'s open conversations went to `to_agent` with a note.
  void handed_over(std::string_view shop, std::string_view from_agent, std::string_view to_agent,
                   TimePoint t);
  // Closed by the owning agent (`by_agent`) or by the customer (then `agent` is the owner or
  // empty).
  void closed(std::string_view conversation, std::string_view agent, bool by_agent, TimePoint t,
              ConversationClock* final = nullptr);

  // --- durability (docs/storage.md) ---------------------------------------------------------
  // The durable state of an open conversation; nullopt when it is not open. Cheap (a lookup and a
  // copy): the desk calls it for every conversation an event touched.
  std::optional<ConversationClock> conversation_clock(std::string_view conversation) const;
  // Re-creates an open conversation of `shop` owned by `owner` (empty: queued) from an earlier
  // conversation_clock(), as a restarted gateway does. Deadlines that fell due in the meantime fire
  // at the next event or advance(), once each, with the ts and elapsed they would have had; what
  // had fired before the clock was taken (its greeting_step, armed) never fires again, and
  // violation ids continue as the uninterrupted engine's would. false (nothing changed) for an
  // unknown shop or a conversation already open.
  bool restore(std::string_view conversation, std::string_view shop, std::string_view owner,
               const ConversationClock& clock);
  // Forgets an open conversation without ending it: nothing fires, no outcome is reported. For a
  // node that stops being its shop's home (docs/scaling.md): the next home restores the clock
  // from the store and fires what is due. false when it is not open.
  bool forget(std::string_view conversation);

  // --- time ----------------------------------------------------------------------------------
  // The earliest moment at which advance() has something to fire, or at which a shift of a shop
  // with waiting customers opens or closes; nullopt when nothing is pending.
  std::optional<TimePoint> next_deadline() const;
  // Fires every deadline <= now, in time order; a violation's ts is its deadline, not `now`.
  void advance(TimePoint now);

  // --- live state for gauges and the lead page ----------------------------------------------
  // Conversations of `shop` whose latest customer message is unanswered.
  std::size_t customers_waiting(std::string_view shop) const;
  // Whether `shop`'s desk is inside a shift at `t` (false for an unknown shop).
  bool is_open(std::string_view shop, TimePoint t) const;
  // `t` if `shop` is open at `t`, else when it next opens (for the customers' desk_offline
  // notice, `opens_at`); nullopt for an unknown shop.
  std::optional<TimePoint> next_opening(std::string_view shop, TimePoint t) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatdesk::monitor
