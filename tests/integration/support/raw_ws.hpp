#pragma once
// Test support (header-only): a WebSocket client on a plain blocking TCP socket, for the frames a
// well-behaved client library refuses to send (invalid UTF-8, announced sizes it never sends,
// floods of tiny continuation frames, reserved bits) and for a client that never reads. It builds
// masked client frames byte by byte (RFC 6455 section 5.2) and parses the server's frames. Every
// read and write has a deadline; nothing raises SIGPIPE. Throws on set-up failure (tests only).
// Not thread-safe: one thread uses one client (the socket may be written from one thread while
// another only reads it).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chatdesk::test {

enum class WsOpcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

struct WsFrameOptions {
  bool fin = true;
  std::uint8_t rsv = 0;  // the three reserved bits, 0-7 (RSV1 is the top one)
  // The payload length written in the header; the real payload's size when unset. Lets a test
  // announce 10 MB and send a few KB.
  std::optional<std::uint64_t> announced_length;
  bool masked = true;  // clients must mask (RFC 6455 5.3)

  // Copies with one option changed: ws_frame(op, p, WsFrameOptions{}.not_final()).
  WsFrameOptions not_final() const {
    auto o = *this;
    o.fin = false;
    return o;
  }
  WsFrameOptions with_rsv(std::uint8_t bits) const {
    auto o = *this;
    o.rsv = bits;
    return o;
  }
  WsFrameOptions announcing(std::uint64_t length) const {
    auto o = *this;
    o.announced_length = length;
    return o;
  }
  WsFrameOptions unmasked() const {
    auto o = *this;
    o.masked = false;
    return o;
  }
};

// One client frame: header, masking key and the payload XOR-masked with it.
inline std::string ws_frame(WsOpcode opcode, std::string_view payload,
                            WsFrameOptions options = {}) {
  const std::uint64_t length = options.announced_length.value_or(payload.size());
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>((options.fin ? 0x80 : 0x00) | ((options.rsv & 0x7) << 4) |
                                  static_cast<std::uint8_t>(opcode)));
  const std::uint8_t mask_bit = options.masked ? 0x80 : 0x00;
  if (length < 126) {
    out.push_back(static_cast<char>(mask_bit | length));
  } else if (length <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((length >> shift) & 0xFF));
  }
  if (!options.masked) return out.append(payload);
  static constexpr std::uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  out.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ key[i % 4]));
  return out;
}

// A frame the server sent.
struct WsServerFrame {
  WsOpcode opcode = WsOpcode::text;
  bool fin = true;
  std::string payload;
  // For a close frame: its status code (0 when the payload is empty).
  unsigned close_code() const {
    if (payload.size() < 2) return 0;
    return (static_cast<unsigned>(static_cast<std::uint8_t>(payload[0])) << 8) |
           static_cast<std::uint8_t>(payload[1]);
  }
};

class RawWsClient {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects to 127.0.0.1:port. `rcvbuf` > 0 sets SO_RCVBUF before connecting, so the kernel
  // advertises a small window from the start (a client that reads slowly, or never).
  explicit RawWsClient(int port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
    }
  }
  ~RawWsClient() { close(); }
  RawWsClient(const RawWsClient&) = delete;
  RawWsClient& operator=(const RawWsClient&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

  // The upgrade request for `target` with `extra_headers` (complete "Name: value\r\n" lines).
  static std::string upgrade_request(const std::string& target,
                                     const std::string& extra_headers = "") {
    return "GET " + target +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
           extra_headers + "\r\n";
  }

  // Sends the upgrade request and reads the response head; returns its status (101 when
  // accepted), or 0 when the connection ended or `timeout` passed first. Bytes after the head
  // (the first frames) are kept for read_frame().
  int handshake(const std::string& target, const std::string& extra_headers = "",
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    if (!write_all(upgrade_request(target, extra_headers), timeout)) return 0;
    return read_response_head(timeout);
  }

  // Reads an HTTP response head (after a request written with write_all); returns its status or
  // 0. The head is in response_head().
  int read_response_head(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    std::size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return 0;
    }
    head_ = in_.substr(0, end + 4);
    in_.erase(0, end + 4);
    if (head_.size() < 12 || head_.compare(0, 5, "HTTP/") != 0) return 0;
    return std::stoi(head_.substr(9, 3));
  }
  const std::string& response_head() const { return head_; }

  // Writes all of `bytes` before the deadline; false when the connection failed or time ran out.
  bool write_all(std::string_view bytes,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (!wait(POLLOUT, deadline)) return false;
    }
    return true;
  }

  // The next frame from the server, or nullopt when the connection ended or `timeout` passed.
  std::optional<WsServerFrame> read_frame(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      if (auto frame = parse_frame()) return frame;
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // The next whole data message: a text or binary frame and its continuations put together (the
  // server may fragment what it sends), with control frames in between skipped. A close frame
  // is returned as it is. nullopt when the connection ended or `timeout` passed.
  std::optional<WsServerFrame> read_message(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    std::optional<WsServerFrame> message;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto frame = read_frame(left);
      if (!frame) return std::nullopt;
      if (frame->opcode == WsOpcode::close) return frame;
      if (frame->opcode == WsOpcode::ping || frame->opcode == WsOpcode::pong) continue;
      if (!message) {
        message = std::move(frame);
      } else {
        message->payload += frame->payload;
        message->fin = frame->fin;
      }
      if (message->fin) return message;
    }
  }

  // Reads frames until a close frame; returns its code, or nullopt when none came in time.
  std::optional<unsigned> read_close_code(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto frame = read_frame(left);
      if (!frame) return std::nullopt;
      if (frame->opcode == WsOpcode::close) return frame->close_code();
    }
  }

  // True when the server ended the connection (EOF or reset) before `timeout`; frames that
  // arrive meanwhile are discarded.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      in_.clear();
      if (!fill(deadline)) return eof_;
    }
  }

 private:
  bool wait(short events, Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, events, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
  }

  // Reads what is there (waiting until the deadline); false on EOF, error or timeout.
  bool fill(Clock::time_point deadline) {
    while (true) {
      char chunk[16384];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        in_.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        eof_ = true;
        return false;
      }
      if (!wait(POLLIN, deadline)) return false;
    }
  }

  std::optional<WsServerFrame> parse_frame() {
    if (in_.size() < 2) return std::nullopt;
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(in_[i]); };
    std::size_t pos = 2;
    std::uint64_t length = byte(1) & 0x7F;
    if (length == 126) {
      if (in_.size() < 4) return std::nullopt;
      length = (std::uint64_t{byte(2)} << 8) | byte(3);
      pos = 4;
    } else if (length == 127) {
      if (in_.size() < 10) return std::nullopt;
      length = 0;
      for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | byte(i);
      pos = 10;
    }
    const bool masked = (byte(1) & 0x80) != 0;  // servers must not mask; parsed anyway
    std::uint8_t key[4] = {0, 0, 0, 0};
    if (masked) {
      if (in_.size() < pos + 4) return std::nullopt;
      for (int i = 0; i < 4; ++i) key[i] = byte(pos + static_cast<std::size_t>(i));
      pos += 4;
    }
    if (in_.size() < pos + length) return std::nullopt;
    WsServerFrame frame;
    frame.fin = (byte(0) & 0x80) != 0;
    frame.opcode = static_cast<WsOpcode>(byte(0) & 0x0F);
    frame.payload = in_.substr(pos, static_cast<std::size_t>(length));
    if (masked)
      for (std::size_t i = 0; i < frame.payload.size(); ++i)
        frame.payload[i] =
            static_cast<char>(static_cast<std::uint8_t>(frame.payload[i]) ^ key[i % 4]);
    in_.erase(0, pos + static_cast<std::size_t>(length));
    return frame;
  }

  int fd_ = -1;
  std::string in_;
  std::string head_;
  bool eof_ = false;
};

}  // namespace chatdesk::test
