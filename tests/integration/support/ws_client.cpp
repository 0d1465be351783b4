// Test support: WsClient (ws_client.hpp). Beast is compiled here once, not in every test file.

#include "support/ws_client.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <stdexcept>

namespace chatdesk::test {

namespace beast = boost::beast;

struct WsClient::Impl {
  boost::asio::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws{ioc};
  beast::websocket::response_type response;
  beast::flat_buffer buffer;
  bool pending = false;
  bool done = false;
  beast::error_code ec;
  bool closed = false;
  unsigned close_code = 0;
  std::vector<boost::json::object> skipped;
};

WsClient::WsClient(int port, const std::string& target, const std::string& origin)
    : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  beast::get_lowest_layer(ws).connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  if (!origin.empty())
    ws.set_option(
        beast::websocket::stream_base::decorator([origin](beast::websocket::request_type& req) {
          req.set(beast::http::field::origin, origin);
        }));
  ws.handshake(impl_->response, "127.0.0.1:" + std::to_string(port), target);
}

WsClient::~WsClient() = default;

unsigned WsClient::handshake_status() const {
  return impl_->response.result_int();
}

void WsClient::close(std::chrono::milliseconds timeout) {
  if (impl_->closed) return;
  bool done = false;
  impl_->ws.async_close(beast::websocket::close_code::normal,
                        [&](beast::error_code) { done = true; });
  impl_->ioc.restart();
  // A read left pending by read() completes (with `closed`) when the close frame arrives.
  while (!done) {
    if (impl_->ioc.run_one_for(timeout) == 0) break;
  }
  impl_->closed = true;
}

void WsClient::send(const boost::json::object& frame) {
  send_raw(boost::json::serialize(frame));
}

void WsClient::send_raw(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(boost::asio::buffer(text));
}

void WsClient::send_raw_nowait(std::string text) {
  auto keep = std::make_shared<std::string>(std::move(text));
  impl_->ws.text(true);
  impl_->ws.async_write(boost::asio::buffer(*keep), [keep](beast::error_code, std::size_t) {});
}

void WsClient::send_binary(const std::string& bytes) {
  impl_->ws.binary(true);
  impl_->ws.write(boost::asio::buffer(bytes));
}

std::optional<boost::json::object> WsClient::read(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.closed) return std::nullopt;
  if (!s.pending) {
    s.pending = true;
    s.done = false;
    s.buffer.clear();
    s.ws.async_read(s.buffer, [&s](beast::error_code e, std::size_t) {
      s.ec = e;
      s.done = true;
    });
  }
  s.ioc.restart();
  s.ioc.run_for(timeout);
  if (!s.done) return std::nullopt;
  s.pending = false;
  if (s.ec) {
    s.closed = true;
    s.close_code = s.ws.reason().code;
    return std::nullopt;
  }
  auto value = boost::json::parse(beast::buffers_to_string(s.buffer.data()));
  return value.as_object();
}

boost::json::object WsClient::expect(std::string_view type, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto frame = read(left);
    if (!frame) break;
    if ((*frame)["type"].as_string() == type) return *frame;
    impl_->skipped.push_back(*frame);
  }
  throw std::runtime_error("no '" + std::string(type) + "' frame arrived");
}

bool WsClient::silent(std::chrono::milliseconds quiet, std::vector<std::string> ignored) {
  auto deadline = std::chrono::steady_clock::now() + quiet;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    auto frame = read(left);
    if (!frame) {
      if (impl_->closed) return false;
      continue;
    }
    std::string type((*frame)["type"].as_string());
    if (std::find(ignored.begin(), ignored.end(), type) == ignored.end()) {
      impl_->skipped.push_back(*frame);
      return false;
    }
  }
}

bool WsClient::closed() const {
  return impl_->closed;
}
unsigned WsClient::close_code() const {
  return impl_->close_code;
}
const std::vector<boost::json::object>& WsClient::skipped() const {
  return impl_->skipped;
}

}  // namespace chatdesk::test
