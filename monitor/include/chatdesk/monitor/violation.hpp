#pragma once
// What the SLA engine reports: violations (rule broken) and observations (measurements that feed
// histograms). Plain values, safe to copy between threads.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chatdesk/config/time.hpp"

namespace chatdesk::monitor {

enum class Rule { greeting, reply_wait, typing_rate, missed, language, courtesy, handover };
inline constexpr std::size_t kRuleCount = static_cast<std::size_t>(Rule::handover) + 1;
enum class Severity { warning, breach };

std::string_view to_string(Rule r);
std::string_view to_string(Severity s);

struct Violation {
  std::string id;  // unique across the stream, stable, so consumers can de-duplicate
  Rule rule = Rule::greeting;
  Severity severity = Severity::warning;
  int level = 1;  // escalation level; 1 unless a rule escalates (greeting breaches)
  std::string shop;
  std::string agent;         // owning agent at the time, empty when the conversation is queued
  std::string conversation;  // empty for handover; typing_rate: the message that tipped the average
  Duration elapsed{0};       // how long the clock had run in open hours; 0 for rules without one
  Duration target{0};        // the limit that was crossed; 0 for rules without one
  TimePoint ts{};            // when the violation happened
  std::string detail;  // language: the phrase; courtesy: greeting|farewell; typing_rate: average
                       // cpm ("42.5"); handover: open conversations; else empty. Never chat text.
};

enum class Outcome { served, missed, transferred, handed_over, requeued };
std::string_view to_string(Outcome o);

}  // namespace chatdesk::monitor
