#pragma once
// Test support: a real chatdesk-gateway process on a free loopback port, with its
// config written to a temporary directory, stopped (SIGTERM, then SIGKILL) when the object dies.
// Throws on set-up failure (tests only). Not thread-safe: one test thread drives it.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/redis_server.hpp"

extern char** environ;

namespace chatdesk::test {

// A plain HTTP GET against 127.0.0.1:port; returns {status, body}, or {0, ""} when it cannot
// connect. (http_get.cpp: Beast is compiled there once.)
std::pair<int, std::string> http_get(int port, const std::string& target);

// Any request, with its answer's headers (names in lower case); status 0 when it cannot connect.
struct HttpAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};
HttpAnswer http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body = {},
                        const std::vector<std::pair<std::string, std::string>>& headers = {});

// This process's environment with `changes` applied: "NAME=value" sets NAME, "NAME" removes it.
inline std::vector<std::string> child_environment(const std::vector<std::string>& changes) {
  const auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool changed = false;
    for (const auto& c : changes) changed = changed || name_of(c) == name_of(entry);
    if (!changed) env.push_back(entry);
  }
  for (const auto& c : changes)
    if (c.find('=') != std::string::npos) env.push_back(c);
  return env;
}

// The value of one sample line of the gateway's /metrics (`series` with its labels as printed),
// or -1 when it cannot be scraped or the line is not there.
inline double metric(int port, const std::string& series) {
  auto [status, body] = http_get(port, "/metrics");
  if (status != 200) return -1;
  auto at = body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + series.size() + 2));
}

class GatewayProcess {
 public:
  // `shops_yaml` is the `shops:` list (YAML lines, each starting with "  - " or deeper); `extra`
  // more top-level YAML (e.g. a redis: section). Redis is disabled unless `extra` enables it.
  // `env`: "NAME=value" entries set (or replaced) in the gateway's environment, which is
  // otherwise the test's own; a bare "NAME" removes NAME.
  explicit GatewayProcess(const std::string& shops_yaml,
                          const std::string& extra = "redis: {enabled: false}\n",
                          std::vector<std::string> env = {})
      : port_(free_loopback_port()), env_(std::move(env)) {
    dir_ = std::filesystem::temp_directory_path() /
           ("chatdesk-gw-" + std::to_string(::getpid()) + "-" + std::to_string(port_));
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "chatdesk.yaml").string();
    std::ofstream(config_) << "listen: {address: 127.0.0.1, port: " << port_ << "}\n"
                           << extra << "shops:\n"
                           << shops_yaml;
    log_ = (dir_ / "gateway.log").string();
    start();
  }

  ~GatewayProcess() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void start() {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    std::string bin = CHATDESK_GATEWAY_BIN;
    std::vector<char*> argv{bin.data(), const_cast<char*>("--config"), config_.data(), nullptr};
    std::vector<std::string> env = child_environment(env_);
    std::vector<char*> envp;
    for (auto& entry : env) envp.push_back(entry.data());
    envp.push_back(nullptr);
    int rc = posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + bin);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (http_get(port_, "/healthz").first != 200) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("gateway exited at start: " + log());
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("gateway did not start: " + log());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // SIGTERM and wait (bounded); returns the exit status, or -1 when it had to be killed.
  int stop(std::chrono::seconds patience = std::chrono::seconds(15)) {
    if (pid_ <= 0) return exit_status_;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + patience;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return exit_status_ = -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Sends `sig` and returns at once; wait_exit() collects the process. start() may follow, on the
  // same port and config (a restarted gateway).
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits for the process to end, at most `patience`: its exit status, 128 + the signal that ended
  // it, or -1 when it was still running and had to be killed.
  int wait_exit(std::chrono::milliseconds patience) {
    if (pid_ <= 0) return exit_status_;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return exit_status_ = -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return exit_status_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                          : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                                : -1;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 once stopped
  std::string log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  int port_;
  std::filesystem::path dir_;
  std::string config_;
  std::string log_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  std::vector<std::string> env_;
};

}  // namespace chatdesk::test
