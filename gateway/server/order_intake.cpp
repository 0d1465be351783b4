#include "order_intake.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "async_redis.hpp"
#include "chatdesk/gateway/store_codec.hpp"

namespace chatdesk::gateway {
namespace {

// KEYS: the shop's customers, the order's mark, the orders stream. ARGV: customer, order id,
// amount in cents, ts (ms), mark ttl (ms), min id (ms). The mark holds what was stored, so that
// the same order again is told from another one under the same id.
constexpr std::string_view kOrderScript = R"lua(
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 'unknown' end
local what = ARGV[3] .. '|' .. ARGV[1] .. '|' .. ARGV[4]
if not redis.call('SET', KEYS[2], what, 'NX', 'PX', ARGV[5]) then
  if redis.call('GET', KEYS[2]) == what then return 'duplicate' end
  return 'conflict'
end
redis.call('XADD', KEYS[3], 'MINID', '~', ARGV[6], '*', 'order_id', ARGV[2], 'customer',
           ARGV[1], 'amount_cents', ARGV[3], 'ts', ARGV[4])
return 'stored'
)lua";

std::string error_body(std::string_view message) {
  return boost::json::serialize(boost::json::object{{"error", message}});
}

}  // namespace

void submit_order(RedisPipeline& redis, const config::Config& config, const std::string& shop,
                  const OrderInput& order, std::function<void(OrderAnswer)> done) {
  if (!redis.connected()) return done({503, error_body("redis unavailable; send the order again")});
  const std::int64_t ts = to_epoch_ms(order.ts);
  const std::string amount = std::to_string(order.amount_cents);
  const std::string ts_text = std::to_string(ts);
  const std::string ttl = std::to_string(config.reports.retention.count());
  const std::string min_id =
      std::to_string(std::max<std::int64_t>(0, ts - config.reports.retention.count()));
  const std::string customers = store::customers_key(shop);
  const std::string mark = store::order_mark_key(shop, order.order_id);
  const std::string stream = store::shop_orders_key(shop);
  RedisBatch batch;
  batch.add({"EVAL", kOrderScript, "3", customers, mark, stream, order.customer, order.order_id,
             amount, ts_text, ttl, min_id});
  redis.send(batch, [order_id = order.order_id, done = std::move(done)](
                        const boost::system::error_code& ec, std::span<redisReply* const> replies) {
    if (ec || replies.empty() || replies[0]->type != REDIS_REPLY_STRING)
      return done({503, error_body("redis did not store the order; send it again")});
    const std::string_view outcome(replies[0]->str, replies[0]->len);
    const auto ok = [&](std::string_view status) {
      return boost::json::serialize(
          boost::json::object{{"order_id", order_id}, {"status", status}});
    };
    if (outcome == "stored") return done({201, ok("stored")});
    if (outcome == "duplicate") return done({200, ok("duplicate")});
    if (outcome == "conflict")
      return done({409, error_body("order_id already used for another order; nothing changed")});
    done(
        {422, error_body("unknown customer: no conversation of this shop had it; nothing stored")});
  });
}

}  // namespace chatdesk::gateway
