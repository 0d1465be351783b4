// SessionSocket (gateway/server/session_socket.hpp) over real loopback TCP sockets: under Beast
// every message arrives complete and in order, a write completes only once the kernel has its
// bytes (so a client that stops reading stalls the session's writes, which is how the session's
// bounded frame queue detects it), a failed socket fails every later write, and a close frame
// follows the messages written before it.
// Everything runs on one io_context driven by the test; waits are bounded, nothing sleeps.

#include <catch2/catch.hpp>

#include <sys/ioctl.h>

#include <linux/sockios.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "session_socket.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using chatdesk::gateway::SessionSocket;
using net::ip::tcp;
using namespace std::chrono_literals;

// Runs handlers until done() holds or the limit passes; false on timeout.
bool run_until(net::io_context& io, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(50ms);
  }
  return true;
}

// Runs every handler that becomes ready within `window` (a stalled writer stays stalled).
void run_window(net::io_context& io, std::chrono::steady_clock::duration window) {
  if (io.stopped()) io.restart();
  io.run_for(window);
}

struct SocketPair {
  tcp::socket server;
  tcp::socket client;
};

// A connected loopback pair. With small_buffers the kernel holds little (server send buffer,
// client receive buffer), so a megabyte written to a client that does not read stays in flight.
SocketPair connect_pair(net::io_context& io, bool small_buffers) {
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  tcp::socket client(io);
  client.open(tcp::v4());
  if (small_buffers) {
    // Set before the connection exists, so the accepted socket and the window scale follow it.
    acceptor.set_option(net::socket_base::send_buffer_size(16 * 1024));
    client.set_option(net::socket_base::receive_buffer_size(16 * 1024));
  }
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  return SocketPair{std::move(server), std::move(client)};
}

// Bytes the kernel holds for this connection: not yet acknowledged at the sender plus received
// and not yet read at the receiver.
std::size_t kernel_bytes(tcp::socket& sender, tcp::socket& receiver) {
  int outq = 0;
  int inq = 0;
  REQUIRE(::ioctl(sender.native_handle(), SIOCOUTQ, &outq) == 0);
  REQUIRE(::ioctl(receiver.native_handle(), SIOCINQ, &inq) == 0);
  return static_cast<std::size_t>(outq) + static_cast<std::size_t>(inq);
}

// The byte at offset k of a stream: period 251, so moved, lost or repeated 1 KiB chunks show.
char pattern_byte(std::size_t k) {
  return static_cast<char>('0' + (k % 251) % 75);
}

std::string pattern(std::size_t offset, std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = pattern_byte(offset + i);
  return s;
}

// Index of the first byte of `got` that differs from the pattern, or npos.
std::size_t first_mismatch(const std::string& got) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != pattern_byte(i)) return i;
  }
  return std::string::npos;
}

// Reads from `socket` until `total` bytes arrived or the read fails.
struct RawReader {
  explicit RawReader(tcp::socket& s) : socket(s) {}

  tcp::socket& socket;
  std::string received;
  beast::error_code error;
  bool failed = false;
  std::vector<char> chunk = std::vector<char>(64 * 1024);

  void start() {
    socket.async_read_some(net::buffer(chunk), [this](beast::error_code ec, std::size_t n) {
      received.append(chunk.data(), n);
      if (ec) {
        error = ec;
        failed = true;
        return;
      }
      start();
    });
  }
};

// A server-side WebSocket over SessionSocket and a plain Beast client, handshake done.
struct WebSocketPair {
  websocket::stream<SessionSocket> server;
  websocket::stream<tcp::socket> client;

  explicit WebSocketPair(SocketPair sockets)
      : server(SessionSocket(std::move(sockets.server))), client(std::move(sockets.client)) {}

  void handshake(net::io_context& io) {
    std::optional<beast::error_code> accepted;
    std::optional<beast::error_code> connected;
    server.async_accept([&](beast::error_code ec) { accepted = ec; });
    client.async_handshake("127.0.0.1", "/", [&](beast::error_code ec) { connected = ec; });
    REQUIRE(run_until(io, [&] { return accepted.has_value() && connected.has_value(); }));
    REQUIRE_FALSE(*accepted);
    REQUIRE_FALSE(*connected);
  }
};

// Message i of a run: ASCII (valid UTF-8 text), content depending on i.
std::string message(std::size_t i, std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t k = 0; k < size; ++k) s[k] = static_cast<char>('a' + (i * 7 + k) % 26);
  if (size > 0) s[0] = static_cast<char>('A' + i % 26);
  return s;
}

// Reads WebSocket messages on the client until the stream fails (closed, cut).
struct MessageReader {
  explicit MessageReader(websocket::stream<tcp::socket>& s) : ws(s) {}

  websocket::stream<tcp::socket>& ws;
  std::vector<std::string> messages;
  std::optional<beast::error_code> error;
  beast::flat_buffer buffer;

  void start() {
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        error = ec;
        return;
      }
      messages.push_back(beast::buffers_to_string(buffer.cdata()));
      buffer.consume(buffer.size());
      start();
    });
  }
};

TEST_CASE("SessionSocket under Beast delivers 2000 messages complete and in order",
          "[session_socket]") {
  net::io_context io;
  WebSocketPair ws(connect_pair(io, false));
  ws.handshake(io);

  // Sizes cover the 7-bit, 16-bit and 64-bit length forms, empty messages, and messages that
  // take several socket writes.
  constexpr std::size_t kCount = 2000;
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < kCount; ++i) {
    std::size_t size = (i * 7919) % 3001;
    if (i % 10 == 3) size = i % 120;
    if (i % 53 == 7) size = 16 * 1024 + (i * 131) % 70000;
    sent.push_back(message(i, size));
  }

  MessageReader reader(ws.client);
  reader.start();

  std::size_t written = 0;
  std::optional<beast::error_code> write_error;
  std::function<void()> write_next = [&] {
    if (written == kCount) return;
    ws.server.text(true);
    ws.server.async_write(net::buffer(sent[written]), [&](beast::error_code ec, std::size_t n) {
      if (ec || n != sent[written].size()) {
        write_error = ec;
        return;
      }
      ++written;
      write_next();
    });
  };
  write_next();

  REQUIRE(run_until(io, [&] {
    return reader.messages.size() == kCount || reader.error.has_value() || write_error.has_value();
  }));
  CHECK_FALSE(write_error.has_value());
  CHECK_FALSE(reader.error.has_value());
  CHECK(written == kCount);
  REQUIRE(reader.messages.size() == kCount);
  std::size_t first_bad = kCount;
  for (std::size_t i = 0; i < kCount && first_bad == kCount; ++i) {
    if (reader.messages[i] != sent[i]) first_bad = i;
  }
  CHECK(first_bad == kCount);
}

TEST_CASE("SessionSocket stops completing writes to a peer that does not read",
          "[session_socket]") {
  net::io_context io;
  SocketPair sockets = connect_pair(io, false);
  SessionSocket socket(std::move(sockets.server));

  // 1 KiB writes, each started from the previous one's completion, to a peer that does not read.
  // A write may complete with part of its chunk (write_some); the next one continues the byte
  // stream from there, so the peer must receive exactly the pattern's first `completed_bytes`.
  // A cap keeps a layer without the limit from eating the machine's memory.
  constexpr std::size_t kChunk = 1024;
  constexpr std::size_t kCap = 256 * 1024 * 1024;
  std::size_t completed = 0;
  std::size_t completed_bytes = 0;
  bool waiting = false;  // a write has been started and has not completed
  bool stop = false;
  std::optional<beast::error_code> error;
  std::shared_ptr<std::string> chunk;  // the write waiting, if any, keeps its bytes here
  std::function<void()> write_next = [&] {
    if (stop || completed_bytes >= kCap) return;
    chunk = std::make_shared<std::string>(pattern(completed_bytes, kChunk));
    waiting = true;
    socket.async_write_some(net::buffer(*chunk),
                            [&, keep = chunk](beast::error_code ec, std::size_t n) {
                              waiting = false;
                              if (ec) {
                                error = ec;
                                return;
                              }
                              ++completed;
                              completed_bytes += n;
                              write_next();
                            });
  };
  write_next();

  // The kernel's buffers fill within the first window; after that nothing may complete (the
  // gateway's send_queue_limit relies on it: a layer that kept accepting would hide the client).
  run_window(io, 500ms);
  const std::size_t after_first = completed;
  run_window(io, 500ms);
  const std::size_t after_second = completed;
  REQUIRE_FALSE(error.has_value());
  INFO("completed writes: " << after_first << " then " << after_second);
  CHECK(completed_bytes < kCap);
  CHECK(after_second == after_first);
  // A completed write's bytes are in the kernel: the layer holds none of them back.
  const std::size_t in_kernel = kernel_bytes(socket.socket(), sockets.client);
  INFO("bytes completed: " << completed_bytes << ", in the kernel: " << in_kernel);
  CHECK(completed_bytes <= in_kernel);
  // The writer is stalled on exactly one write.
  CHECK(waiting);

  // The peer starts reading: the waiting write completes and every byte arrives, in order.
  stop = true;
  RawReader reader(sockets.client);
  reader.start();
  REQUIRE(run_until(io, [&] {
    return (!waiting && reader.received.size() >= completed_bytes) || reader.failed;
  }));
  CHECK_FALSE(reader.failed);
  CHECK_FALSE(error.has_value());
  REQUIRE(reader.received.size() == completed_bytes);
  CHECK(first_mismatch(reader.received) == std::string::npos);
}

TEST_CASE("SessionSocket under Beast reports the failed socket to every later write",
          "[session_socket]") {
  net::io_context io;
  WebSocketPair ws(connect_pair(io, false));
  ws.handshake(io);

  // The client goes away without a closing handshake.
  ws.client.next_layer().close();

  // The server keeps writing from completions: the kernel takes the first bytes, the peer answers
  // with a reset, a socket write fails, and from then on every write must fail (bounded: a layer
  // that hid the failure would report success forever).
  constexpr std::size_t kMaxWrites = 200000;
  const std::string data = message(4, 512);
  std::size_t successes = 0;
  std::size_t successes_after_failure = 0;
  std::vector<beast::error_code> failures;
  std::function<void()> write_next = [&] {
    if (successes >= kMaxWrites || failures.size() >= 5) return;
    ws.server.async_write(net::buffer(data), [&](beast::error_code ec, std::size_t) {
      if (ec) {
        failures.push_back(ec);
      } else {
        if (!failures.empty()) ++successes_after_failure;
        ++successes;
      }
      write_next();
    });
  };
  write_next();
  run_until(
      io, [&] { return failures.size() >= 5 || successes >= kMaxWrites; }, 10s);
  INFO("successful writes: " << successes);
  for (const auto& ec : failures) UNSCOPED_INFO("failure: " << ec.message());
  REQUIRE(failures.size() == 5);
  CHECK(successes < kMaxWrites);
  // A write after a failed one must not succeed.
  CHECK(successes_after_failure == 0);
}

TEST_CASE("SessionSocket under Beast sends the close frame after the messages queued before it",
          "[session_socket]") {
  net::io_context io;
  WebSocketPair ws(connect_pair(io, true));
  ws.handshake(io);

  // Messages large enough to pile up behind the write in flight, then the close.
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < 6; ++i) sent.push_back(message(i, 40000 + i * 1000));
  std::size_t written = 0;
  std::optional<beast::error_code> closed;
  std::function<void()> write_next = [&] {
    if (written == sent.size()) {
      ws.server.async_close(websocket::close_reason(websocket::close_code::policy_error, "bye"),
                            [&](beast::error_code ec) { closed = ec; });
      return;
    }
    ws.server.async_write(net::buffer(sent[written]), [&](beast::error_code ec, std::size_t) {
      if (ec) {
        closed = ec;
        return;
      }
      ++written;
      write_next();
    });
  };
  write_next();

  MessageReader reader(ws.client);
  reader.start();
  REQUIRE(run_until(io, [&] { return reader.error.has_value() && closed.has_value(); }));
  CHECK(reader.messages == sent);
  CHECK(*reader.error == websocket::error::closed);
  CHECK(ws.client.reason().code == websocket::close_code::policy_error);
  CHECK(ws.client.reason().reason == "bye");
  CHECK_FALSE(*closed);
}

}  // namespace
