#include "chatdesk/monitor/violation.hpp"

namespace chatdesk::monitor {

std::string_view to_string(Rule r) {
  switch (r) {
    case Rule::greeting: return "greeting";
    case Rule::reply_wait: return "reply_wait";
    case Rule::typing_rate: return "typing_rate";
    case Rule::missed: return "missed";
    case Rule::language: return "language";
    case Rule::courtesy: return "courtesy";
    case Rule::handover: return "handover";
  }
  return "unknown";
}

std::string_view to_string(Severity s) {
  return s == Severity::breach ? "breach" : "warning";
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::served: return "served";
    case Outcome::missed: return "missed";
    case Outcome::transferred: return "transferred";
    case Outcome::handed_over: return "handed_over";
    case Outcome::requeued: return "requeued";
  }
  return "unknown";
}

}  // namespace chatdesk::monitor
