#pragma once
// One client's WebSocket connection: reads frames into the desk and writes the desk's frames from
// a bounded queue with one write in flight (Beast chat-multi's websocket_session). Lives as long
// as an async operation holds it. Not thread-safe: used on the gateway's one thread.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <string>

#include "chatdesk/gateway/desk_output.hpp"
#include "chatdesk/gateway/token_bucket.hpp"
#include "gateway_state.hpp"

namespace chatdesk::gateway {

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession> {
 public:
  // `slot` is this connection's count in the per-address limit, released when the session ends.
  WebSocketSession(boost::beast::tcp_stream&& stream, std::shared_ptr<Gateway::State> state,
                   Peer peer, ConnectionSlot slot = {});
  ~WebSocketSession();

  void run(boost::beast::http::request<boost::beast::http::string_body> request);
  void send(const Frame& frame);
  void close(CloseReason reason);
  SessionId id() const { return id_; }

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void close_with(boost::beast::websocket::close_reason reason);
  void do_close();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<Gateway::State> state_;
  Peer peer_;
  ConnectionSlot slot_;  // after state_: released before the state it counts in
  MessageRateLimiter rate_;
  bool rate_closed_ = false;  // closed for flooding: later frames are dropped unread
  SessionId id_ = 0;
  bool opened_ = false;  // the desk knows this session
  std::deque<Frame> queue_;
  std::optional<boost::beast::websocket::close_reason> closing_;
};

}  // namespace chatdesk::gateway
