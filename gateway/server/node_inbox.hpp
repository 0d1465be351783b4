#pragma once
// Carries node-bus batches (chatdesk/gateway/node_bus.hpp) between gateway nodes through Redis
// (docs/scaling.md, "Messages between nodes"): each node's inbox is a stream,
// `chatdesk:inbox:{node:<id>}`, that it reads with XREAD BLOCK on a connection of its own; a
// sender appends one entry per destination per flush (one pipelined round trip for all
// destinations of a loop turn). A stream and not pub/sub: what is sent while the reader's
// connection is down waits for it (docs/benchmarks.md measures both).
//
// Each batch carries its sender and a sequence number per destination. A flush whose outcome is
// unknown (the connection dropped) is sent again whole once the sender is connected; the reader
// drops what it has seen already (a sequence number not above the last from that sender), so
// each batch is handed over once and in order; a gap (a batch lost with its stream, say Redis
// restarted without persistence) is reported before the batch after it. The reader trims what it
// has read and keeps its inbox alive with PEXPIRE, so a dead node's inbox goes away by itself.
// Not thread-safe: the gateway's io_context thread.

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "async_redis.hpp"
#include "chatdesk/gateway/node_bus.hpp"

namespace chatdesk::gateway {

std::string node_inbox_key(NodeId node);

class NodeInbox {
 public:
  struct Handlers {
    // One batch, checked (BusBatchReader::open succeeded), in order per sender.
    std::function<void(BusBatchReader& batch)> batch;
    // Batches from `from` were lost before this one (its sequence number skipped some).
    std::function<void(NodeId from)> gap;
  };

  // `sender` may be shared with other users (the store); `reader` must be this inbox's own, with
  // an io_timeout above `block`.
  NodeInbox(boost::asio::io_context& ioc, RedisPipeline& sender, RedisPipeline& reader, NodeId self,
            std::chrono::milliseconds block = std::chrono::milliseconds(1000));
  ~NodeInbox();
  NodeInbox(const NodeInbox&) = delete;
  NodeInbox& operator=(const NodeInbox&) = delete;

  void start(Handlers handlers);
  void stop();

  // The batch going to `to` at the next flush (started with this node's header on first use).
  BusBatchWriter& batch_for(NodeId to);
  // Sends every batch written since the last flush, one XADD each, in one round trip. While a
  // flush is unanswered the next one waits (batches keep their order per destination).
  void flush();

  struct Counters {
    std::uint64_t batches_sent = 0;      // confirmed by Redis
    std::uint64_t batches_received = 0;  // handed to Handlers::batch
    std::uint64_t duplicates_dropped = 0;
    std::uint64_t damaged_dropped = 0;  // refused by BusBatchReader::open
    std::uint64_t gaps = 0;
    std::uint64_t resends = 0;  // flushes sent again after an unknown outcome
  };
  const Counters& counters() const { return counters_; }
  // Nothing written and not yet confirmed.
  bool idle() const { return pending_.empty() && !in_flight_ && !has_unflushed(); }

 private:
  struct Outgoing {
    BusBatchWriter writer;
    std::uint64_t next_seq = 1;
  };
  bool has_unflushed() const;
  void send_pending();
  void read();

  RedisPipeline& sender_;
  RedisPipeline& reader_;
  NodeId self_;
  std::chrono::milliseconds block_;
  std::string key_;
  Handlers handlers_;
  bool running_ = false;

  std::map<NodeId, Outgoing> outgoing_;
  RedisBatch pending_;  // the flush in flight or waiting to be sent again
  bool in_flight_ = false;
  std::string last_id_ = "0-0";
  std::map<NodeId, std::uint64_t> last_seq_;  // per sender
  bool reading_ = false;
  RedisBatch read_batch_;
  boost::asio::steady_timer retry_;
  Counters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chatdesk::gateway
