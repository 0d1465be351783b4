// The agents' ranking (gateway/include/chatdesk/gateway/report_ranking.hpp): the documented score
// worked out by hand, first and last place, ties, and agents who cannot be ranked.

#include <catch2/catch.hpp>

#include "chatdesk/gateway/report_ranking.hpp"

namespace {

using namespace chatdesk::gateway::reports;
using Catch::Matchers::WithinAbs;

Kpis agent(std::uint32_t served, std::uint32_t missed, double greeted, double replies,
           std::optional<double> conversion, std::optional<double> rating) {
  Kpis k;
  k.served = served;
  k.missed = missed;
  k.conversations = served + missed;
  k.greeted_within_target = greeted;
  k.replies_within_limit = replies;
  k.loss_rate = static_cast<double>(missed) / (served + missed);
  k.conversion_rate = conversion;
  k.rating_mean = rating;
  return k;
}

}  // namespace

TEST_CASE("ranking: the score from the shop rules' KPIs, first and last marked", "[reports]") {
  std::map<std::string, Kpis, std::less<>> agents;
  // The scripted month's agents (report_test.cpp): a1 greets on time and converts half, a2 lost
  // one of two customers but converted its served one.
  agents["a1"] = agent(2, 0, 1.0, 0.5, 0.5, 5.0);
  agents["a2"] = agent(1, 1, 0.0, 1.0, 1.0, 4.0);
  agents["a3"] = Kpis{};  // no conversation: unranked
  agents["a4"] = agent(1, 0, 1.0, 1.0, 0.0, std::nullopt);
  const auto ranking = rank_agents(agents);
  REQUIRE(ranking.size() == 4);
  // a4: 25 + 25 + 20 + 20 x 0 (converted nothing, best is a2's 1.0) + 10 (no rating) = 80
  CHECK(ranking[0].agent == "a4");
  CHECK_THAT(*ranking[0].score, WithinAbs(80.0, 1e-9));
  // a1: 25 x 1 + 25 x 0.5 + 20 x (1 - 0) + 20 x 0.5 + 10 x (5 - 1) / 4 = 77.5
  CHECK(ranking[1].agent == "a1");
  CHECK_THAT(*ranking[1].score, WithinAbs(77.5, 1e-9));
  CHECK(ranking[1].conversion == 0.5);
  // a2: 0 + 25 + 20 x 0.5 + 20 x 1 + 10 x 0.75 = 62.5
  CHECK(ranking[2].agent == "a2");
  CHECK_THAT(*ranking[2].score, WithinAbs(62.5, 1e-9));
  CHECK(ranking[2].satisfaction == 0.75);
  CHECK(ranking[0].place == 1);
  CHECK(ranking[0].first);
  CHECK_FALSE(ranking[0].last);
  CHECK(ranking[2].place == 3);
  CHECK(ranking[2].last);
  CHECK_FALSE(ranking[1].first);
  CHECK_FALSE(ranking[1].last);
  CHECK(ranking[3].agent == "a3");
  CHECK_FALSE(ranking[3].score);
  CHECK(ranking[3].place == 0);
  CHECK_FALSE(ranking[3].first);
  CHECK_FALSE(ranking[3].last);
}

TEST_CASE("ranking: ties go to more conversations served, then the agent id", "[reports]") {
  std::map<std::string, Kpis, std::less<>> agents;
  agents["b"] = agent(3, 0, 1.0, 1.0, std::nullopt, std::nullopt);
  agents["a"] = agent(3, 0, 1.0, 1.0, std::nullopt, std::nullopt);
  agents["c"] = agent(5, 0, 1.0, 1.0, std::nullopt, std::nullopt);
  const auto ranking = rank_agents(agents);
  REQUIRE(ranking.size() == 3);
  CHECK(ranking[0].agent == "c");
  CHECK(ranking[1].agent == "a");
  CHECK(ranking[2].agent == "b");
  // Nobody converted anything in the shop: conversion counts as met for all.
  CHECK(ranking[0].conversion == 1.0);
  CHECK_THAT(*ranking[0].score, WithinAbs(100.0, 1e-9));
}

TEST_CASE("ranking: one ranked agent is first and not last", "[reports]") {
  std::map<std::string, Kpis, std::less<>> agents;
  agents["solo"] = agent(1, 0, 1.0, 1.0, 1.0, 5.0);
  const auto ranking = rank_agents(agents);
  REQUIRE(ranking.size() == 1);
  CHECK(ranking[0].first);
  CHECK_FALSE(ranking[0].last);
}
