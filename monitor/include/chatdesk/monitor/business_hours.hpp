#pragma once
// A shop's opening hours: its shifts, read as wall-clock times in the shop's own time zone, turned
// into instants on the project's clock. SLA clocks only run while the shop is open, and customers
// who write while it is closed are told when it opens (docs/sla.md, "Business hours").
// Immutable after construction, so thread-safe; no allocation after construction.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"

namespace date {
class time_zone;
}

namespace chatdesk::monitor {

class BusinessHours {
 public:
  // Open around the clock.
  BusinessHours() = default;
  // A shift whose end is before its start crosses midnight (17:30–01:00 is 17:30..24:00 and
  // 00:00..01:00 of the next day); one whose end equals its start is read as all day (the config
  // loader refuses those). No shifts: open around the clock, and `timezone` is not looked up.
  // Throws std::runtime_error for an unknown time zone: start-up only, the zone is looked up
  // once here because locate_zone is slow.
  BusinessHours(std::string_view timezone, const std::vector<config::Shift>& shifts);
  explicit BusinessHours(const config::ShopConfig& shop)
      : BusinessHours(shop.timezone, shop.shifts) {}

  bool always_open() const { return always_open_; }
  // Shifts are half-open: open at 17:30:00.000, closed at 01:00:00.000.
  bool is_open(TimePoint t) const;
  // The first instant after `t` at which is_open() changes; nullopt if it never does.
  std::optional<TimePoint> next_transition(TimePoint t) const;
  // `t` if the shop is open at `t`, else the instant it next opens; nullopt if it never opens
  // (only possible for a schedule with no open time, which the constructor cannot build).
  std::optional<TimePoint> next_opening(TimePoint t) const;
  // How much of [a, b) the shop is open; zero when b <= a.
  Duration open_time_between(TimePoint a, TimePoint b) const;
  // The earliest instant x >= from with open_time_between(from, x) == open_time: where an SLA
  // clock started at `from` reaches `open_time`. `from` itself for a zero or negative duration.
  TimePoint after_open_time(TimePoint from, Duration open_time) const;

 private:
  struct Interval {
    std::int64_t begin;  // ms after local midnight, inclusive
    std::int64_t end;    // exclusive, at most one day
  };
  // The next instant after `t` where the state changes, given the state at `t`.
  TimePoint next_change(TimePoint t, bool open_at_t) const;
  bool open_at_local_ms(std::int64_t ms_of_day) const;

  bool always_open_ = true;
  const date::time_zone* zone_ = nullptr;
  std::vector<Interval> open_;            // one local day's open time, sorted, merged
  std::vector<std::int64_t> boundaries_;  // ms of the local day where the state flips, sorted
};

}  // namespace chatdesk::monitor
