#pragma once
// Time as the whole project sees it: wall-clock milliseconds since the Unix epoch, read through an
// injected Clock so that tests move time by hand instead of sleeping (Envoy's TimeSource idea).

#include <atomic>
#include <chrono>
#include <cstdint>

namespace chatdesk {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t to_epoch_ms(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint from_epoch_ms(std::int64_t ms) { return TimePoint{Duration{ms}}; }

// Source of "now". Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The real wall clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

// A clock that only moves when told to; for tests. Thread-safe (atomic), so a test thread may
// advance it while another reads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = from_epoch_ms(1'700'000'000'000)) : ms_(to_epoch_ms(start)) {}
  TimePoint now() const override { return from_epoch_ms(ms_.load()); }
  void set(TimePoint t) { ms_.store(to_epoch_ms(t)); }
  void advance(Duration d) { ms_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace chatdesk
