#pragma once
// The leases a node holds on shops' desks (docs/scaling.md, "A lease per shop, fenced"), as a pure
// state machine: which shops to claim now, and which leases have run out so that the node must
// stop deciding for them. The adapter sends one claim script per shop (it takes a free lease with
// a new epoch, extends one this node holds, and names the holder otherwise) and reports answers.
// Times come from a monotonic clock. Not thread-safe: the event loop's thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/shop_placement.hpp"

namespace chatdesk::gateway {

// All lease periods follow from scale.lease_ttl, so that a dead node's shops are taken over within
// it: the key expires in Redis at most redis_ttl after the last renewal, which was before the
// death, and the successor checks every check_every.
struct LeaseTiming {
  explicit LeaseTiming(Duration lease_ttl);
  Duration ttl;          // scale.lease_ttl
  Duration check_every;  // ttl / 5: renewals, and attempts to take a free lease
  Duration redis_ttl;    // ttl - 2 * check_every: the lease key's PX, and a node heartbeat's
  // redis_ttl / 10: the holder stops deciding this long before Redis can let the key go, so that
  // two nodes never decide for one shop at once (as long as their clocks' rates differ by less).
  Duration margin;
};

class ShopLeases {
 public:
  using Time = std::chrono::steady_clock::time_point;

  ShopLeases(LeaseTiming timing, NodeId self);

  const LeaseTiming& timing() const { return timing_; }

  // Appends to `out` the shops to claim at `now`: each lease held, every check_every, and each
  // free shop whose preferred home among `live` is this node, as often. A shop is not claimed
  // again while its last claim is unanswered.
  void due(Time now, std::span<const std::string> shops, std::span<const NodeId> live,
           std::vector<std::string>& out);

  // Appends to `out` the shops this node holds whose preferred home among `live` is another node
  // that has been in the live set (as these calls saw it) for at least the ttl: each such lease
  // ends now (take_lost reports it) and the adapter releases it in Redis, so that the preferred
  // node claims it at its next check. This spreads the shops again after a node joins or comes
  // back; a node must stay alive a whole ttl before shops move to it, so one that flaps does not
  // make them move back and forth. A shop with a claim unanswered is left alone. Call it every
  // check, with the live set due() gets.
  void hand_over(Time now, std::span<const std::string> shops, std::span<const NodeId> live,
                 std::vector<std::string>& out);

  // The claim sent at `sent` was granted with `epoch` (taken or extended). An epoch other than the
  // one held means the lease had run out in Redis and was taken anew: what was held is lost (see
  // take_lost) and the new lease starts.
  void granted(std::string_view shop, Time sent, std::uint64_t epoch);
  // The claim found the lease held by `holder` (another node).
  void refused(std::string_view shop, NodeId holder);
  // The claim's outcome is unknown (Redis unreachable): a lease held stays held until it runs out.
  void unanswered(std::string_view shop);

  // Moves to `out` the shops this node must stop deciding for: leases run out at `now` or lost.
  void take_lost(Time now, std::vector<std::string>& out);

  bool holds(std::string_view shop, Time now) const;
  // The epoch of a lease held (the fencing token of every write for the shop).
  std::optional<std::uint64_t> epoch(std::string_view shop) const;
  // The holder last seen by a claim of this node (itself while it holds the lease).
  std::optional<NodeId> holder(std::string_view shop) const;
  // The next renewal or end of a lease held (take_lost must run then); nullopt when none is held.
  // Free shops have no time of their own: the adapter calls due() every check_every for them.
  std::optional<Time> next_check() const;

 private:
  struct Lease {
    std::uint64_t epoch = 0;  // 0: not held
    Time valid_until{};
    Time next_claim{};
    bool in_flight = false;
    std::optional<NodeId> holder;
    bool lost = false;  // held, then run out or replaced: not yet reported by take_lost
  };
  Lease& lease(std::string_view shop);

  LeaseTiming timing_;
  NodeId self_;
  std::map<std::string, Lease, std::less<>> leases_;
  std::map<NodeId, Time> live_since_;  // each node in the last live set, since when
};

}  // namespace chatdesk::gateway
