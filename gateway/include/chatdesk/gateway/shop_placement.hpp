#pragma once
// Where a shop's desk runs when several gateway nodes share one desk (docs/scaling.md): each shop
// has one home node, preferred by rendezvous hashing of the shop id over the live nodes, so shops
// spread evenly and only the shops of a node that leaves or joins move. Pure functions; every
// node computes the same answer from the same live set (the hash is fixed, not std::hash).
// Sessions are numbered globally: the node's id in the high bits, so a frame for a session finds
// the node holding its socket.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "chatdesk/gateway/desk_output.hpp"

namespace chatdesk::gateway {

// A gateway process's id in the desk, unique per start (INCR in Redis), never 0.
using NodeId = std::uint32_t;

inline constexpr int session_local_bits = 40;
inline constexpr NodeId max_node_id = (NodeId{1} << (64 - session_local_bits)) - 1;
inline constexpr std::uint64_t max_local_session = (std::uint64_t{1} << session_local_bits) - 1;

// `local` in 1..max_local_session, `node` in 1..max_node_id (0 stays "no session").
constexpr SessionId global_session(NodeId node, std::uint64_t local) {
  return (SessionId{node} << session_local_bits) | (local & max_local_session);
}
constexpr NodeId node_of(SessionId session) {
  return static_cast<NodeId>(session >> session_local_bits);
}

// The weight of `node` for `shop` (64-bit FNV-1a of the shop id, mixed with the node id).
std::uint64_t placement_weight(std::string_view shop, NodeId node);

// The live node with the highest weight for `shop`; nullopt when `live` is empty. Ties (equal
// weights, vanishingly rare) go to the smaller node id, so every node agrees.
std::optional<NodeId> preferred_home(std::string_view shop, std::span<const NodeId> live);

}  // namespace chatdesk::gateway
