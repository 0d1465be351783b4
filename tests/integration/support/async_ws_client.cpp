// Test support: AsyncWsClient (async_ws_client.hpp). Beast is compiled here once.

#include "support/async_ws_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <deque>

namespace chatdesk::test {

namespace beast = boost::beast;

struct AsyncWsClient::Impl {
  Impl(boost::asio::io_context& ioc, int port, std::string target, FrameHandler on_frame)
      : ws(ioc), port(port), target(std::move(target)), on_frame(std::move(on_frame)) {}
  beast::websocket::stream<beast::tcp_stream> ws;
  int port;
  std::string target;
  FrameHandler on_frame;
  beast::flat_buffer buffer;
  std::deque<std::string> out;
  bool open = false;
  bool failed = false;
  unsigned close_code = 0;
};

AsyncWsClient::AsyncWsClient(boost::asio::io_context& ioc, int port, std::string target,
                             FrameHandler on_frame)
    : impl_(std::make_unique<Impl>(ioc, port, std::move(target), std::move(on_frame))) {}

AsyncWsClient::~AsyncWsClient() = default;

void AsyncWsClient::start() {
  auto self = shared_from_this();
  // Connect, then the WebSocket handshake, then read until the connection ends.
  beast::get_lowest_layer(impl_->ws).async_connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(impl_->port)},
      [self](beast::error_code ec) {
        if (ec) return self->fail();
        Impl& s = *self->impl_;
        s.ws.async_handshake("127.0.0.1:" + std::to_string(s.port), s.target,
                             [self](beast::error_code e) {
                               if (e) return self->fail();
                               self->impl_->open = true;
                               self->do_read();
                               if (!self->impl_->out.empty()) self->do_write();
                             });
      });
}

void AsyncWsClient::send(std::string text) {
  impl_->out.push_back(std::move(text));
  if (impl_->open && impl_->out.size() == 1) do_write();
}

void AsyncWsClient::cut() {
  beast::error_code ignored;
  beast::get_lowest_layer(impl_->ws).socket().close(ignored);
}

bool AsyncWsClient::open() const {
  return impl_->open && !impl_->failed;
}
bool AsyncWsClient::failed() const {
  return impl_->failed;
}
unsigned AsyncWsClient::close_code() const {
  return impl_->close_code;
}

void AsyncWsClient::fail() {
  impl_->failed = true;
  impl_->open = false;
}

void AsyncWsClient::do_read() {
  auto self = shared_from_this();
  // One frame; parse it, hand it on, read the next.
  impl_->ws.async_read(impl_->buffer, [self](beast::error_code ec, std::size_t) {
    Impl& s = *self->impl_;
    if (ec) {
      s.close_code = s.ws.reason().code;
      return self->fail();
    }
    auto data = s.buffer.cdata();
    boost::system::error_code parse_error;
    auto value = boost::json::parse(
        std::string_view(static_cast<const char*>(data.data()), data.size()), parse_error);
    s.buffer.consume(s.buffer.size());
    if (!parse_error && value.is_object() && s.on_frame) s.on_frame(*self, value.get_object());
    self->do_read();
  });
}

void AsyncWsClient::do_write() {
  auto self = shared_from_this();
  impl_->ws.text(true);
  // The oldest queued frame; then the next, one write in flight.
  impl_->ws.async_write(boost::asio::buffer(impl_->out.front()),
                        [self](beast::error_code ec, std::size_t) {
                          if (ec) return self->fail();
                          self->impl_->out.pop_front();
                          if (!self->impl_->out.empty()) self->do_write();
                        });
}

}  // namespace chatdesk::test
