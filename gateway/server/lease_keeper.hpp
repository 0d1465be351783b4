#pragma once
// Keeps this gateway node's place among the nodes sharing one desk, and its shops' leases, in
// Redis (docs/scaling.md): it takes a node id at start (INCR), and every check period sends one
// pipelined batch: its heartbeat in the live set (a sorted set scored by expiry on Redis's own
// clock, so nodes' clocks need not agree), the claim script for each shop ShopLeases says is due,
// the release of each shop handed over to a node that joined (ShopLeases::hand_over), and a GET
// of every other shop's lease (so an edge knows each shop's home). Answers go back into
// ShopLeases; gained and lost shops are reported after each batch and whenever a lease runs out.
// Not thread-safe: the gateway's io_context thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "async_redis.hpp"
#include "chatdesk/gateway/shop_leases.hpp"

namespace chatdesk::gateway {

class LeaseKeeper {
 public:
  // gained: shops whose lease this node now holds (restore them); lost: shops it must stop
  // deciding for at once (drop them). A shop may be lost and gained in one call (its lease ran
  // out in Redis and was taken again with a new epoch): drop it, then restore it.
  using Changed =
      std::function<void(std::span<const std::string> lost, std::span<const std::string> gained)>;

  LeaseKeeper(boost::asio::io_context& ioc, RedisPipeline& redis, LeaseTiming timing,
              std::vector<std::string> shops);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Takes a node id as soon as Redis answers (retrying every check period), calls `registered`
  // once with it, then keeps the heartbeat and the leases until stop().
  void start(std::function<void(NodeId)> registered, Changed changed);
  // Called after every check Redis answered or failed (after `changed`): homes and the live set
  // may have moved.
  void on_checked(std::function<void()> checked) { checked_ = std::move(checked); }
  // Gives up every lease held (a script deletes each one only if it is still this node's) and
  // leaves the live set, so that other nodes take the shops at their next check; then stops.
  // Reports the shops held as lost. `done` (optional) runs once Redis answered or failed.
  void stop(std::function<void()> done = {});
  // The node is stopping: from the next check it leaves the live set (so the others become the
  // preferred homes of its shops) and claims nothing new, but keeps renewing what it holds until
  // stop() releases it, after its last writes.
  void leaving() { leaving_ = true; }
  // Reports now (through `changed`) the leases that ran out on this node's clock since the last
  // report, without waiting for the next check: called before each store write, so that a node
  // whose loop stalled past its lease writes nothing more for that shop.
  void check_expiry();
  // Stops without a word to Redis: what a killed node does (tests).
  void abandon();

  NodeId node() const { return node_; }
  bool holds(std::string_view shop) const;
  std::optional<std::uint64_t> epoch(std::string_view shop) const { return leases_->epoch(shop); }
  // The shop's home as last seen (this node, or another's id from its lease); nullopt when free.
  std::optional<NodeId> home_of(std::string_view shop) const;
  // The live nodes, this one included, as of the last heartbeat answered.
  const std::vector<NodeId>& live() const { return live_; }

 private:
  void register_node();
  void tick();
  void arm(std::chrono::steady_clock::duration after);
  void report(std::vector<std::string> gained);

  boost::asio::io_context& ioc_;
  RedisPipeline& redis_;
  LeaseTiming timing_;
  std::vector<std::string> shops_;
  NodeId node_ = 0;
  std::unique_ptr<ShopLeases> leases_;
  std::vector<NodeId> live_;
  std::vector<std::optional<NodeId>> homes_;  // per shop in shops_, from the GETs
  std::function<void(NodeId)> registered_;
  Changed changed_;
  std::function<void()> checked_;
  bool running_ = false;
  bool in_flight_ = false;
  bool heard_live_ = false;
  bool leaving_ = false;
  RedisBatch batch_;
  std::vector<std::string> claims_;
  std::vector<std::string> handed_;  // released in this check's batch
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatdesk::gateway
