#pragma once
// The body of POST /api/orders (docs/reports.md, "Orders"): what the shop's own system reports
// when a customer orders, checked before anything is stored. Pure; thread-safe.
//
//   {"customer": "<customer id>", "order_id": "<the shop's id>", "amount": 129.90,
//    "ts": <ms since the epoch>}

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chatdesk/config/time.hpp"

namespace chatdesk::gateway {

struct OrderInput {
  std::string customer;  // a customer id as the gateway gave it (1-64 of A-Z a-z 0-9 _ . : -)
  std::string order_id;  // 1-128 of A-Z a-z 0-9 _ . : - / #
  std::int64_t amount_cents = 0;  // 0 to 10^12 cents, at most two decimals given
  TimePoint ts{};                 // after 2000-01-01, at most a day ahead of `now`
};

// nullopt with `error` (a sentence for the caller) when the body is not such an object: not
// JSON, a key missing, unknown or of the wrong type, a value out of range.
std::optional<OrderInput> parse_order(std::string_view body, TimePoint now, std::string& error);

}  // namespace chatdesk::gateway
