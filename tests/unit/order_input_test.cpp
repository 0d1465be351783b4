// The body of POST /api/orders (gateway/include/chatdesk/gateway/order_input.hpp): a good order,
// and every way a bad one is refused with a sentence saying why.

#include <catch2/catch.hpp>

#include "chatdesk/gateway/order_input.hpp"

namespace {

using chatdesk::from_epoch_ms;
using chatdesk::gateway::parse_order;

const auto kNow = from_epoch_ms(1'770'000'000'000);

}  // namespace

TEST_CASE("order: a good body, the amount in cents", "[reports][orders]") {
  std::string error;
  const auto o = parse_order(
      R"({"customer":"u-3f2a","order_id":"SO-2026/0001#1","amount":129.9,"ts":1769990000000})",
      kNow, error);
  REQUIRE(o);
  CHECK(o->customer == "u-3f2a");
  CHECK(o->order_id == "SO-2026/0001#1");
  CHECK(o->amount_cents == 12'990);
  CHECK(o->ts == from_epoch_ms(1'769'990'000'000));
  CHECK(parse_order(R"({"customer":"u","order_id":"1","amount":0,"ts":1769990000000})", kNow, error)
            ->amount_cents == 0);
  CHECK(parse_order(R"({"customer":"u","order_id":"1","amount":0.07,"ts":1769990000000})", kNow,
                    error)
            ->amount_cents == 7);
  CHECK(parse_order(R"({"customer":"u","order_id":"1","amount":10000000000,"ts":1769990000000})",
                    kNow, error)
            ->amount_cents == 1'000'000'000'000);
}

TEST_CASE("order: a bad body is refused with what is wrong", "[reports][orders]") {
  const std::string ok_ts = R"("ts":1769990000000)";
  for (auto [body, why] : std::initializer_list<std::pair<std::string, std::string>>{
           {"", "JSON object"},
           {"[1,2]", "JSON object"},
           {"{\"customer\":\"u\",", "JSON object"},
           {R"({"order_id":"1","amount":1,)" + ok_ts + "}", "customer"},
           {R"({"customer":"顾客","order_id":"1","amount":1,)" + ok_ts + "}", "customer"},
           {R"({"customer":7,"order_id":"1","amount":1,)" + ok_ts + "}", "customer"},
           {R"({"customer":"u","amount":1,)" + ok_ts + "}", "order_id"},
           {R"({"customer":"u","order_id":"a b","amount":1,)" + ok_ts + "}", "order_id"},
           {R"({"customer":"u","order_id":")" + std::string(129, 'x') + R"(","amount":1,)" + ok_ts +
                "}",
            "order_id"},
           {R"({"customer":"u","order_id":"1",)" + ok_ts + "}", "amount"},
           {R"({"customer":"u","order_id":"1","amount":"12",)" + ok_ts + "}", "amount"},
           {R"({"customer":"u","order_id":"1","amount":-1,)" + ok_ts + "}", "amount"},
           {R"({"customer":"u","order_id":"1","amount":1.005,)" + ok_ts + "}", "two decimals"},
           {R"({"customer":"u","order_id":"1","amount":10000000000.01,)" + ok_ts + "}", "amount"},
           {R"({"customer":"u","order_id":"1","amount":1})", "ts"},
           {R"({"customer":"u","order_id":"1","amount":1,"ts":1769990000000.5})", "ts"},
           {R"({"customer":"u","order_id":"1","amount":1,"ts":"today"})", "ts"},
           {R"({"customer":"u","order_id":"1","amount":1,"ts":946684799999})", "after 2000"},
           {R"({"customer":"u","order_id":"1","amount":1,"ts":1770086400001})", "a day ahead"},
           {R"({"customer":"u","order_id":"1","amount":1,)" + ok_ts + R"(,"agent":"a1"})",
            "unknown key 'agent'"},
       }) {
    INFO(body);
    std::string error;
    CHECK_FALSE(parse_order(body, kNow, error));
    CHECK_THAT(error, Catch::Matchers::Contains(why));
  }
  // Exactly a day ahead is still taken (a shop's clock a little fast).
  std::string error;
  CHECK(
      parse_order(R"({"customer":"u","order_id":"1","amount":1,"ts":1770086400000})", kNow, error));
}
