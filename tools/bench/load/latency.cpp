#include "latency.hpp"

#include <algorithm>
#include <cmath>

namespace chatdesk::bench {

void LatencyRecorder::sort() {
  if (sorted_ && sorted_size_ == samples_.size()) return;
  std::sort(samples_.begin(), samples_.end());
  sorted_ = true;
  sorted_size_ = samples_.size();
}

std::int64_t LatencyRecorder::percentile(double p) {
  if (samples_.empty()) return 0;
  sort();
  double rank = std::ceil(p * static_cast<double>(samples_.size()));
  std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return samples_[std::min(index, samples_.size() - 1)];
}

void TimeRing::push(Nanos t) {
  if (size_ == buf_.size()) {
    std::vector<Nanos> grown(buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) grown[i] = buf_[(head_ + i) % buf_.size()];
    buf_ = std::move(grown);
    head_ = 0;
  }
  buf_[(head_ + size_) % buf_.size()] = t;
  ++size_;
}

bool TimeRing::pop(Nanos& t) {
  if (size_ == 0) return false;
  t = buf_[head_];
  head_ = (head_ + 1) % buf_.size();
  --size_;
  return true;
}

LatencySummary LatencyRecorder::summarize() {
  LatencySummary s;
  s.count = samples_.size();
  if (samples_.empty()) return s;
  auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1000.0; };
  s.p50_us = us(percentile(0.50));
  s.p99_us = us(percentile(0.99));
  s.p999_us = us(percentile(0.999));
  s.max_us = us(samples_.back());
  long double total = 0;
  for (auto v : samples_) total += v;
  s.mean_us = static_cast<double>(total / samples_.size()) / 1000.0;
  return s;
}

}  // namespace chatdesk::bench
