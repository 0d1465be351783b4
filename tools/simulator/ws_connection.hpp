#pragma once
// One simulated person's WebSocket connection to the gateway (Beast, async, on the simulator's one
// io_context): connect with a deadline, upgrade, read JSON frames, write queued frames one at a
// time, close cleanly. Failures are reported once through on_closed and never thrown.
// Keeps itself alive while operations are pending; the owner keeps a shared_ptr and is reached
// only through the handlers it gave (which should hold it weakly). One thread only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/object.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "stats.hpp"

namespace chatdesk::sim {

// Where the gateway is: its addresses (resolved once at start-up) and the Host header.
struct Target {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  std::string host_header;
};

// How a connection ended.
struct CloseInfo {
  bool opened = false;      // the WebSocket upgrade had succeeded
  bool by_us = false;       // we closed or aborted it
  int http_status = 0;      // the gateway's answer when it refused the upgrade (404, 400, 503)
  unsigned close_code = 0;  // the gateway's close code, when it sent a close frame
  std::string error;        // what happened, for the log
};

class WsConnection : public std::enable_shared_from_this<WsConnection> {
 public:
  struct Handlers {
    std::function<void(boost::json::object& frame)> on_frame;
    std::function<void(const CloseInfo& info)> on_closed;
  };

  WsConnection(boost::asio::io_context& ioc, const Target& target, std::string path, Stats& stats);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  void start(Handlers handlers);
  // Queues a frame; false (and nothing sent) unless the connection is open.
  bool send(const boost::json::object& frame);
  // Writes what is queued, then closes with 1000; a connection still opening is cut.
  void close();
  // Cuts the connection now, without calling the handlers.
  void abort();

  bool is_open() const { return phase_ == Phase::open; }
  const std::string& path() const { return path_; }

 private:
  enum class Phase { idle, connecting, upgrading, open, closing, done };

  void on_connect(boost::beast::error_code ec);
  void on_handshake(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec);
  void do_write();
  void on_write(boost::beast::error_code ec);
  void do_close();
  void finish(std::string error);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  const Target& target_;
  std::string path_;
  Stats& stats_;
  Handlers handlers_;
  Phase phase_ = Phase::idle;
  bool counted_ = false;  // in stats_.live_connections
  bool opened_ = false;
  bool writing_ = false;
  bool close_sent_ = false;
  std::deque<std::string> queue_;
  boost::beast::flat_buffer buffer_;
  boost::beast::websocket::response_type response_;
};

}  // namespace chatdesk::sim
