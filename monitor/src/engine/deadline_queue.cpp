#include "deadline_queue.hpp"

#include <algorithm>
#include <array>

namespace chatdesk::monitor {
namespace {

struct Later {
  bool operator()(const DeadlineQueue::Entry& a, const DeadlineQueue::Entry& b) const {
    return a.due > b.due;
  }
};

}  // namespace

DeadlineQueue::DeadlineQueue() : wheel_(kBuckets) {}

void DeadlineQueue::push(const Entry& e) {
  const std::int64_t bucket = bucket_of(e.due);
  if (size_ == 0) front_bucket_ = bucket + 1;
  ++size_;
  if (bucket == front_bucket_ - 1) {
    // Into the bucket being served, behind the entries of the same time (first in, first out).
    front_.insert(std::lower_bound(front_.begin(), front_.end(), e, Later{}), e);
  } else if (bucket < front_bucket_) {
    lower_front(bucket);
    front_.push_back(e);
  } else if (bucket - front_bucket_ < static_cast<std::int64_t>(kBuckets)) {
    to_wheel(e, bucket);
  } else {
    to_overflow(e);
  }
}

void DeadlineQueue::to_overflow(const Entry& e) {
  overflow_.push_back(e);
  std::push_heap(overflow_.begin(), overflow_.end(), Later{});
}

// A deadline earlier than the bucket being served (which can be far ahead when the queue holds
// few entries): that bucket goes back into the wheel, and `bucket` becomes the front. The wheel
// then reaches less far, so what lies beyond it now moves to the overflow heap.
void DeadlineQueue::lower_front(std::int64_t bucket) {
  const std::int64_t old_front = front_bucket_;
  front_bucket_ = bucket + 1;
  const std::int64_t reach = front_bucket_ + static_cast<std::int64_t>(kBuckets);
  for (std::int64_t b = std::max(reach, old_front);
       b < old_front + static_cast<std::int64_t>(kBuckets); ++b) {
    const auto i = static_cast<std::size_t>(b) & (kBuckets - 1);
    if (((occupied_[i / 64] >> (i % 64)) & 1U) == 0) continue;
    for (const Entry& e : wheel_[i]) to_overflow(e);
    in_wheel_ -= wheel_[i].size();
    wheel_[i].clear();
    occupied_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
  }
  // Back to front, so that entries of equal time keep their order.
  const std::int64_t served = old_front - 1;
  for (auto it = front_.rbegin(); it != front_.rend(); ++it) {
    if (served < reach)
      to_wheel(*it, served);
    else
      to_overflow(*it);
  }
  front_.clear();
}

void DeadlineQueue::pop() {
  front_.pop_back();
  --size_;
  if (front_.empty() && size_ > 0) refill();
}

void DeadlineQueue::to_wheel(const Entry& e, std::int64_t bucket) {
  const auto i = static_cast<std::size_t>(bucket) & (kBuckets - 1);
  wheel_[i].push_back(e);
  occupied_[i / 64] |= std::uint64_t{1} << (i % 64);
  ++in_wheel_;
}

// Moves the overflow entries that the wheel now reaches into it.
void DeadlineQueue::migrate() {
  while (!overflow_.empty() &&
         bucket_of(overflow_.front().due) - front_bucket_ < static_cast<std::int64_t>(kBuckets)) {
    const Entry e = overflow_.front();
    std::pop_heap(overflow_.begin(), overflow_.end(), Later{});
    overflow_.pop_back();
    to_wheel(e, bucket_of(e.due));
  }
}

// front_ ran empty: makes the earliest non-empty bucket the new front.
void DeadlineQueue::refill() {
  if (in_wheel_ == 0) {
    front_bucket_ = bucket_of(overflow_.front().due);  // nothing before it: jump there
    migrate();
  }
  // The first occupied bucket at or after front_bucket_, cyclically: all wheel entries lie in
  // [front_bucket_, front_bucket_ + kBuckets), so cyclic order is time order.
  const auto start = static_cast<std::size_t>(front_bucket_) & (kBuckets - 1);
  std::size_t found = kBuckets;
  for (std::size_t k = 0; k <= kBuckets / 64 && found == kBuckets; ++k) {
    const std::size_t word = (start / 64 + k) % (kBuckets / 64);
    std::uint64_t bits = occupied_[word];
    if (k == 0) bits &= ~std::uint64_t{0} << (start % 64);                 // not before start
    if (k == kBuckets / 64) bits &= ~(~std::uint64_t{0} << (start % 64));  // wrapped round
    if (bits != 0) found = word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
  }
  const std::int64_t bucket =
      front_bucket_ + static_cast<std::int64_t>((found - start) & (kBuckets - 1));
  // All its entries are within one bucket of 16 ms: a counting sort by the millisecond puts
  // them in front_ latest first, so that every pop is a pop_back.
  std::vector<Entry>& b = wheel_[found];
  constexpr std::int64_t kLast = (std::int64_t{1} << kBucketShift) - 1;
  std::array<std::uint32_t, kLast + 2> at{};
  for (const Entry& e : b) ++at[static_cast<std::size_t>(kLast - (e.due & kLast)) + 1];
  for (std::size_t i = 1; i < at.size(); ++i) at[i] += at[i - 1];
  front_.resize(b.size());
  // Latest pushed first among equal times, so that the first pushed is popped first.
  for (auto it = b.rbegin(); it != b.rend(); ++it)
    front_[at[static_cast<std::size_t>(kLast - (it->due & kLast))]++] = *it;
  b.clear();
  occupied_[found / 64] &= ~(std::uint64_t{1} << (found % 64));
  in_wheel_ -= front_.size();
  front_bucket_ = bucket + 1;
  migrate();
}

}  // namespace chatdesk::monitor
