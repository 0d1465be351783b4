#include "chatdesk/gateway/frames.hpp"

#include <array>
#include <boost/json/array.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

namespace chatdesk::gateway {
namespace json = boost::json;

std::string_view to_string(Party p) {
  return p == Party::agent ? "agent" : "customer";
}

namespace frames {
namespace {

Frame finish(const json::object& o) {
  return std::make_shared<const std::string>(json::serialize(o));
}

// The frames sent for every relayed message (message, ack, typing) build their tree in a stack
// buffer, so only the serialized string itself is allocated (tools/bench profile: building frames
// was the largest user-space cost per message). Longer texts spill over to the heap.
class FrameArena {
 public:
  json::storage_ptr storage() { return json::storage_ptr(&resource_); }

 private:
  std::array<unsigned char, 2048> buffer_;
  json::monotonic_resource resource_{buffer_.data(), buffer_.size()};
};

json::object message_object(std::string_view conversation, const ChatMessage& m,
                            json::storage_ptr sp = {}) {
  return json::object({{"conversation", conversation},
                       {"id", m.id},
                       {"from", to_string(m.from)},
                       {"agent", m.agent},
                       {"text", m.text},
                       {"ts", to_epoch_ms(m.ts)}},
                      std::move(sp));
}

json::array history_array(std::string_view conversation, std::span<const ChatMessage> history) {
  json::array a;
  a.reserve(history.size());
  for (const auto& m : history) a.push_back(message_object(conversation, m));
  return a;
}

}  // namespace

Frame customer_welcome(const CustomerWelcome& w) {
  json::object o{{"type", "welcome"},
                 {"conversation", w.conversation},
                 {"customer", w.customer},
                 {"resume", w.resume},
                 {"shop", w.shop},
                 {"shop_name", w.shop_name},
                 {"state", w.assigned ? "assigned" : "queued"},
                 {"desk_open", w.desk_open},
                 {"history", history_array(w.conversation, w.history)}};
  if (w.assigned) o["agent"] = w.agent;
  return finish(o);
}

// The shop's SLA thresholds, for consoles that draw countdowns.
json::object sla_thresholds(const config::ShopConfig& shop) {
  double cpm = shop.sla.typing_min_cpm;
  json::value cpm_value =
      cpm == std::floor(cpm) ? json::value(static_cast<std::int64_t>(cpm)) : json::value(cpm);
  return json::object{{"greeting_target_ms", shop.sla.greeting_target.count()},
                      {"greeting_limit_ms", shop.sla.greeting_limit.count()},
                      {"escalate_every_ms", shop.sla.escalate_every.count()},
                      {"reply_wait_limit_ms", shop.sla.reply_wait_limit.count()},
                      {"typing_min_cpm", std::move(cpm_value)}};
}

Frame agent_welcome(std::string_view agent, const config::ShopConfig& shop,
                    std::string_view state) {
  return finish(json::object{{"type", "welcome"},
                             {"agent", agent},
                             {"shop", shop.id},
                             {"shop_name", shop.name},
                             {"state", state},
                             {"max_concurrent", shop.max_concurrent},
                             {"sla", sla_thresholds(shop)}});
}

Frame lead_welcome(const config::ShopConfig& shop) {
  return finish(json::object{{"type", "welcome"},
                             {"role", "lead"},
                             {"shop", shop.id},
                             {"shop_name", shop.name},
                             {"sla", sla_thresholds(shop)}});
}

Frame ack(std::string_view client_msg_id, std::string_view id, TimePoint ts) {
  FrameArena arena;
  return finish(json::object(
      {{"type", "ack"}, {"client_msg_id", client_msg_id}, {"id", id}, {"ts", to_epoch_ms(ts)}},
      arena.storage()));
}

Frame message(std::string_view conversation, const ChatMessage& m) {
  FrameArena arena;
  auto o = message_object(conversation, m, arena.storage());
  o.emplace("type", "message");
  return finish(o);
}

Frame typing(std::string_view conversation, Party from, std::optional<bool> start) {
  FrameArena arena;
  json::object o({{"type", "typing"}, {"conversation", conversation}, {"from", to_string(from)}},
                 arena.storage());
  if (start) o["state"] = *start ? "start" : "stop";
  return finish(o);
}

Frame assigned_to_agent(const AssignedFrame& a) {
  json::object o{{"type", "assigned"},     {"conversation", a.conversation},
                 {"customer", a.customer}, {"history", history_array(a.conversation, a.history)},
                 {"note", a.note},         {"ts", to_epoch_ms(a.ts)},
                 {"greeted", a.greeted},   {"customer_online", a.customer_online}};
  if (a.waiting_since)
    o["waiting_since"] = to_epoch_ms(*a.waiting_since);
  else
    o["waiting_since"] = nullptr;
  return finish(o);
}

Frame assigned_to_customer(std::string_view conversation, std::string_view agent) {
  return finish(
      json::object{{"type", "assigned"}, {"conversation", conversation}, {"agent", agent}});
}

Frame unassigned(std::string_view conversation, std::string_view reason) {
  return finish(
      json::object{{"type", "unassigned"}, {"conversation", conversation}, {"reason", reason}});
}

Frame closed(std::string_view conversation, Party by) {
  return finish(
      json::object{{"type", "closed"}, {"conversation", conversation}, {"by", to_string(by)}});
}

Frame presence(std::string_view conversation, bool customer_online) {
  return finish(json::object{
      {"type", "presence"}, {"conversation", conversation}, {"customer_online", customer_online}});
}

Frame status(std::string_view state) {
  return finish(json::object{{"type", "status"}, {"state", state}});
}

Frame desk(std::size_t queue, std::span<const AgentSummary> agents) {
  json::array list;
  list.reserve(agents.size());
  for (const auto& a : agents)
    list.push_back(json::object{{"id", a.id}, {"state", a.state}, {"open", a.open}});
  return finish(json::object{{"type", "desk"}, {"queue", queue}, {"agents", std::move(list)}});
}

Frame sla(const monitor::Violation& v, bool with_agent) {
  json::object o{{"type", "sla"},
                 {"conversation", v.conversation},
                 {"rule", monitor::to_string(v.rule)},
                 {"severity", monitor::to_string(v.severity)},
                 {"level", v.level},
                 {"elapsed_ms", v.elapsed.count()},
                 {"target_ms", v.target.count()},
                 {"detail", v.detail},
                 {"ts", to_epoch_ms(v.ts)}};
  if (with_agent) o["agent"] = v.agent;
  return finish(o);
}

Frame notice_offline(std::optional<TimePoint> opens_at) {
  json::object o{
      {"type", "notice"},
      {"code", "desk_offline"},
      {"message",
       "客服现在不在线，开门后会第一时间回复您。 The desk is closed now; we will answer as soon as "
       "it opens."}};
  if (opens_at)
    o["opens_at"] = to_epoch_ms(*opens_at);
  else
    o["opens_at"] = nullptr;
  return finish(o);
}

Frame error(ErrorCode code, std::string_view message, std::string_view client_msg_id) {
  json::object o{{"type", "error"}, {"code", to_string(code)}, {"message", message}};
  if (!client_msg_id.empty()) o["client_msg_id"] = client_msg_id;
  return finish(o);
}

Frame error(const ProtocolError& e) {
  return error(e.code, e.message, e.client_msg_id);
}

}  // namespace frames
}  // namespace chatdesk::gateway
