#pragma once
// One client's WebSocket connection: reads frames into the desk and writes the desk's frames from
// a bounded queue with one write in flight (Beast chat-multi's websocket_session). Lives as long
// as an async operation holds it. Not thread-safe: used on the gateway's one thread.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/circular_buffer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "chatdesk/gateway/desk_output.hpp"
#include "chatdesk/gateway/token_bucket.hpp"
#include "gateway_state.hpp"
#include "session_socket.hpp"

namespace chatdesk::gateway {

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession> {
 public:
  // `slot` is this connection's count in the per-address limit, released when the session ends.
  WebSocketSession(boost::beast::tcp_stream&& stream, std::shared_ptr<Gateway::State> state,
                   Peer peer, ConnectionSlot slot = {});
  ~WebSocketSession();

  void run(boost::beast::http::request<boost::beast::http::string_body> request);
  void send(const Frame& frame) { send(frame, true); }
  // `text` false: a binary message (only /ws/echo sends those).
  void send(const Frame& frame, bool text);
  void close(CloseReason reason);
  SessionId id() const { return id_; }

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void close_with(boost::beast::websocket::close_reason reason, monitor::CloseCause cause);
  void do_close();

  struct Outgoing {
    Frame frame;
    bool text = true;
  };

  boost::beast::websocket::stream<SessionSocket> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<Gateway::State> state_;
  Peer peer_;
  ConnectionSlot slot_;  // after state_: released before the state it counts in
  MessageRateLimiter rate_;
  bool rate_closed_ = false;  // closed for flooding: later frames are dropped unread
  SessionId id_ = 0;
  bool opened_ = false;  // the desk knows this session
  // A ring that only grows (doubling when full): pushing and popping a frame allocates nothing,
  // and an idle connection holds the few slots it once needed (a deque allocates a block whenever
  // it goes from empty to one frame, i.e. for almost every frame).
  boost::circular_buffer<Outgoing> queue_;
  // Set once closing; on the heap because a close_reason holds 123 bytes of text and every open
  // connection would carry it.
  std::unique_ptr<const boost::beast::websocket::close_reason> closing_;
  // Why the connection ends, counted once when the session is destroyed: set by the first of the
  // gateway's decision to close and the read loop's end.
  std::optional<monitor::CloseCause> cause_;
};

}  // namespace chatdesk::gateway
