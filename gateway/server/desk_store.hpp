#pragma once
// The desk's durable store in Redis (docs/storage.md). After each loop turn it takes what the desk
// changed and writes it in one pipelined round trip; the output the desk made meanwhile (held in
// the OutputGate) goes out only when Redis has confirmed that write. One write is in flight at a
// time: changes made meanwhile wait in the desk, coalesced per conversation, and go in the next
// (group commit), so a busy loop makes fewer, larger writes. Every command is idempotent (state
// hashes written whole, messages under explicit stream ids, the record guarded by a flag in its
// conversation's hash), so a write whose outcome is unknown is simply sent again after a
// reconnect. While Redis is away the desk refuses new messages (`unavailable`).
// Not thread-safe: runs on the gateway's io_context thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "async_redis.hpp"
#include "chatdesk/config/config.hpp"
#include "chatdesk/gateway/desk.hpp"
#include "chatdesk/gateway/output_gate.hpp"
#include "chatdesk/gateway/store_codec.hpp"

namespace chatdesk::gateway {

class RedisDeskStore final : private DeskChangeSink {
 public:
  RedisDeskStore(boost::asio::io_context& ioc, const config::Config& config, const Clock& clock,
                 RedisPipeline& redis, Desk& desk, OutputGate& gate);

  // Starts the heartbeat (the moment the gateway was last alive, for the downtime at a restart).
  void start();
  void stop();
  // After a loop turn: writes what the desk changed (or releases output that needed no write).
  void flush();
  // From RedisPipeline::on_connection.
  void connection_changed(bool up);

  bool available() const { return redis_.connected(); }
  // Nothing waits to be written (for a clean stop).
  bool idle() const { return !in_flight_ && !desk_.has_changes() && gate_.held() == 0; }
  std::uint64_t writes() const { return writes_; }

 private:
  struct Write {
    std::uint64_t token = 0;
    RedisBatch batch;
    bool sent = false;
  };

  void conversation(const StoredConversation& state,
                    std::span<const ChatMessage* const> new_messages, bool first) override;
  void ended(const StoredConversation& state, std::span<const ChatMessage* const> new_messages,
             const ConversationRecord& record) override;
  void agent(std::string_view shop, std::string_view agent,
             std::optional<AgentPresence> state) override;

  void add_state(const StoredConversation& state);
  void add_messages(const StoredConversation& state, std::span<const ChatMessage* const> messages);
  // The record script (desk_store.cpp) for one records stream.
  void add_record(std::string_view mark, std::string_view stream, std::string_view mark_ttl,
                  std::string_view trim, std::string_view threshold,
                  const std::vector<std::pair<std::string_view, std::string>>& fields);
  void send();
  void completed(const boost::system::error_code& ec, std::span<redisReply* const> replies);
  void retry_soon();
  void heartbeat();

  boost::asio::io_context& ioc_;
  const config::Config& config_;
  const Clock& clock_;
  RedisPipeline& redis_;
  Desk& desk_;
  OutputGate& gate_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer heartbeat_timer_;
  RedisBatch heartbeat_batch_;
  std::optional<Write> in_flight_;
  RedisBatch next_;  // being filled by take_changes()
  std::uint64_t writes_ = 0;
  bool stopped_ = false;
  // Buffers reused for every command (no allocation per message once warm).
  store::StateFields state_fields_;
  store::MessageFields message_fields_;
  std::vector<std::string_view> args_;
  std::string key_, key2_, maxlen_, score_;
};

}  // namespace chatdesk::gateway
