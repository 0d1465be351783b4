#pragma once
// How the desk's durable state is spelt in Redis (docs/storage.md): the fields of a conversation's
// state hash, of its message stream entries and of its record, and the reverse. Pure: no Redis
// here, so the round trips are unit-tested. Encoders reuse their buffers (no allocation per call
// once warm); not thread-safe, one per thread.

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/gateway/desk_changes.hpp"

namespace chatdesk::gateway::store {

// The keys (docs/storage.md). Every key of one conversation carries its id as the hash tag, every
// per-shop key the shop's, so that a Redis Cluster keeps each group in one slot.
std::string state_key(std::string_view conversation);     // chatdesk:{<id>}:state, a hash
std::string messages_key(std::string_view conversation);  // chatdesk:{<id>}:messages, a stream
std::string open_key(std::string_view shop);    // chatdesk:{shop:<id>}:open, zset id -> created
std::string agents_key(std::string_view shop);  // chatdesk:{shop:<id>}:agents, hash id -> state
inline constexpr std::string_view kHeartbeatKey = "chatdesk:heartbeat";  // ms, every second
// The reports' keys (docs/reports.md), all in the shop's slot:
std::string shop_records_key(std::string_view shop);  // chatdesk:{shop:<id>}:records, a stream
// chatdesk:{shop:<id>}:recorded:<conversation>: the mark that its record is in that stream
std::string shop_record_mark_key(std::string_view shop, std::string_view conversation);
std::string shop_orders_key(std::string_view shop);   // chatdesk:{shop:<id>}:orders, a stream
std::string shop_ratings_key(std::string_view shop);  // chatdesk:{shop:<id>}:ratings, a stream
// chatdesk:{shop:<id>}:customers, a hash customer -> the first conversation's creation (ms)
std::string customers_key(std::string_view shop);
// chatdesk:{shop:<id>}:order:<order id>: the mark that an order is in the orders stream
std::string order_mark_key(std::string_view shop, std::string_view order_id);
// The mark that a conversation's record is in `records_stream` (a string, expiring with its
// transcript): in the stream's slot, so one script checks it and appends the record. It is
// `records_stream` + ":recorded:<id>" when the stream's name has a hash tag, else
// "{<records_stream>}:recorded:<id>" (a key without a tag hashes whole, so its name as the tag
// is the same slot).
std::string record_mark_key(std::string_view records_stream, std::string_view conversation);

// Hex SHA-256 of a resume secret: the store and the desk keep only this.
std::string secret_hash(std::string_view secret);

// The state hash of one conversation, written whole every time (HSET is then idempotent and a
// retried write cannot leave a mix of two states): field `state` holds the values of names() but
// `note`, in that order, joined by '|' (none of them can hold one: ids, numbers, hex); field
// `note` the note, which is free text. Two fields instead of 43 because Redis's work per command
// grows with its arguments, and this hash is written for every message (docs/storage.md).
// An absent optional is an empty value.
class StateFields {
 public:
  static constexpr std::size_t kCount = 43;
  static constexpr std::size_t kNote = 11;  // names()[kNote] == "note"
  static const std::array<std::string_view, kCount>& names();

  void encode(const StoredConversation& c);
  std::string_view value(std::size_t i) const { return values_[i]; }
  std::string_view state() const { return state_; }
  std::string_view note() const { return values_[kNote]; }

 private:
  std::array<std::string, kCount> values_;
  std::string state_;
};

// The reverse of StateFields, from HGETALL's field/value pairs (`state`, `note`) and the
// conversation's id; nullopt when a value is missing or malformed (the error names it).
std::optional<StoredConversation> decode_state(std::string_view id,
                                               const std::map<std::string, std::string>& fields,
                                               std::string& error);

// One message stream entry: its explicit id "0-<seq>" (so that a retried XADD is recognised as
// written) and fields from, agent, text, ts.
class MessageFields {
 public:
  static constexpr std::size_t kCount = 4;
  static const std::array<std::string_view, kCount>& names();

  // `seq` is the message's sequence number in its conversation (the part after ':' in its id).
  void encode(std::uint64_t seq, const ChatMessage& m);
  std::string_view entry_id() const { return entry_id_; }
  std::string_view value(std::size_t i) const { return values_[i]; }

 private:
  std::string entry_id_;
  std::array<std::string, kCount> values_;
};

// The sequence number in a message id "<conversation>:<seq>"; 0 when malformed.
std::uint64_t message_seq(std::string_view message_id);

// A message from its stream entry id and fields; nullopt when malformed.
std::optional<ChatMessage> decode_message(std::string_view conversation, std::string_view entry_id,
                                          const std::map<std::string, std::string>& fields);

// A conversation record as field/value pairs for XADD, in the order docs/storage.md lists them.
std::vector<std::pair<std::string_view, std::string>> record_fields(const ConversationRecord& r);
// And back (what the reports read); nullopt with `error` naming the first bad field.
std::optional<ConversationRecord> decode_record(const std::map<std::string, std::string>& fields,
                                                std::string& error);

}  // namespace chatdesk::gateway::store
