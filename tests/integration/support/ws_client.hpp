#pragma once
// Test support (header-only): a blocking WebSocket client (Beast) for integration tests. Every
// read has a deadline, so a missing frame fails the test instead of hanging it. Not thread-safe.

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chatdesk::test {

class WsClient {
 public:
  // Connects to ws://127.0.0.1:port<target>; throws when the handshake fails (e.g. 404).
  WsClient(int port, const std::string& target) : ws_(ioc_) {
    namespace beast = boost::beast;
    auto& socket = beast::get_lowest_layer(ws_);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    ws_.handshake("127.0.0.1:" + std::to_string(port), target);
  }

  void send(const boost::json::object& frame) { send_raw(boost::json::serialize(frame)); }
  void send_raw(const std::string& text) {
    ws_.text(true);
    ws_.write(boost::asio::buffer(text));
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
  boost::beast::flat_buffer buffer_;
  bool pending_ = false;
  bool done_ = false;
  boost::beast::error_code ec_;
  bool closed_ = false;
  unsigned close_code_ = 0;
  std::vector<boost::json::object> skipped_;
};

}  // namespace chatdesk::test
