#include "chatdesk/gateway/report.hpp"

#include <date/tz.h>

#include <algorithm>
#include <charconv>
#include <unordered_map>

namespace chatdesk::gateway::reports {
namespace {

// What one conversation brings besides its record.
struct Extras {
  std::uint32_t orders = 0;
  std::int64_t amount_cents = 0;
  const Rating* rating = nullptr;
};

// Sums for one Kpis until finish() turns them into means, shares and percentiles.
class Accumulator {
 public:
  void add(const ConversationRecord& r, const Extras& e, const Limits& limits) {
    ++k_.conversations;
    const bool served = r.outcome == "served";
    const bool missed = r.outcome == "missed";
    if (served) ++k_.served;
    if (missed) ++k_.missed;
    if (!served && !missed) ++k_.empty;
    if (r.first_response) {
      first_.push_back(r.first_response->count());
      first_sum_ += r.first_response->count();
    }
    if (served || missed) {
      greeted_target_ += r.greeting == "on_time" ? 1 : 0;
      greeted_limit_ += r.greeting == "on_time" || r.greeting == "warning" ? 1 : 0;
    }
    k_.reply_waits += r.reply_waits;
    reply_wait_sum_ += r.reply_wait_mean.count() * static_cast<std::int64_t>(r.reply_waits);
    if (served) replies_ok_ += r.reply_wait_max <= limits.reply_wait_limit ? 1 : 0;
    if (r.typing_cpm) {
      typing_sum_ += *r.typing_cpm;
      ++typing_n_;
    }
    for (std::size_t i = 0; i < monitor::kRuleCount; ++i) k_.violations[i] += r.violations[i];
    k_.transfers += r.transfers;
    k_.handovers += r.handovers;
    k_.orders += e.orders;
    k_.order_amount_cents += e.amount_cents;
    if (served && e.orders > 0) ++k_.converted;
    if (e.rating) {
      ++k_.ratings;
      rating_sum_ += e.rating->score;
    }
  }

  Kpis finish() {
    Kpis k = k_;
    const auto share = [](std::uint32_t part, std::uint32_t whole) -> std::optional<double> {
      if (whole == 0) return std::nullopt;
      return static_cast<double>(part) / whole;
    };
    const auto mean_ms = [](std::int64_t sum, std::uint64_t n) {
      return Duration{(sum + static_cast<std::int64_t>(n / 2)) / static_cast<std::int64_t>(n)};
    };
    k.first_responses = static_cast<std::uint32_t>(first_.size());
    if (!first_.empty()) {
      std::sort(first_.begin(), first_.end());
      k.first_response_mean = mean_ms(first_sum_, first_.size());
      k.first_response_median = Duration{nearest_rank(first_, 50)};
      k.first_response_p90 = Duration{nearest_rank(first_, 90)};
    }
    const std::uint32_t with_customer = k.served + k.missed;
    k.greeted_within_target = share(greeted_target_, with_customer);
    k.greeted_within_limit = share(greeted_limit_, with_customer);
    if (k.reply_waits > 0) k.reply_wait_mean = mean_ms(reply_wait_sum_, k.reply_waits);
    k.replies_within_limit = share(replies_ok_, k.served);
    k.loss_rate = share(k.missed, with_customer);
    if (typing_n_ > 0) k.typing_cpm_mean = typing_sum_ / typing_n_;
    k.conversion_rate = share(k.converted, k.served);
    if (k.ratings > 0) k.rating_mean = static_cast<double>(rating_sum_) / k.ratings;
    return k;
  }

 private:
  // The smallest value with at least `percent` % of the values at or below it.
  static Duration::rep nearest_rank(const std::vector<Duration::rep>& sorted, int percent) {
    const std::size_t rank = (sorted.size() * static_cast<std::size_t>(percent) + 99) / 100;
    return sorted[std::max<std::size_t>(rank, 1) - 1];
  }

  Kpis k_;
  std::vector<Duration::rep> first_;
  std::int64_t first_sum_ = 0;
  std::uint32_t greeted_target_ = 0, greeted_limit_ = 0, replies_ok_ = 0;
  std::int64_t reply_wait_sum_ = 0;
  double typing_sum_ = 0;
  std::uint32_t typing_n_ = 0;
  std::int64_t rating_sum_ = 0;
};

// The figures of a shop and of each of its agents.
struct Group {
  Accumulator shop;
  std::map<std::string, Accumulator, std::less<>> agents;

  void add(const ConversationRecord& r, const Extras& e, const Limits& limits) {
    shop.add(r, e, limits);
    if (!r.agents.empty()) agents[r.agents.back()].add(r, e, limits);
  }
  void finish(Kpis& shop_out, std::map<std::string, Kpis, std::less<>>& agents_out,
              std::span<const std::string> known) {
    shop_out = shop.finish();
    for (const auto& agent : known) agents_out.emplace(agent, Kpis{});
    for (auto& [agent, acc] : agents) agents_out[agent] = acc.finish();
  }
};

date::local_days bucket_start(date::local_days day, Bucket bucket) {
  switch (bucket) {
    case Bucket::day:
      return day;
    case Bucket::week:
      return day - (date::weekday{day} - date::Monday);
    case Bucket::month: {
      const date::year_month_day ymd{day};
      return date::local_days{ymd.year() / ymd.month() / 1};
    }
  }
  return day;
}

date::local_days next_bucket(date::local_days start, Bucket bucket) {
  switch (bucket) {
    case Bucket::day:
      return start + date::days{1};
    case Bucket::week:
      return start + date::days{7};
    case Bucket::month: {
      const date::year_month_day ymd{start};
      return date::local_days{(ymd.year() / ymd.month() + date::months{1}) / 1};
    }
  }
  return start + date::days{1};
}

int minute_of_day(TimePoint t, const date::time_zone& zone) {
  const auto local = zone.to_local(t);
  const auto since_midnight = local - date::floor<date::days>(local);
  return static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(since_midnight).count());
}

}  // namespace

bool in_quiet_hours(const QuietHours& quiet, int minute) {
  if (quiet.from_minute <= quiet.to_minute)
    return minute >= quiet.from_minute && minute < quiet.to_minute;
  return minute >= quiet.from_minute || minute < quiet.to_minute;  // across midnight
}

namespace {

// "YYYY-MM-DD" or "YYYY-MM" (the first of the month), digits exactly; a valid date.
std::optional<date::year_month_day> parse_date(std::string_view text, bool month_only) {
  if (text.size() != (month_only ? 7u : 10u) || text[4] != '-' || (!month_only && text[7] != '-'))
    return std::nullopt;
  const auto digits = [&](std::size_t at, std::size_t n, int& out) {
    const auto r = std::from_chars(text.data() + at, text.data() + at + n, out);
    return r.ec == std::errc{} && r.ptr == text.data() + at + n;
  };
  int y = 0, m = 0, d = 1;
  if (!digits(0, 4, y) || !digits(5, 2, m) || (!month_only && !digits(8, 2, d)))
    return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || y < 2000 || y > 9999) return std::nullopt;
  return ymd;
}

}  // namespace

std::optional<ReportRange> parse_range(std::string_view month, std::string_view from,
                                       std::string_view to, std::string_view bucket,
                                       std::string& error) {
  ReportRange range;
  if (bucket.empty() || bucket == "day")
    range.bucket = Bucket::day;
  else if (bucket == "week")
    range.bucket = Bucket::week;
  else if (bucket == "month")
    range.bucket = Bucket::month;
  else {
    error = "bucket must be day, week or month";
    return std::nullopt;
  }
  if (!month.empty()) {
    if (!from.empty() || !to.empty()) {
      error = "give month, or from and to, not both";
      return std::nullopt;
    }
    const auto first = parse_date(month, true);
    if (!first) {
      error = "month must be YYYY-MM";
      return std::nullopt;
    }
    range.first = date::local_days{*first};
    range.last = date::local_days{first->year() / first->month() / date::last};
    return range;
  }
  const auto first = parse_date(from, false);
  const auto last = parse_date(to, false);
  if (!first || !last) {
    error = "give month=YYYY-MM, or from=YYYY-MM-DD and to=YYYY-MM-DD";
    return std::nullopt;
  }
  range.first = date::local_days{*first};
  range.last = date::local_days{*last};
  if (range.last < range.first) {
    error = "to is before from";
    return std::nullopt;
  }
  if (range.last - range.first >= date::days{366}) {
    error = "at most 366 days";
    return std::nullopt;
  }
  return range;
}

date::local_days local_day(TimePoint t, const date::time_zone& zone) {
  return date::floor<date::days>(zone.to_local(t));
}

std::pair<TimePoint, TimePoint> utc_bounds(date::local_days first, date::local_days last,
                                           const date::time_zone& zone) {
  const auto start = zone.to_sys(date::local_time<Duration>{first}, date::choose::earliest);
  const auto end =
      zone.to_sys(date::local_time<Duration>{last + date::days{1}}, date::choose::earliest);
  return {start, end};
}

void attribute_orders(std::span<const ConversationRecord> records, std::span<Order> orders,
                      Duration window) {
  std::unordered_map<std::string_view, std::vector<const ConversationRecord*>> by_customer;
  for (const ConversationRecord& r : records)
    if (r.outcome == "served" && !r.agents.empty()) by_customer[r.customer].push_back(&r);
  for (Order& o : orders) {
    o.conversation.clear();
    o.agent.clear();
    const auto found = by_customer.find(o.customer);
    if (found == by_customer.end()) continue;
    const ConversationRecord* best = nullptr;
    for (const ConversationRecord* r : found->second)
      if (r->created <= o.ts && r->ended + window >= o.ts && (!best || r->ended > best->ended))
        best = r;
    if (!best) continue;
    o.conversation = best->conversation;
    o.agent = best->agents.back();
  }
}

Report build_report(std::span<const ConversationRecord> records, std::span<const Order> orders,
                    std::span<const Rating> ratings, const date::time_zone& zone,
                    const ReportRange& range, const Limits& limits,
                    const std::optional<QuietHours>& quiet, std::span<const std::string> agents) {
  std::unordered_map<std::string_view, Extras> extras;
  for (const Order& o : orders) {
    if (o.conversation.empty()) continue;
    Extras& e = extras[o.conversation];
    ++e.orders;
    e.amount_cents += o.amount_cents;
  }
  for (const Rating& r : ratings) {
    Extras& e = extras[r.conversation];
    if (!e.rating || r.ts >= e.rating->ts) e.rating = &r;  // the latest counts
  }

  // Every bucket of the range, cut to it.
  Report report;
  std::vector<Group> buckets;
  for (auto start = range.first; start <= range.last;) {
    report.buckets.push_back({start, {}, {}});
    buckets.emplace_back();
    start = next_bucket(bucket_start(start, range.bucket), range.bucket);
  }
  Group total;
  const Extras none;
  for (const ConversationRecord& r : records) {
    const date::local_days day = local_day(r.ended, zone);
    if (day < range.first || day > range.last) continue;
    if (quiet && in_quiet_hours(*quiet, minute_of_day(r.created, zone))) {
      ++report.excluded_quiet;
      continue;
    }
    const auto found = extras.find(r.conversation);
    const Extras& e = found == extras.end() ? none : found->second;
    total.add(r, e, limits);
    // The bucket holding `day`: the last one starting on or before it.
    const auto it =
        std::upper_bound(report.buckets.begin(), report.buckets.end(), day,
                         [](date::local_days d, const BucketKpis& b) { return d < b.start; });
    buckets[static_cast<std::size_t>(it - report.buckets.begin()) - 1].add(r, e, limits);
  }
  total.finish(report.shop, report.agents, agents);
  for (std::size_t i = 0; i < buckets.size(); ++i)
    buckets[i].finish(report.buckets[i].shop, report.buckets[i].agents, agents);
  return report;
}

}  // namespace chatdesk::gateway::reports
