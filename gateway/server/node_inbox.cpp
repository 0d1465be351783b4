#include "node_inbox.hpp"

#include <algorithm>

namespace chatdesk::gateway {

namespace {

constexpr std::string_view kMaxLen = "100000";    // a reader gone for good: bounded
constexpr std::string_view kKeepAlive = "60000";  // a dead node's inbox expires a minute after
constexpr std::chrono::milliseconds kRetry{100};

}  // namespace

std::string node_inbox_key(NodeId node) {
  return "chatdesk:inbox:{node:" + std::to_string(node) + "}";
}

NodeInbox::NodeInbox(boost::asio::io_context& ioc, RedisPipeline& sender, RedisPipeline& reader,
                     NodeId self, std::chrono::milliseconds block)
    : sender_(sender),
      reader_(reader),
      self_(self),
      block_(block),
      key_(node_inbox_key(self)),
      retry_(ioc) {}

NodeInbox::~NodeInbox() {
  *alive_ = false;
  retry_.cancel();
}

void NodeInbox::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  running_ = true;
  read();
}

void NodeInbox::stop() {
  running_ = false;
  retry_.cancel();
}

BusBatchWriter& NodeInbox::batch_for(NodeId to) {
  auto& out = outgoing_[to];
  if (out.writer.bytes().empty()) out.writer.start(self_, out.next_seq++);
  return out.writer;
}

bool NodeInbox::has_unflushed() const {
  return std::any_of(outgoing_.begin(), outgoing_.end(),
                     [](const auto& o) { return !o.second.writer.bytes().empty(); });
}

void NodeInbox::flush() {
  if (!running_ || in_flight_ || !pending_.empty()) return;  // the next flush takes it
  for (auto& [to, out] : outgoing_) {
    if (out.writer.bytes().empty()) continue;
    pending_.add(
        {"XADD", node_inbox_key(to), "MAXLEN", "~", kMaxLen, "*", "b", out.writer.bytes()});
    out.writer = BusBatchWriter{};  // the bytes are in pending_; the next batch starts fresh
  }
  if (!pending_.empty()) send_pending();
}

void NodeInbox::send_pending() {
  in_flight_ = true;
  // One round trip for every destination; an unknown outcome sends the same entries again.
  sender_.send(pending_, [this, alive = alive_](const boost::system::error_code& ec,
                                                std::span<redisReply* const> replies) {
    if (!*alive) return;
    in_flight_ = false;
    bool failed = static_cast<bool>(ec);
    for (const redisReply* r : replies) failed = failed || r->type == REDIS_REPLY_ERROR;
    if (!failed) {
      counters_.batches_sent += pending_.size();
      pending_.clear();
      flush();  // what was written meanwhile
      return;
    }
    if (!running_) return;
    ++counters_.resends;
    retry_.expires_after(kRetry);
    retry_.async_wait([this, alive = alive_](const boost::system::error_code& e) {
      if (*alive && !e && running_) send_pending();
    });
  });
}

void NodeInbox::read() {
  if (!running_ || reading_) return;
  read_batch_.clear();
  // What was read is trimmed (MINID keeps the last entry read and what follows).
  read_batch_.add({"XTRIM", key_, "MINID", last_id_});
  read_batch_.add({"PEXPIRE", key_, kKeepAlive});
  read_batch_.add({"XREAD", "COUNT", "1000", "BLOCK", std::to_string(block_.count()), "STREAMS",
                   key_, last_id_});
  reading_ = true;
  // Blocks in Redis until a batch comes or `block_` passes; then reads again.
  reader_.send(read_batch_, [this, alive = alive_](const boost::system::error_code& ec,
                                                   std::span<redisReply* const> replies) {
    if (!*alive) return;
    reading_ = false;
    if (!running_) return;
    if (ec || replies[2]->type == REDIS_REPLY_ERROR) {
      retry_.expires_after(kRetry);
      retry_.async_wait([this, alive = alive_](const boost::system::error_code& e) {
        if (*alive && !e) read();
      });
      return;
    }
    const redisReply* streams = replies[2];
    if (streams->type == REDIS_REPLY_ARRAY && streams->elements == 1) {
      const redisReply* entries = streams->element[0]->element[1];
      BusBatchReader batch;
      for (std::size_t i = 0; i < entries->elements; ++i) {
        const redisReply* entry = entries->element[i];
        last_id_.assign(entry->element[0]->str, entry->element[0]->len);
        const redisReply* fields = entry->element[1];
        if (fields->elements != 2 ||
            batch.open({fields->element[1]->str, fields->element[1]->len})) {
          ++counters_.damaged_dropped;
          continue;
        }
        auto& last = last_seq_[batch.header().from];
        if (batch.header().seq <= last) {
          ++counters_.duplicates_dropped;
          continue;
        }
        if (batch.header().seq != last + 1) {
          ++counters_.gaps;
          if (handlers_.gap) handlers_.gap(batch.header().from);
        }
        last = batch.header().seq;
        ++counters_.batches_received;
        if (handlers_.batch) handlers_.batch(batch);
      }
    }
    read();
  });
}

}  // namespace chatdesk::gateway
