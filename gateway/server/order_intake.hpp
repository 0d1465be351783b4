#pragma once
// POST /api/orders (docs/reports.md, "Orders"): an order the shop's system reports goes to the
// shop's orders stream once (idempotent on order_id), and only for a customer the shop has seen.
// One script in the shop's slot, over the event loop's Redis (so it works on a Cluster too).
// Not thread-safe: on the io_context's thread.

#include <functional>
#include <string>

#include "chatdesk/config/config.hpp"
#include "chatdesk/gateway/order_input.hpp"
#include "redis_pipeline.hpp"

namespace chatdesk::gateway {

// The HTTP answer: 201 stored, 200 the same order again, 409 its id already used for another
// order, 422 a customer the shop never had, 503 Redis unreachable.
struct OrderAnswer {
  int status = 0;
  std::string body;  // JSON: {"order_id", "status": stored|duplicate} or {"error": "..."}
};

void submit_order(RedisPipeline& redis, const config::Config& config, const std::string& shop,
                  const OrderInput& order, std::function<void(OrderAnswer)> done);

}  // namespace chatdesk::gateway
