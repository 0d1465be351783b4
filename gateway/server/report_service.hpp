#pragma once
// Answers the reports API (docs/reports.md) off the event loop: one thread of its own reads a
// shop's records (and the orders and ratings that belong to them) from Redis with blocking,
// pipelined reads (BlockingPipeline: one Redis or the shop's master on a Cluster), builds the
// report with the pure core (report.hpp, report_ranking.hpp) and formats it (report_json.hpp).
// The answer is posted back to the io_context. A month of a busy shop takes long enough to read
// (docs/benchmarks.md, "Reports") that it must not block the loop that relays the chats.
//
// Thread-safe: submit() from the io_context's thread (or any); the worker owns its connection.
// The destructor stops the worker after the job in hand; queued jobs are dropped unanswered.

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "blocking_pipeline.hpp"
#include "chatdesk/config/config.hpp"
#include "chatdesk/gateway/report.hpp"

namespace chatdesk::gateway {

struct ReportQuery {
  std::string shop;  // a configured shop
  date::local_days first{}, last{};
  reports::Bucket bucket = reports::Bucket::day;
  bool marketplace = false;  // leave out reports.exclude_hours
  enum class Format { json, ranking_csv } format = Format::json;
};

struct ReportAnswer {
  int status = 200;  // 200, or 503 when Redis could not be read
  std::string content_type;
  std::string body;
};

class ReportService {
 public:
  ReportService(boost::asio::io_context& ioc, const config::Config& config,
                monitor::RedisEndpoint endpoint);
  ~ReportService();
  ReportService(const ReportService&) = delete;
  ReportService& operator=(const ReportService&) = delete;

  // `done` is called once, posted on the io_context, with the answer.
  using Done = std::function<void(ReportAnswer)>;
  void submit(ReportQuery query, Done done);

 private:
  struct Job {
    ReportQuery query;
    Done done;
  };
  void run();
  ReportAnswer answer(const ReportQuery& query);
  bool read(const ReportQuery& query, const date::time_zone& zone,
            std::vector<ConversationRecord>& records, std::vector<reports::Order>& orders,
            std::vector<reports::Rating>& ratings, std::vector<std::string>& agents,
            std::string& error);

  boost::asio::io_context& ioc_;
  const config::Config& config_;
  monitor::RedisEndpoint endpoint_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;

  // The worker's own.
  BlockingPipeline redis_;
  bool connected_ = false;
  std::thread worker_;
};

}  // namespace chatdesk::gateway
