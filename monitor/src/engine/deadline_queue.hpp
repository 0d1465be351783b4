#pragma once
// The SLA engine's pending deadlines (millisecond times) as a priority queue: top() is always an
// earliest entry. A binary heap over ~100k entries cost the engine a pop of 17 levels of random
// memory for every deadline, and nearly every deadline is pushed and popped (most are stale by
// then: the agent answered). Here deadlines fall into a wheel of 4096 buckets of 16 ms (65 s
// ahead, enough for the greeting and reply limits): a push appends to its bucket, and the
// earliest bucket is sorted (by counting, 16 possible times) when it is reached. Deadlines further
// ahead wait in an overflow heap until the wheel reaches them. Amortised O(1) per push and pop
// while deadlines lie within the wheel; no allocation once the buckets have grown to the load.
// Entries of equal time come out in the order they were pushed (those pushed more than 65 s
// ahead of the earliest excepted). Not thread-safe.

#include <array>
#include <cstdint>
#include <vector>

namespace chatdesk::monitor {

class DeadlineQueue {
 public:
  struct Entry {
    std::int64_t due;  // ms since the epoch
    std::uint32_t slot;
    std::uint32_t token;  // the owner's, to recognise stale entries
  };

  DeadlineQueue();

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // An entry with the smallest `due`; the queue must not be empty.
  const Entry& top() const { return front_.back(); }
  void push(const Entry& e);
  // Removes top(); the queue must not be empty.
  void pop();

 private:
  static constexpr unsigned kBucketShift = 4;  // 16 ms
  static constexpr std::size_t kBuckets = 4096;
  static std::int64_t bucket_of(std::int64_t due) { return due >> kBucketShift; }

  void refill();
  void migrate();
  void to_wheel(const Entry& e, std::int64_t bucket);
  void to_overflow(const Entry& e);
  void lower_front(std::int64_t bucket);

  // Invariants: every entry in front_ has a bucket < front_bucket_, every one in the wheel a
  // bucket in [front_bucket_, front_bucket_ + kBuckets), every one in overflow_ a later bucket;
  // front_ is empty only when the whole queue is.
  std::vector<Entry> front_;     // the earliest bucket, sorted latest first
  std::vector<Entry> overflow_;  // min-heap
  std::vector<std::vector<Entry>> wheel_;
  std::array<std::uint64_t, kBuckets / 64> occupied_{};  // non-empty wheel buckets
  std::int64_t front_bucket_ = 0;
  std::size_t in_wheel_ = 0;
  std::size_t size_ = 0;
};

}  // namespace chatdesk::monitor
