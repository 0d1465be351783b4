#include "chatdesk/gateway/report_ranking.hpp"

#include <algorithm>

namespace chatdesk::gateway::reports {

std::vector<RankedAgent> rank_agents(const std::map<std::string, Kpis, std::less<>>& agents) {
  double best_conversion = 0;
  for (const auto& [agent, k] : agents)
    if (k.served + k.missed > 0)
      best_conversion = std::max(best_conversion, k.conversion_rate.value_or(0));

  std::vector<RankedAgent> ranked, unranked;
  std::map<std::string_view, std::uint32_t> served;
  for (const auto& [agent, k] : agents) {
    RankedAgent a;
    a.agent = agent;
    if (k.served + k.missed == 0) {
      unranked.push_back(std::move(a));
      continue;
    }
    a.greeting = k.greeted_within_target.value_or(1);
    a.replies = k.replies_within_limit.value_or(1);
    a.loss = k.loss_rate.value_or(0);
    a.conversion = best_conversion > 0 ? k.conversion_rate.value_or(0) / best_conversion : 1;
    a.satisfaction = k.rating_mean ? (*k.rating_mean - 1) / 4 : 1;
    a.score = 25 * a.greeting + 25 * a.replies + 20 * (1 - a.loss) + 20 * a.conversion +
              10 * a.satisfaction;
    served[agent] = k.served;
    ranked.push_back(std::move(a));
  }
  std::sort(ranked.begin(), ranked.end(), [&](const RankedAgent& x, const RankedAgent& y) {
    if (*x.score != *y.score) return *x.score > *y.score;
    if (served[x.agent] != served[y.agent]) return served[x.agent] > served[y.agent];
    return x.agent < y.agent;
  });
  for (std::size_t i = 0; i < ranked.size(); ++i) ranked[i].place = static_cast<int>(i) + 1;
  if (!ranked.empty()) ranked.front().first = true;
  if (ranked.size() > 1) ranked.back().last = true;
  ranked.insert(ranked.end(), std::make_move_iterator(unranked.begin()),
                std::make_move_iterator(unranked.end()));
  return ranked;
}

}  // namespace chatdesk::gateway::reports
