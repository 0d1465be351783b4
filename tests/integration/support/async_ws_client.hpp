#pragma once
// Test support: a WebSocket client (Beast, compiled once in async_ws_client.cpp) that runs on a
// caller's io_context, so one test thread can drive hundreds of connections at once
// (load-shaped integration tests). Frames are parsed as JSON objects and handed to a callback;
// sends are queued with one write in flight. Not thread-safe: everything happens on the thread
// that runs the io_context.

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace chatdesk::test {

class AsyncWsClient : public std::enable_shared_from_this<AsyncWsClient> {
 public:
  using FrameHandler = std::function<void(AsyncWsClient&, const boost::json::object&)>;

  AsyncWsClient(boost::asio::io_context& ioc, int port, std::string target, FrameHandler on_frame);
  ~AsyncWsClient();
  AsyncWsClient(const AsyncWsClient&) = delete;
  AsyncWsClient& operator=(const AsyncWsClient&) = delete;

  // Connects and performs the handshake, then reads until the connection ends.
  void start();
  void send(std::string text);
  // Closes the socket at once (no closing handshake); pending operations end with errors.
  void cut();

  bool open() const;
  bool failed() const;
  unsigned close_code() const;

  // Free for the test's own bookkeeping.
  std::size_t index = 0;
  std::string conversation;

 private:
  struct Impl;
  void fail();
  void do_read();
  void do_write();
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatdesk::test
