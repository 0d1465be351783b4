#include "ws_connection.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>

namespace chatdesk::sim {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;

namespace {

// Connecting and upgrading, and the closing handshake, each get this long.
constexpr std::chrono::seconds kHandshakeTimeout{5};

}  // namespace

WsConnection::WsConnection(boost::asio::io_context& ioc, const Target& target, std::string path,
                           Stats& stats)
    : ws_(ioc), target_(target), path_(std::move(path)), stats_(stats) {}

WsConnection::~WsConnection() {
  if (counted_) --stats_.live_connections;
}

void WsConnection::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  phase_ = Phase::connecting;
  counted_ = true;
  ++stats_.live_connections;
  auto& tcp = beast::get_lowest_layer(ws_);
  tcp.expires_after(kHandshakeTimeout);
  tcp.async_connect(
      target_.endpoints,
      [self = shared_from_this()](beast::error_code ec, const boost::asio::ip::tcp::endpoint&) {
        self->on_connect(ec);
      });
}

void WsConnection::on_connect(beast::error_code ec) {
  if (phase_ != Phase::connecting) return;
  if (ec) return finish("connect: " + ec.message());
  // The WebSocket stream keeps its own deadlines from here on.
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeouts{kHandshakeTimeout, websocket::stream_base::none(),
                                           false};
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(beast::http::field::user_agent, "chatdesk-simulator");
  }));
  phase_ = Phase::upgrading;
  ws_.async_handshake(response_, target_.host_header, path_,
                      beast::bind_front_handler(&WsConnection::on_handshake, shared_from_this()));
}

void WsConnection::on_handshake(beast::error_code ec) {
  if (phase_ != Phase::upgrading) return;
  if (ec) {
    std::string error = "upgrade: " + ec.message();
    if (response_.result_int() != 0 && response_.result_int() != 101) {
      error = "upgrade refused: HTTP " + std::to_string(response_.result_int());
      if (!response_.body().empty()) {
        std::string body = response_.body();
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
        error += " (" + body + ")";
      }
    }
    return finish(std::move(error));
  }
  opened_ = true;
  ++stats_.connects_ok;
  phase_ = Phase::open;
  ws_.text(true);
  do_read();
  if (!queue_.empty()) do_write();
}

void WsConnection::do_read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_read(ec);
  });
}

void WsConnection::on_read(beast::error_code ec) {
  if (phase_ == Phase::done) return;
  if (ec) return finish(ec == websocket::error::closed ? "closed by the gateway" : ec.message());
  auto data = buffer_.cdata();
  std::string_view text(static_cast<const char*>(data.data()), data.size());
  boost::system::error_code parse_error;
  json::value value = json::parse(text, parse_error);
  buffer_.consume(buffer_.size());
  if (parse_error || !value.is_object()) {
    ++stats_.bad_frames;
  } else if (handlers_.on_frame) {
    // The handler may close this connection; the read below then ends with an error.
    auto handler = handlers_.on_frame;
    handler(value.as_object());
  }
  // While closing, the closing handshake reads what is left.
  if (phase_ == Phase::open) do_read();
}

bool WsConnection::send(const json::object& frame) {
  if (phase_ != Phase::open) return false;
  queue_.push_back(json::serialize(frame));
  if (!writing_) do_write();
  return true;
}

void WsConnection::do_write() {
  writing_ = true;
  ws_.async_write(
      boost::asio::buffer(queue_.front()),
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

void WsConnection::on_write(beast::error_code ec) {
  writing_ = false;
  if (phase_ == Phase::done) return;
  if (ec) return finish("write: " + ec.message());
  queue_.pop_front();
  if (!queue_.empty()) return do_write();
  if (phase_ == Phase::closing) do_close();
}

void WsConnection::close() {
  switch (phase_) {
    case Phase::idle:
      phase_ = Phase::done;
      return;
    case Phase::connecting:
    case Phase::upgrading:
      // Nothing to say goodbye to yet: cut it.
      phase_ = Phase::closing;
      finish("closed before it opened");
      return;
    case Phase::open:
      phase_ = Phase::closing;
      if (!writing_) do_close();
      return;
    case Phase::closing:
    case Phase::done:
      return;
  }
}

void WsConnection::do_close() {
  if (close_sent_) return;
  close_sent_ = true;
  ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code ec) {
    if (self->phase_ == Phase::done) return;
    self->finish(ec ? "close: " + ec.message() : std::string("closed"));
  });
}

void WsConnection::abort() {
  handlers_ = {};
  if (phase_ == Phase::done || phase_ == Phase::idle) {
    phase_ = Phase::done;
    return;
  }
  phase_ = Phase::closing;  // counts as closed by us
  finish("aborted");
}

void WsConnection::finish(std::string error) {
  if (phase_ == Phase::done) return;
  CloseInfo info;
  info.opened = opened_;
  info.by_us = phase_ == Phase::closing;
  info.error = std::move(error);
  if (!opened_ && phase_ != Phase::closing) {
    info.http_status = static_cast<int>(response_.result_int());
    if (info.http_status == 101) info.http_status = 0;
    ++stats_.connect_failures;
  } else if (opened_ && !info.by_us) {
    ++stats_.drops;
    info.close_code = ws_.reason().code;
  }
  phase_ = Phase::done;
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both,
                                                 ignored);
  beast::get_lowest_layer(ws_).socket().close(ignored);
  if (counted_) {
    counted_ = false;
    --stats_.live_connections;
  }
  // Always later, never from inside the owner's own call (close() may end here).
  auto on_closed = std::move(handlers_.on_closed);
  handlers_ = {};
  if (on_closed)
    boost::asio::post(ws_.get_executor(), [on_closed = std::move(on_closed),
                                           info = std::move(info)] { on_closed(info); });
}

}  // namespace chatdesk::sim
