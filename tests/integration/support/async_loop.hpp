#pragma once
// Test support for the event-loop Redis clients (AsyncRedis, AsyncRedisCluster, LeaseKeeper):
// an io_context run in the test thread in short slices until a condition holds (bounded, never
// a bare sleep), and a recorder of what one batch's completion saw. Not thread-safe: one test
// thread drives them.

#include <hiredis/hiredis.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace chatdesk::test {

struct AsyncLoop {
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(ioc);

  // Runs the loop until `done()` holds (true) or `timeout` passes (false).
  template <typename Pred>
  bool until(Pred done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      ioc.run_for(std::chrono::milliseconds(2));
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) { ioc.run_for(d); }
};

// One reply as a value (hiredis' replies live only during the completion).
struct BatchReply {
  int type = 0;
  std::string str;
  long long integer = 0;
};

// What one batch's completion saw.
struct BatchResult {
  int calls = 0;
  boost::system::error_code ec;
  std::vector<BatchReply> replies;
  std::chrono::steady_clock::time_point at;
};

// A completion handler that fills `r`, and appends `index` to `order` when given.
inline std::function<void(const boost::system::error_code&, std::span<redisReply* const>)>
record_batch(BatchResult& r, std::vector<int>* order = nullptr, int index = 0) {
  return [&r, order, index](const boost::system::error_code& ec,
                            std::span<redisReply* const> replies) {
    ++r.calls;
    r.ec = ec;
    r.at = std::chrono::steady_clock::now();
    r.replies.clear();
    for (const redisReply* x : replies) {
      REQUIRE(x != nullptr);
      r.replies.push_back(
          {x->type, x->str ? std::string(x->str, x->len) : std::string(), x->integer});
    }
    if (order) order->push_back(index);
  };
}

}  // namespace chatdesk::test
