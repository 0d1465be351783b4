#include "desk_recovery.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "chatdesk/gateway/store_codec.hpp"

namespace chatdesk::gateway {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

// Conversations read per pipeline: bounds the replies held at once.
constexpr std::size_t kChunk = 500;

std::string text(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len) : "";
}

void append(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
}

// The next reply of the pipeline; null with `error` set when the connection failed or Redis
// answered with an error.
Reply next(redisContext* c, std::string& error) {
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

Reply command(redisContext* c, const std::vector<std::string>& args, std::string& error) {
  append(c, args);
  return next(c, error);
}

std::map<std::string, std::string> pairs(const redisReply* r) {
  std::map<std::string, std::string> out;
  if (r->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    out.emplace(text(r->element[i]), text(r->element[i + 1]));
  return out;
}

Context connect(const monitor::RedisEndpoint& e, std::chrono::steady_clock::time_point deadline,
                std::string& error) {
  for (;;) {
    Context c(redisConnectWithTimeout(e.host.c_str(), e.port, timeval{2, 0}));
    if (c && !c->err) {
      redisSetTimeout(c.get(), timeval{10, 0});
      if (!e.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!e.user.empty()) auth.push_back(e.user);
        auth.push_back(e.password);
        if (!command(c.get(), auth, error)) return nullptr;
      }
      if (e.db != 0 && !command(c.get(), {"SELECT", std::to_string(e.db)}, error)) return nullptr;
      return c;
    }
    error = "redis: cannot connect to " + e.host + ":" + std::to_string(e.port) + ": " +
            (c ? c->errstr : "out of memory");
    if (std::chrono::steady_clock::now() >= deadline) return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

bool load_desk(const config::Config& config, const monitor::RedisEndpoint& endpoint,
               std::chrono::steady_clock::time_point deadline, RecoveredDesk& out,
               RecoveryStats& stats, std::string& error) {
  std::vector<std::string> all;
  for (const auto& shop : config.shops) all.push_back(shop.id);
  return load_shops(config, endpoint, deadline, all, out, stats, error);
}

bool load_shops(const config::Config& config, const monitor::RedisEndpoint& endpoint,
                std::chrono::steady_clock::time_point deadline, std::span<const std::string> shops,
                RecoveredDesk& out, RecoveryStats& stats, std::string& error) {
  const auto started = std::chrono::steady_clock::now();
  Context c = connect(endpoint, deadline, error);
  if (!c) return false;
  Reply beat = command(c.get(), {"GET", std::string(store::kHeartbeatKey)}, error);
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
    Reply agents = command(c.get(), {"HGETALL", store::agents_key(shop.id)}, error);
    if (!agents) return false;
    for (const auto& [id, state] : pairs(agents.get()))
      out.agents.push_back(
          {shop.id, id, state == "available" ? AgentPresence::available : AgentPresence::away});
    Reply open = command(c.get(), {"ZRANGE", store::open_key(shop.id), "0", "-1"}, error);
    if (!open) return false;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < open->elements; ++i) ids.push_back(text(open->element[i]));
    for (std::size_t from = 0; from < ids.size(); from += kChunk) {
      const std::size_t to = std::min(ids.size(), from + kChunk);
      for (std::size_t i = from; i < to; ++i) {
        append(c.get(), {"HGETALL", store::state_key(ids[i])});
        // The newest history_limit messages, newest first.
        append(c.get(), {"XREVRANGE", store::messages_key(ids[i]), "+", "-", "COUNT", history});
      }
      for (std::size_t i = from; i < to; ++i) {
        Reply state = next(c.get(), error);
        if (!state) return false;
        Reply messages = next(c.get(), error);
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
  stats.conversations = out.conversations.size();
  stats.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (stats.skipped == 0) error.clear();
  return true;
}

}  // namespace chatdesk::gateway
