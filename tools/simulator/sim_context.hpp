#pragma once
// What every simulated person shares: the io_context, the options, profile and phrase book, the
// counters, the random generator, where the gateway is, and the simulated clock (--speed).
// Owned by the runner, which outlives every agent and customer. One thread only.

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "options.hpp"
#include "phrase_book.hpp"
#include "profile.hpp"
#include "stats.hpp"
#include "ws_connection.hpp"

namespace chatdesk::sim {

class SimContext {
 public:
  SimContext(boost::asio::io_context& ioc, const Options& options, const Profile& profile,
             const PhraseBook& phrases, Stats& stats, Rng& rng, const Target& target);

  boost::asio::io_context& ioc;
  const Options& options;
  const Profile& profile;
  const PhraseBook& phrases;
  Stats& stats;
  Rng& rng;
  const Target& target;
  bool stopping = false;
  // Called when the gateway refuses a shop's upgrades with 404 (unknown shop).
  std::function<void(const std::string& shop)> on_unknown_shop;

  // A drawn human delay in real time: divided by --speed unless it is a wall-clock delay.
  std::chrono::milliseconds real(Delay d) const;
  std::chrono::milliseconds real_seconds(double simulated_seconds) const {
    return real(Delay{simulated_seconds, false});
  }
  std::chrono::milliseconds elapsed() const;

  // A fresh client_msg_id ("m<n>").
  std::string next_msg_id() { return "m" + std::to_string(++msg_ids_); }

  // One line on stderr, prefixed with the run time.
  void log(std::string_view who, std::string_view what) const;
  // Counts an error frame by code and logs it: always for protocol errors (a simulator bug),
  // the first few of other codes (races a busy desk has anyway).
  void on_error_frame(std::string_view who, const boost::json::object& frame);

 private:
  std::chrono::steady_clock::time_point started_;
  std::uint64_t msg_ids_ = 0;
  std::map<std::string, int, std::less<>> logged_errors_;
};

}  // namespace chatdesk::sim
