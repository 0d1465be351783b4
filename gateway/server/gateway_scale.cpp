// Gateway::State's multi-node part (config.scale; docs/scaling.md, "The idea: a shop has one home
// node"). LeaseKeeper says which shops this node is home for; each one gained is loaded from the
// store into the running desk, each one lost is dropped from it and its sessions closed with 1012
// so that they reconnect to the new home. A session of a shop at home elsewhere is forwarded:
// its events go to the home node's inbox, and the home's frames for it come back through this
// node's inbox. Everything a loop turn sends to one node goes in one batch (NodeInbox::flush).

#include <chrono>
#include <iostream>

#include "desk_recovery.hpp"
#include "gateway_state.hpp"
#include "websocket_session.hpp"

namespace chatdesk::gateway {
namespace net = boost::asio;

namespace {

SessionKind session_kind(PeerKind kind) {
  switch (kind) {
    case PeerKind::agent:
      return SessionKind::agent;
    case PeerKind::lead:
      return SessionKind::lead;
    case PeerKind::customer:
    case PeerKind::echo:  // never routed
      break;
  }
  return SessionKind::customer;
}

// The reader's XREAD BLOCK waits up to `block`: its connection must wait longer for an answer.
constexpr std::chrono::milliseconds kInboxBlock{1000};

}  // namespace

void Gateway::State::start_scale(const monitor::RedisEndpoint& endpoint) {
  AsyncRedisOptions reader;
  reader.io_timeout = kInboxBlock + std::chrono::seconds(2);
  inbox_redis = make_redis_pipeline(ioc, endpoint, cluster_seeds_, reader);
  std::vector<std::string> shops;
  for (const auto& shop : config.shops) shops.push_back(shop.id);
  lease_keeper = std::make_unique<LeaseKeeper>(ioc, *redis, LeaseTiming(config.scale.lease_ttl),
                                               std::move(shops));
  lease_keeper->on_checked([this] { after_check(); });
  lease_keeper->start([this](NodeId node) { node_registered(node); },
                      [this](std::span<const std::string> lost,
                             std::span<const std::string> gained) { shops_changed(lost, gained); });
  inbox_redis->start();
}

void Gateway::State::node_registered(NodeId node) {
  nodes.emplace(node);
  inbox = std::make_unique<NodeInbox>(ioc, *redis, *inbox_redis, node, kInboxBlock);
  inbox->start(
      {[this](BusBatchReader& batch) { on_batch(batch); }, [this](NodeId from) { on_gap(from); }});
  std::cerr << "chatdesk-gateway: scale: this is node " << node << "\n";
}

bool Gateway::State::shop_reachable(std::string_view shop) const {
  if (!lease_keeper) return true;
  if (!nodes) return false;
  const auto home = lease_keeper->home_of(shop);
  if (!home) return false;
  return *home != nodes->self() || ready_shops_.contains(std::string(shop));
}

void Gateway::State::shops_changed(std::span<const std::string> lost,
                                   std::span<const std::string> gained) {
  for (const auto& shop : lost) {
    ready_shops_.erase(shop);
    std::erase(to_load_, shop);
    // Stop deciding for the shop at once; its next home restores it from the store.
    std::vector<SessionId> dropped;
    desk.drop_shop(shop, dropped);
    NodeSessions::Taken taken;
    nodes->take_shop(shop, taken);
    for (const auto& [session, kind] : taken) {
      if (kind != SessionKind::lead) continue;  // the desk's own are in `dropped` already
      leads.lead_disconnected(session);
      dropped.push_back(session);
    }
    if (gate) gate->drop_unsealed(shop, dropped);
    for (const auto session : dropped) close(session, CloseReason::moved);
    std::cerr << "chatdesk-gateway: scale: gave up shop " << shop << " (" << dropped.size()
              << " sessions closed)\n";
  }
  for (const auto& shop : gained) to_load_.push_back(shop);
  load_shops_now();
  after_event();
}

void Gateway::State::load_shops_now() {
  std::erase_if(to_load_, [&](const std::string& shop) { return !lease_keeper->holds(shop); });
  if (to_load_.empty()) return;
  RecoveredDesk recovered;
  RecoveryStats stats;
  std::string error;
  // Blocks the loop while the shops load (docs/scaling.md says what that costs): their desk must
  // know every open conversation before the first event for them.
  if (!load_shops(config, endpoint_, std::chrono::steady_clock::now() + std::chrono::seconds(2),
                  to_load_, recovered, stats, error)) {
    std::cerr << "chatdesk-gateway: scale: cannot load " << to_load_.size()
              << " shops yet: " << error << "\n";
    return;  // the next check tries again
  }
  // The heartbeat is every node's: the successor counts the downtime from the last one seen.
  const std::size_t restored = desk.restore(recovered, clock.now());
  for (auto& shop : to_load_) ready_shops_.insert(std::move(shop));
  std::cerr << "chatdesk-gateway: scale: took " << to_load_.size() << " shops (" << restored
            << " open conversations, " << stats.messages << " messages) in " << stats.took.count()
            << " ms\n";
  to_load_.clear();
}

void Gateway::State::after_check() {
  if (!nodes) return;
  if (!to_load_.empty()) load_shops_now();
  // Edge: sessions whose shop moved (or has no home now) reconnect, through the balancer, to
  // whichever node is its home then.
  std::vector<SessionId> stale;
  nodes->stale_forwards([this](std::string_view shop) { return lease_keeper->home_of(shop); },
                        stale);
  for (const auto session : stale) close(session, CloseReason::moved);
  // Home: an edge that left the live set died; its sessions are disconnected.
  NodeSessions::Taken dead;
  nodes->take_dead_edges(lease_keeper->live(), dead);
  for (const auto& [session, kind] : dead) lost_served(session, kind);
  after_event();
}

bool Gateway::State::route_opened(SessionId id, const Peer& peer) {
  const auto home = nodes ? lease_keeper->home_of(peer.shop) : std::nullopt;
  if (home && *home == nodes->self() && ready_shops_.contains(peer.shop)) {
    nodes->serve(id, peer.shop, session_kind(peer.kind));
    return false;
  }
  if (!home || *home == nodes->self()) {
    // Between two homes (the HTTP layer refuses such upgrades; this one raced a lease change).
    if (auto it = sessions_.find(id); it != sessions_.end()) it->second->close(CloseReason::moved);
    return true;
  }
  nodes->forward(id, peer.shop, *home);
  auto& batch = inbox->batch_for(*home);
  switch (peer.kind) {
    case PeerKind::customer:
      batch.customer_connected(id, peer.shop, peer.id, peer.resume);
      break;
    case PeerKind::agent:
      batch.agent_connected(id, peer.shop, peer.id);
      break;
    case PeerKind::lead:
    case PeerKind::echo:
      batch.lead_connected(id, peer.shop);
      break;
  }
  schedule_bus_flush();
  return true;
}

bool Gateway::State::route_frame(SessionId id, std::string_view frame) {
  const auto home = nodes ? nodes->home_of(id) : std::nullopt;
  if (!home) return false;
  inbox->batch_for(*home).frame(id, frame);
  schedule_bus_flush();
  return true;
}

bool Gateway::State::route_closed(SessionId id) {
  if (!nodes) return false;
  const auto home = nodes->home_of(id);
  if (!home) {
    nodes->forget_served(id);
    return false;
  }
  nodes->forget_forward(id);
  inbox->batch_for(*home).disconnected(id);
  schedule_bus_flush();
  return true;
}

void Gateway::State::on_batch(BusBatchReader& batch) {
  BusMessage m;
  while (batch.next(m)) {
    switch (m.kind) {
      case BusEntry::send:
        // Edge: a frame from the home's desk for one of this node's sockets.
        if (auto it = sessions_.find(m.session); it != sessions_.end())
          it->second->send(std::make_shared<const std::string>(m.text[0]));
        break;
      case BusEntry::close:
        if (auto it = sessions_.find(m.session); it != sessions_.end())
          it->second->close(static_cast<CloseReason>(m.code));
        break;
      default:
        remote_event(m);
        break;
    }
  }
  after_event();
}

void Gateway::State::remote_event(const BusMessage& m) {
  const NodeId edge = node_of(m.session);
  const auto refuse = [&] {
    inbox->batch_for(edge).close(m.session, CloseReason::moved);
    schedule_bus_flush();
  };
  switch (m.kind) {
    case BusEntry::customer_connected:
    case BusEntry::agent_connected:
    case BusEntry::lead_connected: {
      const std::string_view shop = m.text[0];
      // The edge's view of the home was stale: it reconnects and finds the home then.
      if (!ready_shops_.contains(std::string(shop)) || stopping) return refuse();
      if (m.kind == BusEntry::customer_connected) {
        nodes->serve(m.session, shop, SessionKind::customer);
        desk.customer_connected(m.session, shop, m.text[1], m.text[2]);
      } else if (m.kind == BusEntry::agent_connected) {
        nodes->serve(m.session, shop, SessionKind::agent);
        desk.agent_connected(m.session, shop, m.text[1]);
      } else {
        nodes->serve(m.session, shop, SessionKind::lead);
        leads.lead_connected(m.session, shop, clock.now());
      }
      return;
    }
    case BusEntry::frame: {
      const auto* served = nodes->served(m.session);
      if (!served) return;  // closed here already (the edge learns it from that close)
      switch (served->kind) {
        case SessionKind::customer:
          return desk.customer_frame(m.session, m.text[0]);
        case SessionKind::agent:
          return desk.agent_frame(m.session, m.text[0]);
        case SessionKind::lead:
          return leads.lead_frame(m.session);
      }
      return;
    }
    case BusEntry::disconnected: {
      const auto* served = nodes->served(m.session);
      if (!served) return;
      const auto kind = served->kind;
      nodes->forget_served(m.session);
      return disconnect_served(m.session, kind);
    }
    case BusEntry::send:
    case BusEntry::close:
      return;  // handled by on_batch
  }
}

void Gateway::State::disconnect_served(SessionId id, SessionKind kind) {
  switch (kind) {
    case SessionKind::customer:
      return desk.customer_disconnected(id);
    case SessionKind::agent:
      return desk.agent_disconnected(id);
    case SessionKind::lead:
      return leads.lead_disconnected(id);
  }
}

void Gateway::State::on_gap(NodeId from) {
  // Batches from `from` were lost: neither side knows what the other did with them, so every
  // session between the two starts again (a reconnect resumes it).
  std::cerr << "chatdesk-gateway: scale: batches from node " << from
            << " were lost; closing the sessions between us\n";
  std::vector<SessionId> forwarded;
  nodes->forwards_to(from, forwarded);
  for (const auto session : forwarded) close(session, CloseReason::moved);
  NodeSessions::Taken taken;
  const NodeId edges[] = {from};
  nodes->take_edges(edges, taken);
  close_taken(taken);
  after_event();
}

void Gateway::State::lost_served(SessionId id, SessionKind kind) {
  if (kind == SessionKind::agent) return desk.agent_connection_lost(id);
  disconnect_served(id, kind);
}

void Gateway::State::close_taken(const NodeSessions::Taken& taken) {
  for (const auto& [session, kind] : taken) {
    lost_served(session, kind);
    close(session, CloseReason::moved);
  }
}

void Gateway::State::schedule_bus_flush() {
  if (bus_flush_posted_ || !inbox) return;
  bus_flush_posted_ = true;
  // After the handlers already queued in this loop turn: one batch per node for all of them.
  net::post(ioc, [this] {
    bus_flush_posted_ = false;
    inbox->flush();
  });
}

}  // namespace chatdesk::gateway
