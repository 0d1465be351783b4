#include "chatdesk/monitor/cluster_slots.hpp"

#include <algorithm>
#include <charconv>

namespace chatdesk::monitor {

namespace {

// The table-driven form of the spec's reference implementation, built at compile time.
constexpr std::array<std::uint16_t, 256> make_crc16_table() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    std::uint16_t crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    table[byte] = crc;
  }
  return table;
}
constexpr auto crc16_table = make_crc16_table();

std::optional<int> parse_number(std::string_view text, int max) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 0 ||
      value > max)
    return std::nullopt;
  return value;
}

}  // namespace

std::uint16_t crc16_xmodem(std::string_view data) {
  std::uint16_t crc = 0;
  for (const char c : data) {
    const auto byte = static_cast<unsigned char>(c);
    crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[((crc >> 8) ^ byte) & 0xff]);
  }
  return crc;
}

std::uint16_t cluster_key_slot(std::string_view key) {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return crc16_xmodem(key) & (cluster_slot_count - 1);
}

std::optional<ClusterRedirect> parse_cluster_redirect(std::string_view error) {
  ClusterRedirect redirect;
  if (error.starts_with("MOVED ")) {
    redirect.kind = ClusterRedirect::Kind::moved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    redirect.kind = ClusterRedirect::Kind::ask;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot = parse_number(error.substr(0, space), cluster_slot_count - 1);
  // The port follows the last colon: an IPv6 host has colons of its own.
  const auto address = error.substr(space + 1);
  const auto colon = address.rfind(':');
  if (!slot || colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_number(address.substr(colon + 1), 65535);
  if (!port || *port == 0) return std::nullopt;
  redirect.slot = static_cast<std::uint16_t>(*slot);
  auto host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);  // hiredis connects to a bare IPv6 literal
  redirect.to.host = std::string(host);
  redirect.to.port = *port;
  return redirect;
}

std::optional<std::string> ClusterSlotMap::assign(const std::vector<Range>& ranges) {
  std::vector<const Range*> sorted;
  sorted.reserve(ranges.size());
  for (const auto& range : ranges) {
    if (range.first > range.last || range.last >= cluster_slot_count)
      return "slot range " + std::to_string(range.first) + "-" + std::to_string(range.last) +
             " is out of bounds";
    if (range.master.port <= 0 || range.master.port > 65535)
      return "slot range " + std::to_string(range.first) + "-" + std::to_string(range.last) +
             " has no valid master port";
    sorted.push_back(&range);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const Range* a, const Range* b) { return a->first < b->first; });
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->first <= sorted[i - 1]->last)
      return "slot ranges " + std::to_string(sorted[i - 1]->first) + "-" +
             std::to_string(sorted[i - 1]->last) + " and " + std::to_string(sorted[i]->first) +
             "-" + std::to_string(sorted[i]->last) + " overlap";
  }
  owner_.fill(unserved);
  masters_.clear();
  for (const auto& range : ranges) {
    const auto index = index_of(range.master);
    std::fill(owner_.begin() + range.first, owner_.begin() + range.last + 1, index);
  }
  assigned_ = true;
  return std::nullopt;
}

const ClusterNode* ClusterSlotMap::master_of(std::uint16_t slot) const {
  if (!assigned_ || slot >= cluster_slot_count || owner_[slot] == unserved) return nullptr;
  return &masters_[owner_[slot]];
}

void ClusterSlotMap::moved(std::uint16_t slot, const ClusterNode& to) {
  if (slot >= cluster_slot_count) return;
  if (!assigned_) {
    owner_.fill(unserved);
    assigned_ = true;
  }
  owner_[slot] = index_of(to);
  drop_unused_masters();
}

bool ClusterSlotMap::complete() const {
  return assigned_ && std::none_of(owner_.begin(), owner_.end(),
                                   [](std::uint16_t owner) { return owner == unserved; });
}

std::uint16_t ClusterSlotMap::index_of(const ClusterNode& node) {
  const auto found = std::find(masters_.begin(), masters_.end(), node);
  if (found != masters_.end()) return static_cast<std::uint16_t>(found - masters_.begin());
  masters_.push_back(node);
  return static_cast<std::uint16_t>(masters_.size() - 1);
}

// A master whose last slot moved away is no longer one to connect to.
void ClusterSlotMap::drop_unused_masters() {
  std::vector<bool> used(masters_.size(), false);
  for (const auto owner : owner_)
    if (owner != unserved) used[owner] = true;
  if (std::all_of(used.begin(), used.end(), [](bool u) { return u; })) return;
  std::vector<std::uint16_t> renumber(masters_.size(), unserved);
  std::vector<ClusterNode> kept;
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    if (!used[i]) continue;
    renumber[i] = static_cast<std::uint16_t>(kept.size());
    kept.push_back(std::move(masters_[i]));
  }
  for (auto& owner : owner_)
    if (owner != unserved) owner = renumber[owner];
  masters_ = std::move(kept);
}

}  // namespace chatdesk::monitor
