#pragma once
// Test support (header-only): a blocking WebSocket client (Beast) for integration tests. Every
// read has a deadline, so a missing frame fails the test instead of hanging it. Not thread-safe.

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chatdesk::test {

class WsClient {
 public:
  // Connects to ws://127.0.0.1:port<target>; throws when the handshake fails (e.g. 404). A
  // non-empty `origin` is sent as the Origin header, as a browser would.
  WsClient(int port, const std::string& target, const std::string& origin = "") : ws_(ioc_) {
    namespace beast = boost::beast;
    auto& socket = beast::get_lowest_layer(ws_);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    if (!origin.empty())
      ws_.set_option(
          beast::websocket::stream_base::decorator([origin](beast::websocket::request_type& req) {
            req.set(beast::http::field::origin, origin);
          }));
    ws_.handshake(response_, "127.0.0.1:" + std::to_string(port), target);
  }

  // The HTTP status of the handshake's answer (101 when it was accepted).
  unsigned handshake_status() const { return response_.result_int(); }

  // Closes the connection normally and waits for the server's close frame (bounded by `timeout`).
  void close(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    namespace beast = boost::beast;
    if (closed_) return;
    bool done = false;
    ws_.async_close(beast::websocket::close_code::normal, [&](beast::error_code) { done = true; });
    ioc_.restart();
    // A read left pending by read() completes (with `closed`) when the close frame arrives.
    while (!done) {
      if (ioc_.run_one_for(timeout) == 0) break;
    }
    closed_ = true;
  }

  void send(const boost::json::object& frame) { send_raw(boost::json::serialize(frame)); }
  void send_raw(const std::string& text) {
    ws_.text(true);
    ws_.write(boost::asio::buffer(text));
  }
  // Starts writing `text` as one text message and returns at once; read() drives the write along
  // with the read. For a message the server refuses before taking all of it (e.g. one over its
  // size limit): a blocking send() would fail on the broken connection before the server's close
  // frame could be read. The write's own result is ignored.
  void send_raw_nowait(std::string text) {
    auto keep = std::make_shared<std::string>(std::move(text));
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(*keep), [keep](boost::beast::error_code, std::size_t) {});
  }
  void send_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(boost::asio::buffer(bytes));
  }

  // The next frame, or nullopt after `timeout` (or when the connection closed). A read that
  // timed out stays pending and is picked up by the next call, so the stream stays usable.
  std::optional<boost::json::object> read(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    namespace beast = boost::beast;
    if (closed_) return std::nullopt;
    if (!pending_) {
      pending_ = true;
      done_ = false;
      buffer_.clear();
      ws_.async_read(buffer_, [this](beast::error_code e, std::size_t) {
        ec_ = e;
        done_ = true;
      });
    }
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!done_) return std::nullopt;
    pending_ = false;
    if (ec_) {
      closed_ = true;
      close_code_ = ws_.reason().code;
      return std::nullopt;
    }
    auto value = boost::json::parse(beast::buffers_to_string(buffer_.data()));
    return value.as_object();
  }

  // Reads until a frame of `type` arrives; frames of other types are kept in skipped().
  boost::json::object expect(std::string_view type,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      auto frame = read(left);
      if (!frame) break;
      if ((*frame)["type"].as_string() == type) return *frame;
      skipped_.push_back(*frame);
    }
    throw std::runtime_error("no '" + std::string(type) + "' frame arrived");
  }

  // True when no frame other than those of `ignored` types arrives within `quiet`.
  bool silent(std::chrono::milliseconds quiet = std::chrono::milliseconds(300),
              std::vector<std::string> ignored = {"desk"}) {
    auto deadline = std::chrono::steady_clock::now() + quiet;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return true;
      auto frame = read(left);
      if (!frame) {
        if (closed_) return false;
        continue;
      }
      std::string type((*frame)["type"].as_string());
      if (std::find(ignored.begin(), ignored.end(), type) == ignored.end()) {
        skipped_.push_back(*frame);
        return false;
      }
    }
  }

  bool closed() const { return closed_; }
  unsigned close_code() const { return close_code_; }
  const std::vector<boost::json::object>& skipped() const { return skipped_; }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::websocket::response_type response_;
  boost::beast::flat_buffer buffer_;
  bool pending_ = false;
  bool done_ = false;
  boost::beast::error_code ec_;
  bool closed_ = false;
  unsigned close_code_ = 0;
  std::vector<boost::json::object> skipped_;
};

}  // namespace chatdesk::test
