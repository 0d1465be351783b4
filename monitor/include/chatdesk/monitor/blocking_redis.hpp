#pragma once
// Blocking hiredis for the code that talks to Redis from a thread of its own or before the event
// loop runs (the violation writer, the desk's recovery): a connection with AUTH/SELECT, and a
// Redis Cluster's slot map asked of its seed nodes. Functions and owning handles only; a context
// belongs to the one thread that uses it.

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/monitor/cluster_slots.hpp"
#include "chatdesk/monitor/violation_writer.hpp"

namespace chatdesk::monitor {

struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;
struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

// A duration as hiredis' timeouts take it.
timeval redis_timeval(std::chrono::milliseconds d);

// Connects to `endpoint` with a read/write timeout and sends AUTH and SELECT when it asks for
// them. Null with `error` (no password in it) when that failed.
RedisContextPtr connect_blocking(const RedisEndpoint& endpoint,
                                 std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds io_timeout, std::string& error);

// One command, waiting for its answer. Null with `error` when the connection failed; an error
// reply is returned as a reply.
RedisReplyPtr command_blocking(redisContext* context, std::span<const std::string_view> args,
                               std::string& error);

// A string reply's text ("" for any other reply), and an array reply of field/value pairs (a
// hash, a stream entry's fields) as a map.
std::string reply_string(const redisReply* reply);
std::map<std::string, std::string> reply_pairs(const redisReply* reply);

// The ranges of a CLUSTER SLOTS reply ([first, last, [host, port, id, …], replicas…] each). An
// empty or unknown ("?") host is `reached`, the address the answering node was reached at.
// nullopt when well formed, else what is wrong.
std::optional<std::string> parse_cluster_slots(const redisReply& reply, const ClusterNode& reached,
                                               std::vector<ClusterSlotMap::Range>& ranges);

// The nodes to learn a cluster's slot map from: redis.cluster's "host:port" entries with
// redis.url's user and password. Empty when redis.cluster is (single-node Redis); nullopt when
// redis.url does not parse or names a db other than 0.
std::optional<std::vector<RedisEndpoint>> cluster_seeds(const config::RedisConfig& config);

// Asks the seeds, one after the other, for CLUSTER SLOTS until one answers with a map that serves
// every slot. false with `error` (the last failure) when none did.
bool fetch_cluster_slots(std::span<const RedisEndpoint> seeds,
                         std::chrono::milliseconds connect_timeout,
                         std::chrono::milliseconds io_timeout, ClusterSlotMap& map,
                         std::string& error);

// `node` with the user and password of `credentials` (every node of a cluster shares them).
RedisEndpoint endpoint_of(const ClusterNode& node, const RedisEndpoint& credentials);

}  // namespace chatdesk::monitor
