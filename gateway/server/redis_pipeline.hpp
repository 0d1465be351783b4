#pragma once
// What the store, the lease keeper and the node inbox need of Redis: pipelined batches on the
// event loop, each completed once and in order (AsyncRedis' contract). AsyncRedis serves it from
// one Redis, AsyncRedisCluster from a Redis Cluster (docs/scaling.md, "Redis Cluster"); the
// gateway picks one from redis.cluster. Not thread-safe: use it on the io_context's thread only.

#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "chatdesk/monitor/violation_writer.hpp"

namespace chatdesk::gateway {

class RedisBatch;
struct AsyncRedisOptions;

class RedisPipeline {
 public:
  virtual ~RedisPipeline() = default;

  // Connects in the background and reconnects after any failure, until stop().
  virtual void start() = 0;
  // Disconnects; the batches pending complete with operation_aborted.
  virtual void stop() = 0;
  // Ready to take batches (for a cluster: every slot's master connected).
  virtual bool connected() const = 0;
  // Called (posted) on every change of connected().
  virtual void on_connection(std::function<void(bool)> callback) = 0;

  // `batch` may be reused once send() returns; `done(ec, replies)` is called exactly once,
  // posted, in the order batches were sent: ec == {} with one reply per command in command order
  // (error replies included), or an error ec and no replies when the outcome is unknown
  // (not_connected, connection_reset, timed_out, operation_aborted). Replies are valid only
  // during the call.
  using Done = std::function<void(const boost::system::error_code&, std::span<redisReply* const>)>;
  virtual void send(const RedisBatch& batch, Done done) = 0;

  // For benchmarks and metrics: round trips and commands sent since construction.
  virtual std::uint64_t round_trips() const = 0;
  virtual std::uint64_t commands() const = 0;
};

// AsyncRedisCluster over `seeds` when there are any, else AsyncRedis on `endpoint`. Throws
// std::invalid_argument for a cluster endpoint with a db other than 0 (start-up only).
std::unique_ptr<RedisPipeline> make_redis_pipeline(boost::asio::io_context& ioc,
                                                   const monitor::RedisEndpoint& endpoint,
                                                   const std::vector<monitor::RedisEndpoint>& seeds,
                                                   const AsyncRedisOptions& options);

}  // namespace chatdesk::gateway
