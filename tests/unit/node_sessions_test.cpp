// Tests of NodeSessions (gateway/core/node_sessions.cpp): an edge finds the sessions to close when
// their shop's home moves or its batches were lost; a home finds the sessions of a shop it gave up
// and those of an edge that died, each once.

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "chatdesk/gateway/node_sessions.hpp"

namespace chatdesk::gateway::testing {
namespace {

std::vector<SessionId> sorted(std::vector<SessionId> v) {
  std::sort(v.begin(), v.end());
  return v;
}
std::vector<SessionId> sessions_of(const NodeSessions::Taken& taken) {
  std::vector<SessionId> v;
  for (const auto& [s, kind] : taken) v.push_back(s);
  return sorted(v);
}

}  // namespace

TEST_CASE("node sessions: an edge closes what goes to a home that is not the shop's any more",
          "[scale]") {
  NodeSessions nodes(1);
  const auto a = global_session(1, 1), b = global_session(1, 2), c = global_session(1, 3);
  nodes.forward(a, "demo", 2);
  nodes.forward(b, "demo", 2);
  nodes.forward(c, "tea", 3);
  CHECK(nodes.home_of(a) == NodeId{2});
  CHECK_FALSE(nodes.home_of(global_session(1, 9)));

  std::map<std::string, std::optional<NodeId>, std::less<>> homes{{"demo", 2}, {"tea", 3}};
  const NodeSessions::HomeOf home = [&](std::string_view shop) {
    const auto it = homes.find(shop);
    return it == homes.end() ? std::nullopt : it->second;
  };
  std::vector<SessionId> stale;
  nodes.stale_forwards(home, stale);
  CHECK(stale.empty());

  homes["demo"] = 3;  // taken over
  nodes.stale_forwards(home, stale);
  CHECK(sorted(stale) == std::vector<SessionId>{a, b});
  stale.clear();
  homes["tea"] = std::nullopt;  // no home right now
  nodes.forget_forward(a);
  nodes.forget_forward(b);
  nodes.stale_forwards(home, stale);
  CHECK(stale == std::vector<SessionId>{c});

  std::vector<SessionId> to;
  nodes.forwards_to(3, to);
  CHECK(to == std::vector<SessionId>{c});
  CHECK(nodes.forwarded_count() == 1);
}

TEST_CASE("node sessions: a home takes a shop's sessions, an edge's, a dead edge's, each once",
          "[scale]") {
  NodeSessions nodes(5);
  const auto own = global_session(5, 1);
  const auto e2 = global_session(2, 1), e2b = global_session(2, 2), e3 = global_session(3, 1);
  nodes.serve(own, "demo", SessionKind::agent);
  nodes.serve(e2, "demo", SessionKind::customer);
  nodes.serve(e2b, "tea", SessionKind::lead);
  nodes.serve(e3, "tea", SessionKind::customer);
  CHECK(nodes.is_local(own));
  CHECK_FALSE(nodes.is_local(e2));
  REQUIRE(nodes.served(e2b));
  CHECK(nodes.served(e2b)->shop == "tea");
  CHECK(nodes.served(e2b)->kind == SessionKind::lead);

  SECTION("a shop given up") {
    NodeSessions::Taken taken;
    nodes.take_shop("demo", taken);
    CHECK(sessions_of(taken) == sorted({own, e2}));
    taken.clear();
    nodes.take_shop("demo", taken);
    CHECK(taken.empty());
    CHECK(nodes.served_count() == 2);
  }
  SECTION("an edge whose batches were lost") {
    NodeSessions::Taken taken;
    const NodeId edges[] = {2};
    nodes.take_edges(edges, taken);
    CHECK(sessions_of(taken) == sorted({e2, e2b}));
    CHECK_FALSE(nodes.served(e2));
  }
  SECTION("an edge gone from the live set; this node's own sessions stay") {
    NodeSessions::Taken taken;
    const NodeId live[] = {2};  // neither 3 nor this node 5 listed
    nodes.take_dead_edges(live, taken);
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].first == e3);
    CHECK(taken[0].second == SessionKind::customer);
    CHECK(nodes.served(own));
    CHECK(nodes.served(e2));
  }
  nodes.forget_served(own);
  CHECK_FALSE(nodes.served(own));
}

}  // namespace chatdesk::gateway::testing
