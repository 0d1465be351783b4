#pragma once
// Appends SLA violations to a Redis stream (XADD) from a dedicated thread, so the gateway's event
// loop never waits for Redis. Violations are spooled in memory (bounded) and leave the spool only
// once Redis acknowledged them: while Redis is down or slow they wait, in order, and are written
// with the same ids when it is back. A batch whose outcome is unknown (the connection dropped
// mid-batch) is checked against the stream before it is sent again, so each violation lands once.
//
// With redis.spool_dir set, the spool is also kept on disk (ViolationSpool): the writer thread
// journals what it takes from the event loop before sending it, and at stop() what Redis has not
// acknowledged stays in the file instead of being dropped; the next start() loads it and writes it
// first, with the same ids, checking it against the stream first (some of it may have landed just
// before a crash). A SIGKILL then loses only what the writer thread had not taken yet
// (docs/operations.md). All disk I/O is on the writer thread, except the one read in start().
//
// Stream entry fields: id rule severity level shop agent conversation elapsed_ms target_ms ts
// detail (times in milliseconds; ts since the Unix epoch). Consumers may still de-duplicate on
// `id`: the check above is bounded (ViolationWriterOptions::dedup_scan_limit).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/monitor/violation.hpp"
#include "chatdesk/monitor/violation_spool.hpp"

namespace chatdesk::monitor {

// Where redis://[[user]:password@]host[:port][/db] points. host may be an [IPv6] literal.
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string user;      // empty: AUTH <password> (Redis < 6 style)
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT when not 0
};

// nullopt when `url` is not of the form above (wrong scheme, empty host, bad port or db).
std::optional<RedisEndpoint> parse_redis_url(std::string_view url);

// The writer's running totals, updated by the writer thread and by submit(); read them from any
// thread (e.g. to feed chatdesk_violation_writes_total / chatdesk_violations_spooled on scrape).
struct WriterStats {
  std::atomic<std::uint64_t> ok{0};     // violations Redis acknowledged
  std::atomic<std::uint64_t> error{0};  // violations of failed attempts (each retry counts again)
  // never written: spool full, or still spooled at stop() and not kept in the on-disk spool
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::size_t> spooled{0};    // waiting in memory now (including a batch in flight)
  std::atomic<std::size_t> recovered{0};  // read from the on-disk spool by start()
  std::atomic<std::size_t> persisted{0};  // left in the on-disk spool by stop()
  std::atomic<std::uint64_t> connect_failures{0};  // failed connects (incl. AUTH/SELECT)
  std::atomic<bool> connected{false};
};

struct ViolationWriterOptions {
  std::chrono::milliseconds backoff_initial{100};  // first wait after a failure, then doubled...
  std::chrono::milliseconds backoff_max{5000};     // ...up to this
  std::chrono::milliseconds connect_timeout{2000};
  // A Redis that does not answer within this counts as failed (the batch is retried).
  std::chrono::milliseconds io_timeout{5000};
  std::size_t batch_max = 256;            // XADDs pipelined per round trip
  std::size_t dedup_scan_limit = 10'000;  // stream entries read when checking a failed batch
  // The on-disk spool is rewritten once it holds more than this many acknowledged violations
  // beyond the live ones (it is emptied whenever nothing is pending).
  std::size_t spool_compact_slack = 1024;
};

// Thread-safe: submit() and stats() may be called from any thread (meant for the event loop);
// start() and stop() from the owning thread. The hiredis connection belongs to the writer thread.
class ViolationWriter {
 public:
  // `config` is copied. Nothing runs until start().
  explicit ViolationWriter(const config::RedisConfig& config, ViolationWriterOptions options = {});
  // Stops at once if still running (what is spooled counts as dropped); prefer stop(deadline).
  ~ViolationWriter();
  ViolationWriter(const ViolationWriter&) = delete;
  ViolationWriter& operator=(const ViolationWriter&) = delete;

  // Parses the URL, with redis.spool_dir opens the on-disk spool and reads what an earlier run
  // left there (the oldest spool_size; a damaged line is skipped and counted in the log), and
  // starts the writer thread, which connects on its own (an unreachable Redis is not an error
  // here: violations spool until it answers). false, with `error` set, when the URL is malformed,
  // the spool directory cannot be created, opened or locked, or the thread is already started.
  [[nodiscard]] bool start(std::string& error);

  // Queues a copy of `v`; never blocks on Redis. false when it was dropped (spool full, or not
  // running): then it is counted in stats().dropped and logged to stderr (rule, severity, shop and
  // agent only).
  bool submit(const Violation& v);

  // Writes what it can until `deadline` (retrying while Redis is away), then aborts any request
  // still in flight and joins the thread. Whatever is still spooled counts as dropped and is
  // logged. Returns how many were dropped that way. Idempotent. Overruns the deadline by at most
  // connect_timeout (a TCP connect in progress cannot be cut).
  // With an on-disk spool, a failed attempt ends the flush at once (nothing is lost by leaving)
  // and what is left is written to the spool file (counted in stats().persisted, not dropped);
  // then the deadline is overrun by that write too.
  std::size_t stop(std::chrono::steady_clock::time_point deadline);

  const WriterStats& stats() const { return stats_; }

 private:
  struct Session;  // the writer thread's private state (connection, batch in flight)

  void run();
  // One round: take a batch, connect if needed, write it. false when the thread should exit.
  bool step(Session& s);
  bool connect(Session& s);
  void disconnect(Session& s);
  // Removes from the batch in doubt the violations the stream already holds.
  bool skip_landed(Session& s);
  // Sends the first `n` pending violations in one pipeline; returns how many, from the front,
  // Redis acknowledged.
  std::size_t write_batch(Session& s, std::size_t n, bool& broken);
  // `count` violations left the spool because Redis holds them.
  void release(std::size_t count);
  // A write attempt of `unwritten` violations failed; they stay spooled.
  void failed(std::size_t unwritten);
  // Waits the current backoff (shortened by a stop deadline, journaling what is submitted
  // meanwhile); false when the thread should exit.
  bool wait_backoff(Session& s);
  // Moves everything submitted into s.pending (mutex_ held); returns where the new ones start.
  std::size_t take(Session& s);
  // On-disk spool upkeep (writer thread; no-ops without a spool).
  void journal_new(Session& s, std::size_t from);
  void journal_done(Session& s, const std::vector<std::string_view>& ids);
  void journal_compact(Session& s);
  void journal_failed(Session& s);
  // Leaves the spool file holding what is still pending; returns how many that is.
  std::size_t persist(Session& s);
  bool past_deadline() const;  // mutex_ held
  void log_drop(const Violation& v);

  const config::RedisConfig config_;
  const ViolationWriterOptions options_;
  RedisEndpoint endpoint_;
  // redis.cluster's nodes (empty: one Redis, endpoint_): each connect writes to the master of the
  // stream's slot.
  std::vector<RedisEndpoint> seeds_;
  WriterStats stats_;
  // Opened by start(), then the writer thread's; null without redis.spool_dir.
  std::unique_ptr<ViolationSpool> spool_;
  std::deque<Violation> recovered_;  // read by start(), handed to the writer thread

  mutable std::mutex mutex_;  // guards everything below up to thread_
  std::condition_variable wake_;
  std::deque<Violation> incoming_;  // submitted, not yet taken by the writer thread
  std::size_t spooled_ = 0;         // incoming_ plus the writer's batch not yet acknowledged
  bool running_ = false;
  bool stopping_ = false;
  bool exited_ = false;        // the writer thread has left run()
  std::size_t persisted_ = 0;  // left in the spool file by the writer thread on its way out
  std::chrono::steady_clock::time_point deadline_{};
  std::chrono::steady_clock::time_point next_drop_log_{};
  std::uint64_t drops_since_log_ = 0;
  // The socket of the writer's connection (-1 when none), so stop() can cut a request that would
  // outlive the deadline. Set and cleared by the writer thread; `cut_` set by stop() then.
  std::mutex fd_mutex_;
  int fd_ = -1;
  bool cut_ = false;

  std::thread thread_;
};

}  // namespace chatdesk::monitor
