#include "chatdesk/gateway/token_bucket.hpp"

#include <algorithm>

namespace chatdesk::gateway {

TokenBucket::TokenBucket(std::uint32_t per_second, std::uint32_t burst, TimePoint now)
    : per_second_(std::max<std::uint32_t>(per_second, 1)),
      capacity_(std::uint64_t{std::max<std::uint32_t>(burst, 1)} * kScale),
      level_(capacity_),
      last_(now) {}

void TokenBucket::refill(TimePoint now) {
  if (now <= last_) return;  // same instant, or the clock stepped back: nothing earned
  const auto elapsed = static_cast<std::uint64_t>((now - last_).count());
  last_ = now;
  // per_second tokens a second = per_second thousandths a millisecond. Cap the span first so the
  // product cannot overflow: anything longer than it takes to fill the bucket fills it.
  const std::uint64_t to_fill = (capacity_ - level_ + per_second_ - 1) / per_second_;
  level_ = elapsed >= to_fill ? capacity_ : level_ + elapsed * per_second_;
}

bool TokenBucket::try_take(TimePoint now) {
  refill(now);
  if (level_ < kScale) return false;
  level_ -= kScale;
  return true;
}

RateVerdict MessageRateLimiter::on_frame(TimePoint now) {
  if (closed_) return RateVerdict::close;
  if (bucket_.try_take(now)) {
    refused_in_a_row_ = 0;
    return RateVerdict::accept;
  }
  if (++refused_in_a_row_ > burst_) {
    closed_ = true;
    return RateVerdict::close;
  }
  return RateVerdict::refuse;
}

}  // namespace chatdesk::gateway
