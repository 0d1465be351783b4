#pragma once
// Redis Cluster's key space (cluster spec, "Key distribution model" and "Redirection and
// resharding"): the slot of a key, which master serves each slot, and what a MOVED or ASK error
// says. Pure: no sockets. The Redis adapters feed it CLUSTER SLOTS replies and error strings and
// ask it where to send a command; docs/scaling.md says how the gateway uses it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatdesk::monitor {

inline constexpr std::uint16_t cluster_slot_count = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum the cluster spec names.
std::uint16_t crc16_xmodem(std::string_view data);

// The slot of `key`: CRC16 of the key modulo 16384, or of its hash tag, the part between the
// first `{` and the next `}` when that part is not empty.
std::uint16_t cluster_key_slot(std::string_view key);

struct ClusterNode {
  std::string host;
  int port = 0;
  bool operator==(const ClusterNode&) const = default;
};

// "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>", as hiredis hands over an error
// reply's text (an IPv6 host, bare or in brackets, comes out bare). An empty host (a node that
// does not know its own address) stays empty; the caller uses the address it reached it at.
struct ClusterRedirect {
  enum class Kind { moved, ask };
  Kind kind = Kind::moved;
  std::uint16_t slot = 0;
  ClusterNode to;
};
std::optional<ClusterRedirect> parse_cluster_redirect(std::string_view error);

// Which master serves each of the 16384 slots. Not thread-safe: one owner (an event loop or the
// violation writer's thread) keeps its own.
class ClusterSlotMap {
 public:
  struct Range {
    std::uint16_t first = 0;
    std::uint16_t last = 0;  // inclusive, as CLUSTER SLOTS gives it
    ClusterNode master;
  };

  // Replaces the map with the ranges of a CLUSTER SLOTS reply. Returns an error text and changes
  // nothing when a range is out of bounds, reversed or overlaps another; slots no range covers
  // stay unserved (a cluster being set up or with a failed master).
  std::optional<std::string> assign(const std::vector<Range>& ranges);

  // The master of `slot`, or nullptr while no master serves it.
  const ClusterNode* master_of(std::uint16_t slot) const;
  const ClusterNode* master_of_key(std::string_view key) const {
    return master_of(cluster_key_slot(key));
  }
  // A MOVED redirection: the slot now lives at `to` (ASK is for one command only and changes
  // nothing here).
  void moved(std::uint16_t slot, const ClusterNode& to);

  // Every master serving at least one slot, each once, in the order first seen.
  const std::vector<ClusterNode>& masters() const { return masters_; }
  // true once every slot has a master.
  bool complete() const;

 private:
  std::uint16_t index_of(const ClusterNode& node);
  void drop_unused_masters();

  static constexpr std::uint16_t unserved = 0xffff;
  std::array<std::uint16_t, cluster_slot_count> owner_{};  // index into masters_, or unserved
  std::vector<ClusterNode> masters_;
  bool assigned_ = false;
};

}  // namespace chatdesk::monitor
