#pragma once
// A pipelined asynchronous Redis client on the gateway's io_context: hiredis' async API driven by
// an Asio adapter (docs/design.md, "One thread, no locks"), so writing to Redis adds no thread.
// A RedisBatch (the commands of one round trip, formatted as RESP into one buffer) is written in
// one go and completes once, in the order batches were sent. The client connects in the
// background (AUTH/SELECT per endpoint) and reconnects with backoff after any failure until
// stop(). Not thread-safe: use it on the io_context's thread only.

#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/monitor/violation_writer.hpp"
#include "redis_pipeline.hpp"

struct redisAsyncContext;

namespace chatdesk::gateway {

// Commands of one round trip, formatted as RESP into one buffer (binary-safe; no allocation per
// command once warm). Not for SUBSCRIBE, MONITOR or other commands that do not answer once.
class RedisBatch {
 public:
  // One command: its name and arguments (at least one; std::invalid_argument otherwise).
  void add(std::initializer_list<std::string_view> args) {
    add(std::span<const std::string_view>(args.begin(), args.size()));
  }
  void add(std::span<const std::string_view> args);
  std::size_t size() const { return ends_.size(); }  // commands
  bool empty() const { return ends_.empty(); }
  void clear() {  // keeps the capacity
    buffer_.clear();
    ends_.clear();
  }
  // The i-th command as RESP ("*N\r\n$len\r\n...").
  std::string_view command(std::size_t i) const {
    const std::size_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(buffer_).substr(begin, ends_[i] - begin);
  }

 private:
  std::string buffer_;
  std::vector<std::size_t> ends_;  // where each command ends in buffer_
};

struct AsyncRedisOptions {
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect and AUTH/SELECT
  // A batch unanswered this long: the connection is dropped (the batch fails with timed_out) and
  // a new one is made.
  std::chrono::milliseconds io_timeout{2000};
  // Between reconnect attempts: backoff_initial after a failure, doubled up to backoff_max.
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{1000};
};

class AsyncRedis final : public RedisPipeline {
 public:
  // Nothing happens until start(). `ioc` must outlive this object.
  AsyncRedis(boost::asio::io_context& ioc, monitor::RedisEndpoint endpoint,
             AsyncRedisOptions options = {});
  // Disconnects at once, like stop(); the batches still pending complete (posted) with
  // operation_aborted, if the io_context runs again.
  ~AsyncRedis() override;
  AsyncRedis(const AsyncRedis&) = delete;
  AsyncRedis& operator=(const AsyncRedis&) = delete;

  // Connects in the background, then after any failure reconnects with backoff, until stop().
  // A host name is resolved synchronously (getaddrinfo) at each attempt: prefer an address.
  void start() override;
  // Disconnects; the batches pending complete with operation_aborted. start() may follow.
  void stop() override;
  // Connected, and AUTH/SELECT (when the endpoint asks for them) answered OK. Without AUTH/SELECT
  // this is the TCP connection: a server that hangs is found by io_timeout.
  bool connected() const override { return state_ == State::ready; }
  // Called (posted, on the io_context thread) on every change of connected(): true once a
  // (re)connection is ready, false when it is lost.
  void on_connection(std::function<void(bool)> callback) override {
    on_connection_ = std::move(callback);
  }

  // RedisPipeline::send: the whole batch in one write (one round trip); not_connected when sent
  // while not connected, connection_reset when the connection was lost, timed_out after
  // io_timeout (the connection is dropped), operation_aborted at stop() or destruction.
  using Done = RedisPipeline::Done;
  void send(const RedisBatch& batch, Done done) override;

  // For benchmarks and tests: batches and commands sent since construction.
  std::uint64_t round_trips() const override { return round_trips_; }
  std::uint64_t commands() const override { return commands_; }

 private:
  struct Connection;  // one hiredis context and its Asio adapter
  // One batch sent and not completed yet; owns the replies received so far.
  struct Pending {
    Done done;
    std::size_t expected = 0;
    std::vector<redisReply*> replies;
    std::chrono::steady_clock::time_point deadline;

    Pending() = default;
    Pending(Pending&&) noexcept = default;
    Pending& operator=(Pending&&) = delete;
    ~Pending() {
      for (redisReply* r : replies) freeReplyObject(r);
    }
    bool complete() const { return replies.size() == expected; }
  };

  enum class State { stopped, backoff, connecting, ready };

  void connect();
  void handshake_done();
  void schedule_retry();
  // Frees the context (hiredis then runs connection_gone); the pending batches fail with `reason`.
  void drop(const boost::system::error_code& reason);
  void connection_gone(Connection& connection, const redisAsyncContext* context);
  void finish(Pending&& pending, const boost::system::error_code& ec);
  void arm_io_timer();
  void notify(bool up);
  redisAsyncContext* context() const;
  void log_failure(std::string_view what, std::string_view why);

  static void on_connect(const redisAsyncContext* context, int status);
  static void on_handshake_reply(redisAsyncContext* context, void* reply, void* self);
  static void on_reply(redisAsyncContext* context, void* reply, void* self);

  boost::asio::io_context& ioc_;
  monitor::RedisEndpoint endpoint_;
  AsyncRedisOptions options_;
  RedisBatch handshake_;  // AUTH and SELECT, as the endpoint asks
  std::function<void(bool)> on_connection_;

  State state_ = State::stopped;
  bool running_ = false;
  std::uint64_t attempt_ = 0;  // changes at every connect and stop: stale timer handlers see it
  std::size_t handshake_left_ = 0;
  boost::system::error_code drop_reason_;  // why drop() freed the context
  bool failing_ = false;                   // a failure was logged since the last ready connection
  std::chrono::milliseconds backoff_;

  std::shared_ptr<Connection> connection_;
  std::shared_ptr<Connection> retired_;  // the last one, kept until hiredis has freed its context
  std::deque<Pending> in_flight_;
  bool io_timer_armed_ = false;

  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer io_timer_;
  // False once destroyed: timer handlers and posted notifications check it before touching this.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  std::uint64_t round_trips_ = 0;
  std::uint64_t commands_ = 0;
};

}  // namespace chatdesk::gateway
