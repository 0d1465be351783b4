#include "chatdesk/gateway/shop_leases.hpp"

#include <algorithm>

namespace chatdesk::gateway {

LeaseTiming::LeaseTiming(Duration lease_ttl)
    : ttl(lease_ttl),
      check_every(lease_ttl / 5),
      redis_ttl(lease_ttl - 2 * (lease_ttl / 5)),
      margin(redis_ttl / 10) {}

ShopLeases::ShopLeases(LeaseTiming timing, NodeId self) : timing_(timing), self_(self) {}

ShopLeases::Lease& ShopLeases::lease(std::string_view shop) {
  auto found = leases_.find(shop);
  if (found == leases_.end()) found = leases_.emplace(std::string(shop), Lease{}).first;
  return found->second;
}

void ShopLeases::due(Time now, std::span<const std::string> shops, std::span<const NodeId> live,
                     std::vector<std::string>& out) {
  for (const auto& shop : shops) {
    auto& l = lease(shop);
    if (l.in_flight || now < l.next_claim) continue;
    const bool held = l.epoch != 0 && now < l.valid_until;
    if (!held && preferred_home(shop, live) != self_) continue;
    l.in_flight = true;
    l.next_claim = now + timing_.check_every;
    out.push_back(shop);
  }
}

void ShopLeases::hand_over(Time now, std::span<const std::string> shops,
                           std::span<const NodeId> live, std::vector<std::string>& out) {
  std::erase_if(live_since_, [&](const auto& entry) {
    return std::find(live.begin(), live.end(), entry.first) == live.end();
  });
  for (const NodeId node : live) live_since_.try_emplace(node, now);
  for (const auto& shop : shops) {
    auto& l = lease(shop);
    if (l.epoch == 0 || l.in_flight || now >= l.valid_until) continue;
    const auto home = preferred_home(shop, live);
    if (!home || *home == self_) continue;
    const auto since = live_since_.find(*home);
    if (since == live_since_.end() || now - since->second < timing_.ttl) continue;
    l.epoch = 0;
    l.lost = true;
    l.holder = *home;
    out.push_back(shop);
  }
}

void ShopLeases::granted(std::string_view shop, Time sent, std::uint64_t epoch) {
  auto& l = lease(shop);
  l.in_flight = false;
  if (l.epoch != 0 && l.epoch != epoch) l.lost = true;
  l.epoch = epoch;
  l.holder = self_;
  // Redis started the key's PX when it ran the claim, after `sent`: counting from `sent` errs on
  // the safe side.
  l.valid_until = sent + timing_.redis_ttl - timing_.margin;
}

void ShopLeases::refused(std::string_view shop, NodeId holder) {
  auto& l = lease(shop);
  l.in_flight = false;
  if (l.epoch != 0) l.lost = true;
  l.epoch = 0;
  l.holder = holder;
}

void ShopLeases::unanswered(std::string_view shop) {
  lease(shop).in_flight = false;
}

void ShopLeases::take_lost(Time now, std::vector<std::string>& out) {
  for (auto& [shop, l] : leases_) {
    if (l.epoch != 0 && now >= l.valid_until) {
      l.epoch = 0;
      l.holder.reset();
      l.lost = true;
    }
    if (l.lost) {
      l.lost = false;
      out.push_back(shop);
    }
  }
}

bool ShopLeases::holds(std::string_view shop, Time now) const {
  const auto found = leases_.find(shop);
  return found != leases_.end() && found->second.epoch != 0 && now < found->second.valid_until;
}

std::optional<std::uint64_t> ShopLeases::epoch(std::string_view shop) const {
  const auto found = leases_.find(shop);
  if (found == leases_.end() || found->second.epoch == 0) return std::nullopt;
  return found->second.epoch;
}

std::optional<NodeId> ShopLeases::holder(std::string_view shop) const {
  const auto found = leases_.find(shop);
  if (found == leases_.end()) return std::nullopt;
  return found->second.holder;
}

std::optional<ShopLeases::Time> ShopLeases::next_check() const {
  std::optional<Time> next;
  for (const auto& [shop, l] : leases_) {
    if (l.epoch == 0) continue;
    const auto at = l.in_flight ? l.valid_until : std::min(l.next_claim, l.valid_until);
    next = next ? std::min(*next, at) : at;
  }
  return next;
}

}  // namespace chatdesk::gateway
