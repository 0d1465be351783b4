#pragma once
// The monthly ranking of a shop's agents (docs/reports.md, "The ranking"): a score from the
// shop rules' KPIs (../shared/reference/service-rules.md, "Accountability and KPIs": response
// time, customers lost, conversion; satisfaction too), computed from a report's per-agent
// figures. First and last place are marked, as the rules reward the first and ask the last for
// an improvement plan. Pure; thread-safe on unchanged inputs.
//
//   score = 25 G + 25 R + 20 (1 - L) + 20 C + 10 S, from 0 to 100
//
//   G  share of the agent's conversations (the customer wrote) greeted within the target (15 s)
//   R  share of its served conversations in which no reply wait passed the limit (20 s)
//   L  its customer loss rate (missed / (served + missed))
//   C  its conversion rate relative to the best agent of the shop in the range (best = 1)
//   S  its mean satisfaction mapped from 1..5 to 0..1
//
// A figure with nothing to measure counts as fully met (G, R, C, S = 1; L = 0), as on the
// Grafana agents board. Agents whose customers wrote in no conversation of the range are listed
// unranked. Ties: more conversations served first, then the agent id.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chatdesk/gateway/report.hpp"

namespace chatdesk::gateway::reports {

struct RankedAgent {
  std::string agent;
  std::optional<double> score;  // empty: unranked
  int place = 0;                // 1 for the first; 0 unranked
  bool first = false, last = false;
  double greeting = 1, replies = 1, loss = 0, conversion = 1, satisfaction = 1;  // G R L C S
};

// Ranked agents first, by place; the unranked after them, by id.
std::vector<RankedAgent> rank_agents(const std::map<std::string, Kpis, std::less<>>& agents);

}  // namespace chatdesk::gateway::reports
