#pragma once
// The byte stream under a WebSocket session: a TCP socket whose writes are coalesced. Beast writes
// each WebSocket message with its own write; this layer copies a write into a pending buffer and
// completes it at once, while at most one socket write is in flight. Everything that piles up
// behind that write goes out with the next single write: under load a busy connection gets several
// frames per send instead of one send per frame (docs/benchmarks.md: sends were ~40% of the
// gateway's CPU). A write that finds no write in flight is sent at once, so a quiet connection
// waits for nothing. Not thread-safe: used on the gateway's one thread.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/saved_handler.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace chatdesk::gateway {

class SessionSocket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // Bytes accepted but not yet handed to the kernel, beyond which a write waits for the write in
  // flight: a client that stops reading then backs up into the session's bounded frame queue,
  // where it is detected (limits.send_queue_limit), instead of growing this buffer.
  static constexpr std::size_t kMaxPendingBytes = 16 * 1024;

  explicit SessionSocket(boost::asio::ip::tcp::socket&& socket) : socket_(std::move(socket)) {}

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  // For beast::get_lowest_layer, which closes the socket on timeouts and failures.
  boost::asio::ip::tcp::socket& next_layer() noexcept { return socket_; }
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

  // What keeps this layer alive (the session owning the stream): a socket write in flight holds
  // it, so the layer outlives its last write even after Beast's operations have completed.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return socket_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return boost::asio::async_initiate<WriteHandler, void(boost::beast::error_code, std::size_t)>(
        [this](auto&& h, const ConstBufferSequence& b) { initiate_write(std::move(h), b); },
        handler, buffers);
  }

  // Completes when every byte accepted so far has been handed to the kernel, or the socket
  // failed (teardown must not shut the socket down before the close frame is out).
  template <class Handler>
  void async_flush(Handler&& handler) {
    if ((!writing_ && pending_.empty()) || flushed_.has_value()) {
      boost::asio::post(get_executor(),
                        boost::beast::bind_handler(std::forward<Handler>(handler), error_));
      return;
    }
    // (saved_handler also calls it with an error_code when cancelled; nothing cancels it here)
    flushed_.emplace(
        [h = std::forward<Handler>(handler), this](auto&&...) mutable { std::move(h)(error_); });
  }

 private:
  template <class Handler, class ConstBufferSequence>
  void initiate_write(Handler&& handler, const ConstBufferSequence& buffers) {
    if (error_) {
      boost::asio::post(get_executor(), boost::beast::bind_handler(std::move(handler), error_, 0));
      return;
    }
    if (writing_ && pending_.size() >= kMaxPendingBytes) {
      // Wait for the write in flight, then take the bytes (Beast keeps them until we complete).
      blocked_.emplace([h = std::move(handler), buffers, this](auto&&...) mutable {
        initiate_write(std::move(h), buffers);
      });
      return;
    }
    std::size_t taken = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b(*it);
      pending_.append(static_cast<const char*>(b.data()), b.size());
      taken += b.size();
    }
    if (!writing_) start_write();
    boost::asio::post(get_executor(), boost::beast::bind_handler(
                                          std::move(handler), boost::beast::error_code{}, taken));
  }

  void start_write() {
    writing_ = true;
    in_flight_.swap(pending_);
    // Hand everything pending to the kernel in one write.
    boost::asio::async_write(socket_, boost::asio::buffer(in_flight_),
                             [this, owner = owner_.lock()](boost::beast::error_code ec,
                                                           std::size_t) { on_written(ec); });
  }

  void on_written(boost::beast::error_code ec) {
    writing_ = false;
    in_flight_.clear();
    if (ec) {
      error_ = ec;
      pending_.clear();
    } else if (!pending_.empty()) {
      start_write();
    } else {
      // Nothing left to send: hold no buffer while the connection is quiet (memory per idle
      // connection; one allocation per write burst instead).
      std::string().swap(in_flight_);
      std::string().swap(pending_);
    }
    if (blocked_.has_value()) blocked_.invoke();
    if (flushed_.has_value() && (error_ || (!writing_ && pending_.empty()))) flushed_.invoke();
  }

  boost::asio::ip::tcp::socket socket_;
  std::weak_ptr<void> owner_;
  std::string pending_;    // accepted, waiting for the write in flight
  std::string in_flight_;  // being written
  bool writing_ = false;
  boost::beast::error_code error_;       // the socket failed: every later write fails with it
  boost::beast::saved_handler blocked_;  // a write waiting for room in pending_
  boost::beast::saved_handler flushed_;  // async_flush waiting for the pending bytes to go
};

// Beast's teardown (stop sending, read once more what the client sends, waiting at most the
// closing timeout, then close), after the pending bytes (the close frame) have gone out, and
// always reporting success. When Beast fails a connection itself (a message over the size limit,
// invalid UTF-8, a framing error) it sends the close frame, tears down, and then reports the
// teardown's error, if any, instead of why it closed; a hostile client typically resets the
// connection, or sends on until the closing timeout cuts it. Hiding the teardown's error keeps the
// reason, so the close is counted under the right cause.
template <class Handler>
void async_teardown(boost::beast::role_type role, SessionSocket& stream, Handler&& handler) {
  auto executor = boost::asio::get_associated_executor(handler, stream.get_executor());
  stream.async_flush([role, &stream, executor,
                      h = std::forward<Handler>(handler)](boost::beast::error_code) mutable {
    boost::beast::websocket::async_teardown(
        role, stream.socket(),
        boost::asio::bind_executor(executor, [h = std::move(h)](boost::beast::error_code) mutable {
          std::move(h)(boost::beast::error_code{});
        }));
  });
}

}  // namespace chatdesk::gateway
