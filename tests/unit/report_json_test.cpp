// The reports API's formats (gateway/include/chatdesk/gateway/report_json.hpp) and its range
// parameters (reports::parse_range).

#include <catch2/catch.hpp>
#include <date/tz.h>

#include <boost/json.hpp>

#include "chatdesk/gateway/report_json.hpp"

namespace {

using namespace chatdesk::gateway;
using namespace chatdesk::gateway::reports;
using chatdesk::Duration;
namespace json = boost::json;

constexpr date::local_days kMar1 = date::local_days{date::year{2026} / 3 / 1};

Report two_agents() {
  Report r;
  r.shop.conversations = 3;
  r.shop.served = 2;
  r.shop.missed = 1;
  r.shop.first_response_mean = Duration{1'500};
  r.shop.loss_rate = 1.0 / 3;
  r.shop.violations[static_cast<std::size_t>(chatdesk::monitor::Rule::missed)] = 1;
  Kpis a1;
  a1.conversations = 2;
  a1.served = 1;
  a1.missed = 1;
  a1.first_response_mean = Duration{1'000};
  a1.loss_rate = 0.5;
  a1.greeted_within_target = 0.5;
  Kpis a2;
  a2.conversations = 1;
  a2.served = 1;
  a2.first_response_mean = Duration{2'000};
  a2.loss_rate = 0.0;
  a2.rating_mean = 4.5;
  a2.ratings = 2;
  r.agents = {{"a1", a1}, {"a2", a2}, {"a3", Kpis{}}};
  r.buckets.push_back({kMar1, r.shop, r.agents});
  return r;
}

}  // namespace

TEST_CASE("report json: every figure, null where nothing was measured", "[reports]") {
  const Report r = two_agents();
  const auto ranking = rank_agents(r.agents);
  const auto text =
      report_json({"tea", "Asia/Shanghai", kMar1, kMar1 + date::days{30}, Bucket::day, false}, r,
                  ranking);
  const auto o = json::parse(text).as_object();
  CHECK(o.at("shop").as_string() == "tea");
  CHECK(o.at("from").as_string() == "2026-03-01");
  CHECK(o.at("to").as_string() == "2026-03-31");
  CHECK(o.at("bucket").as_string() == "day");
  CHECK(o.at("variant").as_string() == "all");
  const auto& k = o.at("kpis").as_object();
  CHECK(k.at("conversations").to_number<int>() == 3);
  CHECK(k.at("first_response_mean_ms").to_number<int>() == 1500);
  CHECK(k.at("first_response_median_ms").is_null());
  CHECK(k.at("rating_mean").is_null());
  CHECK(k.at("violations").as_object().at("missed").to_number<int>() == 1);
  CHECK(k.at("violations").as_object().size() == chatdesk::monitor::kRuleCount);
  const auto& ranked = o.at("ranking").as_array();
  REQUIRE(ranked.size() == 3);
  CHECK(ranked[0].at("agent").as_string() == "a2");
  CHECK(ranked[0].at("first").as_bool());
  CHECK(ranked[0].at("kpis").as_object().at("rating_mean").to_number<double>() == 4.5);
  CHECK(ranked[1].at("agent").as_string() == "a1");
  CHECK(ranked[1].at("last").as_bool());
  CHECK(ranked[2].at("agent").as_string() == "a3");
  CHECK(ranked[2].at("score").is_null());
  CHECK(ranked[2].at("place").to_number<int>() == 0);
  const auto& buckets = o.at("buckets").as_array();
  REQUIRE(buckets.size() == 1);
  CHECK(buckets[0].at("start").as_string() == "2026-03-01");
  CHECK(buckets[0].at("agents").as_object().size() == 3);
}

TEST_CASE("report csv: a byte order mark, CRLF, one row per agent, ranked first", "[reports]") {
  const Report r = two_agents();
  const std::string csv = ranking_csv(r, rank_agents(r.agents));
  CHECK(csv.rfind("\xEF\xBB\xBF", 0) == 0);
  const std::string expected =
      "\xEF\xBB\xBF"
      "place,agent,score,first,last,conversations,served,missed,first_response_mean_ms,"
      "first_response_median_ms,first_response_p90_ms,greeted_within_target,loss_rate,"
      "conversion_rate,orders,order_amount_cents,rating_mean,ratings\r\n"
      // a2: 25 + 25 + 20 + 20 + 10 x 0.875 = 98.75
      "1,a2,98.8,1,,1,1,0,2000,,,,0.0000,,0,0,4.50,2\r\n"
      // a1: 25 x 0.5 + 25 + 20 x 0.5 + 20 + 10 = 77.5
      "2,a1,77.5,,1,2,1,1,1000,,,0.5000,0.5000,,0,0,,0\r\n"
      ",a3,,,,0,0,0,,,,,,,0,0,,0\r\n";
  CHECK(csv == expected);
}

TEST_CASE("report range: a month, or from and to, and nothing else", "[reports]") {
  std::string error;
  auto march = parse_range("2026-03", "", "", "", error);
  REQUIRE(march);
  CHECK(march->first == kMar1);
  CHECK(march->last == kMar1 + date::days{30});
  CHECK(march->bucket == Bucket::day);
  auto february = parse_range("2028-02", "", "", "week", error);  // a leap year
  REQUIRE(february);
  CHECK(february->last == date::local_days{date::year{2028} / 2 / 29});
  CHECK(february->bucket == Bucket::week);
  auto span = parse_range("", "2026-03-05", "2026-03-05", "month", error);
  REQUIRE(span);
  CHECK(span->first == span->last);
  CHECK(parse_range("", "2026-01-01", "2026-12-31", "", error));  // 365 days
  CHECK(parse_range("", "2028-01-01", "2028-12-31", "", error));  // 366 days
  for (auto [month, from, to, bucket] :
       {std::tuple{"2026-13", "", "", ""}, {"2026-3", "", "", ""}, {"2026-03-01", "", "", ""},
        {"26-03", "", "", ""}, {"", "2026-03-01", "", ""}, {"", "2026-02-30", "2026-03-01", ""},
        {"", "2026-03-02", "2026-03-01", ""}, {"", "2026-01-01", "2027-01-02", ""},
        {"2026-03", "2026-03-01", "2026-03-02", ""}, {"2026-03", "", "", "year"},
        {"", "", "", ""}, {"+026-03", "", "", ""}}) {
    INFO(month << " | " << from << " | " << to << " | " << bucket);
    error.clear();
    CHECK_FALSE(parse_range(month, from, to, bucket, error));
    CHECK_FALSE(error.empty());
  }
}
