#include "profile.hpp"

#include <algorithm>

namespace chatdesk::sim {

Delay Mix::draw(Rng& rng) const {
  double total = 0;
  for (const auto& [weight, range] : parts) total += weight;
  std::uniform_real_distribution<double> pick(0, total);
  double x = pick(rng);
  const Range* chosen = &parts.back().second;
  for (const auto& [weight, range] : parts) {
    if (x < weight) {
      chosen = &range;
      break;
    }
    x -= weight;
  }
  std::uniform_real_distribution<double> span(chosen->lo, chosen->hi);
  return Delay{span(rng), chosen->wall};
}

bool Profile::chance(Rng& rng, double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return std::bernoulli_distribution(p)(rng);
}

Profile::Profile(ProfileKind kind, std::optional<double> ignore_share) : kind_(kind) {
  // realistic: greetings mostly within 3-12 s, ~10% between 15 and 30 s (warnings), ~3% never
  // (the ignore share); replies after a short think; 15% slow typists (30-45 cpm).
  greeting_ = Mix{{{0.90, {3, 12}}, {0.10, {15, 30}}}};
  think_ = Mix{{{0.85, {1, 5}}, {0.12, {5, 12}}, {0.03, {12, 25}}}};
  // Most customers wait minutes for an agent; one in ten gives up after 10-40 s.
  patience_ = Mix{{{0.9, {120, 300}}, {0.1, {10, 40}}}};
  double default_ignore = 0.03;

  switch (kind) {
    case ProfileKind::realistic:
      break;
    case ProfileKind::slow:
      // Most greetings land between 15 and 40 s of real time (warnings, and breaches past 30 s);
      // many replies come after a long real-time pause; half the agents type at 30-45 cpm in real
      // time (typing-rate warnings). Customers wait long enough to see it.
      greeting_ = Mix{{{0.8, {15, 40, true}}, {0.2, {3, 12}}}};
      think_ = Mix{{{0.5, {8, 20, true}}, {0.5, {1, 5}}}};
      patience_ = Mix{{{0.9, {45, 120, true}}, {0.1, {10, 40}}}};
      slow_typist_share_ = 0.5;
      slow_typists_wall_ = true;
      hold_share_ = 0.2;
      break;
    case ProfileKind::missed:
      // A share of customers is never answered at all; they wait 20-60 s of real time, so the
      // greeting warning (15 s) and breach (30 s) fire, then leave: a missed conversation after
      // the shop's resume_grace.
      patience_ = Mix{{{0.9, {20, 60, true}}, {0.1, {10, 40}}}};
      default_ignore = 0.3;
      break;
  }
  ignore_share_ = std::clamp(ignore_share.value_or(default_ignore), 0.0, 1.0);
}

AgentTraits Profile::agent_traits(Rng& rng) const {
  AgentTraits t;
  if (chance(rng, slow_typist_share_)) {
    t.chars_per_minute = std::uniform_real_distribution<double>(30, 45)(rng);
    t.wall_typing = slow_typists_wall_;
  } else {
    t.chars_per_minute = std::uniform_real_distribution<double>(60, 120)(rng);
  }
  return t;
}

Delay Profile::typing(const AgentTraits& traits, std::size_t chars, Rng& rng) const {
  double cpm = traits.chars_per_minute * std::uniform_real_distribution<double>(0.9, 1.1)(rng);
  return Delay{static_cast<double>(chars) * 60.0 / cpm, traits.wall_typing};
}

int Profile::follow_ups(Rng& rng) const {
  return std::uniform_int_distribution<int>(1, 3)(rng);
}

}  // namespace chatdesk::sim
