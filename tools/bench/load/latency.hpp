#pragma once
// Latency samples of one measured window, kept exactly (no histogram buckets) so that the
// percentiles printed are real samples: nearest-rank p50/p99/p99.9 over every message delivered in
// the window. A 5 s window at 200k messages/s holds 1M samples (8 MB). Not thread-safe: the load
// generator records from its one io_context thread.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace chatdesk::bench {

struct LatencySummary {
  std::size_t count = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

using Nanos = std::int64_t;  // steady_clock nanoseconds

// A FIFO of send times, one per message in flight on one direction of one pair. Servers deliver a
// conversation's messages in order, so the oldest stamp belongs to the message that arrives next.
class TimeRing {
 public:
  void push(Nanos t);
  bool pop(Nanos& t);
  std::size_t size() const { return size_; }

 private:
  std::vector<Nanos> buf_ = std::vector<Nanos>(8);
  std::size_t head_ = 0, size_ = 0;
};

class LatencyRecorder {
 public:
  void reserve(std::size_t n) { samples_.reserve(n); }
  void add(std::int64_t nanoseconds) { samples_.push_back(nanoseconds < 0 ? 0 : nanoseconds); }
  void clear() { samples_.clear(); }
  std::size_t size() const { return samples_.size(); }

  // Sorts the samples (once; later adds are allowed and sort again).
  LatencySummary summarize();

  // Nearest rank: the smallest sample with at least p of the samples at or below it (p in 0..1).
  // 0 for no samples.
  std::int64_t percentile(double p);

 private:
  std::vector<std::int64_t> samples_;
  bool sorted_ = false;
  std::size_t sorted_size_ = 0;
  void sort();
};

}  // namespace chatdesk::bench
