#pragma once
// The team lead's reports (docs/reports.md): a shop's KPIs, in total and per agent, over a range
// of days in the shop's time zone and per day, week or month inside it, computed exactly from the
// conversation records (docs/storage.md, "Conversation records") with the orders and ratings
// that belong to them. Pure: the caller reads the records; no Redis, clock or I/O here.
// Functions and values only: thread-safe as long as the inputs are not changed meanwhile.
//
// What counts where (the shop rules, ../shared/reference/service-rules.md, "Accountability and
// KPIs", say what to measure, not how to attribute; these are our choices):
// - A conversation counts in the period in which it ended (its record is final then: a closed
//   month's report never changes), by the shop's local date.
// - Per agent, a conversation counts for the agent who owned it last (the last of its `agents`),
//   the one who served it to the end; one never assigned counts for the shop only.
// - With quiet hours (the marketplace variant, reports.exclude_hours), conversations that began
//   inside them are left out.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/desk_changes.hpp"
#include "chatdesk/monitor/violation.hpp"

namespace date {
class time_zone;
}

namespace chatdesk::gateway::reports {

// An order the shop's system reported (POST /api/orders), and the conversation and agent it is
// attributed to (attribute_orders).
struct Order {
  std::string order_id;
  std::string customer;
  std::int64_t amount_cents = 0;
  TimePoint ts{};
  std::string conversation;  // empty: no conversation of that customer in the window
  std::string agent;
};

// A customer's rating of a conversation, 1 to 5, given after it ended.
struct Rating {
  std::string conversation;
  int score = 0;
  std::string comment;
  TimePoint ts{};
};

// Local hours left out of the marketplace variant (reports.exclude_hours): [from, to), wrapping
// midnight when to < from (23:00-09:00). Minutes since local midnight.
using QuietHours = config::ReportsConfig::QuietHours;
bool in_quiet_hours(const QuietHours& quiet, int minute_of_day);

// The limit a conversation's reply waits are judged against: the shop's sla.reply_wait_limit.
// (The greeting's target and limit were judged when the conversation ran: its record says
// on_time, warning or breach.)
struct Limits {
  Duration reply_wait_limit{20'000};
};

// The figures of one set of conversations (a shop or one agent, over a range or one bucket).
// Optional figures are empty when nothing was there to measure.
struct Kpis {
  std::uint32_t conversations = 0;  // every record, empty ones included
  std::uint32_t served = 0;         // an agent wrote
  std::uint32_t missed = 0;         // the customer wrote and nobody answered: a customer lost
  std::uint32_t empty = 0;          // nobody wrote
  // First response time (business hours, docs/storage.md) of the conversations that had one:
  // mean, and median and 90th percentile by nearest rank (an actual value, no interpolation).
  std::uint32_t first_responses = 0;
  std::optional<Duration> first_response_mean, first_response_median, first_response_p90;
  // Of the conversations in which the customer wrote (served + missed): greeted within the
  // shop's greeting target (15 s by default; record `greeting` on_time) and within its limit
  // (30 s; on_time or warning).
  std::optional<double> greeted_within_target, greeted_within_limit;
  // Reply waits after the greeting, weighted by their number; and the share of served
  // conversations in which no wait passed the reply limit.
  std::uint32_t reply_waits = 0;
  std::optional<Duration> reply_wait_mean;
  std::optional<double> replies_within_limit;
  std::optional<double> loss_rate;        // missed / (served + missed)
  std::optional<double> typing_cpm_mean;  // mean over the conversations with a measured rate
  std::array<std::uint32_t, monitor::kRuleCount> violations{};
  std::uint32_t transfers = 0, handovers = 0;
  // Served conversations followed by an order attributed to them; their orders and amount.
  std::uint32_t converted = 0, orders = 0;
  std::int64_t order_amount_cents = 0;
  std::optional<double> conversion_rate;  // converted / served
  std::uint32_t ratings = 0;
  std::optional<double> rating_mean;
};

enum class Bucket { day, week, month };  // weeks start on Monday

// What to report: the local days [first, last] of a shop in `zone`, split into buckets.
struct ReportRange {
  date::local_days first{}, last{};
  Bucket bucket = Bucket::day;
};

struct BucketKpis {
  date::local_days start{};  // the bucket's first day (cut to the range)
  Kpis shop;
  std::map<std::string, Kpis, std::less<>> agents;
};

struct Report {
  Kpis shop;                                        // the whole range
  std::map<std::string, Kpis, std::less<>> agents;  // the whole range, per last owner
  std::vector<BucketKpis> buckets;                  // every bucket of the range, empty ones too
  std::uint32_t excluded_quiet = 0;                 // conversations left out by quiet hours
};

// Attributes each order to the served conversation of its customer that began at or before the
// order and ended at most `window` before it (the one that ended last, if several), and to that
// conversation's last agent; an order with none keeps an empty conversation. A conversation still
// open when the order came counts once it is recorded: attribution happens when the report is
// made, from the records.
void attribute_orders(std::span<const ConversationRecord> records, std::span<Order> orders,
                      Duration window);

// The report of `records` (any order; those outside the range are skipped) with the orders and
// ratings that belong to them (matched by conversation id; others are ignored). `zone` is the
// shop's time zone (date::locate_zone). `agents` lists the shop's known agents, who appear with
// zero figures when they had no conversation.
Report build_report(std::span<const ConversationRecord> records, std::span<const Order> orders,
                    std::span<const Rating> ratings, const date::time_zone& zone,
                    const ReportRange& range, const Limits& limits,
                    const std::optional<QuietHours>& quiet,
                    std::span<const std::string> agents = {});

// The range an API request asks for: `month` ("2026-03": that month), or `from` and `to`
// ("2026-03-01", inclusive, at most 366 days); `bucket` "day" (the default), "week" or "month".
// nullopt with `error` for anything else.
std::optional<ReportRange> parse_range(std::string_view month, std::string_view from,
                                       std::string_view to, std::string_view bucket,
                                       std::string& error);

// The local date of `t` in `zone`.
date::local_days local_day(TimePoint t, const date::time_zone& zone);
// The UTC instants a local day range covers: [start of `first`, start of the day after `last`).
std::pair<TimePoint, TimePoint> utc_bounds(date::local_days first, date::local_days last,
                                           const date::time_zone& zone);

}  // namespace chatdesk::gateway::reports
