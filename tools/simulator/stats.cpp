#include "stats.hpp"

#include <array>
#include <sstream>

namespace chatdesk::sim {

namespace {

// bad_request, unknown_type and too_large answer frames the gateway could not accept as written:
// the simulator only ever sends well-formed frames, so each one is a simulator bug. The other
// codes come from races a real desk has too (a customer closing while the agent types: not_owner;
// a handover target going away: target_unavailable; ...).
constexpr std::array<std::string_view, 3> kProtocolErrorCodes{"bad_request", "unknown_type",
                                                              "too_large"};

}  // namespace

void Stats::count_error(std::string_view code) {
  auto it = errors.find(code);
  if (it == errors.end()) it = errors.emplace(std::string(code), 0).first;
  ++it->second;
}

bool Stats::is_protocol_error(std::string_view code) {
  for (auto c : kProtocolErrorCodes)
    if (c == code) return true;
  return false;
}

std::uint64_t Stats::protocol_errors() const {
  std::uint64_t n = 0;
  for (const auto& [code, count] : errors)
    if (is_protocol_error(code)) n += count;
  return n;
}

std::string Stats::summary_line(std::string_view label, std::chrono::milliseconds elapsed,
                                long agents_total) const {
  std::ostringstream o;
  o << "sim " << label << " t=" << elapsed.count() / 1000 << "s"
    << " customers started=" << customers_started << " served=" << customers_served
    << " left=" << customers_left << " active=" << customers_active()
    << " dropped=" << customers_dropped << " cut=" << customers_cut
    << " capped=" << customers_capped << " | agents online=" << agents_online << "/" << agents_total
    << " | messages sent=" << messages_sent << " received=" << messages_received
    << " acked=" << acks << " | sla warnings=" << sla_warnings << " breaches=" << sla_breaches
    << " | errors=";
  if (errors.empty()) {
    o << "none";
  } else {
    bool first = true;
    for (const auto& [code, count] : errors) {
      o << (first ? "" : ",") << code << ":" << count;
      first = false;
    }
  }
  o << " protocol_errors=" << protocol_errors() << " | connections live=" << live_connections
    << " ok=" << connects_ok << " failed=" << connect_failures << " drops=" << drops;
  if (bad_frames) o << " bad_frames=" << bad_frames;
  return o.str();
}

std::string Stats::verdict() const {
  std::ostringstream o;
  o << "sim verdict: ";
  if (std::uint64_t n = protocol_errors(); n == 0)
    o << "no protocol errors";
  else
    o << "SIMULATOR BUG: the gateway refused " << n
      << " frame(s) as malformed (bad_request/unknown_type/too_large); see the error lines above";
  if (bad_frames)
    o << "; the gateway sent " << bad_frames << " frame(s) that were not JSON objects";
  return o.str();
}

}  // namespace chatdesk::sim
