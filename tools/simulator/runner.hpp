#pragma once
// The simulation run: resolves the gateway (loopback only unless --allow-remote), starts the
// agents of every shop, lets customers arrive as a Poisson process under the connection cap,
// prints a summary every 10 s, and stops at --duration or on SIGINT/SIGTERM: customers close
// their conversations, then agents disconnect, then the final summary. One io_context, one
// thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent.hpp"
#include "alarm.hpp"
#include "customer.hpp"
#include "options.hpp"
#include "phrase_book.hpp"
#include "profile.hpp"
#include "sim_context.hpp"
#include "stats.hpp"
#include "ws_connection.hpp"

namespace chatdesk::sim {

class Runner {
 public:
  explicit Runner(Options options);
  // Runs to the end; returns the process exit status (0, or 1 when nothing ever connected).
  int run();

 private:
  bool resolve();
  void start();
  void schedule_arrival(std::size_t shop);
  void arrive(std::size_t shop);
  void print_summary(std::string_view label);
  void stop(const std::string& why);
  void wind_down(int polls);
  long agent_connections() const;
  void leave_in_turn(std::vector<std::shared_ptr<Agent>> line, std::size_t next);

  Options options_;
  Rng rng_;
  Profile profile_;
  PhraseBook phrases_;
  // Before the io_context: handlers it still holds when destroyed may count into stats_.
  Stats stats_;
  Target target_;
  boost::asio::io_context ioc_;
  SimContext ctx_;
  std::vector<std::shared_ptr<Agent>> agents_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Customer>> customers_;
  std::uint64_t next_customer_ = 0;
  std::vector<std::unique_ptr<Alarm>> arrivals_;  // one per shop
  std::set<std::string> unknown_shops_;
  Alarm summary_;
  Alarm deadline_;
  Alarm connect_check_;
  Alarm wind_down_;
  boost::asio::signal_set signals_;
  bool agents_leaving_ = false;
  int shops_leaving_ = 0;
  bool agents_stopped_ = false;
  std::string stop_reason_;
};

}  // namespace chatdesk::sim
