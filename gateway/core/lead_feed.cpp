#include "chatdesk/gateway/lead_feed.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace chatdesk::gateway {
namespace json = boost::json;
namespace {

// A lead gets at most one snapshot per second, and a change after a quiet spell shows within a
// quarter of a second.
constexpr Duration kSnapshotInterval{1000};
constexpr Duration kCheckInterval{250};

json::value optional_ms(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  return to_epoch_ms(*t);
}

Frame snapshot(const config::ShopConfig& shop, const ShopView& view, bool desk_open,
               TimePoint now) {
  json::array agents;
  agents.reserve(view.agents.size());
  for (const auto& a : view.agents)
    agents.push_back(json::object{
        {"id", a.id}, {"state", a.state}, {"open", a.open}, {"max", shop.max_concurrent}});
  json::array conversations;
  conversations.reserve(view.conversations.size());
  for (const auto& c : view.conversations)
    conversations.push_back(json::object{{"conversation", c.conversation},
                                         {"agent", c.agent},
                                         {"state", c.queued ? "queued" : "assigned"},
                                         {"customer_online", c.customer_online},
                                         {"started_at", optional_ms(c.started_at)},
                                         {"waiting_since", optional_ms(c.waiting_since)},
                                         {"greeted", c.greeted},
                                         {"messages", c.messages}});
  json::object o{{"type", "snapshot"},
                 {"shop", shop.id},
                 {"ts", to_epoch_ms(now)},
                 {"desk_open", desk_open},
                 {"queue", view.queue},
                 {"agents", std::move(agents)},
                 {"conversations", std::move(conversations)}};
  return std::make_shared<const std::string>(json::serialize(o));
}

}  // namespace

LeadFeed::LeadFeed(const config::Config& config, const Desk& desk, const monitor::SlaEngine& engine,
                   DeskOutput& output)
    : config_(config), desk_(desk), engine_(engine), out_(output) {}

void LeadFeed::lead_connected(SessionId session, std::string_view shop, TimePoint now) {
  const auto* cfg = config_.find_shop(shop);
  if (!cfg) return;
  auto& sub = leads_[session];
  sub.shop = std::string(shop);
  out_.send(session, frames::lead_welcome(*cfg));
  send_snapshot(session, sub, now);
}

void LeadFeed::lead_frame(SessionId session) {
  out_.protocol_error(ErrorCode::unknown_type);
  out_.send(session, frames::error(ErrorCode::unknown_type, "the lead page is read-only"));
}

void LeadFeed::lead_disconnected(SessionId session) {
  leads_.erase(session);
}

void LeadFeed::notify_violation(const monitor::Violation& v) {
  Frame frame;
  for (auto& [session, sub] : leads_) {
    if (sub.shop != v.shop) continue;
    // The agent's `sla` frame plus whose it is: a lead watches the whole shop.
    if (!frame) frame = frames::sla(v, true);
    out_.send(session, frame);
  }
}

std::optional<TimePoint> LeadFeed::next_deadline() const {
  if (leads_.empty()) return std::nullopt;
  return last_check_ + kCheckInterval;
}

void LeadFeed::advance(TimePoint now) {
  if (leads_.empty() || now < last_check_ + kCheckInterval) return;
  last_check_ = now;
  for (auto& [session, sub] : leads_)
    if (desk_.version(sub.shop) != sub.sent_version && now >= sub.sent_at + kSnapshotInterval)
      send_snapshot(session, sub, now);
}

void LeadFeed::send_snapshot(SessionId session, Subscription& sub, TimePoint now) {
  const auto* cfg = config_.find_shop(sub.shop);
  if (!cfg) return;
  sub.sent_version = desk_.version(sub.shop);
  sub.sent_at = now;
  out_.send(session, snapshot(*cfg, desk_.view(sub.shop), engine_.is_open(sub.shop, now), now));
}

}  // namespace chatdesk::gateway
