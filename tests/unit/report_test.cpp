// The reports core (gateway/include/chatdesk/gateway/report.hpp): a scripted month of records
// whose figures are worked out by hand below, and each edge on its own: month boundaries in
// Asia/Shanghai, a conversation across midnight, quiet hours at their edges, weeks from Monday,
// an agent with no conversation.

#include <date/tz.h>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "chatdesk/gateway/report.hpp"

namespace {

using namespace chatdesk::gateway;
using namespace chatdesk::gateway::reports;
using Catch::Matchers::WithinAbs;
using chatdesk::Duration;
using chatdesk::TimePoint;
using date::days;
using date::local_days;

const date::time_zone& shanghai() {
  return *date::locate_zone("Asia/Shanghai");
}

// A local time in Shanghai as the UTC instant a record carries.
TimePoint at(local_days day, int hour, int minute, int second = 0) {
  const auto local = date::local_time<Duration>{day} + std::chrono::hours{hour} +
                     std::chrono::minutes{minute} + std::chrono::seconds{second};
  return shanghai().to_sys(local);
}

constexpr local_days kMar1 = local_days{date::year{2026} / 3 / 1};

ConversationRecord record(std::string id, std::vector<std::string> agents, std::string_view outcome,
                          TimePoint ended) {
  ConversationRecord r;
  r.conversation = std::move(id);
  r.shop = "demo";
  r.customer = "cust-" + r.conversation;
  r.agents = std::move(agents);
  r.created = ended - std::chrono::minutes{10};
  r.ended = ended;
  r.outcome = outcome;
  r.greeting = outcome == "empty" ? "none" : "on_time";
  return r;
}

std::size_t rule(chatdesk::monitor::Rule r) {
  return static_cast<std::size_t>(r);
}

// The scripted month: five conversations of March 2026 with their orders and ratings.
struct ScriptedMonth {
  std::vector<ConversationRecord> records;
  std::vector<Order> orders;
  std::vector<Rating> ratings;

  ScriptedMonth() {
    using chatdesk::monitor::Rule;
    // c1, a1, 1 March: greeted at 4 s, two waits of 6 s on average (8 s at most), typed 60 cpm.
    auto c1 = record("c1", {"a1"}, "served", at(kMar1, 0, 30));
    c1.first_response = Duration{4'000};
    c1.reply_waits = 2;
    c1.reply_wait_mean = Duration{6'000};
    c1.reply_wait_max = Duration{8'000};
    c1.typing_cpm = 60.0;
    // c2, a1, 10 March: greeted at 12 s, one wait of 25 s (over the 20 s limit), 40 cpm.
    auto c2 = record("c2", {"a1"}, "served", at(kMar1 + days{9}, 10, 0));
    c2.first_response = Duration{12'000};
    c2.reply_waits = 1;
    c2.reply_wait_mean = Duration{25'000};
    c2.reply_wait_max = Duration{25'000};
    c2.typing_cpm = 40.0;
    c2.violations[rule(Rule::reply_wait)] = 1;
    // c3, transferred from a1 to a2, 10 March: greeted at 20 s (a warning), no wait after that.
    auto c3 = record("c3", {"a1", "a2"}, "served", at(kMar1 + days{9}, 18, 0));
    c3.first_response = Duration{20'000};
    c3.greeting = "warning";
    c3.violations[rule(Rule::greeting)] = 1;
    c3.transfers = 1;
    // c4, a2, 20 March: the customer wrote and nobody answered.
    auto c4 = record("c4", {"a2"}, "missed", at(kMar1 + days{19}, 12, 0));
    c4.greeting = "breach";
    c4.greeting_level = 1;
    c4.violations[rule(Rule::greeting)] = 2;
    c4.violations[rule(Rule::missed)] = 1;
    // c5, never assigned, 31 March 23:59:59 local: nobody wrote.
    auto c5 = record("c5", {}, "empty", at(kMar1 + days{30}, 23, 59, 59));
    records = {c1, c2, c3, c4, c5};
    orders = {{"o1", "cust-c1", 12'990, at(kMar1, 1, 0), "c1", "a1"},
              {"o2", "cust-c1", 1'000, at(kMar1, 2, 0), "c1", "a1"},
              {"o3", "cust-c3", 5'000, at(kMar1 + days{10}, 9, 0), "c3", "a2"},
              {"o4", "someone", 7'000, at(kMar1 + days{11}, 9, 0), "", ""},
              {"o5", "cust-x", 9'000, at(kMar1 + days{11}, 9, 0), "c-of-february", "a1"}};
    ratings = {{"c1", 5, "很好", at(kMar1, 0, 31)},
               {"c3", 3, "", at(kMar1 + days{9}, 18, 1)},
               {"c3", 4, "改了", at(kMar1 + days{9}, 18, 5)}};
  }

  Report month(Bucket bucket = Bucket::day,
               const std::vector<std::string>& agents = {"a1", "a2", "a3"}) const {
    return build_report(records, orders, ratings, shanghai(), {kMar1, kMar1 + days{30}, bucket},
                        Limits{}, std::nullopt, agents);
  }
};

}  // namespace

TEST_CASE("report: a scripted month, every shop figure as worked out by hand", "[reports]") {
  const Report r = ScriptedMonth().month();
  const Kpis& k = r.shop;
  CHECK(k.conversations == 5);
  CHECK(k.served == 3);
  CHECK(k.missed == 1);
  CHECK(k.empty == 1);
  // First responses 4 s, 12 s, 20 s: mean 12 s; nearest rank: median the 2nd, p90 the 3rd.
  CHECK(k.first_responses == 3);
  CHECK(k.first_response_mean == Duration{12'000});
  CHECK(k.first_response_median == Duration{12'000});
  CHECK(k.first_response_p90 == Duration{20'000});
  // Of the 4 conversations where the customer wrote: 2 on time, 3 within the limit.
  CHECK(k.greeted_within_target == 0.5);
  CHECK(k.greeted_within_limit == 0.75);
  // Waits: (2 x 6 s + 1 x 25 s) / 3 = 12.333 s, rounded to the ms.
  CHECK(k.reply_waits == 3);
  CHECK(k.reply_wait_mean == Duration{12'333});
  // Served c1 (8 s max), c2 (25 s), c3 (none): 2 of 3 within 20 s.
  REQUIRE(k.replies_within_limit);
  CHECK_THAT(*k.replies_within_limit, WithinAbs(2.0 / 3, 1e-12));
  CHECK(k.loss_rate == 0.25);
  CHECK(k.typing_cpm_mean == 50.0);
  using chatdesk::monitor::Rule;
  CHECK(k.violations[rule(Rule::greeting)] == 3);
  CHECK(k.violations[rule(Rule::reply_wait)] == 1);
  CHECK(k.violations[rule(Rule::missed)] == 1);
  CHECK(k.violations[rule(Rule::typing_rate)] == 0);
  CHECK(k.transfers == 1);
  // Orders of c1 (two) and c3: 2 of 3 served conversations converted; o4 (no conversation) and
  // o5 (a conversation not in the range) count nowhere.
  CHECK(k.converted == 2);
  CHECK(k.orders == 3);
  CHECK(k.order_amount_cents == 18'990);
  REQUIRE(k.conversion_rate);
  CHECK_THAT(*k.conversion_rate, WithinAbs(2.0 / 3, 1e-12));
  // Ratings 5 (c1) and 4 (c3's later one replaces its 3).
  CHECK(k.ratings == 2);
  CHECK(k.rating_mean == 4.5);
  CHECK(r.excluded_quiet == 0);
}

TEST_CASE("report: per agent, a conversation counts for its last owner", "[reports]") {
  const Report r = ScriptedMonth().month();
  REQUIRE(r.agents.size() == 3);
  const Kpis& a1 = r.agents.at("a1");  // c1, c2 (c3 went on to a2)
  CHECK(a1.conversations == 2);
  CHECK(a1.served == 2);
  CHECK(a1.first_response_mean == Duration{8'000});
  CHECK(a1.first_response_median == Duration{4'000});
  CHECK(a1.first_response_p90 == Duration{12'000});
  CHECK(a1.greeted_within_target == 1.0);
  CHECK(a1.reply_wait_mean == Duration{12'333});
  CHECK(a1.replies_within_limit == 0.5);
  CHECK(a1.loss_rate == 0.0);
  CHECK(a1.typing_cpm_mean == 50.0);
  CHECK(a1.converted == 1);
  CHECK(a1.orders == 2);
  CHECK(a1.order_amount_cents == 13'990);
  CHECK(a1.conversion_rate == 0.5);
  CHECK(a1.rating_mean == 5.0);
  CHECK(a1.transfers == 0);

  const Kpis& a2 = r.agents.at("a2");  // c3, c4
  CHECK(a2.conversations == 2);
  CHECK(a2.served == 1);
  CHECK(a2.missed == 1);
  CHECK(a2.first_response_median == Duration{20'000});
  CHECK(a2.greeted_within_target == 0.0);
  CHECK(a2.greeted_within_limit == 0.5);
  CHECK_FALSE(a2.reply_wait_mean);  // no wait after the greeting
  CHECK(a2.replies_within_limit == 1.0);
  CHECK(a2.loss_rate == 0.5);
  CHECK_FALSE(a2.typing_cpm_mean);
  CHECK(a2.conversion_rate == 1.0);
  CHECK(a2.rating_mean == 4.0);
  CHECK(a2.transfers == 1);

  // a3 is a known agent with no conversation: listed, every figure zero or empty.
  const Kpis& a3 = r.agents.at("a3");
  CHECK(a3.conversations == 0);
  CHECK_FALSE(a3.first_response_mean);
  CHECK_FALSE(a3.loss_rate);
  CHECK_FALSE(a3.conversion_rate);
}

TEST_CASE("report: day buckets cover the month, empty days included", "[reports]") {
  const Report r = ScriptedMonth().month();
  REQUIRE(r.buckets.size() == 31);
  CHECK(r.buckets.front().start == kMar1);
  CHECK(r.buckets.back().start == kMar1 + days{30});
  CHECK(r.buckets[0].shop.conversations == 1);  // c1
  CHECK(r.buckets[1].shop.conversations == 0);
  CHECK(r.buckets[9].shop.conversations == 2);  // c2, c3
  CHECK(r.buckets[9].agents.at("a1").conversations == 1);
  CHECK(r.buckets[9].agents.at("a2").conversations == 1);
  CHECK(r.buckets[9].agents.at("a3").conversations == 0);
  CHECK(r.buckets[19].shop.missed == 1);  // c4
  CHECK(r.buckets[30].shop.empty == 1);   // c5, at 23:59:59 on the 31st
  std::uint32_t sum = 0;
  for (const auto& b : r.buckets) sum += b.shop.conversations;
  CHECK(sum == 5);
}

TEST_CASE("report: months end at local midnight in Asia/Shanghai, not in UTC", "[reports]") {
  // 00:30 on 1 March in Shanghai is still 28 February in UTC: March's.
  auto early = record("early", {"a1"}, "served", at(kMar1, 0, 30));
  // 23:59:59.999 on 31 March: March's; 00:00 on 1 April: April's.
  auto late = record("late", {"a1"}, "served", at(kMar1 + days{30}, 23, 59, 59) + Duration{999});
  auto april = record("april", {"a1"}, "served", at(kMar1 + days{31}, 0, 0));
  // 23:59 on 28 February: February's.
  auto february = record("february", {"a1"}, "served", at(kMar1 - days{1}, 23, 59));
  const std::vector<ConversationRecord> records{early, late, april, february};
  CHECK(date::format("%FT%TZ", early.ended) == "2026-02-28T16:30:00.000Z");
  const auto month = [&](local_days first, local_days last) {
    return build_report(records, {}, {}, shanghai(), {first, last, Bucket::month}, Limits{},
                        std::nullopt)
        .shop.conversations;
  };
  CHECK(month(kMar1, kMar1 + days{30}) == 2);
  CHECK(month(kMar1 - days{28}, kMar1 - days{1}) == 1);
  CHECK(month(kMar1 + days{31}, kMar1 + days{60}) == 1);
  // The instants to read from the records stream for March.
  const auto [from, to] = utc_bounds(kMar1, kMar1 + days{30}, shanghai());
  CHECK(date::format("%FT%TZ", from) == "2026-02-28T16:00:00.000Z");
  CHECK(date::format("%FT%TZ", to) == "2026-03-31T16:00:00.000Z");
}

TEST_CASE("report: a conversation across midnight counts on the day it ended", "[reports]") {
  auto across = record("across", {"a1"}, "served", at(kMar1 + days{9}, 0, 3));
  across.created = at(kMar1 + days{8}, 23, 58);
  const std::vector<ConversationRecord> records{across};
  const Report r =
      build_report(records, {}, {}, shanghai(), {kMar1 + days{8}, kMar1 + days{9}, Bucket::day},
                   Limits{}, std::nullopt);
  REQUIRE(r.buckets.size() == 2);
  CHECK(r.buckets[0].shop.conversations == 0);
  CHECK(r.buckets[1].shop.conversations == 1);
}

TEST_CASE("report: quiet hours leave out the conversations that began in them, at each edge",
          "[reports]") {
  const QuietHours night{23 * 60, 9 * 60};  // 23:00-09:00
  CHECK_FALSE(in_quiet_hours(night, 23 * 60 - 1));
  CHECK(in_quiet_hours(night, 23 * 60));
  CHECK(in_quiet_hours(night, 0));
  CHECK(in_quiet_hours(night, 9 * 60 - 1));
  CHECK_FALSE(in_quiet_hours(night, 9 * 60));
  const QuietHours lunch{12 * 60, 13 * 60};  // not across midnight
  CHECK(in_quiet_hours(lunch, 12 * 60));
  CHECK_FALSE(in_quiet_hours(lunch, 13 * 60));
  CHECK_FALSE(in_quiet_hours(lunch, 11 * 60 + 59));

  std::vector<ConversationRecord> records;
  const local_days day = kMar1 + days{4};
  for (auto [h, m] : {std::pair{22, 59}, {23, 0}, {8, 59}, {9, 0}}) {
    auto r = record("c" + std::to_string(h) + std::to_string(m), {"a1"}, "served", at(day, 12, 0));
    r.created = at(h < 12 ? day : day - days{1}, h, m);
    r.first_response = Duration{h * 1'000};
    records.push_back(r);
  }
  const ReportRange range{day, day, Bucket::day};
  const Report all = build_report(records, {}, {}, shanghai(), range, Limits{}, std::nullopt);
  const Report marketplace = build_report(records, {}, {}, shanghai(), range, Limits{}, night);
  CHECK(all.shop.conversations == 4);
  CHECK(marketplace.shop.conversations == 2);  // 22:59 and 09:00
  CHECK(marketplace.excluded_quiet == 2);
  CHECK(marketplace.shop.first_response_mean == Duration{(22'000 + 9'000 + 1) / 2});
}

TEST_CASE("report: weeks start on Monday and are cut to the range", "[reports]") {
  // 1 March 2026 is a Sunday.
  CHECK(date::weekday{kMar1} == date::Sunday);
  const std::vector<ConversationRecord> records{
      record("sun", {"a1"}, "served", at(kMar1, 12, 0)),
      record("mon", {"a1"}, "served", at(kMar1 + days{1}, 12, 0)),
      record("sun2", {"a1"}, "served", at(kMar1 + days{7}, 12, 0)),
      record("mon3", {"a1"}, "served", at(kMar1 + days{15}, 12, 0))};
  const Report r = build_report(records, {}, {}, shanghai(),
                                {kMar1, kMar1 + days{15}, Bucket::week}, Limits{}, std::nullopt);
  REQUIRE(r.buckets.size() == 4);
  CHECK(r.buckets[0].start == kMar1);  // the week of 23 Feb, cut
  CHECK(r.buckets[1].start == kMar1 + days{1});
  CHECK(r.buckets[2].start == kMar1 + days{8});
  CHECK(r.buckets[3].start == kMar1 + days{15});
  CHECK(r.buckets[0].shop.conversations == 1);
  CHECK(r.buckets[1].shop.conversations == 2);  // Monday 2 to Sunday 8
  CHECK(r.buckets[2].shop.conversations == 0);
  CHECK(r.buckets[3].shop.conversations == 1);

  const Report months = ScriptedMonth().month(Bucket::month);
  REQUIRE(months.buckets.size() == 1);
  CHECK(months.buckets[0].shop.conversations == 5);
}

TEST_CASE("report: nothing in the range gives zeros and empty figures, not a division by zero",
          "[reports]") {
  const Report r = build_report({}, {}, {}, shanghai(), {kMar1, kMar1, Bucket::day}, Limits{},
                                std::nullopt, std::vector<std::string>{"a1"});
  CHECK(r.shop.conversations == 0);
  CHECK_FALSE(r.shop.first_response_mean);
  CHECK_FALSE(r.shop.greeted_within_target);
  CHECK_FALSE(r.shop.loss_rate);
  CHECK_FALSE(r.shop.rating_mean);
  CHECK(r.agents.at("a1").conversations == 0);
  REQUIRE(r.buckets.size() == 1);
}

TEST_CASE("report: an order goes to the customer's served conversation within the window",
          "[reports]") {
  const Duration window{24LL * 3'600'000};
  auto served = record("served", {"a1", "a2"}, "served", at(kMar1, 12, 0));
  served.customer = "u1";
  served.created = at(kMar1, 11, 0);
  auto missed = record("missed", {"a3"}, "missed", at(kMar1, 20, 0));
  missed.customer = "u1";  // later, but nobody served it
  auto other = record("other", {"a1"}, "served", at(kMar1, 12, 0));
  other.customer = "u2";
  auto later = record("later", {"a4"}, "served", at(kMar1 + days{1}, 9, 0));
  later.customer = "u3";
  later.created = at(kMar1 + days{1}, 8, 0);
  auto earlier = record("earlier", {"a5"}, "served", at(kMar1, 9, 0));
  earlier.customer = "u3";
  earlier.created = at(kMar1, 8, 0);
  const std::vector<ConversationRecord> records{served, missed, other, later, earlier};
  const auto order = [](std::string customer, TimePoint ts) {
    return Order{"o", std::move(customer), 100, ts, "stale", "stale"};
  };
  std::vector<Order> orders{
      order("u1", served.ended + window),                // at the window's end: attributed
      order("u1", served.ended + window + Duration{1}),  // 1 ms past it: not
      order("u1", at(kMar1, 11, 30)),           // while the conversation was open: attributed
      order("u1", at(kMar1, 10, 59)),           // before it began: not
      order("u9", at(kMar1, 12, 1)),            // a customer with no conversation
      order("u3", at(kMar1 + days{1}, 10, 0)),  // two qualify: the one that ended last
  };
  attribute_orders(records, orders, window);
  CHECK(orders[0].conversation == "served");
  CHECK(orders[0].agent == "a2");  // its last owner
  CHECK(orders[1].conversation.empty());
  CHECK(orders[1].agent.empty());
  CHECK(orders[2].conversation == "served");
  CHECK(orders[3].conversation.empty());
  CHECK(orders[4].conversation.empty());
  CHECK(orders[5].conversation == "later");
  CHECK(orders[5].agent == "a4");
}
