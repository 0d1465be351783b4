#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sla_engine_fixture.hpp"

using namespace chatdesk;
using namespace chatdesk::monitor;
using namespace chatdesk::monitor::testing;

namespace {

// What the engine should know about a conversation, kept the simple way.
struct Model {
  bool wrote = false;
  bool greeted = false;
  bool waiting = false;
  TimePoint clock{};  // first customer message, or start of the current wait
};

std::optional<TimePoint> expected_deadline(const std::map<std::string, Model>& open) {
  std::optional<TimePoint> next;
  for (const auto& [id, m] : open) {
    if (!m.waiting) continue;
    const TimePoint due = m.clock + (m.greeted ? 20s : 15s);
    if (!next || due < *next) next = due;
  }
  return next;
}

}  // namespace

TEST_CASE_METHOD(EngineFixture, "churn: thousands of conversations come and go", "[sla][churn]") {
  std::mt19937 random(20241126);
  std::map<std::string, Model> open;
  std::vector<std::string> ended;
  std::size_t ends = 0;
  TimePoint now = t0;
  auto pick = [&](auto& container) {
    auto it = container.begin();
    std::advance(it, std::uniform_int_distribution<std::size_t>(0, container.size() - 1)(random));
    return it;
  };
  // 12 000 steps of 1 ms: no deadline falls due, so the model needs no firing logic.
  for (int step = 0; step < 12'000; ++step) {
    now += 1ms;
    const int what = std::uniform_int_distribution<int>(0, 9)(random);
    if (open.empty() || what < 3) {
      // Mostly the desk's "c-" + 16 hex digits, sometimes ids too long to be kept inline.
      std::string id = "c-" + std::to_string(random()) + std::to_string(step);
      if (what == 0) id += std::string(60, 'x');
      engine.customer_arrived(id, "demo", now);
      open.emplace(id, Model{});
    } else if (what < 6) {
      auto it = pick(open);
      engine.customer_message(it->first, "在吗", now);
      Model& m = it->second;
      if (!m.waiting) {
        m.waiting = true;
        m.clock = now;
      }
      m.wrote = true;
    } else if (what < 8) {
      auto it = pick(open);
      engine.agent_message(it->first, "alice", "您好", now);
      it->second.greeted = true;
      it->second.waiting = false;
    } else if (what < 9) {
      auto it = pick(open);
      engine.customer_left(it->first, now);
      ended.push_back(it->first);
      open.erase(it);
      ++ends;
    } else if (!ended.empty()) {
      // Events about conversations that are gone change nothing.
      const std::string& gone = *pick(ended);
      engine.customer_message(gone, "还在吗", now);
      engine.customer_left(gone, now);
    }
    const auto waiting = static_cast<std::size_t>(
        std::count_if(open.begin(), open.end(), [](const auto& e) { return e.second.waiting; }));
    REQUIRE(engine.customers_waiting("demo") == waiting);
    REQUIRE(engine.next_deadline() == expected_deadline(open));
  }
  CHECK(sink.outcomes.size() == ends);
  CHECK(sink.violations.empty());
  CHECK(open.size() > 1000);
}
