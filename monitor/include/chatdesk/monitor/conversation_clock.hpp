#pragma once
// What the SLA engine knows of one open conversation that must survive a gateway restart
// (docs/storage.md): enough to rebuild its clock exactly, and the running figures that go into
// the conversation's record when it ends. Plain values, safe to copy between threads.

#include <array>
#include <cstdint>
#include <optional>

#include "chatdesk/config/time.hpp"
#include "chatdesk/monitor/violation.hpp"

namespace chatdesk::monitor {

struct ConversationClock {
  // --- the clock -------------------------------------------------------------------------------
  bool wrote = false;               // the customer wrote at least once
  TimePoint first_customer{};       // its first message (valid when wrote)
  bool greeted = false;             // an agent wrote at least once
  bool waiting = false;             // the latest customer message is unanswered
  TimePoint clock_start{};          // start of the greeting clock or of the current reply wait
  bool armed = false;               // the running clock still has a deadline to fire
  std::uint32_t greeting_step = 0;  // next greeting deadline: 0 the warning, n >= 1 breach level n
  std::uint32_t waits = 0;          // reply waits begun after the greeting (in violation ids)
  std::uint32_t messages = 0;       // customer and agent messages (in violation ids)
  std::uint32_t agent_messages = 0;
  bool last_agent_farewell = false;  // the latest agent message said goodbye

  // --- figures for the conversation record ----------------------------------------------------
  std::optional<Duration> first_response;  // business-hours time to the first agent message
  std::uint32_t reply_waits = 0;           // answered reply waits (after the greeting)
  Duration reply_wait_total{0};
  Duration reply_wait_max{0};
  std::uint32_t typing_measured = 0;  // this conversation's agent messages measured for typing
  double typing_cpm_total = 0;        // sum of their rates (code points per minute)
  bool greeting_warned = false;       // the greeting warning fired
  std::uint32_t greeting_breach_level = 0;  // highest greeting breach level fired, 0 for none
  std::array<std::uint32_t, kRuleCount> violations{};  // fired for this conversation, by Rule

  friend bool operator==(const ConversationClock&, const ConversationClock&) = default;
};

}  // namespace chatdesk::monitor
