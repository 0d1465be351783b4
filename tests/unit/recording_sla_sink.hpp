#pragma once
// A fake SlaSink for the engine's tests: records every call, in order, so that tests can check
// what fired and when. Not thread-safe (the engine calls it from the test's thread).

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/monitor/sla_sink.hpp"

namespace chatdesk::monitor::testing {

class RecordingSlaSink final : public SlaSink {
 public:
  struct Timed {  // on_greeting / on_reply_wait
    std::string shop;
    std::string agent;
    Duration duration;
  };
  struct Rate {  // on_typing_rate
    std::string shop;
    std::string agent;
    double cpm;
  };
  struct Unmeasured {
    std::string shop;
    std::string agent;
  };
  struct Ended {  // on_outcome
    std::string shop;
    Outcome outcome;
  };

  void on_violation(const Violation& v) override { violations.push_back(v); }
  void on_greeting(std::string_view shop, std::string_view agent, Duration latency) override {
    greetings.push_back({std::string(shop), std::string(agent), latency});
  }
  void on_reply_wait(std::string_view shop, std::string_view agent, Duration wait) override {
    reply_waits.push_back({std::string(shop), std::string(agent), wait});
  }
  void on_typing_rate(std::string_view shop, std::string_view agent, double cpm) override {
    typing_rates.push_back({std::string(shop), std::string(agent), cpm});
  }
  void on_typing_unmeasured(std::string_view shop, std::string_view agent) override {
    unmeasured.push_back({std::string(shop), std::string(agent)});
  }
  void on_outcome(std::string_view shop, Outcome outcome) override {
    outcomes.push_back({std::string(shop), outcome});
  }

  std::vector<Violation> of(Rule rule) const {
    std::vector<Violation> found;
    std::copy_if(violations.begin(), violations.end(), std::back_inserter(found),
                 [rule](const Violation& v) { return v.rule == rule; });
    return found;
  }
  std::size_t count(Outcome outcome) const {
    return static_cast<std::size_t>(
        std::count_if(outcomes.begin(), outcomes.end(),
                      [outcome](const Ended& e) { return e.outcome == outcome; }));
  }
  void clear() {
    violations.clear();
    greetings.clear();
    reply_waits.clear();
    typing_rates.clear();
    unmeasured.clear();
    outcomes.clear();
  }

  std::vector<Violation> violations;
  std::vector<Timed> greetings;
  std::vector<Timed> reply_waits;
  std::vector<Rate> typing_rates;
  std::vector<Unmeasured> unmeasured;
  std::vector<Ended> outcomes;
};

}  // namespace chatdesk::monitor::testing
