// The per-connection message rate limit (docs/security.md, "Limits") at its exact boundaries.

#include <catch2/catch.hpp>

#include "chatdesk/gateway/token_bucket.hpp"

namespace {

using chatdesk::from_epoch_ms;
using chatdesk::TimePoint;
using chatdesk::gateway::MessageRateLimiter;
using chatdesk::gateway::RateVerdict;
using chatdesk::gateway::TokenBucket;
using namespace std::chrono_literals;

const TimePoint t0 = from_epoch_ms(1'700'000'000'000);

// Takes every token there is at `now`; returns how many.
int drain(TokenBucket& bucket, TimePoint now) {
  int taken = 0;
  while (bucket.try_take(now)) ++taken;
  return taken;
}

}  // namespace

TEST_CASE("a token bucket starts full and gives exactly burst tokens at once", "[rate]") {
  TokenBucket bucket(20, 40, t0);
  CHECK(bucket.tokens() == 40);
  CHECK(drain(bucket, t0) == 40);
  CHECK(bucket.tokens() == 0);
  CHECK_FALSE(bucket.try_take(t0));
}

TEST_CASE("a token comes back exactly 1/per_second after the bucket ran dry", "[rate]") {
  TokenBucket bucket(20, 40, t0);
  REQUIRE(drain(bucket, t0) == 40);
  CHECK_FALSE(bucket.try_take(t0 + 49ms));  // 0.98 of a token
  CHECK(bucket.try_take(t0 + 50ms));
  CHECK_FALSE(bucket.try_take(t0 + 50ms));
  CHECK_FALSE(bucket.try_take(t0 + 99ms));
  CHECK(bucket.try_take(t0 + 100ms));
}

TEST_CASE("partial refill is kept between refused attempts", "[rate]") {
  TokenBucket bucket(3, 2, t0);  // one token every 333.3 ms
  REQUIRE(drain(bucket, t0) == 2);
  CHECK_FALSE(bucket.try_take(t0 + 333ms));  // 0.999 of a token
  CHECK(bucket.try_take(t0 + 334ms));        // 1.002
  // 0.002 left over; the next whole token needs 998 thousandths = 333 ms (332 is 0.998 short).
  CHECK_FALSE(bucket.try_take(t0 + 334ms + 332ms));
  CHECK(bucket.try_take(t0 + 334ms + 333ms));
}

TEST_CASE("refill beyond a full bucket is not kept", "[rate]") {
  TokenBucket bucket(3, 1, t0);
  REQUIRE(bucket.try_take(t0));
  CHECK(bucket.try_take(t0 + 334ms));  // 1.002 earned, but the bucket holds 1
  CHECK_FALSE(bucket.try_take(t0 + 334ms + 333ms));
  CHECK(bucket.try_take(t0 + 334ms + 334ms));
}

TEST_CASE("the bucket never holds more than burst, however long it rests", "[rate]") {
  TokenBucket bucket(20, 40, t0);
  REQUIRE(drain(bucket, t0) == 40);
  CHECK(drain(bucket, t0 + 2s) == 40);  // 40 tokens take exactly 2 s
  CHECK(drain(bucket, t0 + 2s + 24h * 365) == 40);
  TokenBucket one(1, 1, t0);
  CHECK(drain(one, t0 + 1000s) == 1);
}

TEST_CASE("one token a second, burst one", "[rate]") {
  TokenBucket bucket(1, 1, t0);
  CHECK(bucket.try_take(t0));
  CHECK_FALSE(bucket.try_take(t0 + 999ms));
  CHECK(bucket.try_take(t0 + 1000ms));
  CHECK_FALSE(bucket.try_take(t0 + 1999ms));
  CHECK(bucket.try_take(t0 + 2000ms));
}

TEST_CASE("a clock stepping back adds nothing and takes nothing away", "[rate]") {
  TokenBucket bucket(20, 40, t0);
  REQUIRE(drain(bucket, t0) == 40);
  CHECK_FALSE(bucket.try_take(t0 - 10s));
  // Time is counted from the latest point seen, so going back and forward again earns nothing
  // twice: from t0 - 10 s to t0 + 50 ms would be 60 s of refill, but only 50 ms counts.
  CHECK(bucket.try_take(t0 + 50ms));
  CHECK_FALSE(bucket.try_take(t0 + 50ms));
}

TEST_CASE("large rates and bursts do not overflow", "[rate]") {
  TokenBucket bucket(1'000'000, 1'000'000, t0);
  CHECK(bucket.tokens() == 1'000'000);
  for (int i = 0; i < 1'000'000; ++i) REQUIRE(bucket.try_take(t0));
  CHECK_FALSE(bucket.try_take(t0));
  CHECK(bucket.try_take(t0 + 1ms));  // 1000 a millisecond
  CHECK(bucket.tokens() == 999);
  CHECK(drain(bucket, t0 + 24h * 365 * 100) == 1'000'000);
}

TEST_CASE("the limiter refuses over budget and closes after more than burst refusals in a row",
          "[rate]") {
  MessageRateLimiter limiter(1, 3, t0);
  for (int i = 0; i < 3; ++i) CHECK(limiter.on_frame(t0) == RateVerdict::accept);
  CHECK(limiter.on_frame(t0) == RateVerdict::refuse);
  CHECK(limiter.on_frame(t0) == RateVerdict::refuse);
  CHECK(limiter.on_frame(t0) == RateVerdict::refuse);
  CHECK(limiter.refused_in_a_row() == 3);
  CHECK(limiter.on_frame(t0) == RateVerdict::close);  // the 4th refusal in a row: more than 3
  // Once closing, even a frame within budget is not let through.
  CHECK(limiter.on_frame(t0 + 1h) == RateVerdict::close);
}

TEST_CASE("an accepted frame resets the refusal streak", "[rate]") {
  MessageRateLimiter limiter(1, 3, t0);
  for (int i = 0; i < 3; ++i) REQUIRE(limiter.on_frame(t0) == RateVerdict::accept);
  for (int i = 0; i < 3; ++i) REQUIRE(limiter.on_frame(t0) == RateVerdict::refuse);
  CHECK(limiter.on_frame(t0 + 1000ms) == RateVerdict::accept);  // refilled: the streak ends
  CHECK(limiter.refused_in_a_row() == 0);
  for (int i = 0; i < 3; ++i) CHECK(limiter.on_frame(t0 + 1000ms) == RateVerdict::refuse);
  CHECK(limiter.on_frame(t0 + 1000ms) == RateVerdict::close);
}
