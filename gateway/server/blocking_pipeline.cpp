#include "blocking_pipeline.hpp"

#include <algorithm>
#include <thread>

namespace chatdesk::gateway {
namespace {

constexpr std::chrono::milliseconds kConnectTimeout{2000};
constexpr std::chrono::milliseconds kIoTimeout{10000};

}  // namespace

bool cluster_in_flux(std::string_view error) {
  for (std::string_view mark : {"MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN"})
    if (error.find(mark) != std::string_view::npos) return true;
  return false;
}

bool BlockingPipeline::open(const config::Config& config, const monitor::RedisEndpoint& endpoint,
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

void BlockingPipeline::append(std::string_view key, const std::vector<std::string>& args) {
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

monitor::RedisReplyPtr BlockingPipeline::next(std::string& error) {
  if (unsent_) flush();
  const std::size_t node = order_.front();
  order_.pop_front();
  redisContext* c = contexts_[node].get();
  void* raw = nullptr;
  if (redisGetReply(c, &raw) != REDIS_OK || !raw) {
    error = std::string("redis: ") + c->errstr;
    return nullptr;
  }
  monitor::RedisReplyPtr r(static_cast<redisReply*>(raw));
  if (r->type == REDIS_REPLY_ERROR) {
    error = "redis: " + std::string(r->str, r->len);
    return nullptr;
  }
  return r;
}

bool BlockingPipeline::connect(const monitor::RedisEndpoint& endpoint,
                               const std::vector<monitor::RedisEndpoint>& seeds,
                               std::string& error) {
  contexts_.clear();
  order_.clear();
  cluster_ = !seeds.empty();
  if (!cluster_) {
    contexts_.push_back(monitor::connect_blocking(endpoint, kConnectTimeout, kIoTimeout, error));
    return contexts_.back() != nullptr;
  }
  if (!monitor::fetch_cluster_slots(seeds, kConnectTimeout, kIoTimeout, map_, error)) return false;
  for (const auto& master : map_.masters()) {
    contexts_.push_back(monitor::connect_blocking(monitor::endpoint_of(master, seeds.front()),
                                                  kConnectTimeout, kIoTimeout, error));
    if (!contexts_.back()) return false;
  }
  return true;
}

std::size_t BlockingPipeline::master_index(std::string_view key) const {
  const monitor::ClusterNode* master = map_.master_of_key(key);
  const auto& masters = map_.masters();
  return static_cast<std::size_t>(std::find(masters.begin(), masters.end(), *master) -
                                  masters.begin());
}

// Writes every connection's queued commands before the first reply is awaited, so the masters
// work on their parts at once rather than one after the other.
void BlockingPipeline::flush() {
  for (auto& c : contexts_) {
    int done = 0;
    while (!done && redisBufferWrite(c.get(), &done) == REDIS_OK) {
    }
  }
  unsent_ = false;
}

}  // namespace chatdesk::gateway
