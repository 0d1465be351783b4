#include "chatdesk/gateway/node_sessions.hpp"

#include <algorithm>

namespace chatdesk::gateway {

void NodeSessions::forward(SessionId session, std::string_view shop, NodeId home) {
  forwards_[session] = Forward{std::string(shop), home};
}

std::optional<NodeId> NodeSessions::home_of(SessionId session) const {
  const auto it = forwards_.find(session);
  if (it == forwards_.end()) return std::nullopt;
  return it->second.home;
}

void NodeSessions::forget_forward(SessionId session) {
  forwards_.erase(session);
}

void NodeSessions::stale_forwards(const HomeOf& home, std::vector<SessionId>& out) const {
  for (const auto& [session, f] : forwards_)
    if (home(f.shop) != f.home) out.push_back(session);
}

void NodeSessions::forwards_to(NodeId home, std::vector<SessionId>& out) const {
  for (const auto& [session, f] : forwards_)
    if (f.home == home) out.push_back(session);
}

void NodeSessions::serve(SessionId session, std::string_view shop, SessionKind kind) {
  served_[session] = Served{std::string(shop), kind};
}

const NodeSessions::Served* NodeSessions::served(SessionId session) const {
  const auto it = served_.find(session);
  return it == served_.end() ? nullptr : &it->second;
}

void NodeSessions::forget_served(SessionId session) {
  served_.erase(session);
}

template <typename Pred>
void NodeSessions::take_if(Pred pred, Taken& out) {
  for (auto it = served_.begin(); it != served_.end();) {
    if (!pred(it->first, it->second)) {
      ++it;
      continue;
    }
    out.emplace_back(it->first, it->second.kind);
    it = served_.erase(it);
  }
}

void NodeSessions::take_shop(std::string_view shop, Taken& out) {
  take_if([&](SessionId, const Served& s) { return s.shop == shop; }, out);
}

void NodeSessions::take_edges(std::span<const NodeId> edges, Taken& out) {
  take_if(
      [&](SessionId session, const Served&) {
        return std::find(edges.begin(), edges.end(), node_of(session)) != edges.end();
      },
      out);
}

void NodeSessions::take_dead_edges(std::span<const NodeId> live, Taken& out) {
  take_if(
      [&](SessionId session, const Served&) {
        const NodeId edge = node_of(session);
        return edge != self_ && std::find(live.begin(), live.end(), edge) == live.end();
      },
      out);
}

}  // namespace chatdesk::gateway
