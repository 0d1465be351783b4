#pragma once
// Test support (header-only: the integration binary globs tests/integration/*.cpp only).
//
// RedisServer: a throwaway redis-server on a free loopback port with its own data directory.
// stop() takes a snapshot on the way down and restart() comes back on the same port and directory,
// so a test can take Redis away under a client and bring it back with the data the client was
// told is stored (like a production Redis with persistence).
//
// SilentServer: accepts connections and never answers (a hung Redis).
//
// TcpCutProxy: a loopback TCP proxy in front of a server that, when armed, swallows the server's
// next answer and drops the connection: the request ran, the client never hears about it.
//
// Both throw on set-up failure (tests only) and are not thread-safe: one test thread drives them.

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace chatdesk::test {

struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

// One command on a blocking connection; an error reply is returned, a lost connection thrown.
inline RedisReply run_command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  RedisReply r(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r) throw std::runtime_error(std::string("redis command failed: ") + c->errstr);
  return r;
}

// A loopback port nobody listens on right now (the kernel's pick for port 0).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Polls `done` until it holds or `timeout` passes; the last evaluation decides.
template <typename Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

class RedisServer {
 public:
  // `extra_args` are passed to redis-server after the defaults (e.g. {"--requirepass", "pw"});
  // `password` is what command() authenticates with.
  explicit RedisServer(std::vector<std::string> extra_args = {}, std::string password = {})
      : extra_args_(std::move(extra_args)), password_(std::move(password)) {
    std::string pattern = (std::filesystem::temp_directory_path() / "chatdesk-redis-XXXXXX");
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    port_ = free_loopback_port();
    start();
  }

  ~RedisServer() {
    terminate(false);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  bool running() const { return pid_ > 0; }

  // SIGTERM after asking for a snapshot, then waits for the process: what Redis acknowledged
  // before the signal survives into restart().
  void stop() { terminate(true); }

  // SIGKILL, no shutdown of its own: only what its append-only file holds (started with
  // --appendonly yes) survives into restart(), as after a crash.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Starts again on the same port and directory; returns once PING answers PONG.
  void restart() {
    if (running()) throw std::logic_error("RedisServer::restart() while running");
    start();
  }

  // One command on a fresh connection (after AUTH and, when db != 0, SELECT). Throws when the
  // server cannot be reached.
  RedisReply command(const std::vector<std::string>& args, int db = 0) const {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeval{2, 0});
    if (!c || c->err) {
      std::string why = c ? c->errstr : "out of memory";
      if (c) redisFree(c);
      throw std::runtime_error("cannot connect to redis-server: " + why);
    }
    std::unique_ptr<redisContext, void (*)(redisContext*)> ctx(c, redisFree);
    redisSetTimeout(c, timeval{5, 0});
    if (!password_.empty()) run(c, {"AUTH", password_});
    if (db != 0) run(c, {"SELECT", std::to_string(db)});
    return run(c, args);
  }

 private:
  static RedisReply run(redisContext* c, const std::vector<std::string>& args) {
    return run_command(c, args);
  }

  std::string log_tail() const {
    std::ifstream in(dir_ / "redis.log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
  }

  void start() {
    std::vector<std::string> args{"redis-server",
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--save",
                                  "",
                                  "--appendonly",
                                  "no",
                                  "--dir",
                                  dir_.string(),
                                  "--logfile",
                                  (dir_ / "redis.log").string(),
                                  "--daemonize",
                                  "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // Keep the test's output clean; redis-server writes its log to <dir>/redis.log.
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start redis-server (is it installed?)");
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start:\n" + log_tail());
      }
      try {
        RedisReply r = command({"PING"});
        if (r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG") return;
      } catch (const std::runtime_error&) {
        // not listening yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    terminate(false);
    throw std::runtime_error("redis-server did not answer PING within 10 s:\n" + log_tail());
  }

  void terminate(bool snapshot) {
    if (pid_ <= 0) return;
    if (snapshot) {
      // With a save point configured, Redis writes dump.rdb as part of its SIGTERM shutdown, after
      // the last command it answered: nothing acknowledged is lost, unlike SAVE then SIGTERM.
      try {
        command({"CONFIG", "SET", "save", "3600 1"});
      } catch (const std::runtime_error&) {
        // a dead server keeps whatever it has
      }
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  std::vector<std::string> extra_args_;
  std::string password_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A listening socket on a free loopback port (its number in `port`); throws when it cannot be made.
inline int listen_loopback(int backlog, const char* what, int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(std::string(what) + " cannot listen");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

// A loopback port that accepts connections (the kernel completes the handshake) and never
// answers: a Redis that hangs.
class SilentServer {
 public:
  SilentServer() { fd_ = listen_loopback(8, "silent server", port_); }
  ~SilentServer() { ::close(fd_); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class TcpCutProxy {
 public:
  explicit TcpCutProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket() failed");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("proxy cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }

  ~TcpCutProxy() {
    stop_ = true;
    thread_.join();
    close_pair();
    ::close(listen_fd_);
  }

  TcpCutProxy(const TcpCutProxy&) = delete;
  TcpCutProxy& operator=(const TcpCutProxy&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // The next bytes the server sends are discarded and the client connection is closed.
  void arm_cut() { armed_ = true; }
  int cuts() const { return cuts_; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }

  static bool send_all(int fd, const char* data, ssize_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, data, static_cast<size_t>(n), MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= w;
    }
    return true;
  }

  void close_pair() {
    if (client_ >= 0) ::close(client_);
    if (upstream_ >= 0) ::close(upstream_);
    client_ = upstream_ = -1;
  }

  void loop() {
    char buf[64 * 1024];
    while (!stop_) {
      pollfd fds[3] = {{listen_fd_, POLLIN, 0}, {client_, POLLIN, 0}, {upstream_, POLLIN, 0}};
      const nfds_t n = client_ >= 0 ? 3 : 1;
      if (::poll(fds, n, 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd >= 0) {
          close_pair();  // one client at a time is all the writer needs
          client_ = fd;
          upstream_ = ::socket(AF_INET, SOCK_STREAM, 0);
          sockaddr_in addr = loopback(upstream_port_);
          if (::connect(upstream_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            close_pair();
        }
        continue;
      }
      if (n == 3 && fds[1].revents) {
        const ssize_t r = ::recv(client_, buf, sizeof buf, 0);
        if (r <= 0 || !send_all(upstream_, buf, r)) {
          close_pair();
          continue;
        }
      }
      if (n == 3 && client_ >= 0 && fds[2].revents) {
        const ssize_t r = ::recv(upstream_, buf, sizeof buf, 0);
        if (r > 0 && armed_.exchange(false)) {
          ++cuts_;
          close_pair();
          continue;
        }
        if (r <= 0 || !send_all(client_, buf, r)) close_pair();
      }
    }
  }

  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int client_ = -1;    // loop thread only
  int upstream_ = -1;  // loop thread only
  std::atomic<bool> stop_{false};
  std::atomic<bool> armed_{false};
  std::atomic<int> cuts_{0};
  std::thread thread_;
};

}  // namespace chatdesk::test
