#pragma once
// The byte stream under a WebSocket session: the bare TCP socket, plus the teardown the gateway
// wants (below). It replaces beast::tcp_stream there because the session needs none of that
// stream's timers or rate limits (Beast's websocket::stream keeps its own handshake and idle
// timers), and every idle connection paid ~0.5 KiB for them (docs/benchmarks.md, scenario 4).
// Not thread-safe: used on the gateway's one thread.
//
// Why writes are not coalesced here: a version that copied each write into a pending buffer and
// sent what piled up behind a write in flight (or at the end of the handler round) was measured
// under 200 pairs x 8 messages in flight and sent every frame alone (7,407 of 7,407 sends), since
// each frame to a connection comes from a different handler run; it only added a copy per frame.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <utility>

namespace chatdesk::gateway {

class SessionSocket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  explicit SessionSocket(boost::asio::ip::tcp::socket&& socket) : socket_(std::move(socket)) {}

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  // For beast::get_lowest_layer, which closes the socket on timeouts and failures.
  boost::asio::ip::tcp::socket& next_layer() noexcept { return socket_; }
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return socket_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return socket_.async_write_some(buffers, std::forward<WriteHandler>(handler));
  }

 private:
  boost::asio::ip::tcp::socket socket_;
};

// Beast's teardown (stop sending, read once more what the client sends, waiting at most the
// closing timeout, then close) that always reports success. When Beast fails a connection itself
// (a message over the size limit, invalid UTF-8, a framing error) it sends the close frame, tears
// down, and then reports the teardown's error, if any, instead of why it closed; a hostile client
// typically resets the connection, or sends on until the closing timeout cuts it. Hiding the
// teardown's error keeps the reason, so the close is counted under the right cause.
template <class Handler>
void async_teardown(boost::beast::role_type role, SessionSocket& stream, Handler&& handler) {
  auto executor = boost::asio::get_associated_executor(handler, stream.get_executor());
  boost::beast::websocket::async_teardown(
      role, stream.socket(),
      boost::asio::bind_executor(
          executor, [h = std::forward<Handler>(handler)](boost::beast::error_code) mutable {
            std::move(h)(boost::beast::error_code{});
          }));
}

}  // namespace chatdesk::gateway
