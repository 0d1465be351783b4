// chatdesk-bench-reports: how long a month's report of a busy shop takes (docs/reports.md;
// docs/benchmarks.md, "Reports"). Fills a fresh redis-server with N records in the shop's records
// stream (2,000 conversations a day over 30 days by default: 60,000), spelt as the gateway's store
// writes them (store_codec), 40 agents, every tenth conversation with an order; then asks the
// gateway's own ReportService for the month, as GET /api/reports/summary does: the XRANGE reads,
// the decoding, the figures, the ranking and the JSON. Prints one JSON line with the time of the
// first (cold) and the best of three answers, and the process's peak RSS before and after.
// Usage: chatdesk-bench-reports [--records N]

#include <date/tz.h>
#include <hiredis/hiredis.h>
#include <sys/resource.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "chatdesk/config/config_loader.hpp"
#include "chatdesk/gateway/store_codec.hpp"
#include "redis_server.hpp"
#include "report_service.hpp"

namespace {

using namespace chatdesk;
using Steady = std::chrono::steady_clock;

void append(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
}

long max_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t records = 60'000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--records")) records = std::stoul(argv[i + 1]);
  test::RedisServer redis;
  const config::Config config = config::parse_config(
      "redis: {url: \"" + redis.url() + "\"}\nshops:\n  - {id: tea, timezone: Asia/Shanghai}\n");

  // This month in Shanghai; the records end on its days 1..30 (or up to today), spread evenly.
  const auto& zone = *date::locate_zone("Asia/Shanghai");
  const auto today = date::floor<date::days>(zone.to_local(std::chrono::system_clock::now()));
  const date::year_month_day ymd{today};
  const date::local_days first{ymd.year() / ymd.month() / 1};
  const auto days = (today - first).count() + 1;
  std::mt19937 rng(7);
  redisContext* c = redisConnect("127.0.0.1", redis.port());
  const std::string stream = gateway::store::shop_records_key("tea");
  const std::string orders = gateway::store::shop_orders_key("tea");
  std::size_t pending = 0;  // commands sent, replies not read yet
  const auto drain = [&] {
    for (; pending > 0; --pending) {
      void* reply = nullptr;
      if (redisGetReply(c, &reply) != REDIS_OK) std::exit(1);
      freeReplyObject(reply);
    }
  };
  for (std::size_t i = 0; i < records; ++i) {
    gateway::ConversationRecord r;
    r.conversation = "c-" + std::to_string(i);
    r.shop = "tea";
    r.customer = "u-" + std::to_string(i % 20'000);
    r.agents = {"agent" + std::to_string(i % 40)};
    const auto day = first + date::days{static_cast<int>(i % static_cast<std::size_t>(days))};
    r.ended = zone.to_sys(date::local_time<Duration>{day} +
                          Duration{static_cast<std::int64_t>(rng() % 86'000'000)});
    r.created = r.ended - Duration{600'000};
    const bool missed = i % 17 == 0;
    r.outcome = missed ? "missed" : "served";
    r.greeting = missed ? "none" : (i % 5 == 0 ? "warning" : "on_time");
    if (!missed) r.first_response = Duration{static_cast<std::int64_t>(1'000 + rng() % 40'000)};
    r.reply_waits = static_cast<std::uint32_t>(rng() % 6);
    r.reply_wait_mean = Duration{static_cast<std::int64_t>(rng() % 30'000)};
    r.reply_wait_max = r.reply_wait_mean * 2;
    r.customer_messages = 4;
    r.agent_messages = missed ? 0 : 5;
    if (!missed) r.typing_cpm = 40.0 + static_cast<double>(rng() % 600) / 10;
    std::vector<std::string> args{"XADD", stream, "*"};
    for (const auto& [name, value] : gateway::store::record_fields(r)) {
      args.emplace_back(name);
      args.push_back(value);
    }
    append(c, args);
    ++pending;
    if (i % 10 == 0) {
      append(c, {"XADD", orders, "*", "order_id", "o-" + std::to_string(i), "customer", r.customer,
                 "amount_cents", "9900", "ts", std::to_string(to_epoch_ms(r.ended) + 60'000)});
      ++pending;
    }
    if (pending >= 1000) drain();
  }
  drain();
  redisFree(c);

  // The month, asked as the API asks it; answered on the service's thread, posted back here.
  boost::asio::io_context ioc;
  auto keep = boost::asio::make_work_guard(ioc);  // run_one() waits for the posted answer
  const auto endpoint = monitor::parse_redis_url(config.redis.url);
  gateway::ReportService service(ioc, config, *endpoint);
  const long rss_before = max_rss_kib();
  const date::local_days last{ymd.year() / ymd.month() / date::last};
  std::vector<double> times;
  std::size_t bytes = 0;
  int status = 0;
  for (int run = 0; run < 3; ++run) {
    const auto start = Steady::now();
    bool done = false;
    service.submit({"tea", first, last, gateway::reports::Bucket::day, false,
                    gateway::ReportQuery::Format::json},
                   [&](gateway::ReportAnswer a) {
                     status = a.status;
                     bytes = a.body.size();
                     done = true;
                   });
    while (!done) ioc.run_one();
    times.push_back(std::chrono::duration<double, std::milli>(Steady::now() - start).count());
  }
  const double best = std::min({times[0], times[1], times[2]});
  std::printf(
      "{\"records\":%zu,\"status\":%d,\"json_bytes\":%zu,\"first_ms\":%.1f,\"best_ms\":%.1f,"
      "\"max_rss_kib_before\":%ld,\"max_rss_kib_after\":%ld}\n",
      records, status, bytes, times[0], best, rss_before, max_rss_kib());
  return status == 200 ? 0 : 1;
}
