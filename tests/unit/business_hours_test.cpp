#include "chatdesk/monitor/business_hours.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

#include "sla_engine_fixture.hpp"

using chatdesk::Duration;
using chatdesk::TimePoint;
using chatdesk::config::Shift;
using chatdesk::monitor::BusinessHours;
using chatdesk::monitor::testing::shanghai;
using namespace std::chrono_literals;

namespace {

Shift shift(int start_h, int start_m, int end_h, int end_m) {
  return Shift{"s", {start_h * 60 + start_m}, {end_h * 60 + end_m}};
}

TimePoint utc(int y, unsigned mo, unsigned d, int h, int mi = 0) {
  return shanghai(y, mo, d, h, mi) + 8h;
}

// The night market: day 08:30–17:30 and night 17:30–01:00, Shanghai time.
const BusinessHours& night_market() {
  static const BusinessHours hours("Asia/Shanghai", {shift(8, 30, 17, 30), shift(17, 30, 1, 0)});
  return hours;
}

}  // namespace

TEST_CASE("business hours: no shifts is open around the clock", "[business_hours]") {
  const BusinessHours hours("Asia/Shanghai", {});
  const TimePoint t = shanghai(2024, 11, 25, 3, 0);
  CHECK(hours.always_open());
  CHECK(hours.is_open(t));
  CHECK_FALSE(hours.next_transition(t));
  CHECK(hours.next_opening(t) == t);
  CHECK(hours.open_time_between(t, t + 5h) == 5h);
  CHECK(hours.after_open_time(t, 30s) == t + 30s);
  CHECK(BusinessHours().is_open(t));
}

TEST_CASE("business hours: the night shift ends at 01:00 sharp, the day shift opens 08:30",
          "[business_hours]") {
  const auto& hours = night_market();
  CHECK_FALSE(hours.always_open());
  CHECK(hours.is_open(shanghai(2024, 11, 26, 0, 59, 59, 999)));
  CHECK_FALSE(hours.is_open(shanghai(2024, 11, 26, 1, 0)));
  CHECK_FALSE(hours.is_open(shanghai(2024, 11, 26, 8, 29, 59, 999)));
  CHECK(hours.is_open(shanghai(2024, 11, 26, 8, 30)));
  // The day shift hands over to the night shift without a gap, and the night crosses midnight.
  CHECK(hours.is_open(shanghai(2024, 11, 26, 17, 29, 59, 999)));
  CHECK(hours.is_open(shanghai(2024, 11, 26, 17, 30)));
  CHECK(hours.is_open(shanghai(2024, 11, 26, 23, 59, 59, 999)));
  CHECK(hours.is_open(shanghai(2024, 11, 27, 0, 0)));
}

TEST_CASE("business hours: transitions skip the seamless shift change", "[business_hours]") {
  const auto& hours = night_market();
  CHECK(hours.next_transition(shanghai(2024, 11, 26, 10, 0)) == shanghai(2024, 11, 27, 1, 0));
  CHECK(hours.next_transition(shanghai(2024, 11, 26, 0, 30)) == shanghai(2024, 11, 26, 1, 0));
  CHECK(hours.next_transition(shanghai(2024, 11, 26, 1, 0)) == shanghai(2024, 11, 26, 8, 30));
  CHECK(hours.next_transition(shanghai(2024, 11, 26, 8, 29, 59, 999)) ==
        shanghai(2024, 11, 26, 8, 30));
  CHECK(hours.next_transition(shanghai(2024, 11, 26, 8, 30)) == shanghai(2024, 11, 27, 1, 0));
}

TEST_CASE("business hours: next opening for the customers' notice", "[business_hours]") {
  const auto& hours = night_market();
  CHECK(hours.next_opening(shanghai(2024, 11, 26, 3, 0)) == shanghai(2024, 11, 26, 8, 30));
  CHECK(hours.next_opening(shanghai(2024, 11, 26, 1, 0)) == shanghai(2024, 11, 26, 8, 30));
  const TimePoint open = shanghai(2024, 11, 26, 23, 0);
  CHECK(hours.next_opening(open) == open);
}

TEST_CASE("business hours: open time pauses over the closed night", "[business_hours]") {
  const auto& hours = night_market();
  const TimePoint arrived = shanghai(2024, 11, 26, 0, 59, 50);
  CHECK(hours.open_time_between(arrived, shanghai(2024, 11, 26, 1, 0)) == 10s);
  CHECK(hours.open_time_between(arrived, shanghai(2024, 11, 26, 8, 30)) == 10s);
  CHECK(hours.open_time_between(arrived, shanghai(2024, 11, 26, 8, 30, 5)) == 15s);
  CHECK(hours.open_time_between(shanghai(2024, 11, 26, 2, 0), shanghai(2024, 11, 26, 8, 0)) == 0ms);
  // 08:30 to 01:00 is 16.5 h a day.
  CHECK(hours.open_time_between(shanghai(2024, 11, 25, 12, 0), shanghai(2024, 11, 28, 12, 0)) ==
        3 * (16h + 30min));
  CHECK(hours.open_time_between(arrived, arrived) == 0ms);
  CHECK(hours.open_time_between(arrived + 1s, arrived) == 0ms);
}

TEST_CASE("business hours: where a clock reaches a duration of open time", "[business_hours]") {
  const auto& hours = night_market();
  const TimePoint arrived = shanghai(2024, 11, 26, 0, 59, 50);
  CHECK(hours.after_open_time(arrived, 5s) == shanghai(2024, 11, 26, 0, 59, 55));
  // Reached exactly at closing time: it happens at 01:00, not at the next opening.
  CHECK(hours.after_open_time(arrived, 10s) == shanghai(2024, 11, 26, 1, 0));
  CHECK(hours.after_open_time(arrived, 15s) == shanghai(2024, 11, 26, 8, 30, 5));
  CHECK(hours.after_open_time(arrived, 30s) == shanghai(2024, 11, 26, 8, 30, 20));
  // Started while closed: the clock starts at the opening.
  CHECK(hours.after_open_time(shanghai(2024, 11, 26, 3, 0), 15s) ==
        shanghai(2024, 11, 26, 8, 30, 15));
  // More than a day of open time.
  CHECK(hours.after_open_time(shanghai(2024, 11, 26, 8, 30), 16h + 30min + 1s) ==
        shanghai(2024, 11, 27, 8, 30, 1));
  CHECK(hours.after_open_time(arrived, 0ms) == arrived);
}

TEST_CASE("business hours: the night shift alone", "[business_hours]") {
  const BusinessHours hours("Asia/Shanghai", {shift(17, 30, 1, 0)});
  CHECK_FALSE(hours.is_open(shanghai(2024, 11, 26, 16, 0)));
  CHECK(hours.is_open(shanghai(2024, 11, 26, 17, 30)));
  CHECK(hours.is_open(shanghai(2024, 11, 27, 0, 30)));
  CHECK_FALSE(hours.is_open(shanghai(2024, 11, 27, 1, 0)));
  CHECK(hours.next_transition(shanghai(2024, 11, 26, 12, 0)) == shanghai(2024, 11, 26, 17, 30));
  CHECK(hours.open_time_between(shanghai(2024, 11, 26, 12, 0), shanghai(2024, 11, 27, 12, 0)) ==
        7h + 30min);
}

TEST_CASE("business hours: overlapping shifts merge, midnight splits nothing", "[business_hours]") {
  const BusinessHours overlapping("UTC", {shift(8, 0, 12, 0), shift(11, 0, 14, 0)});
  CHECK(overlapping.next_transition(utc(2024, 11, 26, 9)) == utc(2024, 11, 26, 14));
  const BusinessHours around_midnight("UTC", {shift(20, 0, 0, 0), shift(0, 0, 4, 0)});
  CHECK(around_midnight.next_transition(utc(2024, 11, 26, 21)) == utc(2024, 11, 27, 4));
}

TEST_CASE("business hours: a shift starting and ending at once is all day", "[business_hours]") {
  const BusinessHours hours("Asia/Shanghai", {shift(9, 0, 9, 0)});
  CHECK(hours.always_open());
  CHECK_FALSE(hours.next_transition(utc(2024, 11, 26, 9)));
}

TEST_CASE("business hours: shifts follow the local wall clock across DST", "[business_hours]") {
  // New York: 2024-03-10 02:00 EST (UTC-5) becomes 03:00 EDT (UTC-4).
  const BusinessHours office("America/New_York", {shift(9, 0, 17, 0)});
  CHECK(office.is_open(utc(2024, 3, 8, 14)));         // 09:00 EST
  CHECK_FALSE(office.is_open(utc(2024, 3, 11, 12)));  // 08:00 EDT
  CHECK(office.is_open(utc(2024, 3, 11, 13)));        // 09:00 EDT
  CHECK(office.next_transition(utc(2024, 3, 9, 22)) == utc(2024, 3, 10, 13));

  // A night shift over the change has lost an hour (spring) or gained one (autumn).
  const BusinessHours nights("America/New_York", {shift(22, 0, 6, 0)});
  CHECK(nights.open_time_between(utc(2024, 3, 9, 20), utc(2024, 3, 10, 12)) == 7h);
  CHECK(nights.next_transition(utc(2024, 3, 10, 4)) == utc(2024, 3, 10, 10));  // 06:00 EDT
  CHECK(nights.open_time_between(utc(2024, 11, 2, 20), utc(2024, 11, 3, 14)) == 9h);
}

TEST_CASE("business hours: an unknown time zone is refused at construction", "[business_hours]") {
  CHECK_THROWS_AS(BusinessHours("Mars/Olympus_Mons", {shift(8, 0, 17, 0)}), std::runtime_error);
}
