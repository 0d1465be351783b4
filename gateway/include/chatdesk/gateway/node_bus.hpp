#pragma once
// What gateway nodes tell each other (docs/scaling.md, "Messages between nodes"): an edge node
// forwards its sessions' events to the shop's home node, the home node sends frames and closes
// back to the edge that holds each session. Everything one node has for one other node in a loop
// turn goes in one batch, one Redis command. Pure codec: no sockets.
//
// A batch is binary: a header (format version, sender node, the sender's sequence number for this
// destination) and entries (kind, session, up to three length-prefixed strings). The sequence
// number lets a receiver see a lost batch (pub/sub drops what is sent while a subscriber is away)
// and resynchronise instead of diverging. Not thread-safe: one writer or reader per thread.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "chatdesk/gateway/desk_output.hpp"
#include "chatdesk/gateway/shop_placement.hpp"

namespace chatdesk::gateway {

enum class BusEntry : std::uint8_t {
  // edge -> home
  customer_connected = 1,  // texts: shop, customer id, resume secret (each may be empty but shop)
  agent_connected = 2,     // texts: shop, agent id
  frame = 3,               // texts: the client's text frame
  disconnected = 4,
  // home -> edge
  send = 5,   // texts: the frame to write to the session
  close = 6,  // the close reason in `code`
  // edge -> home
  lead_connected = 7,  // texts: shop
};

// One entry as read; the views point into the batch's bytes.
struct BusMessage {
  BusEntry kind = BusEntry::frame;
  SessionId session = 0;
  std::uint8_t code = 0;  // close: a CloseReason
  std::string_view text[3];
};

struct BusHeader {
  NodeId from = 0;
  std::uint64_t seq = 0;
};

// Builds one batch. Keeps its buffer's capacity across clear(), so a warm writer does not allocate.
class BusBatchWriter {
 public:
  void start(NodeId from, std::uint64_t seq);  // clears, then writes the header
  void customer_connected(SessionId session, std::string_view shop, std::string_view customer,
                          std::string_view resume);
  void agent_connected(SessionId session, std::string_view shop, std::string_view agent);
  void lead_connected(SessionId session, std::string_view shop);
  void frame(SessionId session, std::string_view text);
  void disconnected(SessionId session);
  void send(SessionId session, std::string_view frame);
  void close(SessionId session, CloseReason reason);

  bool empty() const { return entries_ == 0; }
  std::size_t entries() const { return entries_; }
  std::string_view bytes() const { return buffer_; }

 private:
  void entry(BusEntry kind, SessionId session, std::uint8_t code,
             std::initializer_list<std::string_view> texts);

  std::string buffer_;
  std::size_t entries_ = 0;
};

// Reads a batch. The whole batch is checked before the first entry is handed out, so a damaged
// batch (a bug or a foreign publisher: this is not a security boundary, Redis is trusted) changes
// nothing and yields an error text instead.
class BusBatchReader {
 public:
  // Checks `bytes` (not copied: it must outlive the reader's use). nullopt when well-formed.
  std::optional<std::string> open(std::string_view bytes);
  const BusHeader& header() const { return header_; }
  // The next entry, false at the end. Only after open() returned nullopt.
  bool next(BusMessage& out);

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
  BusHeader header_;
};

}  // namespace chatdesk::gateway
