#include "websocket_session.hpp"

#include <algorithm>
#include <iostream>

namespace chatdesk::gateway {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
using monitor::CloseCause;

namespace {

// Why the read loop ended, when the gateway had not decided to close first.
CloseCause cause_of(const beast::error_code& ec) {
  if (ec == websocket::error::closed) return CloseCause::client;
  if (ec == websocket::error::message_too_big) return CloseCause::too_big;
  // Beast reports invalid UTF-8 in a text message, and only that, as bad_frame_payload.
  if (ec == websocket::error::bad_frame_payload) return CloseCause::bad_utf8;
  if (ec == beast::error::timeout) return CloseCause::idle;
  if (ec == websocket::condition::protocol_violation) return CloseCause::protocol;
  return CloseCause::dropped;
}

}  // namespace

WebSocketSession::WebSocketSession(beast::tcp_stream&& stream,
                                   std::shared_ptr<Gateway::State> state, Peer peer,
                                   ConnectionSlot slot)
    : ws_(stream.release_socket()),
      state_(std::move(state)),
      peer_(std::move(peer)),
      slot_(std::move(slot)),
      rate_(state_->config.limits.message_rate.per_second, state_->config.limits.message_rate.burst,
            state_->clock.now()) {}

WebSocketSession::~WebSocketSession() {
  state_->metrics.connection_closed(cause_.value_or(CloseCause::dropped)).Increment();
  if (opened_) state_->session_closed(id_, peer_.kind);
}

void WebSocketSession::run(http::request<http::string_body> request) {
  // limits.handshake_timeout for the handshake and the closing handshake; a connection silent
  // for half of limits.idle_timeout is pinged, and closed when nothing came for all of it.
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = state_->config.limits.handshake_timeout;
  timeouts.idle_timeout = state_->config.limits.idle_timeout;
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "chatdesk"); }));
  // Refuse an oversized message before buffering more of it (close 1009).
  ws_.read_message_max(state_->config.limits.max_message_bytes);
  // No permessage-deflate (Beast's default, made explicit): the extension is never offered, so a
  // message's size on the wire is its size in memory and max_message_bytes bounds both; with
  // compression a small frame could inflate to the limit, and every connection would hold a zlib
  // context.
  websocket::permessage_deflate deflate;
  deflate.server_enable = false;
  deflate.client_enable = false;
  ws_.set_option(deflate);
  // Accept the upgrade the HTTP session already read.
  ws_.async_accept(request,
                   beast::bind_front_handler(&WebSocketSession::on_accept, shared_from_this()));
}

void WebSocketSession::on_accept(beast::error_code ec) {
  if (ec) {
    cause_ = CloseCause::handshake;
    return;
  }
  opened_ = true;
  id_ = state_->session_opened(this, peer_);
  // The desk keeps who this is; the session needs only the kind from here on (memory per idle
  // connection).
  std::string().swap(peer_.shop);
  std::string().swap(peer_.id);
  std::string().swap(peer_.resume);
  // Until the client's first frame, hold no read buffer and no read operation, only a wait for
  // the socket to become readable: a customer who connects and waits costs less memory
  // (docs/benchmarks.md, scenario 4). Beast has buffered nothing yet (a client sends frames only
  // after the handshake's response), so waiting on the socket cannot miss a frame.
  ws_.next_layer().socket().async_wait(
      boost::asio::ip::tcp::socket::wait_read,
      // Readable, closed or failed: the read reports which.
      [self = shared_from_this()](beast::error_code) { self->do_read(); });
}

void WebSocketSession::do_read() {
  // Wait for the client's next frame.
  ws_.async_read(buffer_,
                 beast::bind_front_handler(&WebSocketSession::on_read, shared_from_this()));
}

void WebSocketSession::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    // Closed, timed out, cut, or failed by Beast (too large, bad UTF-8, a framing error; Beast has
    // sent the close frame): the destructor tells the desk and counts why.
    if (!cause_) cause_ = cause_of(ec);
    return;
  }
  if (rate_closed_) {
    // Closing for flooding: nothing more from this client is processed or answered.
  } else if (auto verdict = rate_.on_frame(state_->clock.now()); verdict != RateVerdict::accept) {
    state_->protocol_error(ErrorCode::rate_limited);
    send(frames::error(ErrorCode::rate_limited, "too many frames; slow down"));
    if (verdict == RateVerdict::close) {
      rate_closed_ = true;
      close_with(websocket::close_reason(websocket::close_code::policy_error, "rate limited"),
                 CloseCause::rate_limited);
    }
  } else if (peer_.kind == PeerKind::echo) {
    // Diagnostics: the message goes back as it came, text or binary, through the same queue.
    auto data = buffer_.cdata();
    send(std::make_shared<const std::string>(static_cast<const char*>(data.data()), data.size()),
         ws_.got_text());
  } else if (!ws_.got_text()) {
    state_->protocol_error(ErrorCode::bad_request);
    send(frames::error(ErrorCode::bad_request, "binary frames are not accepted; send JSON text"));
  } else {
    auto data = buffer_.cdata();
    std::string_view frame(static_cast<const char*>(data.data()), data.size());
    state_->session_frame(id_, peer_.kind, frame);
  }
  buffer_.consume(buffer_.size());
  // One large message's buffer is not kept for the rest of the connection.
  if (buffer_.capacity() > 16 * 1024) buffer_ = beast::flat_buffer();
  do_read();
}

void WebSocketSession::send(const Frame& frame, bool text) {
  if (closing_) return;
  if (queue_.size() >= state_->config.limits.send_queue_limit) {
    // The client stopped reading: drop it rather than let it hold memory for everyone else. It
    // reads nothing, so no close frame could reach it; cut the TCP connection, which also ends
    // the write in flight (whose buffer, the queue's front, is kept until then).
    queue_.erase_end(queue_.size() - 1);
    closing_ = std::make_unique<const websocket::close_reason>(websocket::close_code::policy_error,
                                                               "send queue full");
    if (!cause_) cause_ = CloseCause::slow_reader;
    beast::error_code ignored;
    ws_.next_layer().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    ws_.next_layer().socket().close(ignored);
    return;
  }
  if (queue_.full()) queue_.set_capacity(std::max<std::size_t>(2, 2 * queue_.capacity()));
  queue_.push_back(Outgoing{frame, text});
  if (queue_.size() == 1) do_write();
}

void WebSocketSession::do_write() {
  // Write the oldest queued frame; one write in flight at a time.
  ws_.text(queue_.front().text);
  ws_.async_write(boost::asio::buffer(*queue_.front().frame),
                  beast::bind_front_handler(&WebSocketSession::on_write, shared_from_this()));
}

void WebSocketSession::on_write(beast::error_code ec, std::size_t) {
  if (ec) return;
  queue_.pop_front();
  if (!queue_.empty()) return do_write();
  if (closing_) do_close();
}

void WebSocketSession::close(CloseReason reason) {
  switch (reason) {
    case CloseReason::normal:
      return close_with(websocket::close_reason(websocket::close_code::normal), CloseCause::server);
    case CloseReason::replaced:
      return close_with(websocket::close_reason(websocket::close_code::policy_error, "replaced"),
                        CloseCause::replaced);
    case CloseReason::going_away:
      return close_with(
          websocket::close_reason(websocket::close_code::going_away, "server stopping"),
          CloseCause::going_away);
    case CloseReason::too_slow:
      return close_with(
          websocket::close_reason(websocket::close_code::policy_error, "send queue full"),
          CloseCause::slow_reader);
    case CloseReason::moved:
      return close_with(
          websocket::close_reason(websocket::close_code::service_restart, "shop moved; reconnect"),
          CloseCause::moved);
  }
}

void WebSocketSession::close_with(websocket::close_reason reason, CloseCause cause) {
  if (closing_) return;
  closing_ = std::make_unique<const websocket::close_reason>(std::move(reason));
  if (!cause_) cause_ = cause;
  // Frames queued before the close (e.g. the last error) go out first.
  if (queue_.empty()) do_close();
}

void WebSocketSession::do_close() {
  // Send the close frame; the pending read then ends and releases the session.
  ws_.async_close(*closing_, [self = shared_from_this()](beast::error_code) {});
}

}  // namespace chatdesk::gateway
