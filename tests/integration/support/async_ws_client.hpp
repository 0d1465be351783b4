#pragma once
// Test support (header-only): a WebSocket client (Beast) that runs on a caller's io_context, so
// one test thread can drive hundreds of connections at once (load-shaped integration tests).
// Frames are parsed as JSON objects and handed to a callback; sends are queued with one write in
// flight. Not thread-safe: everything happens on the thread that runs the io_context.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace chatdesk::test {

class AsyncWsClient : public std::enable_shared_from_this<AsyncWsClient> {
 public:
  using FrameHandler = std::function<void(AsyncWsClient&, const boost::json::object&)>;

  AsyncWsClient(boost::asio::io_context& ioc, int port, std::string target, FrameHandler on_frame)
      : ws_(ioc), port_(port), target_(std::move(target)), on_frame_(std::move(on_frame)) {}

  // Connects and performs the handshake, then reads until the connection ends.
  void start() {
    auto self = shared_from_this();
    boost::beast::get_lowest_layer(ws_).async_connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)},
        [self](boost::beast::error_code ec) {
          if (ec) return self->fail();
          self->ws_.async_handshake("127.0.0.1:" + std::to_string(self->port_), self->target_,
                                    [self](boost::beast::error_code e) {
                                      if (e) return self->fail();
                                      self->open_ = true;
                                      self->do_read();
                                      if (!self->out_.empty()) self->do_write();
                                    });
        });
  }

  void send(std::string text) {
    out_.push_back(std::move(text));
    if (open_ && out_.size() == 1) do_write();
  }

  // Closes the socket at once (no closing handshake); pending operations end with errors.
  void cut() {
    boost::beast::error_code ignored;
    boost::beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  bool open() const { return open_ && !failed_; }
  bool failed() const { return failed_; }
  unsigned close_code() const { return close_code_; }

  // Free for the test's own bookkeeping.
  std::size_t index = 0;
  std::string conversation;

 private:
  void fail() {
    failed_ = true;
    open_ = false;
  }

  void do_read() {
    auto self = shared_from_this();
    ws_.async_read(buffer_, [self](boost::beast::error_code ec, std::size_t) {
      if (ec) {
        self->close_code_ = self->ws_.reason().code;
        return self->fail();
      }
      auto data = self->buffer_.cdata();
      boost::system::error_code parse_error;
      auto value = boost::json::parse(
          std::string_view(static_cast<const char*>(data.data()), data.size()), parse_error);
      self->buffer_.consume(self->buffer_.size());
      if (!parse_error && value.is_object() && self->on_frame_)
        self->on_frame_(*self, value.get_object());
      self->do_read();
    });
  }

  void do_write() {
    auto self = shared_from_this();
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(out_.front()),
                    [self](boost::beast::error_code ec, std::size_t) {
                      if (ec) return self->fail();
                      self->out_.pop_front();
                      if (!self->out_.empty()) self->do_write();
                    });
  }

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  int port_;
  std::string target_;
  FrameHandler on_frame_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  bool open_ = false;
  bool failed_ = false;
  unsigned close_code_ = 0;
};

}  // namespace chatdesk::test
