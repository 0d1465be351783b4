#include "desk_recovery.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "blocking_pipeline.hpp"
#include "chatdesk/gateway/store_codec.hpp"
#include "chatdesk/monitor/blocking_redis.hpp"

namespace chatdesk::gateway {
namespace {

using Reply = monitor::RedisReplyPtr;
using monitor::reply_pairs;
using monitor::reply_string;

// Conversations read per pipeline: bounds the replies held at once.
constexpr std::size_t kChunk = 500;

// One reading of the shops; a failure leaves `out` and `stats` to be discarded.
bool read_shops(const config::Config& config, BlockingPipeline& p,
                std::span<const std::string> shops, RecoveredDesk& out, RecoveryStats& stats,
                std::string& error) {
  const std::string heartbeat_key(store::kHeartbeatKey);
  Reply beat = p.command(heartbeat_key, {"GET", heartbeat_key}, error);
  if (!beat) return false;
  if (beat->type == REDIS_REPLY_STRING) {
    std::int64_t ms = 0;
    const std::string s = reply_string(beat.get());
    if (std::from_chars(s.data(), s.data() + s.size(), ms).ec == std::errc{})
      out.last_alive = from_epoch_ms(ms);
  }
  const std::string history = std::to_string(config.limits.history_limit);
  for (const auto& shop : config.shops) {
    if (std::find(shops.begin(), shops.end(), shop.id) == shops.end()) continue;
    const std::string agents_key = store::agents_key(shop.id);
    Reply agents = p.command(agents_key, {"HGETALL", agents_key}, error);
    if (!agents) return false;
    for (const auto& [id, state] : reply_pairs(agents.get()))
      out.agents.push_back(
          {shop.id, id, state == "available" ? AgentPresence::available : AgentPresence::away});
    const std::string open_key = store::open_key(shop.id);
    Reply open = p.command(open_key, {"ZRANGE", open_key, "0", "-1"}, error);
    if (!open) return false;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < open->elements; ++i) ids.push_back(reply_string(open->element[i]));
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
        auto decoded = store::decode_state(ids[i], reply_pairs(state.get()), why);
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
          auto m = store::decode_message(ids[i], reply_string(entry->element[0]),
                                         reply_pairs(entry->element[1]));
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
    BlockingPipeline pipeline;
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
