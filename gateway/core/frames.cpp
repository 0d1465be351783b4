#include "chatdesk/gateway/frames.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

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

// Writes one frame's JSON text straight into the frame's string, for the frames sent for every
// relayed message (message, ack, typing): building a boost::json::object and serializing it was
// the largest user-space cost per message (docs/benchmarks.md, "Profiles"). Keys and fixed values
// are literals; every variable string goes through Boost.JSON's own serializer, so escaping is the
// library's and the text is byte-identical to serializing the object (tests/unit/
// frames_reference_test.cpp). The string is sized once from the caller's estimate and only grows
// when escapes make the text longer than that. One per frame, on the stack; not shared.
class FrameWriter {
 public:
  explicit FrameWriter(std::size_t estimate) { out_.resize(estimate); }

  // JSON text written as is: keys, punctuation and values that never need escaping.
  FrameWriter& raw(std::string_view s) {
    reserve(s.size());
    std::memcpy(out_.data() + size_, s.data(), s.size());
    size_ += s.size();
    return *this;
  }

  // A JSON string (quotes and escapes by Boost.JSON) of any text.
  FrameWriter& string(std::string_view s) {
    serializer_.reset(json::string_view(s.data(), s.size()));
    do {
      reserve(s.size() + 2);  // enough unless something needs escaping
      size_ += serializer_.read(out_.data() + size_, out_.size() - size_).size();
    } while (!serializer_.done());
    return *this;
  }

  FrameWriter& number(std::int64_t n) {
    reserve(20);  // the digits and sign of any int64
    size_ = static_cast<std::size_t>(
        std::to_chars(out_.data() + size_, out_.data() + out_.size(), n).ptr - out_.data());
    return *this;
  }

  Frame finish() {
    out_.resize(size_);
    return std::make_shared<const std::string>(std::move(out_));
  }

 private:
  void reserve(std::size_t more) {
    if (out_.size() - size_ < more) out_.resize(std::max(2 * out_.size(), size_ + more));
  }

  std::string out_;  // its first size_ bytes are the text so far; the rest is room
  std::size_t size_ = 0;
  json::serializer serializer_;
};

json::object message_object(std::string_view conversation, const ChatMessage& m) {
  return json::object({{"conversation", conversation},
                       {"id", m.id},
                       {"from", to_string(m.from)},
                       {"agent", m.agent},
                       {"text", m.text},
                       {"ts", to_epoch_ms(m.ts)}});
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

// The estimates below are the literal bytes plus the 20 characters of any ts, rounded up.

Frame ack(std::string_view client_msg_id, std::string_view id, TimePoint ts) {
  FrameWriter w(client_msg_id.size() + id.size() + 72);
  w.raw(R"({"type":"ack","client_msg_id":)").string(client_msg_id);
  w.raw(R"(,"id":)").string(id);
  w.raw(R"(,"ts":)").number(to_epoch_ms(ts)).raw("}");
  return w.finish();
}

// The key order of message_object with "type" appended, as the tree-built frame had it.
Frame message(std::string_view conversation, const ChatMessage& m) {
  FrameWriter w(conversation.size() + m.id.size() + m.agent.size() + m.text.size() + 128);
  w.raw(R"({"conversation":)").string(conversation);
  w.raw(R"(,"id":)").string(m.id);
  w.raw(R"(,"from":")").raw(to_string(m.from)).raw("\"");
  w.raw(R"(,"agent":)").string(m.agent);
  w.raw(R"(,"text":)").string(m.text);
  w.raw(R"(,"ts":)").number(to_epoch_ms(m.ts));
  w.raw(R"(,"type":"message"})");
  return w.finish();
}

Frame typing(std::string_view conversation, Party from, std::optional<bool> start) {
  FrameWriter w(conversation.size() + 80);
  w.raw(R"({"type":"typing","conversation":)").string(conversation);
  w.raw(R"(,"from":")").raw(to_string(from)).raw("\"");
  if (start) w.raw(*start ? R"(,"state":"start")" : R"(,"state":"stop")");
  w.raw("}");
  return w.finish();
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
