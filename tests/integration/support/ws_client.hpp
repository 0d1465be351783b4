#pragma once
// Test support: a blocking WebSocket client (Beast, compiled once in ws_client.cpp) for
// integration tests. Every read has a deadline, so a missing frame fails the test instead of
// hanging it. Not thread-safe.

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatdesk::test {

class WsClient {
 public:
  // Connects to ws://127.0.0.1:port<target>; throws when the handshake fails (e.g. 404). A
  // non-empty `origin` is sent as the Origin header, as a browser would.
  WsClient(int port, const std::string& target, const std::string& origin = "");
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // The HTTP status of the handshake's answer (101 when it was accepted).
  unsigned handshake_status() const;

  // Closes the connection normally and waits for the server's close frame (bounded by `timeout`).
  void close(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  void send(const boost::json::object& frame);
  void send_raw(const std::string& text);
  // Starts writing `text` as one text message and returns at once; read() drives the write along
  // with the read. For a message the server refuses before taking all of it (e.g. one over its
  // size limit): a blocking send() would fail on the broken connection before the server's close
  // frame could be read. The write's own result is ignored.
  void send_raw_nowait(std::string text);
  void send_binary(const std::string& bytes);

  // The next frame, or nullopt after `timeout` (or when the connection closed). A read that
  // timed out stays pending and is picked up by the next call, so the stream stays usable.
  std::optional<boost::json::object> read(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Reads until a frame of `type` arrives; frames of other types are kept in skipped().
  boost::json::object expect(std::string_view type,
                             std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // True when no frame other than those of `ignored` types arrives within `quiet`.
  bool silent(std::chrono::milliseconds quiet = std::chrono::milliseconds(300),
              std::vector<std::string> ignored = {"desk"});

  bool closed() const;
  unsigned close_code() const;
  const std::vector<boost::json::object>& skipped() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chatdesk::test
