#pragma once
// What the desk hands to its durable store, and what the store gives back at start
// (docs/storage.md): a conversation's state, its messages, the record of an ended one and agent
// presence. Plain values; the desk fills them on its thread, the store reads them there.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/frames.hpp"
#include "chatdesk/gateway/protocol.hpp"
#include "chatdesk/monitor/conversation_clock.hpp"

namespace chatdesk::gateway {

// How a conversation ended: closed by its customer, by an agent, or because the customer did not
// come back within resume_grace.
enum class ClosedBy { customer, agent, grace };
std::string_view to_string(ClosedBy by);

// One conversation as the store keeps it: everything needed to rebuild it in the desk and the SLA
// engine after a restart. Never the resume secret itself, only its SHA-256.
struct StoredConversation {
  std::string id;
  std::string shop;
  std::string customer;
  std::string secret_hash;                // hex SHA-256 of the resume secret
  std::string owner;                      // empty while queued
  std::optional<std::int64_t> queue_pos;  // while queued: smaller is nearer the front
  TimePoint created{};
  std::optional<TimePoint> first_message_at;  // first customer message
  std::optional<TimePoint> last_customer_at;  // latest customer message
  std::optional<TimePoint> waiting_since;     // earliest unanswered customer message
  std::optional<TimePoint> left_at;           // customer disconnected (and may come back)
  bool greeted = false;
  std::string note;                 // the latest transfer or handover note
  std::uint64_t seq = 0;            // messages so far (the last message's sequence number)
  std::vector<std::string> agents;  // who owned it, in order, each once
  std::uint32_t transfers = 0;
  std::uint32_t handovers = 0;
  monitor::ConversationClock clock;

  friend bool operator==(const StoredConversation&, const StoredConversation&) = default;
};

// An open conversation read back at start, with the newest messages (oldest first).
struct RecoveredConversation {
  StoredConversation state;
  std::vector<ChatMessage> history;
};

// An agent of a shop as the store last saw it.
struct RecoveredAgent {
  std::string shop;
  std::string id;
  AgentPresence state = AgentPresence::away;
};

// What the store holds at start: open conversations, agents, and the last moment the gateway
// was seen alive (its heartbeat), from which the downtime is known.
struct RecoveredDesk {
  std::vector<RecoveredConversation> conversations;
  std::vector<RecoveredAgent> agents;
  std::optional<TimePoint> last_alive;
};

// The lasting summary of an ended conversation, one entry of storage.conversations_stream
// (docs/storage.md lists every field). Made by build_record() (conversation_record.hpp).
struct ConversationRecord {
  std::string conversation;
  std::string shop;
  std::string customer;
  std::vector<std::string> agents;
  TimePoint created{};
  TimePoint ended{};
  std::string_view outcome;  // served | missed | empty
  ClosedBy closed_by = ClosedBy::customer;
  std::optional<Duration> first_response;
  std::string_view greeting;         // on_time | warning | breach | none
  std::uint32_t greeting_level = 0;  // highest breach level, 0 for none
  std::uint32_t reply_waits = 0;
  Duration reply_wait_mean{0};
  Duration reply_wait_max{0};
  std::uint32_t customer_messages = 0;
  std::uint32_t agent_messages = 0;
  std::optional<double> typing_cpm;  // mean of the measured agent messages
  std::array<std::uint32_t, monitor::kRuleCount> violations{};
  std::uint32_t transfers = 0;
  std::uint32_t handovers = 0;
};

// Receives what changed in the desk since the last Desk::take_changes(). References are valid
// during the call only. Called on the desk's thread.
class DeskChangeSink {
 public:
  virtual ~DeskChangeSink() = default;
  // An open conversation's state now, and the messages added since it was last taken; `first`
  // the first time the store hears of it.
  virtual void conversation(const StoredConversation& state,
                            std::span<const ChatMessage* const> new_messages, bool first) = 0;
  // A conversation that ended: its last state, messages not taken yet, and its record.
  virtual void ended(const StoredConversation& state,
                     std::span<const ChatMessage* const> new_messages,
                     const ConversationRecord& record) = 0;
  // An agent's presence in its shop; nullopt when it left the desk.
  virtual void agent(std::string_view shop, std::string_view agent,
                     std::optional<AgentPresence> state) = 0;
};

}  // namespace chatdesk::gateway
