#pragma once
// A Redis Cluster client on the gateway's io_context, with AsyncRedis' contract (docs/scaling.md,
// "Redis Cluster"): a small slot router over hiredis async, since bookworm packages no cluster
// client. It learns the slot map from CLUSTER SLOTS (asked of a seed, then of any node it knows),
// keeps one AsyncRedis per master, splits each RedisBatch into one round trip per master and
// completes the batch once, in the order batches were sent, with one reply per command in
// command order. It follows MOVED (the map is updated and the command resent to the new master;
// a full refresh follows in the background) and ASK (ASKING + the command on the named node,
// the map unchanged), at most kMaxRedirections times per command, and refreshes the map after a
// master connection is lost. Not thread-safe: use it on the io_context's thread only.
//
// Routing (the keys: parse_redis_command, chatdesk/gateway/redis_command_key.hpp):
// - a command with keys goes to the master of their slot; keys of several slots are refused
//   locally, not sent: its reply is a CROSSSLOT error entry; so are commands that cannot share a
//   routed pipeline (MULTI/EXEC, SUBSCRIBE, AUTH, SELECT, …) and malformed RESP;
// - a command with no key (PING, INFO, EVAL with numkeys 0, …) goes with the batch's first
//   command that has keys, or to the first master;
// - SCRIPT LOAD/FLUSH, FUNCTION LOAD/…, FLUSHALL/FLUSHDB go to every master; the reply is the
//   first error any master gave, or else the first master's reply. A script loaded once is not
//   on a master added or promoted later: callers use EVAL (as RedisDeskStore does), or EVALSHA
//   with a fallback to EVAL on NOSCRIPT.
//
// Order: the commands one batch sends to one master keep their relative order, so commands of
// one slot run in the order they were given, within a batch and across batches (a batch's round
// trip to a master is written before the next batch's). Through a MOVED, the redirected commands
// of one round trip are resent together, in order, before any later batch can reach the new
// master (the map changes in the same handler), so the order of each key's commands holds.
// During a migration (ASK), keys of one slot that already moved run on the importing node and
// the others on the old one: the order of each key's commands holds, not across keys of the slot.
//
// Failures: a batch touching a slot no master serves, or a master whose connection is not ready,
// fails at once with not_connected and nothing sent. A master connection lost or timed out
// (io_timeout) while a round trip of the batch is unanswered fails the whole batch with that ec
// (connection_reset, timed_out): the outcome is unknown, as with AsyncRedis. A redirection to a
// node not connected yet waits for it at most connect_timeout (then not_connected).

#include <hiredis/hiredis.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "async_redis.hpp"
#include "chatdesk/gateway/redis_command_key.hpp"
#include "chatdesk/monitor/cluster_slots.hpp"
#include "chatdesk/monitor/violation_writer.hpp"

namespace chatdesk::gateway {

class AsyncRedisCluster final : public RedisPipeline {
 public:
  // Redirections one command follows before its MOVED/ASK error reply is given back as is.
  static constexpr int kMaxRedirections = 5;

  // Nothing happens until start(). `seeds` are nodes to learn the slot map from (any of the
  // cluster's nodes); the user and password of the first apply to every node. Throws
  // std::invalid_argument without seeds or with a db other than 0 (a cluster has only db 0).
  // `ioc` must outlive this object.
  AsyncRedisCluster(boost::asio::io_context& ioc, std::vector<monitor::RedisEndpoint> seeds,
                    AsyncRedisOptions options = {});
  // Disconnects at once, like stop(); the batches still pending complete (posted) with
  // operation_aborted, if the io_context runs again.
  ~AsyncRedisCluster() override;
  AsyncRedisCluster(const AsyncRedisCluster&) = delete;
  AsyncRedisCluster& operator=(const AsyncRedisCluster&) = delete;

  // Learns the slot map (retrying with backoff until it does) and connects to every master;
  // each master connection reconnects with backoff by itself, until stop().
  void start() override;
  // Disconnects; the batches pending complete with operation_aborted. start() may follow.
  void stop() override;
  // Every slot has a master and every master's connection is ready.
  bool connected() const override { return connected_; }
  // Called (posted, on the io_context thread) on every change of connected().
  void on_connection(std::function<void(bool)> callback) override {
    on_connection_ = std::move(callback);
  }

  // RedisPipeline::send; a command refused locally (see the class comment) is an error reply.
  using Done = RedisPipeline::Done;
  void send(const RedisBatch& batch, Done done) override;

  // For benchmarks and tests: round trips to masters (one per master a batch touches, one per
  // redirection) and commands written (ASKING and the copies to every master included).
  std::uint64_t round_trips() const override { return round_trips_; }
  std::uint64_t commands() const override { return commands_; }
  // Round trips resent after MOVED or ASK (the commands of one round trip redirected to one node
  // go in one).
  std::uint64_t redirections() const { return redirections_; }
  std::uint64_t refreshes() const { return refreshes_; }  // slot maps learnt from CLUSTER SLOTS
  const monitor::ClusterSlotMap& slot_map() const { return map_; }

 private:
  // Which commands of a request one round trip to one node carries.
  struct SubBatch {
    std::uint64_t request = 0;
    std::vector<std::uint32_t> commands;  // indices into the request's batch, in order
    bool asking = false;                  // each command goes behind an ASKING
    int hops = 0;                         // redirections its commands followed so far
  };

  // One node: its connection and the redirected round trips waiting for it to be ready.
  struct Link {
    Link(boost::asio::io_context& ioc, monitor::ClusterNode n, monitor::RedisEndpoint endpoint,
         const AsyncRedisOptions& options)
        : node(std::move(n)), redis(ioc, std::move(endpoint), options), wait_timer(ioc) {}
    ~Link() { *alive = false; }

    monitor::ClusterNode node;
    AsyncRedis redis;
    bool ready = false;   // as last notified, once the waiting round trips were written
    bool master = false;  // serves slots in the current map
    std::size_t in_flight = 0;
    std::deque<SubBatch> waiting;
    boost::asio::steady_timer wait_timer;
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  };

  // One send() not completed yet. Replies are moved out of hiredis' objects into `replies`
  // (type 0 until answered) so that they outlive the round trip that brought them.
  struct Request {
    Done done;
    RedisBatch batch;  // a copy: redirected commands are resent from it
    std::vector<redisReply> replies;
    std::size_t outstanding = 0;   // round trips sent or waiting, not answered yet
    boost::system::error_code ec;  // the first failure

    Request() = default;
    Request(Request&&) noexcept = default;
    Request& operator=(Request&&) = delete;
    ~Request();
  };

  // send()'s per-command targets besides a master index.
  static constexpr std::int32_t kLocal = -1;  // answered locally (refused)
  static constexpr std::int32_t kAny = -2;    // no key
  static constexpr std::int32_t kEvery = -3;  // to every master

  Request* find(std::uint64_t id);
  void launch(Link& link, SubBatch&& sub);
  void write(Link& link, SubBatch&& sub);
  void on_answer(Link* link, const SubBatch& sub, const boost::system::error_code& ec,
                 std::span<redisReply* const> replies);
  void take_replies(Link& from, Request& request, const SubBatch& sub,
                    std::span<redisReply* const> replies);
  void fail_waiting(Link& link);
  void complete_ready();
  void post_completion(Request&& request);

  Link& link_for(const monitor::ClusterNode& node);
  Link* find_link(const monitor::ClusterNode& node);
  void on_link(Link& link, bool up);
  void retire_if_idle(Link& link);
  void map_changed();
  void update_connected();

  void refresh();
  void try_candidate();
  void probe_all();
  void ask_probe(const monitor::ClusterNode& node);
  void end_round();
  void slots_answer(const monitor::ClusterNode& reached, const boost::system::error_code& ec,
                    std::span<redisReply* const> replies);
  void schedule_refresh();
  void log_failure(std::string_view what, std::string_view why);

  monitor::RedisEndpoint endpoint_of(const monitor::ClusterNode& node) const;

  boost::asio::io_context& ioc_;
  std::vector<monitor::RedisEndpoint> seeds_;
  AsyncRedisOptions options_;
  std::function<void(bool)> on_connection_;
  bool running_ = false;
  bool connected_ = false;

  monitor::ClusterSlotMap map_;
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<Link*> master_links_;             // parallel to map_.masters()
  std::vector<std::unique_ptr<Link>> retired_;  // destroyed in a posted handler

  std::deque<Request> requests_;
  std::uint64_t first_request_ = 0;  // the id of requests_.front()

  // send()'s scratch, reused (no allocation once warm).
  RedisCommandView view_;
  RedisBatch scratch_;
  std::vector<std::int32_t> targets_;

  // The slot map refresh, one round at a time: CLUSTER SLOTS on each ready connection in turn,
  // then, if none answered, on a connection of its own to every seed and known node at once
  // (the first answer wins, within connect_timeout + io_timeout). The probes are kept across
  // failed rounds (they reconnect with backoff and log once) and dropped once a round succeeds.
  struct Probe {
    monitor::ClusterNode node;
    std::unique_ptr<AsyncRedis> redis;
  };
  RedisBatch cluster_slots_;  // CLUSTER SLOTS
  bool refreshing_ = false;
  bool refresh_again_ = false;  // asked for while one was running
  bool probing_ = false;        // the round is at its second stage
  std::vector<monitor::ClusterNode> candidates_;
  std::size_t candidate_ = 0;
  std::string last_failure_;
  std::uint64_t refresh_step_ = 0;  // changes at every step and stop: stale handlers see it
  std::vector<Probe> probes_;
  std::vector<Probe> retired_probes_;  // destroyed in a posted handler
  boost::asio::steady_timer probe_timer_;
  boost::asio::steady_timer retry_timer_;
  bool retry_armed_ = false;
  std::chrono::milliseconds backoff_;
  bool failing_ = false;  // a failure was logged since the last map learnt

  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::uint64_t round_trips_ = 0;
  std::uint64_t commands_ = 0;
  std::uint64_t redirections_ = 0;
  std::uint64_t refreshes_ = 0;
};

}  // namespace chatdesk::gateway
