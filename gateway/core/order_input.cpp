#include "chatdesk/gateway/order_input.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cmath>

#include "chatdesk/gateway/protocol.hpp"

namespace chatdesk::gateway {
namespace {

bool is_order_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || c == '/' || c == '#';
  });
}

constexpr std::int64_t kMaxCents = 1'000'000'000'000;
constexpr std::int64_t kEarliestMs = 946'684'800'000;  // 2000-01-01T00:00:00Z
constexpr std::int64_t kAheadMs = 24LL * 3'600'000;

}  // namespace

std::optional<OrderInput> parse_order(std::string_view body, TimePoint now, std::string& error) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  const auto& o = value.get_object();
  for (const auto& [key, v] : o)
    if (key != "customer" && key != "order_id" && key != "amount" && key != "ts") {
      error =
          "unknown key '" + std::string(key.substr(0, 40)) + "' (customer, order_id, amount, ts)";
      return std::nullopt;
    }
  OrderInput in;
  const auto* customer = o.if_contains("customer");
  if (!customer || !customer->is_string() || !is_valid_client_id(customer->get_string())) {
    error = "customer must be a customer id (1-64 of A-Z a-z 0-9 _ . : -)";
    return std::nullopt;
  }
  in.customer = customer->get_string();
  const auto* order_id = o.if_contains("order_id");
  if (!order_id || !order_id->is_string() || !is_order_id(order_id->get_string())) {
    error = "order_id must be 1-128 of A-Z a-z 0-9 _ . : - / #";
    return std::nullopt;
  }
  in.order_id = order_id->get_string();
  const auto* amount = o.if_contains("amount");
  if (!amount || !amount->is_number()) {
    error = "amount must be a number (the order's total, e.g. 129.90)";
    return std::nullopt;
  }
  const double units = amount->to_number<double>();
  const double cents = std::round(units * 100);
  if (!(units >= 0) || cents > static_cast<double>(kMaxCents) ||
      std::fabs(units * 100 - cents) > 1e-6 * std::max(1.0, cents)) {
    error = "amount must be from 0 to 10000000000 with at most two decimals";
    return std::nullopt;
  }
  in.amount_cents = static_cast<std::int64_t>(cents);
  const auto* ts = o.if_contains("ts");
  if (!ts || !(ts->is_int64() || ts->is_uint64())) {
    error = "ts must be an integer: ms since the epoch";
    return std::nullopt;
  }
  const std::int64_t ms = ts->is_int64() ? ts->get_int64() : -1;
  if (ms < kEarliestMs || ms > to_epoch_ms(now) + kAheadMs) {
    error = "ts must be ms since the epoch, after 2000 and not more than a day ahead";
    return std::nullopt;
  }
  in.ts = from_epoch_ms(ms);
  return in;
}

}  // namespace chatdesk::gateway
