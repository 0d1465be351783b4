#pragma once
// How simulated people behave in time: the delay distributions and odds of each --profile
// (docs/simulator.md). Delays are drawn in simulated seconds and run --speed times faster, except
// "wall" delays, which stay real time so that the gateway's real-time SLA clocks (15 s / 30 s /
// 20 s) still see slow greetings and ignored customers at any --speed. Immutable after
// construction; every draw takes the caller's random generator.

#include <cstddef>
#include <optional>
#include <vector>

#include "options.hpp"
#include "phrase_book.hpp"

namespace chatdesk::sim {

// One drawn delay: `seconds` of simulated time, or of real time when `wall`.
struct Delay {
  double seconds = 0;
  bool wall = false;
};

// A uniform range of seconds, real time when `wall`.
struct Range {
  double lo = 0;
  double hi = 0;
  bool wall = false;
};

// A mixture of ranges: each part is chosen with its weight.
struct Mix {
  std::vector<std::pair<double, Range>> parts;
  Delay draw(Rng& rng) const;
};

// What stays the same for one simulated agent for the whole run.
struct AgentTraits {
  double chars_per_minute = 90;
  bool wall_typing = false;  // types in real time whatever --speed is (slow profile)
};

class Profile {
 public:
  Profile(ProfileKind kind, std::optional<double> ignore_share);

  ProfileKind kind() const { return kind_; }
  double ignore_share() const { return ignore_share_; }

  // --- agents ---
  AgentTraits agent_traits(Rng& rng) const;
  Delay go_available(Rng& rng) const { return go_available_.draw(rng); }
  bool ignores_customer(Rng& rng) const { return chance(rng, ignore_share_); }
  // From assignment to the greeting being sent (typing included).
  Delay greeting_latency(Rng& rng) const { return greeting_.draw(rng); }
  // Reading and thinking before typing starts.
  Delay think(Rng& rng) const { return think_.draw(rng); }
  // How long typing `chars` code points takes this agent (a little jitter per message).
  Delay typing(const AgentTraits& traits, std::size_t chars, Rng& rng) const;
  bool polite_greeting(Rng& rng) const { return !chance(rng, curt_greeting_share_); }
  bool polite_farewell(Rng& rng) const { return !chance(rng, curt_farewell_share_); }
  bool negative_phrase(Rng& rng) const { return chance(rng, negative_share_); }
  // A reply that would take longer than this (simulated seconds) may be preceded by a "请稍等".
  double hold_threshold_seconds() const { return 15; }
  bool sends_hold(Rng& rng) const { return chance(rng, hold_share_); }
  Delay quiet_before_close(Rng& rng) const { return quiet_.draw(rng); }
  Delay close_after_farewell(Rng& rng) const { return close_after_farewell_.draw(rng); }
  int max_answers() const { return 6; }  // then the agent wraps up
  Delay break_interval(Rng& rng) const { return break_interval_.draw(rng); }
  Delay break_length(Rng& rng) const { return break_length_.draw(rng); }
  Delay shift_gap(Rng& rng) const { return shift_gap_.draw(rng); }

  // --- customers ---
  Delay first_question(Rng& rng) const { return first_question_.draw(rng); }
  int follow_ups(Rng& rng) const;  // 1-3
  Delay customer_turn(Rng& rng) const { return customer_turn_.draw(rng); }
  // How long a customer waits for a first answer before leaving.
  Delay patience(Rng& rng) const { return patience_.draw(rng); }
  bool sends_thanks(Rng& rng) const { return chance(rng, 0.3); }
  bool closes_itself(Rng& rng) const { return chance(rng, 0.15); }
  bool types_first(Rng& rng) const { return chance(rng, 0.5); }
  // After the last answer, how long a customer waits for the agent to close before leaving.
  Delay linger(Rng& rng) const { return linger_.draw(rng); }
  Delay leave_after_closed(Rng& rng) const { return leave_after_closed_.draw(rng); }

  static bool chance(Rng& rng, double p);

 private:
  ProfileKind kind_;
  double ignore_share_;
  double curt_greeting_share_ = 0.03;
  double curt_farewell_share_ = 0.10;
  double negative_share_ = 0.04;
  double hold_share_ = 0.5;
  double slow_typist_share_ = 0.15;
  bool slow_typists_wall_ = false;
  Mix go_available_{{{1, {0.5, 2}}}};
  Mix greeting_;
  Mix think_;
  Mix quiet_{{{1, {4, 10}}}};
  Mix close_after_farewell_{{{1, {1, 3}}}};
  Mix break_interval_{{{1, {300, 900}}}};
  Mix break_length_{{{1, {60, 180}}}};
  Mix shift_gap_{{{1, {30, 90}}}};
  Mix first_question_{{{1, {1, 3}}}};
  Mix customer_turn_{{{1, {3, 10}}}};
  Mix patience_;
  Mix linger_{{{1, {20, 60}}}};
  Mix leave_after_closed_{{{1, {0.2, 1.5}}}};
};

}  // namespace chatdesk::sim
