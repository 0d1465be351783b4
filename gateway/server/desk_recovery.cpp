#include "desk_recovery.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "chatdesk/gateway/store_codec.hpp"
#include "chatdesk/monitor/blocking_redis.hpp"

namespace chatdesk::gateway {
namespace {

using monitor::RedisContextPtr;
using Reply = monitor::RedisReplyPtr;

// Conversations read per pipeline: bounds the replies held at once.
constexpr std::size_t kChunk = 500;
constexpr std::chrono::milliseconds kConnectTimeout{2000};
constexpr std::chrono::milliseconds kIoTimeout{10000};

std::string text(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len) : "";
}

std::map<std::string, std::string> pairs(const redisReply* r) {
  std::map<std::string, std::string> out;
  if (r->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    out.emplace(text(r->element[i]), text(r->element[i + 1]));
  return out;
}

// A cluster's answer that another try may not get: the slot moved, or the cluster is changing.
bool cluster_in_flux(std::string_view error) {
  for (std::string_view mark : {"MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN"})
    if (error.find(mark) != std::string_view::npos) return true;
  return false;
}

// The loader's commands, pipelined: to the one Redis, or on a Redis Cluster to the master of each
// command's key (one connection per master), the replies read back in the order the commands
// were given. Blocking; one thread.
class LoaderPipeline {
 public:
  // Connects (for a cluster: learns the slot map and connects to every master), retrying until
  // `deadline`.
  bool open(const config::Config& config, const monitor::RedisEndpoint& endpoint,
            std::chrono::steady_clock::time_point deadline, std::string& error) {
    const auto seeds = monitor::cluster_seeds(config.redis);
    if (!seeds) {
      error = "redis: redis.url must parse and name db 0 with redis.cluster";
      return false;
    }
    for (;;) {
      if (connect(endpoint, *seeds, error)) return true;
      error = "redis: " + error;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  // Queues one command for the node serving `key`.
  void append(std::string_view key, const std::vector<std::string>& args) {
    const std::size_t node = cluster_ ? master_index(key) : 0;
    argv_.clear();
    lens_.clear();
    for (const auto& a : args) {
      argv_.push_back(a.data());
      lens_.push_back(a.size());
    }
    redisAppendCommandArgv(contexts_[node].get(), static_cast<int>(argv_.size()), argv_.data(),
                           lens_.data());
    order_.push_back(node);
    unsent_ = true;
  }

  // The reply of the oldest command not read yet; null with `error` set when the connection
  // failed or Redis answered with an error.
  Reply next(std::string& error) {
    if (unsent_) flush();
    const std::size_t node = order_.front();
    order_.pop_front();
    redisContext* c = contexts_[node].get();
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || !raw) {
      error = std::string("redis: ") + c->errstr;
      return nullptr;
    }
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_ERROR) {
      error = "redis: " + text(r.get());
      return nullptr;
    }
    return r;
  }

  Reply command(std::string_view key, const std::vector<std::string>& args, std::string& error) {
    append(key, args);
    return next(error);
  }

 private:
  bool connect(const monitor::RedisEndpoint& endpoint,
               const std::vector<monitor::RedisEndpoint>& seeds, std::string& error) {
    contexts_.clear();
    order_.clear();
    cluster_ = !seeds.empty();
    if (!cluster_) {
      contexts_.push_back(monitor::connect_blocking(endpoint, kConnectTimeout, kIoTimeout, error));
      return contexts_.back() != nullptr;
    }
    if (!monitor::fetch_cluster_slots(seeds, kConnectTimeout, kIoTimeout, map_, error))
      return false;
    for (const auto& master : map_.masters()) {
      contexts_.push_back(monitor::connect_blocking(monitor::endpoint_of(master, seeds.front()),
                                                    kConnectTimeout, kIoTimeout, error));
      if (!contexts_.back()) return false;
    }
    return true;
  }

  std::size_t master_index(std::string_view key) const {
    const monitor::ClusterNode* master = map_.master_of_key(key);
    const auto& masters = map_.masters();
    return static_cast<std::size_t>(std::find(masters.begin(), masters.end(), *master) -
                                    masters.begin());
  }

  // Writes every connection's queued commands before the first reply is awaited, so the
  // masters work on their parts at once rather than one after the other.
  void flush() {
    for (auto& c : contexts_) {
      int done = 0;
      while (!done && redisBufferWrite(c.get(), &done) == REDIS_OK) {
      }
    }
    unsent_ = false;
  }

  bool cluster_ = false;
  monitor::ClusterSlotMap map_;  // complete: fetch_cluster_slots checked it
  std::vector<RedisContextPtr> contexts_;
  std::deque<std::size_t> order_;  // the connection of each reply to come
  bool unsent_ = false;
  std::vector<const char*> argv_;
  std::vector<std::size_t> lens_;
};

// One reading of the shops; a failure leaves `out` and `stats` to be discarded.
bool read_shops(const config::Config& config, LoaderPipeline& p, std::span<const std::string> shops,
                RecoveredDesk& out, RecoveryStats& stats, std::string& error) {
  const std::string heartbeat_key(store::kHeartbeatKey);
  Reply beat = p.command(heartbeat_key, {"GET", heartbeat_key}, error);
  if (!beat) return false;
  if (beat->type == REDIS_REPLY_STRING) {
    std::int64_t ms = 0;
    const std::string s = text(beat.get());
    if (std::from_chars(s.data(), s.data() + s.size(), ms).ec == std::errc{})
      out.last_alive = from_epoch_ms(ms);
  }
  const std::string history = std::to_string(config.limits.history_limit);
  for (const auto& shop : config.shops) {
    if (std::find(shops.begin(), shops.end(), shop.id) == shops.end()) continue;
    const std::string agents_key = store::agents_key(shop.id);
    Reply agents = p.command(agents_key, {"HGETALL", agents_key}, error);
    if (!agents) return false;
    for (const auto& [id, state] : pairs(agents.get()))
      out.agents.push_back(
          {shop.id, id, state == "available" ? AgentPresence::available : AgentPresence::away});
    const std::string open_key = store::open_key(shop.id);
    Reply open = p.command(open_key, {"ZRANGE", open_key, "0", "-1"}, error);
    if (!open) return false;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < open->elements; ++i) ids.push_back(text(open->element[i]));
    for (std::size_t from = 0; from < ids.size(); from += kChunk) {
      const std::size_t to = std::min(ids.size(), from + kChunk);
      for (std::size_t i = from; i < to; ++i) {
        // A conversation's keys share its hash tag: both go to one node.
        const std::string state_key = store::state_key(ids[i]);
        p.append(state_key, {"HGETALL", state_key});
        // The newest history_limit messages, newest first.
        const std::string messages_key = store::messages_key(ids[i]);
        p.append(messages_key, {"XREVRANGE", messages_key, "+", "-", "COUNT", history});
      }
      for (std::size_t i = from; i < to; ++i) {
        Reply state = p.next(error);
        if (!state) return false;
        Reply messages = p.next(error);
        if (!messages) return false;
        std::string why;
        auto decoded = store::decode_state(ids[i], pairs(state.get()), why);
        if (!decoded || decoded->shop != shop.id) {
          if (stats.skipped++ == 0)
            error = "conversation " + ids[i] + ": " + (why.empty() ? "not of this shop" : why);
          continue;
        }
        RecoveredConversation r;
        r.state = std::move(*decoded);
        for (std::size_t k = messages->elements; k-- > 0;) {
          const redisReply* entry = messages->element[k];
          if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
          auto m = store::decode_message(ids[i], text(entry->element[0]), pairs(entry->element[1]));
          if (m) r.history.push_back(std::move(*m));
        }
        stats.messages += r.history.size();
        out.conversations.push_back(std::move(r));
      }
    }
  }
  return true;
}

}  // namespace

bool load_shops(const config::Config& config, const monitor::RedisEndpoint& endpoint,
                std::chrono::steady_clock::time_point deadline, std::span<const std::string> shops,
                RecoveredDesk& out, RecoveryStats& stats, std::string& error) {
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    LoaderPipeline pipeline;
    if (!pipeline.open(config, endpoint, deadline, error)) return false;
    RecoveredDesk read;
    RecoveryStats counted;
    if (read_shops(config, pipeline, shops, read, counted, error)) {
      out = std::move(read);
      stats = counted;
      break;
    }
    // A slot that moved during the read: read again with the new map.
    if (!cluster_in_flux(error) || std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stats.conversations = out.conversations.size();
  stats.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (stats.skipped == 0) error.clear();
  return true;
}

bool load_desk(const config::Config& config, const monitor::RedisEndpoint& endpoint,
               std::chrono::steady_clock::time_point deadline, RecoveredDesk& out,
               RecoveryStats& stats, std::string& error) {
  std::vector<std::string> all;
  for (const auto& shop : config.shops) all.push_back(shop.id);
  return load_shops(config, endpoint, deadline, all, out, stats, error);
}

}  // namespace chatdesk::gateway
