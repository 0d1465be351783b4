#pragma once
// The team lead's live feed (GET /lead): pushes each subscribed shop's view (agents, waiting
// customers, timings — never chat text) when it changed, at most once per second, and every SLA
// violation of the shop at once. Read-only: anything a lead sends gets an error. Pure: it reaches
// connections through DeskOutput. Not thread-safe: the gateway's one thread calls it.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "chatdesk/config/config.hpp"
#include "chatdesk/gateway/desk.hpp"
#include "chatdesk/gateway/desk_output.hpp"
#include "chatdesk/monitor/sla_engine.hpp"

namespace chatdesk::gateway {

class LeadFeed {
 public:
  LeadFeed(const config::Config& config, const Desk& desk, const monitor::SlaEngine& engine,
           DeskOutput& output);

  // `shop` must exist (the HTTP layer checked it).
  void lead_connected(SessionId session, std::string_view shop, TimePoint now);
  void lead_frame(SessionId session);
  void lead_disconnected(SessionId session);

  void notify_violation(const monitor::Violation& violation);

  // While any lead is connected: the next moment a snapshot may be due.
  std::optional<TimePoint> next_deadline() const;
  // Sends a snapshot to the leads of every shop whose view changed since their last one.
  void advance(TimePoint now);

 private:
  struct Subscription {
    std::string shop;
    std::uint64_t sent_version = 0;
    TimePoint sent_at{};
  };

  void send_snapshot(SessionId session, Subscription& sub, TimePoint now);

  const config::Config& config_;
  const Desk& desk_;
  const monitor::SlaEngine& engine_;
  DeskOutput& out_;
  std::unordered_map<SessionId, Subscription> leads_;
  TimePoint last_check_{};
};

}  // namespace chatdesk::gateway
