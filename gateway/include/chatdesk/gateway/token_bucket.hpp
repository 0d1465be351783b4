#pragma once
// Per-connection message rate limiting (docs/security.md, "Limits"): a token bucket and the policy
// that closes a connection which keeps exceeding it. Pure: time comes in as explicit time points
// (the gateway passes its injected Clock's now()). Not thread-safe: one connection's thread.

#include <cstdint>

#include "chatdesk/config/time.hpp"

namespace chatdesk::gateway {

// Holds up to `burst` tokens and gains `per_second` tokens a second; each frame takes one. Starts
// full. Integer arithmetic in thousandths of a token, so boundaries are exact: with 20 a second,
// the next token is there exactly 50 ms after the last one was taken from an empty bucket. A time
// point earlier than the last one seen (a wall clock stepped back) adds nothing.
class TokenBucket {
 public:
  // per_second and burst at least 1 (the config loader checks).
  TokenBucket(std::uint32_t per_second, std::uint32_t burst, TimePoint now);

  // Takes one token if there is one at `now`; false (and nothing taken) otherwise.
  bool try_take(TimePoint now);
  // Whole tokens available at the last time seen (for tests and diagnostics).
  std::uint64_t tokens() const { return level_ / kScale; }

 private:
  static constexpr std::uint64_t kScale = 1000;  // thousandths of a token; 1 ms of refill each

  void refill(TimePoint now);

  std::uint64_t per_second_;
  std::uint64_t capacity_;  // burst * kScale
  std::uint64_t level_;     // thousandths of a token
  TimePoint last_;
};

// What to do with one incoming frame.
enum class RateVerdict {
  accept,  // process it
  refuse,  // answer rate_limited and drop it
  close,   // answer rate_limited, drop it and close the connection (1008)
};

// The token bucket plus the rule for persistent flooders: more than `burst` refused frames in a
// row (no accepted frame between them) close the connection. Once it said close, it keeps saying
// close.
class MessageRateLimiter {
 public:
  MessageRateLimiter(std::uint32_t per_second, std::uint32_t burst, TimePoint now)
      : bucket_(per_second, burst, now), burst_(burst) {}

  RateVerdict on_frame(TimePoint now);
  std::uint64_t refused_in_a_row() const { return refused_in_a_row_; }

 private:
  TokenBucket bucket_;
  std::uint64_t burst_;
  std::uint64_t refused_in_a_row_ = 0;
  bool closed_ = false;
};

}  // namespace chatdesk::gateway
