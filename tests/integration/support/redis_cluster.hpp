#pragma once
// Test support (header-only): a real 3-master Redis Cluster on loopback, and a plain blocking
// hiredis connection to one node to check where keys live.
//
// RedisCluster: three `redis-server --cluster-enabled yes` (RedisServer, each with its own data
// directory, client port and cluster bus port), joined by `redis-cli --cluster create
// --cluster-replicas 0`; the constructor returns once CLUSTER INFO says cluster_state:ok on all
// three (bounded, then throws) and the destructor stops them and removes everything. Slots can
// be moved by hand (CLUSTER SETSLOT … IMPORTING/MIGRATING, MIGRATE, SETSLOT … NODE) to make the
// nodes answer MOVED and ASK, an empty master can join (CLUSTER MEET), and a node can be paused
// (SIGSTOP) or killed (SIGKILL).
// cluster-require-full-coverage is off so that the other masters keep serving once one is down;
// cluster-node-timeout is 2 s (a joining master waits that long before it says ok, not 5 s;
// pauses in the tests stay well below it, so no node is marked failed under them).
//
// Throws on set-up failure (tests only); not thread-safe: one test thread drives it.

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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

#include "support/redis_server.hpp"

extern char** environ;

namespace chatdesk::test {

// One blocking connection to one node, kept open: commands run on it one at a time. An error
// reply (MOVED included) is returned as a reply, not thrown.
class NodeClient {
 public:
  explicit NodeClient(int port) {
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, timeval{2, 0});
    if (!ctx_ || ctx_->err) {
      const std::string why = ctx_ ? ctx_->errstr : "out of memory";
      if (ctx_) redisFree(ctx_);
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + why);
    }
    redisSetTimeout(ctx_, timeval{5, 0});
  }
  ~NodeClient() { redisFree(ctx_); }
  NodeClient(const NodeClient&) = delete;
  NodeClient& operator=(const NodeClient&) = delete;

  RedisReply run(const std::vector<std::string>& args) { return run_command(ctx_, args); }

 private:
  redisContext* ctx_ = nullptr;
};

inline std::string reply_text(const RedisReply& r) {
  return r->str ? std::string(r->str, r->len) : std::string();
}

class RedisCluster {
 public:
  static constexpr int kMasters = 3;

  RedisCluster() {
    std::string pattern = (std::filesystem::temp_directory_path() / "chatdesk-cluster-XXXXXX");
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    try {
      for (int i = 0; i < kMasters; ++i) nodes_.push_back(start_node());
      create();
      for (int i = 0; i < kMasters; ++i)
        ids_.push_back(reply_text(node(i).command({"CLUSTER", "MYID"})));
    } catch (...) {
      nodes_.clear();
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      throw;
    }
  }

  ~RedisCluster() {
    for (int i = 0; i < size(); ++i) resume(i);  // a stopped process would not hear SIGTERM
    nodes_.clear();                              // each RedisServer removes its directory
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  RedisServer& node(int i) const { return *nodes_.at(static_cast<std::size_t>(i)); }
  int port(int i) const { return node(i).port(); }
  const std::string& id(int i) const { return ids_.at(static_cast<std::size_t>(i)); }
  int index_of_port(int p) const {
    for (int i = 0; i < size(); ++i)
      if (port(i) == p) return i;
    return -1;
  }

  // The slot of `key` as redis-server computes it.
  int key_slot(int via, const std::string& key) const {
    return static_cast<int>(node(via).command({"CLUSTER", "KEYSLOT", key})->integer);
  }

  // Which node serves `slot`, as node `via` sees it (CLUSTER SLOTS); -1 for none.
  int owner(int slot, int via = 0) const {
    const RedisReply r = node(via).command({"CLUSTER", "SLOTS"});
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      if (e->element[0]->integer <= slot && slot <= e->element[1]->integer)
        return index_of_port(static_cast<int>(e->element[2]->element[1]->integer));
    }
    return -1;
  }

  // A command on one key (args[1]) run on the node serving that key's slot, as node 0 sees it.
  RedisReply command(const std::vector<std::string>& args) const {
    const int at = owner(key_slot(0, args.at(1)));
    if (at < 0) throw std::runtime_error("no node serves " + args.at(1));
    return node(at).command(args);
  }
  // redis.cluster for a gateway's config: ["127.0.0.1:<port>", …].
  std::string seeds_yaml() const {
    std::string yaml = "[";
    for (int i = 0; i < size(); ++i)
      yaml += (i ? ", \"127.0.0.1:" : "\"127.0.0.1:") + std::to_string(port(i)) + "\"";
    return yaml + "]";
  }

  // Half a migration of `slot` from node `from` to `to`: IMPORTING on the target, MIGRATING on the
  // source. Keys that are not moved yet stay on the source; the others answer ASK there.
  void begin_migration(int slot, int from, int to) {
    ok(node(to).command({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", id(from)}));
    ok(node(from).command({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", id(to)}));
  }

  // MIGRATE of the keys named (all of one slot) from node `from` to `to`.
  void migrate_keys(int from, int to, const std::vector<std::string>& keys) {
    std::vector<std::string> args{"MIGRATE", "127.0.0.1", std::to_string(port(to)), "", "0",
                                  "5000",    "KEYS"};
    args.insert(args.end(), keys.begin(), keys.end());
    ok(node(from).command(args));
  }

  // The whole migration: every key of the slot moved, then the slot assigned to `to` on every
  // node (target, source, the other), as the cluster tutorial orders it.
  void move_slot(int slot, int from, int to) {
    begin_migration(slot, from, to);
    for (;;) {
      const RedisReply keys =
          node(from).command({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
      if (keys->elements == 0) break;
      std::vector<std::string> names;
      for (std::size_t i = 0; i < keys->elements; ++i)
        names.emplace_back(keys->element[i]->str, keys->element[i]->len);
      migrate_keys(from, to, names);
    }
    std::vector<int> order{to, from};
    for (int i = 0; i < size(); ++i)
      if (i != to && i != from) order.push_back(i);
    for (int i : order)
      ok(node(i).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id(to)}));
  }

  // A fourth node joined with CLUSTER MEET, serving no slot yet (an empty master: slots can be
  // moved to it). Returns its index once every node knows every other and says cluster_state:ok.
  int add_empty_master() {
    nodes_.push_back(start_node());
    const int added = size() - 1;
    ids_.push_back(reply_text(node(added).command({"CLUSTER", "MYID"})));
    ok(node(0).command({"CLUSTER", "MEET", "127.0.0.1", std::to_string(port(added)),
                        std::to_string(bus_ports_.at(static_cast<std::size_t>(added)))}));
    const bool met = eventually(
        [&] {
          for (int i = 0; i < size(); ++i) {
            const std::string nodes = reply_text(node(i).command({"CLUSTER", "NODES"}));
            int connected = 0;
            for (std::size_t at = 0; (at = nodes.find(" connected", at)) != std::string::npos; ++at)
              ++connected;
            if (connected != size()) return false;
            const std::string info = reply_text(node(i).command({"CLUSTER", "INFO"}));
            if (info.find("cluster_state:ok") == std::string::npos) return false;
          }
          return true;
        },
        std::chrono::seconds(10));
    if (!met) throw std::runtime_error("the new node did not join the cluster in 10 s");
    return added;
  }

  // SIGSTOP / SIGCONT: a master that hangs, then comes back.
  void pause(int i) {
    if (paused_.size() < nodes_.size()) paused_.resize(nodes_.size(), false);
    if (paused_[i]) return;
    ::kill(pid_of(i), SIGSTOP);
    paused_[i] = true;
  }
  void resume(int i) {
    if (static_cast<std::size_t>(i) >= paused_.size() || !paused_[i]) return;
    ::kill(pids_.at(i), SIGCONT);
    paused_[i] = false;
  }
  // SIGKILL: the master is gone for good.
  void kill(int i) {
    resume(i);
    node(i).kill();
  }

 private:
  static void ok(const RedisReply& r) {
    if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error("cluster set-up: " + reply_text(r));
  }

  std::unique_ptr<RedisServer> start_node() {
    // The bus port is given explicitly (cluster-port): the default, port + 10000, may be past
    // 65535 for an ephemeral port. A clash with the client port the server picks next makes it
    // fail at start: try again.
    for (int attempt = 0;; ++attempt) {
      try {
        const int bus = free_loopback_port();
        auto server = std::make_unique<RedisServer>(std::vector<std::string>{
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port",
            std::to_string(bus), "--cluster-require-full-coverage", "no", "--cluster-node-timeout",
            "2000"});
        bus_ports_.push_back(bus);
        return server;
      } catch (const std::runtime_error&) {
        if (attempt == 2) throw;
      }
    }
  }

  void create() {
    std::vector<std::string> args{"redis-cli", "--cluster", "create"};
    for (int i = 0; i < kMasters; ++i) args.push_back("127.0.0.1:" + std::to_string(port(i)));
    for (const char* a : {"--cluster-replicas", "0", "--cluster-yes"}) args.emplace_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = (dir_ / "create.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, "redis-cli", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start redis-cli (is it installed?)");

    // redis-cli waits for the nodes to meet (a second or two); bounded here all the same.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        throw std::runtime_error("redis-cli --cluster create did not finish:\n" + tail(log));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("redis-cli --cluster create failed:\n" + tail(log));

    const bool all_ok = eventually(
        [&] {
          for (int i = 0; i < kMasters; ++i) {
            const std::string info = reply_text(node(i).command({"CLUSTER", "INFO"}));
            if (info.find("cluster_state:ok") == std::string::npos) return false;
          }
          return true;
        },
        std::chrono::seconds(20));
    if (!all_ok) throw std::runtime_error("the cluster did not reach cluster_state:ok in 20 s");
  }

  pid_t pid_of(int i) {
    if (pids_.size() < nodes_.size()) pids_.resize(nodes_.size(), -1);
    if (pids_[i] <= 0) {
      const std::string info = reply_text(node(i).command({"INFO", "server"}));
      const auto at = info.find("process_id:");
      if (at == std::string::npos) throw std::runtime_error("INFO server has no process_id");
      pids_[i] = static_cast<pid_t>(std::stol(info.substr(at + 11)));
    }
    return pids_[i];
  }

  static std::string tail(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
  }

  std::filesystem::path dir_;  // redis-cli's log
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  std::vector<int> bus_ports_;  // cluster-port of each node
  std::vector<std::string> ids_;
  std::vector<pid_t> pids_;
  std::vector<bool> paused_;
};

}  // namespace chatdesk::test
