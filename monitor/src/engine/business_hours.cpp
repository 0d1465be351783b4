#include "chatdesk/monitor/business_hours.hpp"

#include <date/tz.h>

#include <algorithm>
#include <limits>
#include <string>

namespace chatdesk::monitor {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kMinuteMs = 60'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// A zone period's end in ms; the last period of a zone ends at a "max" that does not fit in ms.
std::int64_t end_ms(const date::sys_info& info) {
  const std::int64_t s = info.end.time_since_epoch().count();
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000 - 1;
  return s >= kMaxSeconds ? std::numeric_limits<std::int64_t>::max() : s * 1000;
}

std::int64_t offset_ms(const date::sys_info& info) {
  return static_cast<std::int64_t>(info.offset.count()) * 1000;
}

}  // namespace

BusinessHours::BusinessHours(std::string_view timezone, const std::vector<config::Shift>& shifts) {
  if (shifts.empty()) return;
  for (const auto& shift : shifts) {
    const std::int64_t start = std::clamp(shift.start.minutes, 0, 1439) * kMinuteMs;
    const std::int64_t end = std::clamp(shift.end.minutes, 0, 1439) * kMinuteMs;
    if (end > start) {
      open_.push_back({start, end});
    } else if (end < start) {
      open_.push_back({start, kDayMs});
      if (end > 0) open_.push_back({0, end});
    } else {
      open_.push_back({0, kDayMs});
    }
  }
  std::sort(open_.begin(), open_.end(),
            [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  std::vector<Interval> merged;
  for (const auto& i : open_) {
    if (!merged.empty() && i.begin <= merged.back().end)
      merged.back().end = std::max(merged.back().end, i.end);
    else
      merged.push_back(i);
  }
  open_ = std::move(merged);
  if (open_.size() == 1 && open_.front().begin == 0 && open_.front().end == kDayMs) {
    open_.clear();
    return;  // shifts that cover every minute: no zone needed, no transitions
  }
  // Midnight is no transition when the day ends open and the next one starts open.
  const bool open_across_midnight = open_.front().begin == 0 && open_.back().end == kDayMs;
  for (const auto& i : open_) {
    if (!(i.begin == 0 && open_across_midnight)) boundaries_.push_back(i.begin);
    if (!(i.end == kDayMs && open_across_midnight)) boundaries_.push_back(i.end % kDayMs);
  }
  std::sort(boundaries_.begin(), boundaries_.end());
  zone_ = date::locate_zone(std::string(timezone));
  always_open_ = false;
}

bool BusinessHours::open_at_local_ms(std::int64_t ms_of_day) const {
  for (const auto& i : open_) {
    if (ms_of_day < i.begin) return false;
    if (ms_of_day < i.end) return true;
  }
  return false;
}

bool BusinessHours::is_open(TimePoint t) const {
  if (always_open_) return true;
  const date::sys_info info = zone_->get_info(t);
  const std::int64_t local = to_epoch_ms(t) + offset_ms(info);
  return open_at_local_ms(local - floor_div(local, kDayMs) * kDayMs);
}

TimePoint BusinessHours::next_change(TimePoint t, bool open_at_t) const {
  // Within one period of the zone, local time is the instant plus a fixed offset, so the next
  // boundary of the daily pattern is a real flip. A period's end (a DST change) may or may not
  // flip the state; then look on from there. Boundaries come daily, so this loops a few times.
  TimePoint cur = t;
  for (int i = 0; i < 16; ++i) {
    const date::sys_info info = zone_->get_info(cur);
    const std::int64_t offset = offset_ms(info);
    const std::int64_t local = to_epoch_ms(cur) + offset;
    const std::int64_t day_start = floor_div(local, kDayMs) * kDayMs;
    const std::int64_t ms_of_day = local - day_start;
    const auto it = std::upper_bound(boundaries_.begin(), boundaries_.end(), ms_of_day);
    const std::int64_t next_local =
        it != boundaries_.end() ? day_start + *it : day_start + kDayMs + boundaries_.front();
    const std::int64_t candidate = next_local - offset;
    const std::int64_t period_end = end_ms(info);
    if (candidate < period_end) return from_epoch_ms(candidate);
    cur = from_epoch_ms(period_end);
    if (is_open(cur) != open_at_t) return cur;
  }
  return cur;
}

std::optional<TimePoint> BusinessHours::next_transition(TimePoint t) const {
  if (always_open_) return std::nullopt;
  return next_change(t, is_open(t));
}

std::optional<TimePoint> BusinessHours::next_opening(TimePoint t) const {
  if (always_open_ || is_open(t)) return t;
  return next_change(t, false);
}

Duration BusinessHours::open_time_between(TimePoint a, TimePoint b) const {
  if (b <= a) return Duration::zero();
  if (always_open_) return b - a;
  Duration open{0};
  TimePoint cur = a;
  bool state = is_open(cur);
  while (cur < b) {
    const TimePoint next = std::min(next_change(cur, state), b);
    if (state) open += next - cur;
    cur = next;
    state = is_open(cur);
  }
  return open;
}

TimePoint BusinessHours::after_open_time(TimePoint from, Duration open_time) const {
  if (open_time <= Duration::zero()) return from;
  if (always_open_) return from + open_time;
  Duration remaining = open_time;
  TimePoint cur = from;
  bool state = is_open(cur);
  for (;;) {
    const TimePoint next = next_change(cur, state);
    if (state) {
      if (remaining <= next - cur) return cur + remaining;
      remaining -= next - cur;
    }
    cur = next;
    state = is_open(cur);
  }
}

}  // namespace chatdesk::monitor
