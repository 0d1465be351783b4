#include "chatdesk/gateway/shop_placement.hpp"

namespace chatdesk::gateway {

namespace {

// splitmix64's finaliser: FNV-1a alone mixes the low bits of the node id poorly.
constexpr std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

std::uint64_t placement_weight(std::string_view shop, NodeId node) {
  return mix(fnv1a(shop) ^ mix(node));
}

std::optional<NodeId> preferred_home(std::string_view shop, std::span<const NodeId> live) {
  std::optional<NodeId> best;
  std::uint64_t best_weight = 0;
  for (const NodeId node : live) {
    const auto weight = placement_weight(shop, node);
    if (!best || weight > best_weight || (weight == best_weight && node < *best)) {
      best = node;
      best_weight = weight;
    }
  }
  return best;
}

}  // namespace chatdesk::gateway
