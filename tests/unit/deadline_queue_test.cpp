// DeadlineQueue is private to the engine (monitor/src/engine); the engine's tests reach only the
// few deadlines of their scenarios, so the queue's own edges are tested here.
#include "../../monitor/src/engine/deadline_queue.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

using chatdesk::monitor::DeadlineQueue;

namespace {

// Pops everything, returning the due times in the order they came out.
std::vector<std::int64_t> drain(DeadlineQueue& q) {
  std::vector<std::int64_t> out;
  while (!q.empty()) {
    out.push_back(q.top().due);
    q.pop();
  }
  return out;
}

constexpr std::int64_t kNow = 1'717'380'000'000;  // a realistic epoch ms

}  // namespace

TEST_CASE("deadline queue: pops in time order, whatever the push order", "[deadline_queue]") {
  DeadlineQueue q;
  CHECK(q.empty());
  for (const std::int64_t d : {30'000, 15'000, 20'000, 15'001, 5, 29'999}) q.push({kNow + d, 1, 0});
  CHECK(q.size() == 6);
  CHECK(q.top().due == kNow + 5);
  CHECK(drain(q) == std::vector<std::int64_t>{kNow + 5, kNow + 15'000, kNow + 15'001, kNow + 20'000,
                                              kNow + 29'999, kNow + 30'000});
  CHECK(q.empty());
}

TEST_CASE("deadline queue: entries of one bucket and equal times all come out",
          "[deadline_queue]") {
  DeadlineQueue q;
  q.push({kNow + 100, 1, 0});
  q.push({kNow + 100, 2, 0});
  q.push({kNow + 101, 3, 0});
  q.push({kNow + 99, 4, 0});
  CHECK(q.top().slot == 4);
  q.pop();
  std::vector<std::uint32_t> slots;
  for (int i = 0; i < 2; ++i) {
    CHECK(q.top().due == kNow + 100);
    slots.push_back(q.top().slot);
    q.pop();
  }
  std::sort(slots.begin(), slots.end());
  CHECK(slots == std::vector<std::uint32_t>{1, 2});
  CHECK(q.top().slot == 3);
}

TEST_CASE("deadline queue: a push earlier than the current top becomes the top",
          "[deadline_queue]") {
  DeadlineQueue q;
  q.push({kNow + 20'000, 1, 0});
  q.push({kNow + 40'000, 2, 0});
  CHECK(q.top().due == kNow + 20'000);
  q.push({kNow + 1, 3, 0});  // before the bucket being served
  CHECK(q.top().due == kNow + 1);
  q.pop();
  q.pop();
  q.push({kNow + 30'000, 4, 0});  // between the popped and the remaining one
  CHECK(q.top().due == kNow + 30'000);
  q.push({kNow - 5'000, 5, 0});  // in the past
  CHECK(drain(q) == std::vector<std::int64_t>{kNow - 5'000, kNow + 30'000, kNow + 40'000});
}

TEST_CASE("deadline queue: deadlines beyond the wheel (days ahead) keep their order",
          "[deadline_queue]") {
  DeadlineQueue q;
  const std::int64_t day = 24 * 3600 * 1000;
  q.push({kNow + 2 * day, 1, 0});
  q.push({kNow + day, 2, 0});
  q.push({kNow + day + 65'000, 3, 0});  // just beyond the wheel once it reaches kNow + day
  q.push({kNow + 10, 4, 0});
  q.push({kNow + day + 1, 5, 0});
  CHECK(drain(q) == std::vector<std::int64_t>{kNow + 10, kNow + day, kNow + day + 1,
                                              kNow + day + 65'000, kNow + 2 * day});
}

TEST_CASE("deadline queue: the wheel wraps round many times", "[deadline_queue]") {
  DeadlineQueue q;
  // One deadline 20 s after each "event" every 7 ms for 10 simulated minutes: the wheel of 65 s
  // goes round about nine times.
  std::int64_t expect = kNow + 20'000;
  std::int64_t t = kNow;
  std::size_t popped = 0;
  for (int i = 0; i < 600'000 / 7; ++i, t += 7) {
    q.push({t + 20'000, static_cast<std::uint32_t>(i), 0});
    while (!q.empty() && q.top().due <= t) {
      CHECK(q.top().due == expect);
      expect += 7;
      q.pop();
      ++popped;
    }
  }
  CHECK(popped == 600'000 / 7 - 20'000 / 7 - 1);
}

TEST_CASE("deadline queue: agrees with a sorted list under random pushes and pops",
          "[deadline_queue]") {
  std::mt19937_64 rng(42);
  DeadlineQueue q;
  std::vector<std::int64_t> model;  // kept sorted
  std::int64_t now = kNow;
  for (int i = 0; i < 200'000; ++i) {
    const auto r = rng() % 100;
    if (r < 55 || model.empty()) {
      // Mostly within the wheel, some far ahead, some in the past.
      std::int64_t d;
      if (r < 45)
        d = now + static_cast<std::int64_t>(rng() % 40'000);
      else if (r < 50)
        d = now + static_cast<std::int64_t>(rng() % (3LL * 24 * 3600 * 1000));
      else
        d = now - static_cast<std::int64_t>(rng() % 100);
      q.push({d, 0, 0});
      model.insert(std::upper_bound(model.begin(), model.end(), d), d);
    } else {
      REQUIRE(q.top().due == model.front());
      now = std::max(now, model.front());
      q.pop();
      model.erase(model.begin());
    }
    REQUIRE(q.size() == model.size());
  }
  CHECK(drain(q) == model);
}

TEST_CASE("deadline queue: entries of equal time come out first in, first out",
          "[deadline_queue]") {
  DeadlineQueue q;
  q.push({kNow + 20'000, 7, 0});
  for (std::uint32_t i = 0; i < 5; ++i) q.push({kNow + 15'000, i, 0});
  q.push({kNow + 15'003, 9, 0});
  for (std::uint32_t i = 0; i < 5; ++i) {
    CHECK(q.top().slot == i);
    q.pop();
  }
  // Pushed into the bucket being served: behind the equal ones already there.
  q.push({kNow + 15'003, 10, 0});
  CHECK(q.top().slot == 9);
  q.pop();
  CHECK(q.top().slot == 10);
}

TEST_CASE("deadline queue: a far deadline alone, then nearer ones, stay cheap and in order",
          "[deadline_queue]") {
  // The first push of an empty queue becomes the front, even hours ahead; nearer pushes after it
  // must neither be lost nor pile up in front of it.
  DeadlineQueue q;
  const std::int64_t hours = 7 * 3600 * 1000;
  q.push({kNow + hours, 1, 0});
  std::vector<std::int64_t> expect;
  for (int i = 0; i < 10'000; ++i) {
    const std::int64_t d = kNow + 15'000 + (i * 37) % 70'000;
    q.push({d, 2, 0});
    expect.push_back(d);
  }
  q.push({kNow + 5, 3, 0});  // earlier again
  std::sort(expect.begin(), expect.end());
  expect.insert(expect.begin(), kNow + 5);
  expect.push_back(kNow + hours);
  CHECK(drain(q) == expect);
}
