#pragma once
// The simulator's counters and its one-line summaries. Plain counters: everything runs on one
// io_context thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace chatdesk::sim {

struct Stats {
  // Customers: every started one ends exactly once as served, left, dropped or cut.
  std::uint64_t customers_started = 0;
  std::uint64_t customers_served = 0;   // ended after at least one agent message
  std::uint64_t customers_left = 0;     // gave up (disconnected) before any agent message
  std::uint64_t customers_dropped = 0;  // connection failed or was lost unexpectedly
  std::uint64_t customers_cut = 0;      // still unanswered when the simulator stopped
  std::uint64_t customers_capped = 0;   // arrivals skipped because of --max-connections

  // Connections.
  std::uint64_t connects_ok = 0;
  std::uint64_t connect_failures = 0;  // TCP connect or WebSocket upgrade failed
  std::uint64_t drops = 0;             // an open connection ended without us closing it
  std::int64_t live_connections = 0;   // open or opening
  std::int64_t agents_online = 0;      // agents past their welcome

  // Traffic.
  std::uint64_t messages_sent = 0;      // chat messages, both roles
  std::uint64_t messages_received = 0;  // chat messages relayed to us, both roles
  std::uint64_t acks = 0;
  std::uint64_t sla_warnings = 0;  // live "sla" frames agents received
  std::uint64_t sla_breaches = 0;
  std::uint64_t bad_frames = 0;  // frames from the gateway that were not JSON objects
  std::map<std::string, std::uint64_t, std::less<>> errors;  // error frames by code

  void count_error(std::string_view code);
  // Error frames that mean the simulator sent something malformed (a simulator bug).
  std::uint64_t protocol_errors() const;
  static bool is_protocol_error(std::string_view code);

  std::uint64_t customers_active() const {
    return customers_started - customers_served - customers_left - customers_dropped -
           customers_cut;
  }

  // "sim t=10s customers started=.. served=.. ..." (one line, no newline).
  std::string summary_line(std::string_view label, std::chrono::milliseconds elapsed,
                           long agents_total) const;
  // The final verdict on protocol errors (one line).
  std::string verdict() const;
};

}  // namespace chatdesk::sim
