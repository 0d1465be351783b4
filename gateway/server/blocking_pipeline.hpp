#pragma once
// Blocking, pipelined Redis commands for work off the event loop or before it runs (the desk's
// recovery, the reports): to the one Redis of redis.url, or on a Redis Cluster (redis.cluster) to
// the master of each command's key, one connection per master from CLUSTER SLOTS; replies are
// read back in the order the commands were given, and every connection's commands are written
// before the first reply is awaited. Not thread-safe: one thread uses it.

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/monitor/blocking_redis.hpp"

namespace chatdesk::gateway {

// A cluster's answer that another try, with a new slot map, may not get: MOVED, ASK, TRYAGAIN,
// CLUSTERDOWN.
bool cluster_in_flux(std::string_view error);

class BlockingPipeline {
 public:
  // Connects (for a cluster: learns the slot map and connects to every master), retrying until
  // `deadline`. false with `error` (no password in it).
  bool open(const config::Config& config, const monitor::RedisEndpoint& endpoint,
            std::chrono::steady_clock::time_point deadline, std::string& error);

  // Queues one command for the node serving `key`.
  void append(std::string_view key, const std::vector<std::string>& args);
  // The reply of the oldest command not read yet; null with `error` set when the connection
  // failed or Redis answered with an error.
  monitor::RedisReplyPtr next(std::string& error);
  monitor::RedisReplyPtr command(std::string_view key, const std::vector<std::string>& args,
                                 std::string& error) {
    append(key, args);
    return next(error);
  }

 private:
  bool connect(const monitor::RedisEndpoint& endpoint,
               const std::vector<monitor::RedisEndpoint>& seeds, std::string& error);
  std::size_t master_index(std::string_view key) const;
  void flush();

  bool cluster_ = false;
  monitor::ClusterSlotMap map_;  // complete: fetch_cluster_slots checked it
  std::vector<monitor::RedisContextPtr> contexts_;
  std::deque<std::size_t> order_;  // the connection of each reply to come
  bool unsent_ = false;
  std::vector<const char*> argv_;
  std::vector<std::size_t> lens_;
};

}  // namespace chatdesk::gateway
