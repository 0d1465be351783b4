#pragma once
// One client's WebSocket connection: reads frames into the desk and writes the desk's frames from
// a bounded queue with one write in flight (Beast chat-multi's websocket_session). Lives as long
// as an async operation holds it. Not thread-safe: used on the gateway's one thread.

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/container/deque.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "chatdesk/gateway/desk_output.hpp"
#include "chatdesk/gateway/token_bucket.hpp"
#include "gateway_state.hpp"

namespace chatdesk::gateway {

// The TCP stream under a WebSocket session: Beast's tcp_stream, but with a rate policy type of our
// own whose only job is to make argument-dependent lookup find the async_teardown below.
struct SessionRatePolicy : boost::beast::unlimited_rate_policy {};
using SessionStream = boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::any_io_executor,
                                                 SessionRatePolicy>;

// Beast's teardown (stop sending, read once more what the client sends, waiting at most the
// closing timeout, then close) that always reports success. When Beast fails a connection itself
// (a message over the size limit, invalid UTF-8, a framing error) it sends the close frame, tears
// down, and then reports the teardown's error, if any, instead of why it closed; a hostile client
// typically resets the connection, or sends on until the closing timeout cuts it. Hiding the
// teardown's error keeps the reason, so the close is counted under the right cause.
template <class Handler>
void async_teardown(boost::beast::role_type role, SessionStream& stream, Handler&& handler) {
  auto executor = boost::asio::get_associated_executor(handler, stream.get_executor());
  boost::beast::websocket::async_teardown(
      role, stream.socket(),
      boost::asio::bind_executor(
          executor, [h = std::forward<Handler>(handler)](boost::beast::error_code) mutable {
            std::move(h)(boost::beast::error_code{});
          }));
}

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

  boost::beast::websocket::stream<SessionStream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<Gateway::State> state_;
  Peer peer_;
  ConnectionSlot slot_;  // after state_: released before the state it counts in
  MessageRateLimiter rate_;
  bool rate_closed_ = false;  // closed for flooding: later frames are dropped unread
  SessionId id_ = 0;
  bool opened_ = false;  // the desk knows this session
  // boost::container::deque allocates nothing until the first frame (std::deque allocates ~600 B
  // when constructed): it counts for every idle connection (docs/benchmarks.md, scenario 4).
  boost::container::deque<Outgoing> queue_;
  std::optional<boost::beast::websocket::close_reason> closing_;
  // Why the connection ends, counted once when the session is destroyed: set by the first of the
  // gateway's decision to close and the read loop's end.
  std::optional<monitor::CloseCause> cause_;
};

}  // namespace chatdesk::gateway
