#include "chatdesk/gateway/conversation_record.hpp"

namespace chatdesk::gateway {

std::string_view to_string(ClosedBy by) {
  switch (by) {
    case ClosedBy::customer:
      return "customer";
    case ClosedBy::agent:
      return "agent";
    case ClosedBy::grace:
      return "grace";
  }
  return "customer";
}

ConversationRecord build_record(const StoredConversation& last, TimePoint ended, ClosedBy by) {
  const monitor::ConversationClock& clock = last.clock;
  ConversationRecord r;
  r.conversation = last.id;
  r.shop = last.shop;
  r.customer = last.customer;
  r.agents = last.agents;
  r.created = last.created;
  r.ended = ended;
  // The SLA engine's own rule (docs/sla.md, "missed"): nobody answered a customer who wrote.
  if (clock.agent_messages > 0)
    r.outcome = "served";
  else if (clock.wrote)
    r.outcome = "missed";
  else
    r.outcome = "empty";
  r.closed_by = by;
  r.first_response = clock.first_response;
  if (clock.greeting_breach_level > 0)
    r.greeting = "breach";
  else if (clock.greeting_warned)
    r.greeting = "warning";
  else if (clock.greeted && clock.wrote)
    r.greeting = "on_time";
  else
    r.greeting = "none";  // nobody greeted, or nobody wrote before the agent did
  r.greeting_level = clock.greeting_breach_level;
  r.reply_waits = clock.reply_waits;
  if (clock.reply_waits > 0) r.reply_wait_mean = clock.reply_wait_total / clock.reply_waits;
  r.reply_wait_max = clock.reply_wait_max;
  r.agent_messages = clock.agent_messages;
  r.customer_messages = clock.messages - clock.agent_messages;
  if (clock.typing_measured > 0)
    r.typing_cpm = clock.typing_cpm_total / static_cast<double>(clock.typing_measured);
  r.violations = clock.violations;
  r.transfers = last.transfers;
  r.handovers = last.handovers;
  return r;
}

}  // namespace chatdesk::gateway
