#include "sim_context.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace chatdesk::sim {

namespace {

constexpr int kLoggedPerCode = 5;  // error frames of one non-protocol code that get a log line

std::string_view string_field(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

}  // namespace

SimContext::SimContext(boost::asio::io_context& io, const Options& opts, const Profile& prof,
                       const PhraseBook& book, Stats& counters, Rng& random, const Target& gateway)
    : ioc(io),
      options(opts),
      profile(prof),
      phrases(book),
      stats(counters),
      rng(random),
      target(gateway),
      started_(std::chrono::steady_clock::now()) {}

std::chrono::milliseconds SimContext::real(Delay d) const {
  double seconds = d.wall ? d.seconds : d.seconds / options.speed;
  if (seconds < 0) seconds = 0;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

std::chrono::milliseconds SimContext::elapsed() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               started_);
}

void SimContext::log(std::string_view who, std::string_view what) const {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%.1f", static_cast<double>(elapsed().count()) / 1000.0);
  std::cerr << "sim [" << stamp << "s] " << who << ": " << what << std::endl;
}

void SimContext::on_error_frame(std::string_view who, const boost::json::object& frame) {
  std::string code(string_field(frame, "code"));
  if (code.empty()) code = "(none)";
  stats.count_error(code);
  const bool bug = Stats::is_protocol_error(code);
  int& logged = logged_errors_[code];
  if (!bug && logged > kLoggedPerCode) return;
  ++logged;
  std::string line = "error frame " + code + ": " + std::string(string_field(frame, "message"));
  if (bug) line += " (PROTOCOL ERROR: a simulator bug)";
  if (!bug && logged > kLoggedPerCode) line += " (further '" + code + "' errors are only counted)";
  log(who, line);
}

}  // namespace chatdesk::sim
