#include "desk_store.hpp"

#include <charconv>
#include <iostream>

namespace chatdesk::gateway {
namespace net = boost::asio;

namespace {

// Appends a conversation's record to a records stream exactly once: the mark is set in the same
// script that appends the record, so a retried write finds it and appends nothing. The mark is
// in the stream's slot (store::record_mark_key, store::shop_record_mark_key), so this runs on a
// Redis Cluster too. Used twice per ended conversation: the global records stream (trimmed by
// length) and the shop's, which the reports read (trimmed by age). The rest of the ending (the
// state's `recorded` flag and expiry, the shop's open set) are idempotent commands of their own
// slots. KEYS: mark, stream. ARGV: mark ttl ms, MAXLEN or MINID, its threshold, then the
// record's field/value pairs.
constexpr std::string_view kRecordScript = R"lua(
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('XADD', KEYS[2], ARGV[2], '~', ARGV[3], '*', unpack(ARGV, 4))
end
return 1
)lua";

// Messages kept per conversation stream: the whole transcript, within reason.
constexpr std::string_view kTranscriptMaxlen = "100000";

void set_number(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.assign(buf, r.ptr);
}

// A retried XADD under an explicit id that is already in the stream: the message was stored by
// the attempt whose answer was lost.
bool already_stored(const std::string& error) {
  return error.find("equal or smaller") != std::string::npos;
}

}  // namespace

RedisDeskStore::RedisDeskStore(net::io_context& ioc, const config::Config& config,
                               const Clock& clock, RedisPipeline& redis, Desk& desk,
                               OutputGate& gate)
    : ioc_(ioc),
      config_(config),
      clock_(clock),
      redis_(redis),
      desk_(desk),
      gate_(gate),
      retry_timer_(ioc),
      heartbeat_timer_(ioc) {}

void RedisDeskStore::start() {
  heartbeat();
}

void RedisDeskStore::stop() {
  stopped_ = true;
  retry_timer_.cancel();
  heartbeat_timer_.cancel();
}

void RedisDeskStore::heartbeat() {
  if (stopped_) return;
  if (redis_.connected()) {
    std::string ms;
    set_number(ms, to_epoch_ms(clock_.now()));
    heartbeat_batch_.clear();
    heartbeat_batch_.add({"SET", store::kHeartbeatKey, ms});
    redis_.send(heartbeat_batch_, [](const boost::system::error_code&, const auto&) {});
  }
  // Once a second: the downtime at a restart is known to about that.
  heartbeat_timer_.expires_after(std::chrono::seconds(1));
  heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) heartbeat();
  });
}

void RedisDeskStore::connection_changed(bool up) {
  desk_.set_accepting(up);
  if (!up) return;
  if (in_flight_ && !in_flight_->sent)
    send();
  else
    flush();
}

void RedisDeskStore::flush() {
  if (in_flight_) return;  // what changes meanwhile goes in the next write, when this one is done
  if (!desk_.has_changes()) {
    gate_.seal_without_write();
    return;
  }
  if (!redis_.connected()) return;  // kept in the desk until Redis is back
  next_.clear();
  desk_.take_changes(*this);
  in_flight_.emplace();
  in_flight_->token = gate_.seal();
  std::swap(in_flight_->batch, next_);
  send();
}

void RedisDeskStore::retry_soon() {
  retry_timer_.expires_after(std::chrono::seconds(1));
  retry_timer_.async_wait([this](boost::system::error_code e) {
    if (!e && in_flight_ && !in_flight_->sent && redis_.connected()) send();
  });
}

void RedisDeskStore::send() {
  in_flight_->sent = true;
  ++writes_;
  redis_.send(in_flight_->batch,
              [this](const boost::system::error_code& ec, std::span<redisReply* const> replies) {
                completed(ec, replies);
              });
}

void RedisDeskStore::completed(const boost::system::error_code& ec,
                               std::span<redisReply* const> replies) {
  if (!in_flight_ || stopped_) return;
  in_flight_->sent = false;
  if (ec) {
    // The connection went; connection_changed(true) sends it again. Unless it never went down
    // for the pipeline (a send raced its loss), then again shortly.
    if (redis_.connected()) retry_soon();
    return;
  }
  for (const redisReply* r : replies) {
    if (r->type != REDIS_REPLY_ERROR) continue;
    const std::string e(r->str, r->len);
    if (already_stored(e)) continue;
    // Not stored (e.g. Redis out of memory): nothing of this write is acked; try again shortly.
    std::cerr << "chatdesk-gateway: redis refused a desk write (" << e.substr(0, 120)
              << "); retrying in 1 s\n";
    retry_soon();
    return;
  }
  const std::uint64_t token = in_flight_->token;
  std::swap(in_flight_->batch, next_);  // keep the buffer's capacity for the next write
  in_flight_.reset();
  gate_.stored(token);
  flush();
}

// --- DeskChangeSink: one loop turn's changes as Redis commands -----------------------------

void RedisDeskStore::add_state(const StoredConversation& state) {
  state_fields_.encode(state);
  key_ = store::state_key(state.id);
  next_.add({"HSET", key_, "state", state_fields_.state(), "note", state_fields_.note()});
}

void RedisDeskStore::add_messages(const StoredConversation& state,
                                  std::span<const ChatMessage* const> messages) {
  if (messages.empty()) return;
  key2_ = store::messages_key(state.id);
  for (const ChatMessage* m : messages) {
    message_fields_.encode(store::message_seq(m->id), *m);
    const auto& names = store::MessageFields::names();
    next_.add({"XADD", key2_, "MAXLEN", "~", kTranscriptMaxlen, message_fields_.entry_id(),
               names[0], message_fields_.value(0), names[1], message_fields_.value(1), names[2],
               message_fields_.value(2), names[3], message_fields_.value(3)});
  }
}

void RedisDeskStore::conversation(const StoredConversation& state,
                                  std::span<const ChatMessage* const> new_messages, bool first) {
  // Messages before the state: a state never names a message that is not stored.
  add_messages(state, new_messages);
  add_state(state);
  if (first) {
    set_number(score_, to_epoch_ms(state.created));
    next_.add({"ZADD", store::open_key(state.shop), score_, state.id});
    // The shop's customers: an order for anyone else is refused (docs/reports.md).
    next_.add({"HSETNX", store::customers_key(state.shop), state.customer, score_});
  }
}

void RedisDeskStore::ended(const StoredConversation& state,
                           std::span<const ChatMessage* const> new_messages,
                           const ConversationRecord& record) {
  add_messages(state, new_messages);
  add_state(state);
  const auto fields = store::record_fields(record);
  std::string ttl;
  set_number(ttl, config_.storage.transcript_ttl.count());
  set_number(maxlen_, static_cast<std::int64_t>(config_.storage.conversations_maxlen));
  add_record(store::record_mark_key(config_.storage.conversations_stream, state.id),
             config_.storage.conversations_stream, ttl, "MAXLEN", maxlen_, fields);
  std::string min_id;
  set_number(min_id, std::max<std::int64_t>(
                         0, to_epoch_ms(record.ended) - config_.reports.retention.count()));
  add_record(store::shop_record_mark_key(state.shop, state.id), store::shop_records_key(state.shop),
             ttl, "MINID", min_id, fields);
  // Then the conversation ends in its own slots. A crash between these commands leaves only
  // idempotent ones for the retry (or, after a restart, for the conversation's next ending).
  key_ = store::state_key(state.id);
  key2_ = store::messages_key(state.id);
  next_.add({"HSET", key_, "recorded", "1"});
  next_.add({"PEXPIRE", key_, ttl});
  next_.add({"PEXPIRE", key2_, ttl});
  next_.add({"ZREM", store::open_key(state.shop), state.id});
}

void RedisDeskStore::add_record(
    std::string_view mark, std::string_view stream, std::string_view mark_ttl,
    std::string_view trim, std::string_view threshold,
    const std::vector<std::pair<std::string_view, std::string>>& fields) {
  args_.clear();
  for (std::string_view a : {std::string_view("EVAL"), kRecordScript, std::string_view("2"), mark,
                             stream, mark_ttl, trim, threshold})
    args_.push_back(a);
  for (const auto& [name, value] : fields) {
    args_.push_back(name);
    args_.push_back(value);
  }
  next_.add(args_);
}

void RedisDeskStore::agent(std::string_view shop, std::string_view agent,
                           std::optional<AgentPresence> state) {
  key_ = store::agents_key(shop);
  if (state)
    next_.add({"HSET", key_, agent, *state == AgentPresence::available ? "available" : "away"});
  else
    next_.add({"HDEL", key_, agent});
}

}  // namespace chatdesk::gateway
