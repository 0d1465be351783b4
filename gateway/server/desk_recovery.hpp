#pragma once
// Reads the desk back from Redis at start (docs/storage.md, "Recovery"), before the gateway
// accepts connections: every shop's open conversations with their state and newest messages,
// agent presence and the last heartbeat. Blocking (plain hiredis, pipelined in chunks): it runs
// once, before the event loop. Not thread-safe; call from one thread.

#include <chrono>
#include <span>
#include <string>

#include "chatdesk/config/config.hpp"
#include "chatdesk/gateway/desk_changes.hpp"
#include "chatdesk/monitor/violation_writer.hpp"

namespace chatdesk::gateway {

struct RecoveryStats {
  std::size_t conversations = 0;
  std::size_t messages = 0;
  std::size_t skipped = 0;  // unreadable state (named in `error` of the first)
  std::chrono::milliseconds took{0};
};

// Loads the desk; retries the connection until `deadline`. false with `error` when Redis could not
// be reached or answered with an error (the gateway then refuses to start: it cannot know which
// conversations are open).
bool load_desk(const config::Config& config, const monitor::RedisEndpoint& endpoint,
               std::chrono::steady_clock::time_point deadline, RecoveredDesk& out,
               RecoveryStats& stats, std::string& error);

// The same for some shops only: what a node that took those shops over from another loads
// (docs/scaling.md). Shops not in the config are ignored.
bool load_shops(const config::Config& config, const monitor::RedisEndpoint& endpoint,
                std::chrono::steady_clock::time_point deadline, std::span<const std::string> shops,
                RecoveredDesk& out, RecoveryStats& stats, std::string& error);

}  // namespace chatdesk::gateway
