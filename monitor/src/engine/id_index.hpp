#pragma once
// Finds a conversation's slot by its id, for every desk event. Open addressing with linear probing
// over 8-byte cells while the ids stay in the conversation records: about one cache line per
// lookup plus the record itself, where a node-based unordered_map walks a bucket, a node and the
// key's own heap block (half of the engine's time at 100k open conversations). Deleting shifts
// the following cells back instead of leaving tombstones, so endless churn of conversations does
// not slow lookups down. Not thread-safe.

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace chatdesk::monitor {

class IdIndex {
 public:
  static constexpr std::uint32_t kAbsent = 0xFFFF'FFFFU;

  static std::uint32_t hash(std::string_view id) {
    const std::uint64_t h = std::hash<std::string_view>{}(id);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }

  // The slot whose id (as told by key_of(slot)) equals `id`, or kAbsent. `h` is hash(id).
  template <typename KeyOf>
  std::uint32_t find(std::string_view id, std::uint32_t h, KeyOf&& key_of) const {
    if (cells_.empty()) return kAbsent;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Cell& c = cells_[i];
      if (c.slot == kAbsent) return kAbsent;
      if (c.hash == h && key_of(c.slot) == id) return c.slot;
    }
  }

  // `slot`'s id must not be in the index yet.
  void insert(std::uint32_t h, std::uint32_t slot) {
    if ((size_ + 1) * 2 > cells_.size()) grow();
    place(h, slot);
    ++size_;
  }

  // `slot` must be in the index under hash `h`.
  void erase(std::uint32_t h, std::uint32_t slot) {
    std::size_t hole = h & mask_;
    while (cells_[hole].slot != slot) hole = (hole + 1) & mask_;
    for (std::size_t j = hole;;) {
      j = (j + 1) & mask_;
      if (cells_[j].slot == kAbsent) break;
      const std::size_t home = cells_[j].hash & mask_;
      // A cell whose home lies cyclically in (hole, j] would become unreachable if moved.
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      cells_[hole] = cells_[j];
      hole = j;
    }
    cells_[hole] = Cell{};
    --size_;
  }

  std::size_t size() const { return size_; }

 private:
  struct Cell {
    std::uint32_t hash = 0;
    std::uint32_t slot = kAbsent;
  };

  void place(std::uint32_t h, std::uint32_t slot) {
    std::size_t i = h & mask_;
    while (cells_[i].slot != kAbsent) i = (i + 1) & mask_;
    cells_[i] = Cell{h, slot};
  }

  // At most half full: short probe sequences; 100k conversations take 2 MiB.
  void grow() {
    std::vector<Cell> old;
    old.swap(cells_);
    cells_.assign(old.empty() ? 1024 : old.size() * 2, Cell{});
    mask_ = cells_.size() - 1;
    for (const Cell& c : old)
      if (c.slot != kAbsent) place(c.hash, c.slot);
  }

  std::vector<Cell> cells_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace chatdesk::monitor
