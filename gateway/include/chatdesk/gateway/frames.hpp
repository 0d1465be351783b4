#pragma once
// Builders for the frames the server sends (docs/protocol.md). Each returns one serialized JSON
// text, shared so that one payload can be queued to several sessions without copies. Pure and
// stateless: safe from any thread.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/protocol.hpp"
#include "chatdesk/monitor/violation.hpp"

namespace chatdesk::gateway {

using Frame = std::shared_ptr<const std::string>;

enum class Party { customer, agent };
std::string_view to_string(Party p);

// One chat message as stored in a conversation's history.
struct ChatMessage {
  std::string id;  // "<conversation>:<seq>"
  Party from = Party::customer;
  std::string agent;  // the agent who wrote it, or the owner at the time for a customer message
  std::string text;
  TimePoint ts{};
};

struct CustomerWelcome {
  std::string_view conversation, customer, resume, shop, shop_name, agent;
  bool assigned = false;
  bool desk_open = true;
  std::span<const ChatMessage> history;
};

struct AgentSummary {
  std::string_view id;
  std::string_view state;
  std::size_t open = 0;
};

struct AssignedFrame {
  std::string_view conversation, customer, note;
  std::span<const ChatMessage> history;
  TimePoint ts{};
  std::optional<TimePoint> waiting_since;
  bool greeted = false;
  bool customer_online = true;
};

namespace frames {

Frame customer_welcome(const CustomerWelcome& w);
Frame agent_welcome(std::string_view agent, const config::ShopConfig& shop,
                    std::string_view state = "away");
Frame lead_welcome(const config::ShopConfig& shop);
Frame ack(std::string_view client_msg_id, std::string_view id, TimePoint ts);
Frame message(std::string_view conversation, const ChatMessage& m);
Frame typing(std::string_view conversation, Party from, std::optional<bool> start);
Frame assigned_to_agent(const AssignedFrame& a);
Frame assigned_to_customer(std::string_view conversation, std::string_view agent);
Frame unassigned(std::string_view conversation, std::string_view reason);
Frame closed(std::string_view conversation, Party by);
Frame presence(std::string_view conversation, bool customer_online);
Frame status(std::string_view state);
Frame desk(std::size_t queue, std::span<const AgentSummary> agents);
// The agent console's live violation; `with_agent` adds whose it is (for lead pages).
Frame sla(const monitor::Violation& v, bool with_agent = false);
Frame notice_offline(std::optional<TimePoint> opens_at);
Frame error(ErrorCode code, std::string_view message, std::string_view client_msg_id = {});
Frame error(const ProtocolError& e);

}  // namespace frames
}  // namespace chatdesk::gateway
