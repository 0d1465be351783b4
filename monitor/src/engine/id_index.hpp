#pragma once
// Finds a conversation's slot by its id, for every desk event. Open addressing with linear probing
// over 8-byte cells while the ids stay in the conversation records: about one cache line per
// lookup plus the record itself, where a node-based unordered_map walks a bucket, a node and the
// key's own heap block (half of the engine's time at 100k open conversations). Deleting shifts
// the following cells back instead of leaving tombstones, so endless churn of conversations does
// not slow lookups down. Not thread-safe.

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace chatdesk::monitor {

class IdIndex {
 public:
  static constexpr std::uint32_t kAbsent = 0xFFFF'FFFFU;

  // Every event hashes its id once, so this is a few multiplies inline instead of a call to the
  // general-purpose byte hash: the ids are made by the desk ("c-" and 16 random hex digits), not
  // chosen by clients, so speed matters more than resistance to crafted collisions. Ids of 8 or
  // more bytes are read as overlapping 8-byte words (18 bytes: 3 words), shorter ones in full.
  static std::uint32_t hash(std::string_view id) {
    const auto* p = reinterpret_cast<const unsigned char*>(id.data());
    const std::size_t n = id.size();
    std::uint64_t h = 0x9E37'79B9'7F4A'7C15ULL ^ n;
    if (n >= 8 && n <= 24) {  // the desk's ids: no loop
      h = mix(h ^ load8(p));
      if (n > 16) h = mix(h ^ load8(p + 8));
      h = mix(h ^ load8(p + n - 8));
    } else if (n > 24) {
      std::size_t i = 0;
      for (; i + 8 < n; i += 8) h = mix(h ^ load8(p + i));
      h = mix(h ^ load8(p + n - 8));
    } else {
      std::uint64_t w = 0;
      for (std::size_t i = 0; i < n; ++i) w |= std::uint64_t{p[i]} << (8 * i);
      h = mix(h ^ w);
    }
    h ^= h >> 29;
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }

  // Equality of two ids, without a call to memcmp for the desk's short ids.
  static bool equal(std::string_view a, std::string_view b) {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n < 8) return n == 0 || std::memcmp(a.data(), b.data(), n) == 0;
    const auto* x = reinterpret_cast<const unsigned char*>(a.data());
    const auto* y = reinterpret_cast<const unsigned char*>(b.data());
    std::uint64_t diff = (load8(x) ^ load8(y)) | (load8(x + n - 8) ^ load8(y + n - 8));
    if (n > 16) diff |= load8(x + 8) ^ load8(y + 8);
    for (std::size_t i = 16; i + 8 < n; i += 8) diff |= load8(x + i) ^ load8(y + i);
    return diff == 0;
  }

  // The slot whose id (as told by key_of(slot)) equals `id`, or kAbsent. `h` is hash(id).
  template <typename KeyOf>
  std::uint32_t find(std::string_view id, std::uint32_t h, KeyOf&& key_of) const {
    if (cells_.empty()) return kAbsent;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Cell& c = cells_[i];
      if (c.slot == kAbsent) return kAbsent;
      if (c.hash == h && equal(key_of(c.slot), id)) return c.slot;
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
  static std::uint64_t load8(const unsigned char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
  }

  static std::uint64_t mix(std::uint64_t h) {
    h *= 0xBF58'476D'1CE4'E5B9ULL;
    return h ^ (h >> 31);
  }

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
