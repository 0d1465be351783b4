#pragma once
// Where each session's events go when several gateway nodes share one desk (docs/scaling.md). On
// an edge: the sessions on this node's sockets whose shop's desk is at home on another node, and
// which node that is. On a home: the sessions whose events reach this node's desk, on its own
// sockets or on an edge (node_of(session) tells which), with their shop, so that a shop given up,
// an edge that died and an edge whose batches were lost each find their sessions. Pure; not
// thread-safe (the gateway's one thread).

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chatdesk/gateway/shop_placement.hpp"

namespace chatdesk::gateway {

enum class SessionKind : std::uint8_t { customer, agent, lead };

class NodeSessions {
 public:
  struct Served {
    std::string shop;
    SessionKind kind = SessionKind::customer;
  };
  using Taken = std::vector<std::pair<SessionId, SessionKind>>;
  // The shop's home as this node sees it now; nullopt when it has none.
  using HomeOf = std::function<std::optional<NodeId>(std::string_view shop)>;

  explicit NodeSessions(NodeId self) : self_(self) {}
  NodeId self() const { return self_; }
  bool is_local(SessionId session) const { return node_of(session) == self_; }

  // --- edge ------------------------------------------------------------------------------------
  void forward(SessionId session, std::string_view shop, NodeId home);
  // The node a session's events go to; nullopt when its shop is served here (or it is unknown).
  std::optional<NodeId> home_of(SessionId session) const;
  void forget_forward(SessionId session);
  // Forwarded sessions whose shop's home is no longer the node they go to (moved, or none).
  void stale_forwards(const HomeOf& home, std::vector<SessionId>& out) const;
  // Forwarded sessions that go to `home`.
  void forwards_to(NodeId home, std::vector<SessionId>& out) const;

  // --- home ------------------------------------------------------------------------------------
  void serve(SessionId session, std::string_view shop, SessionKind kind);
  const Served* served(SessionId session) const;
  void forget_served(SessionId session);
  // Takes (forgets and appends) the sessions of `shop` served here.
  void take_shop(std::string_view shop, Taken& out);
  // Takes the sessions served here that an edge in `edges` holds.
  void take_edges(std::span<const NodeId> edges, Taken& out);
  // Takes the sessions served here held by an edge (not this node) missing from `live`.
  void take_dead_edges(std::span<const NodeId> live, Taken& out);

  std::size_t forwarded_count() const { return forwards_.size(); }
  std::size_t served_count() const { return served_.size(); }

 private:
  struct Forward {
    std::string shop;
    NodeId home = 0;
  };
  template <typename Pred>
  void take_if(Pred pred, Taken& out);

  NodeId self_;
  std::unordered_map<SessionId, Forward> forwards_;
  std::unordered_map<SessionId, Served> served_;
};

}  // namespace chatdesk::gateway
