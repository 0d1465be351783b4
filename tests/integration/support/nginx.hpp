#pragma once
// Test support: a throwaway nginx load balancer in front of gateway nodes on loopback, configured
// from the deployment's own template (deploy/nginx/chatdesk.conf, rendered as scripts/run.sh
// --nodes renders it), on a free loopback port, with its pid, logs and temp files in a temporary
// directory of its own. Stopped (SIGTERM, then SIGKILL of its process group) when the object
// dies. Throws on set-up failure (tests only). Not thread-safe: one test thread drives it.
//
// CHATDESK_NGINX_BIN and CHATDESK_NGINX_TEMPLATE come from tests/CMakeLists.txt.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"

extern char** environ;

namespace chatdesk::test {

class NginxBalancer {
 public:
  // True when the nginx binary is installed (scripts/install-deps.sh installs it), so a test can
  // say so instead of failing on a missing program.
  static bool available() { return ::access(CHATDESK_NGINX_BIN, X_OK) == 0; }

  // `upstream_ports`: the gateway nodes, on 127.0.0.1. Returns once nginx accepts connections.
  explicit NginxBalancer(const std::vector<int>& upstream_ports) {
    if (upstream_ports.empty()) throw std::invalid_argument("NginxBalancer needs an upstream");
    std::string pattern = (std::filesystem::temp_directory_path() / "chatdesk-nginx-XXXXXX");
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    // Run as root, nginx's worker runs as nobody and must get through the directory.
    ::chmod(dir_.c_str(), 0755);
    port_ = free_loopback_port();
    std::vector<std::string> upstreams;
    for (const int p : upstream_ports) upstreams.push_back("127.0.0.1:" + std::to_string(p));
    std::ofstream(dir_ / "nginx.conf")
        << render(read_template(), dir_.string(), "127.0.0.1:" + std::to_string(port_), upstreams);
    try {
      start();
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      throw;
    }
  }

  ~NginxBalancer() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  NginxBalancer(const NginxBalancer&) = delete;
  NginxBalancer& operator=(const NginxBalancer&) = delete;

  int port() const { return port_; }
  // nginx's error log (start-up problems, upstreams it gave up on).
  std::string log() const { return read_file(dir_ / "error.log"); }
  std::string config() const { return read_file(dir_ / "nginx.conf"); }

  // deploy/nginx/chatdesk.conf, as it is in the source tree.
  static std::string read_template() { return read_file(CHATDESK_NGINX_TEMPLATE); }

  // The template with @PREFIX@, @LISTEN@ and @NODES@ (the number of upstreams) replaced, and each
  // line holding @UPSTREAM@ repeated once per upstream (the same rules as scripts/run.sh).
  static std::string render(const std::string& tmpl, const std::string& prefix,
                            const std::string& listen, const std::vector<std::string>& upstreams) {
    std::istringstream in(tmpl);
    std::string out;
    bool upstream_line = false;
    for (std::string line; std::getline(in, line);) {
      if (line.find("@UPSTREAM@") == std::string::npos) {
        out += line + "\n";
        continue;
      }
      upstream_line = true;
      for (const auto& u : upstreams) out += replace_all(line, "@UPSTREAM@", u) + "\n";
    }
    if (!upstream_line) throw std::runtime_error("nginx template has no @UPSTREAM@ line");
    out = replace_all(replace_all(out, "@PREFIX@", prefix), "@LISTEN@", listen);
    return replace_all(out, "@NODES@", std::to_string(upstreams.size()));
  }

 private:
  static std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
      s.replace(at, from.size(), to);
    return s;
  }

  static bool accepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  void start() {
    const std::string bin = CHATDESK_NGINX_BIN;
    const std::string prefix = dir_.string();
    const std::string conf = (dir_ / "nginx.conf").string();
    const std::string error_log = (dir_ / "error.log").string();
    std::vector<std::string> args{bin, "-p", prefix, "-c", conf, "-e", error_log};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // Whatever nginx prints itself (it logs to error.log) goes there too.
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, error_log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, error_log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    // A process group of its own: the worker goes down with the master, even after SIGKILL.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, bin.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + bin + " (is nginx installed?)");
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!accepts(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nginx exited at start:\n" + log());
      }
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        throw std::runtime_error("nginx did not accept connections within 10 s:\n" + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // SIGTERM (nginx's fast shutdown: open connections are closed; the master exits after its
  // worker), then SIGKILL of the whole process group, worker included, after 5 s.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace chatdesk::test
