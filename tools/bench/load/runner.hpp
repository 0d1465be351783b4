#pragma once
// The load generator proper: N customer–agent pairs on one io_context thread, driving the chatdesk
// gateway or the Node baseline (WebSocket, docs/protocol.md subset) or the raw TCP echo server
// (same message bytes, 4-byte length prefix). It connects everyone, pairs each customer with the
// agent the server assigned, runs closed-loop (K messages circulating per pair) or open-loop (a
// fixed schedule of customer messages) traffic, and measures one window: messages delivered,
// customer→agent latency, and the server's CPU time from /proc. Several ports are several gateway
// nodes: customer i on port i mod n, the agent of pair i on the next port, so with two nodes or
// more every customer and its agent are held by different nodes (the desk picks which agent
// serves a customer; the result counts the pairs that really are on two nodes). The server CPU is
// summed over the processes given. Single-threaded by design: every
// handler runs on the one thread that calls run(); nothing here is thread-safe.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "latency.hpp"
#include "options.hpp"
#include "texts.hpp"

namespace chatdesk::bench {

class Runner;

// One client connection (WebSocket or raw TCP). Writes are queued with one write in flight, like
// the servers do; storage of sent payloads is reused, so steady traffic allocates nothing.
class Conn {
 public:
  enum class Role { customer, agent };
  Conn(Runner& runner, Role role, std::uint32_t index, std::size_t node)
      : role(role), index(index), node(node), runner_(runner) {}
  virtual ~Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  virtual void start() = 0;
  virtual void send(std::string_view payload) = 0;

  const Role role;
  const std::uint32_t index;  // pair index of a customer; agent number of an agent
  const std::size_t node;     // index in Options::ports of the port it connects to
  // An agent's conversations and the pair each belongs to (usually exactly one).
  std::vector<std::pair<std::string, std::uint32_t>> conversations;
  bool failed = false;

 protected:
  Runner& runner_;
};

class Runner {
 public:
  Runner(boost::asio::io_context& ioc, Options options);
  ~Runner();

  // Connects, runs warm-up and the measured window, prints the JSON line to stdout. Returns the
  // process exit code: 0 when messages were delivered in the window.
  int run();

  // From the connections.
  void on_open(Conn& c);
  void on_frame(Conn& c, std::string_view frame);
  void on_failed(Conn& c, std::string_view what, const boost::system::error_code& ec);

  const Options& options() const { return options_; }
  boost::asio::io_context& ioc() { return ioc_; }
  const boost::asio::ip::tcp::endpoint& endpoint(std::size_t node) const {
    return endpoints_[node];
  }
  const std::string& host_header(std::size_t node) const { return host_headers_[node]; }

 private:
  enum class Phase { agents, customers, running, done, failed };
  struct Pair {
    Conn* customer = nullptr;
    Conn* agent = nullptr;
    std::string conversation;
    bool welcomed = false;
    bool assigned = false;
    TimeRing c2a, a2c;
  };

  void start_connections(std::vector<std::unique_ptr<Conn>>& conns);
  void start_more();
  void agent_frame(Conn& c, std::string_view type, std::string_view frame);
  void customer_frame(Conn& c, std::string_view type, std::string_view frame);
  void check_linked(Pair& p);
  void begin_traffic();
  void pump();
  void begin_window();
  void end_window();
  void fail(std::string message);
  void customer_send(Pair& p, Nanos stamp);
  void agent_send(Pair& p, Nanos stamp);
  void delivered_to_agent(Pair& p);
  void delivered_to_customer(Pair& p);
  void count_error(std::string_view what);
  std::size_t customer_node(std::uint32_t pair) const { return pair % endpoints_.size(); }
  std::size_t agent_node(std::uint32_t pair) const { return (pair + 1) % endpoints_.size(); }
  // The summed CPU seconds of the server processes, or -1 when one of them cannot be read.
  double server_cpu_seconds(std::vector<double>& each) const;
  std::string print_result();

  boost::asio::io_context& ioc_;
  Options options_;
  TextPool texts_;
  std::string tag_;                                        // makes this run's ids unique
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;  // one per Options::ports
  std::vector<std::string> host_headers_;
  Phase phase_ = Phase::agents;

  std::vector<Pair> pairs_;
  std::vector<std::unique_ptr<Conn>> agents_, customers_;
  std::vector<std::unique_ptr<Conn>>* starting_ = nullptr;  // connections being opened
  std::size_t next_start_ = 0, handshakes_ = 0, opened_ = 0;
  std::size_t agents_ready_ = 0, linked_ = 0;

  boost::asio::steady_timer phase_timer_, setup_timer_, pump_timer_;
  Nanos setup_started_ = 0, traffic_started_ = 0, window_start_ = 0, window_end_ = 0;
  std::uint64_t scheduled_ = 0;  // open loop: customer messages scheduled so far
  Nanos interval_ = 0;

  bool measuring_ = false;
  std::string scratch_;
  std::uint64_t seq_ = 0, agent_replies_ = 0;
  // Counted over the measured window (errors: over the whole run).
  std::uint64_t delivered_ = 0, sent_ = 0, acks_ = 0, sla_frames_ = 0, errors_ = 0;
  std::uint64_t logged_errors_ = 0;
  std::size_t cross_node_pairs_ = 0;  // pairs whose customer and agent are on different ports
  LatencyRecorder to_agent_, to_customer_;
  // Open loop: how late after its scheduled time each customer message was handed to its socket
  // (the generator's own lag, part of every customer -> agent latency it reports).
  LatencyRecorder send_lag_;
  double server_cpu0_ = -1, server_cpu1_ = -1, own_cpu0_ = 0, own_cpu1_ = 0;
  std::vector<double> server_cpu_each0_, server_cpu_each1_;  // per process, same order
  double redis_cpu0_ = -1, redis_cpu1_ = -1;
  std::string failure_;
};

}  // namespace chatdesk::bench
