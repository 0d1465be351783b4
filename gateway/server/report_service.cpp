#include "report_service.hpp"

#include <date/tz.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <iostream>

#include "chatdesk/gateway/report_json.hpp"
#include "chatdesk/gateway/report_ranking.hpp"
#include "chatdesk/gateway/store_codec.hpp"

namespace chatdesk::gateway {
namespace {

using monitor::reply_pairs;
using monitor::reply_string;

// Entries read per XRANGE: bounds the replies held at once.
constexpr std::size_t kPage = 2000;
// A record lands in its shop's stream when its conversation ends, or later after a Redis outage:
// records are read up to a day past the range (and kept only if they ended in it).
constexpr Duration kLateRecords{24LL * 3'600'000};
// Ratings come after the conversation ended (the customer page asks at once).
constexpr Duration kLateRatings{48LL * 3'600'000};

std::int64_t number(const std::map<std::string, std::string>& fields, const std::string& name) {
  std::int64_t v = 0;
  if (auto it = fields.find(name); it != fields.end())
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return v;
}

std::string text(const std::map<std::string, std::string>& fields, const std::string& name) {
  auto it = fields.find(name);
  return it == fields.end() ? std::string() : it->second;
}

}  // namespace

ReportService::ReportService(boost::asio::io_context& ioc, const config::Config& config,
                             monitor::RedisEndpoint endpoint)
    : ioc_(ioc), config_(config), endpoint_(std::move(endpoint)), worker_([this] { run(); }) {}

ReportService::~ReportService() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void ReportService::submit(ReportQuery query, Done done) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back({std::move(query), std::move(done)});
  }
  wake_.notify_one();
}

void ReportService::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    ReportAnswer a = answer(job.query);
    // The handler (and what it holds, e.g. the HTTP session) lives and dies on the loop's thread.
    boost::asio::post(
        ioc_, [done = std::move(job.done), a = std::move(a)]() mutable { done(std::move(a)); });
  }
}

ReportAnswer ReportService::answer(const ReportQuery& q) {
  const config::ShopConfig* shop = config_.find_shop(q.shop);
  if (!shop) return {404, "text/plain; charset=utf-8", "unknown shop\n"};
  const date::time_zone& zone = *date::locate_zone(shop->timezone);
  std::vector<ConversationRecord> records;
  std::vector<reports::Order> orders;
  std::vector<reports::Rating> ratings;
  std::vector<std::string> agents;
  std::string error;
  if (!read(q, zone, records, orders, ratings, agents, error)) {
    connected_ = false;  // a new connection next time
    std::cerr << "chatdesk-gateway: reports: cannot read shop " << q.shop << ": " << error << "\n";
    return {503, "text/plain; charset=utf-8", "reports: redis unavailable\n"};
  }
  reports::Limits limits;
  limits.reply_wait_limit = shop->sla.reply_wait_limit;
  const auto quiet = q.marketplace ? config_.reports.exclude_hours : std::nullopt;
  reports::attribute_orders(records, orders, config_.reports.conversion_window);
  const reports::Report report = reports::build_report(
      records, orders, ratings, zone, {q.first, q.last, q.bucket}, limits, quiet, agents);
  const auto ranking = reports::rank_agents(report.agents);
  if (q.format == ReportQuery::Format::ranking_csv)
    return {200, "text/csv; charset=utf-8", reports::ranking_csv(report, ranking)};
  const reports::ReportHeader header{q.shop, shop->timezone, q.first,
                                     q.last, q.bucket,       q.marketplace && quiet.has_value()};
  return {200, "application/json", reports::report_json(header, report, ranking)};
}

bool ReportService::read(const ReportQuery& q, const date::time_zone& zone,
                         std::vector<ConversationRecord>& records,
                         std::vector<reports::Order>& orders, std::vector<reports::Rating>& ratings,
                         std::vector<std::string>& agents, std::string& error) {
  if (!connected_) {
    if (!redis_.open(config_, endpoint_, std::chrono::steady_clock::now(), error)) return false;
    connected_ = true;
  }
  const auto [from, to] = reports::utc_bounds(q.first, q.last, zone);

  // Every entry of `key` from `first` to `last` (ms), page by page.
  const auto scan = [&](const std::string& key, TimePoint first, TimePoint last, auto&& each) {
    std::string start = std::to_string(to_epoch_ms(first));
    const std::string end = std::to_string(to_epoch_ms(last));
    const std::string page = std::to_string(kPage);
    for (;;) {
      auto reply = redis_.command(key, {"XRANGE", key, start, end, "COUNT", page}, error);
      if (!reply) return false;
      for (std::size_t i = 0; i < reply->elements; ++i) {
        const redisReply* entry = reply->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
        each(reply_pairs(entry->element[1]));
      }
      if (reply->elements < kPage) return true;
      start = "(" + reply_string(reply->element[reply->elements - 1]->element[0]);
    }
  };
  std::size_t bad = 0;
  std::string why;
  if (!scan(store::shop_records_key(q.shop), from, to + kLateRecords, [&](const auto& fields) {
        if (auto r = store::decode_record(fields, why))
          records.push_back(std::move(*r));
        else if (bad++ == 0)
          std::cerr << "chatdesk-gateway: reports: a record of shop " << q.shop
                    << " skipped: " << why << "\n";
      }))
    return false;
  // Orders of conversations that ended in the range: from a day before it (a conversation that
  // began earlier) to the conversion window after it.
  if (!scan(store::shop_orders_key(q.shop), from - kLateRecords,
            to + config_.reports.conversion_window + kLateRecords, [&](const auto& fields) {
              orders.push_back({text(fields, "order_id"),
                                text(fields, "customer"),
                                number(fields, "amount_cents"),
                                from_epoch_ms(number(fields, "ts")),
                                {},
                                {}});
            }))
    return false;
  if (!scan(store::shop_ratings_key(q.shop), from, to + kLateRatings, [&](const auto& fields) {
        ratings.push_back({text(fields, "conversation"), static_cast<int>(number(fields, "score")),
                           text(fields, "comment"), from_epoch_ms(number(fields, "ts"))});
      }))
    return false;
  // The agents at the desk now appear in the report even without a conversation in the range.
  const std::string agents_key = store::agents_key(q.shop);
  auto present = redis_.command(agents_key, {"HKEYS", agents_key}, error);
  if (!present) return false;
  for (std::size_t i = 0; i < present->elements; ++i)
    agents.push_back(reply_string(present->element[i]));
  return true;
}

}  // namespace chatdesk::gateway
