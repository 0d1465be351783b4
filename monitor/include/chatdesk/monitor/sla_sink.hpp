#pragma once
// Where the SLA engine's results go. The gateway fans them out to Prometheus, the Redis writer and
// the owning agent's console. Called on the engine's thread only.

#include <string_view>

#include "chatdesk/monitor/violation.hpp"

namespace chatdesk::monitor {

class SlaSink {
 public:
  virtual ~SlaSink() = default;
  virtual void on_violation(const Violation& v) = 0;
  // The first agent message of a conversation, `latency` after its first customer message
  // (business-hours time only).
  virtual void on_greeting(std::string_view shop, std::string_view agent, Duration latency) = 0;
  // An agent message that answered a waiting customer (after the greeting).
  virtual void on_reply_wait(std::string_view shop, std::string_view agent, Duration wait) = 0;
  // A measured agent message's typing rate in code points per minute.
  virtual void on_typing_rate(std::string_view shop, std::string_view agent, double cpm) = 0;
  // An agent message that could not be measured (too short, or no typing start before it).
  virtual void on_typing_unmeasured(std::string_view shop, std::string_view agent) = 0;
  // A conversation ended or changed hands.
  virtual void on_outcome(std::string_view shop, Outcome outcome) = 0;
};

}  // namespace chatdesk::monitor
