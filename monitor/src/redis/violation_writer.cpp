#include "chatdesk/monitor/violation_writer.hpp"

#include "chatdesk/monitor/blocking_redis.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace chatdesk::monitor {

namespace {

using Clock = std::chrono::steady_clock;

using Reply = RedisReplyPtr;
using Context = RedisContextPtr;

// One blocking request. nullptr when the connection failed (c->err says why).
Reply command(redisContext* c, std::initializer_list<std::string_view> args) {
  std::string ignored;  // c->errstr has it too
  return command_blocking(c, std::span<const std::string_view>(args.begin(), args.size()), ignored);
}

std::string_view reply_text(const redisReply* r) {
  return r && r->str ? std::string_view(r->str, r->len) : std::string_view{};
}

// A Redis Cluster's answer that the key's slot is served elsewhere, or not served at the moment.
bool is_cluster_redirect(std::string_view error) {
  return error.starts_with("MOVED ") || error.starts_with("ASK ") ||
         error.starts_with("CLUSTERDOWN") || error.starts_with("TRYAGAIN");
}

// Holds the digits of a number for as long as a command that refers to them is being formatted.
struct Number {
  std::array<char, 24> buf;
  std::size_t len = 0;
  explicit Number(std::int64_t v) {
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    len = ec == std::errc{} ? static_cast<std::size_t>(end - buf.data()) : 0;
  }
  std::string_view view() const { return {buf.data(), len}; }
};

// "<ms>-<seq>" → "<ms>-<seq+1>": the first id after `id`, so paging does not see an entry twice.
std::string next_stream_id(std::string_view id) {
  const auto dash = id.find('-');
  std::uint64_t seq = 0;
  if (dash == std::string_view::npos) return std::string(id);
  auto [end, ec] = std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  if (ec != std::errc{}) return std::string(id);
  return std::string(id.substr(0, dash + 1)) + std::to_string(seq + 1);
}

// The stream id of one XRANGE entry ([entry-id, [field, value, ...]]); empty when malformed.
std::string_view entry_id_of(const redisReply* entry) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return {};
  return reply_text(entry->element[0]);
}

// The value of field `id` in one XRANGE entry ([entry-id, [field, value, ...]]).
std::string_view violation_id_of(const redisReply* entry) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return {};
  const redisReply* fields = entry->element[1];
  if (fields->type != REDIS_REPLY_ARRAY) return {};
  for (std::size_t i = 0; i + 1 < fields->elements; i += 2)
    if (reply_text(fields->element[i]) == "id") return reply_text(fields->element[i + 1]);
  return {};
}

}  // namespace

struct ViolationWriter::Session {
  std::deque<Violation> pending;  // the spool's front, owned by the writer thread
  Context ctx;
  std::string last_entry_id;  // stream id of our latest acknowledged entry
  std::size_t in_doubt = 0;   // pending's first in_doubt were sent without an answer
  std::chrono::milliseconds backoff{0};
  bool reported_down = false;  // logged that Redis is unreachable; log again once it is back
  // The spool file mirrors `pending` (plus `journal_dead` acknowledged violations not yet
  // compacted away) while journal_ok; after an I/O error it is repaired at the next compaction.
  bool journal_ok = false;
  std::size_t journal_dead = 0;
  Clock::time_point journal_retry{};
};

ViolationWriter::ViolationWriter(const config::RedisConfig& config, ViolationWriterOptions options)
    : config_(config), options_(options) {}

ViolationWriter::~ViolationWriter() {
  stop(Clock::now());
}

bool ViolationWriter::start(std::string& error) {
  auto endpoint = parse_redis_url(config_.url);
  if (!endpoint) {
    // The URL may hold a password: never echo it.
    error = "redis.url is not redis://[[user]:password@]host[:port][/db]";
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    if (running_ || exited_) {
      error = "violation writer already started";
      return false;
    }
  }
  if (!config_.spool_dir.empty() && !spool_) {
    // Read before the gateway serves anyone, so what an earlier run left is written first.
    auto spool = std::make_unique<ViolationSpool>();
    ViolationSpool::Recovered found;
    if (!spool->open(config_.spool_dir, config_.spool_size, found, error)) {
      error = "redis.spool_dir: " + error;
      return false;
    }
    if (!found.violations.empty() || found.bad_lines > 0 || found.over_limit > 0)
      std::fprintf(stderr,
                   "chatdesk: violation writer: %zu violation(s) not yet in Redis recovered from "
                   "%s (written first); %zu damaged line(s) skipped; %zu beyond spool_size "
                   "dropped\n",
                   found.violations.size(), spool->path().c_str(), found.bad_lines,
                   found.over_limit);
    stats_.recovered.store(found.violations.size(), std::memory_order_relaxed);
    stats_.dropped.fetch_add(found.over_limit, std::memory_order_relaxed);
    recovered_ = std::move(found.violations);
    spool_ = std::move(spool);
  }
  auto seeds = cluster_seeds(config_);
  if (!seeds) {
    error = "redis.cluster: redis.url must name db 0 (a Redis Cluster has no other)";
    return false;
  }
  std::lock_guard lock(mutex_);
  endpoint_ = std::move(*endpoint);
  seeds_ = std::move(*seeds);
  spooled_ = recovered_.size();
  stats_.spooled.store(spooled_, std::memory_order_relaxed);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::exception& e) {
    error = std::string("cannot start the violation writer thread: ") + e.what();
    return false;
  }
  running_ = true;
  return true;
}

bool ViolationWriter::submit(const Violation& v) {
  // Copied before locking so that the event loop holds the lock only for the move.
  Violation copy = v;
  bool accepted = false;
  {
    std::lock_guard lock(mutex_);
    if (running_ && !stopping_ && spooled_ < config_.spool_size) {
      incoming_.push_back(std::move(copy));
      ++spooled_;
      stats_.spooled.store(spooled_, std::memory_order_relaxed);
      accepted = true;
    } else {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      ++drops_since_log_;
    }
  }
  if (accepted) {
    wake_.notify_one();
    return true;
  }
  log_drop(v);
  return false;
}

void ViolationWriter::log_drop(const Violation& v) {
  std::uint64_t drops = 0;
  {
    // One line a second at most: a full spool under load must not turn into a stderr flood.
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (now < next_drop_log_) return;
    next_drop_log_ = now + std::chrono::seconds(1);
    drops = std::exchange(drops_since_log_, 0);
  }
  // Violation id, conversation and detail stay out of logs (they may name a customer or quote
  // chat text).
  std::fprintf(
      stderr,
      "chatdesk: violation writer: dropped %llu violation(s) (spool of %zu full or writer "
      "stopped); latest: rule=%.*s severity=%.*s shop=%.*s agent=%.*s; total dropped %llu\n",
      static_cast<unsigned long long>(drops), config_.spool_size,
      static_cast<int>(to_string(v.rule).size()), to_string(v.rule).data(),
      static_cast<int>(to_string(v.severity).size()), to_string(v.severity).data(),
      static_cast<int>(v.shop.size()), v.shop.data(), static_cast<int>(v.agent.size()),
      v.agent.data(),
      static_cast<unsigned long long>(stats_.dropped.load(std::memory_order_relaxed)));
}

std::size_t ViolationWriter::stop(Clock::time_point deadline) {
  {
    std::unique_lock lock(mutex_);
    // Drops since the last rate-limited report would otherwise never reach the log.
    if (const auto unreported = std::exchange(drops_since_log_, 0); unreported > 0)
      std::fprintf(stderr,
                   "chatdesk: violation writer: %llu more violation(s) dropped since the last "
                   "report\n",
                   static_cast<unsigned long long>(unreported));
    if (!running_) return 0;
    if (!stopping_) {
      stopping_ = true;
      deadline_ = deadline;
    }
    wake_.notify_all();
    // Let it flush until the deadline; then cut its socket so a request in flight returns now.
    if (!wake_.wait_until(lock, deadline_, [this] { return exited_; })) {
      lock.unlock();
      std::lock_guard fd_lock(fd_mutex_);
      cut_ = true;
      if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    }
  }
  thread_.join();

  std::size_t left;
  std::size_t persisted;
  {
    std::lock_guard lock(mutex_);
    running_ = false;
    persisted = persisted_;
    left = spooled_ - std::min(spooled_, persisted);
    spooled_ = 0;
    incoming_.clear();
    stats_.spooled.store(0, std::memory_order_relaxed);
    stats_.dropped.fetch_add(left, std::memory_order_relaxed);
    stats_.persisted.store(persisted, std::memory_order_relaxed);
  }
  if (left > 0)
    std::fprintf(stderr,
                 "chatdesk: violation writer: %zu violation(s) not written to Redis before the "
                 "shutdown deadline; dropped\n",
                 left);
  if (persisted > 0)
    std::fprintf(stderr,
                 "chatdesk: violation writer: %zu violation(s) not yet in Redis kept in %s; the "
                 "next start writes them first\n",
                 persisted, spool_->path().c_str());
  return left;
}

void ViolationWriter::run() {
  // hiredis writes with write(2): a peer that went away would raise SIGPIPE and kill the process.
  // Blocking it for this thread only turns that into EPIPE without touching process-wide state.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

  Session s;
  s.backoff = options_.backoff_initial;
  if (spool_) {
    // What an earlier run left may have landed just before it died: check before sending.
    s.pending = std::move(recovered_);
    s.in_doubt = s.pending.size();
    // Compacts the file, and cuts off a torn last line before anything is appended after it.
    s.journal_ok = true;
    if (!spool_->rewrite(s.pending)) journal_failed(s);
  }
  for (;;) {
    try {
      if (!step(s)) break;
    } catch (const std::exception& e) {
      // Only allocation can throw here. The spool is intact, but a pipeline may have been cut
      // short: start over on a new connection, treating the front batch as possibly written.
      std::fprintf(stderr, "chatdesk: violation writer: %s; retrying\n", e.what());
      disconnect(s);
      s.in_doubt = std::max(s.in_doubt, std::min(s.pending.size(), options_.batch_max));
      if (!wait_backoff(s)) break;
    }
  }
  disconnect(s);
  const std::size_t persisted = persist(s);
  {
    std::lock_guard lock(mutex_);
    persisted_ = persisted;
    exited_ = true;
  }
  wake_.notify_all();
}

std::size_t ViolationWriter::take(Session& s) {
  const std::size_t from = s.pending.size();
  while (!incoming_.empty()) {
    s.pending.push_back(std::move(incoming_.front()));
    incoming_.pop_front();
  }
  return from;
}

void ViolationWriter::journal_new(Session& s, std::size_t from) {
  if (!spool_ || !s.journal_ok || from >= s.pending.size()) return;
  if (!spool_->add(s.pending, from)) journal_failed(s);
}

void ViolationWriter::journal_done(Session& s, const std::vector<std::string_view>& ids) {
  if (!spool_ || !s.journal_ok || ids.empty()) return;
  if (!spool_->done(ids)) return journal_failed(s);
  s.journal_dead += ids.size();
}

void ViolationWriter::journal_compact(Session& s) {
  if (!spool_) return;
  const bool due =
      s.journal_ok
          ? s.pending.empty() || s.journal_dead > s.pending.size() + options_.spool_compact_slack
          : Clock::now() >= s.journal_retry;
  if (!due) return;
  // Emptying is one truncate; a rewrite copies what is pending (at most spool_size).
  if (s.pending.empty() ? spool_->clear() : spool_->rewrite(s.pending)) {
    if (!s.journal_ok)
      std::fprintf(stderr, "chatdesk: violation writer: spool file %s works again\n",
                   spool_->path().c_str());
    s.journal_ok = true;
    s.journal_dead = 0;
  } else {
    journal_failed(s);
  }
}

void ViolationWriter::journal_failed(Session& s) {
  if (s.journal_ok)
    std::fprintf(stderr,
                 "chatdesk: violation writer: %s; until it works again, violations not yet in "
                 "Redis are kept in memory only\n",
                 spool_->error().c_str());
  s.journal_ok = false;
  s.journal_retry = Clock::now() + std::chrono::seconds(5);
}

std::size_t ViolationWriter::persist(Session& s) {
  if (!spool_) return 0;
  {
    // Nothing more can be submitted (stopping_): the last of it joins the file too.
    std::lock_guard lock(mutex_);
    take(s);
  }
  const bool ok = s.pending.empty() ? spool_->clear() : spool_->rewrite(s.pending);
  if (!ok) {
    std::fprintf(stderr, "chatdesk: violation writer: %s\n", spool_->error().c_str());
    return 0;
  }
  return s.pending.size();
}

bool ViolationWriter::step(Session& s) {
  std::size_t from;
  {
    std::unique_lock lock(mutex_);
    if (s.pending.empty()) wake_.wait(lock, [&] { return !incoming_.empty() || stopping_; });
    if (stopping_ && ((s.pending.empty() && incoming_.empty()) || past_deadline())) return false;
    from = take(s);
  }
  // On disk before it is sent: a crash from here on loses none of it.
  journal_new(s, from);
  const std::size_t n = std::min(s.pending.size(), options_.batch_max);
  if (!s.ctx && !connect(s)) {
    failed(n);
    return wait_backoff(s);
  }
  if (s.in_doubt > 0 && !skip_landed(s)) {
    failed(n);
    return wait_backoff(s);
  }
  const std::size_t batch = std::min(s.pending.size(), options_.batch_max);
  if (batch == 0) return true;

  bool broken = false;
  const std::size_t acked = write_batch(s, batch, broken);
  if (spool_ && acked > 0) {
    std::vector<std::string_view> ids;
    ids.reserve(acked);
    for (std::size_t i = 0; i < acked; ++i) ids.push_back(s.pending[i].id);
    journal_done(s, ids);
  }
  s.pending.erase(s.pending.begin(), s.pending.begin() + static_cast<std::ptrdiff_t>(acked));
  release(acked);
  journal_compact(s);
  if (acked == batch) {
    s.backoff = options_.backoff_initial;
    return true;
  }
  // Everything after the acknowledged prefix may or may not have landed (a dropped connection, or
  // an error reply followed by successes): check before sending it again.
  s.in_doubt = batch - acked;
  if (broken) disconnect(s);
  failed(batch - acked);
  return wait_backoff(s);
}

bool ViolationWriter::connect(Session& s) {
  RedisEndpoint ep = endpoint_;
  bool stopping = false;
  auto report = [&](std::string_view why) {
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    if (!s.reported_down && !stopping) {
      std::fprintf(stderr,
                   "chatdesk: violation writer: cannot use Redis at %s:%d (%.*s); spooling "
                   "violations and retrying\n",
                   ep.host.c_str(), ep.port, static_cast<int>(why.size()), why.data());
      s.reported_down = true;
    }
    disconnect(s);
    return false;
  };
  if (!seeds_.empty()) {
    // A Redis Cluster: the stream's slot master, as the cluster says now (asked again at every
    // connect, so a MOVED, which drops the connection, is followed).
    ClusterSlotMap map;
    std::string why;
    ep = seeds_.front();
    if (!fetch_cluster_slots(seeds_, options_.connect_timeout, options_.io_timeout, map, why))
      return report(why);
    ep = endpoint_of(*map.master_of_key(config_.violations_stream), endpoint_);
  }

  s.ctx.reset(
      redisConnectWithTimeout(ep.host.c_str(), ep.port, redis_timeval(options_.connect_timeout)));
  if (!s.ctx) return report("out of memory");
  if (s.ctx->err) return report(s.ctx->errstr);
  {
    std::lock_guard fd_lock(fd_mutex_);
    stopping = cut_;
    if (!stopping) fd_ = s.ctx->fd;
  }
  if (stopping) return report("stopping");  // stop() is past its deadline
  // Without a read/write timeout a Redis that accepts but never answers would hold the thread.
  if (redisSetTimeout(s.ctx.get(), redis_timeval(options_.io_timeout)) != REDIS_OK)
    return report(s.ctx->errstr);
  redisEnableKeepAlive(s.ctx.get());

  if (!ep.password.empty()) {
    Reply r = ep.user.empty() ? command(s.ctx.get(), {"AUTH", ep.password})
                              : command(s.ctx.get(), {"AUTH", ep.user, ep.password});
    if (!r) return report(s.ctx->errstr);
    if (r->type == REDIS_REPLY_ERROR) return report(reply_text(r.get()));
  }
  if (ep.db != 0) {
    const Number db(ep.db);
    Reply r = command(s.ctx.get(), {"SELECT", db.view()});
    if (!r) return report(s.ctx->errstr);
    if (r->type == REDIS_REPLY_ERROR) return report(reply_text(r.get()));
  }
  if (s.reported_down) {
    std::fprintf(stderr, "chatdesk: violation writer: connected to Redis at %s:%d\n",
                 ep.host.c_str(), ep.port);
    s.reported_down = false;
  }
  stats_.connected.store(true, std::memory_order_relaxed);
  return true;
}

void ViolationWriter::disconnect(Session& s) {
  if (!s.ctx) return;
  {
    std::lock_guard fd_lock(fd_mutex_);
    fd_ = -1;
    s.ctx.reset();
  }
  stats_.connected.store(false, std::memory_order_relaxed);
  // A write to the dead socket may have left a SIGPIPE pending on this thread; consume it.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  const timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
}

bool ViolationWriter::skip_landed(Session& s) {
  const std::size_t doubt = std::min(s.in_doubt, s.pending.size());
  std::unordered_set<std::string_view> wanted;
  for (std::size_t i = 0; i < doubt; ++i) wanted.insert(s.pending[i].id);
  std::unordered_set<std::string_view> landed;
  std::string newest_landed;

  auto scan = [&](const redisReply* r, bool newest_first) {
    for (std::size_t i = 0; i < r->elements && landed.size() < wanted.size(); ++i) {
      const std::string_view vid = violation_id_of(r->element[i]);
      auto it = wanted.find(vid);
      if (it == wanted.end() || !landed.insert(*it).second) continue;
      if (!newest_first || newest_landed.empty())
        newest_landed = std::string(entry_id_of(r->element[i]));
    }
  };

  const std::string_view stream = config_.violations_stream;
  if (s.last_entry_id.empty()) {
    // Nothing of ours acknowledged yet, so no starting point: look at the newest entries.
    const Number count(static_cast<std::int64_t>(options_.dedup_scan_limit));
    Reply r = command(s.ctx.get(), {"XREVRANGE", stream, "+", "-", "COUNT", count.view()});
    if (!r || r->type != REDIS_REPLY_ARRAY) {
      if (!r) disconnect(s);
      return false;
    }
    scan(r.get(), true);
  } else {
    // Entries after our last acknowledged one: ours from the batch in doubt, and other writers'.
    constexpr std::int64_t kPage = 500;
    const Number page(kPage);
    std::string from = next_stream_id(s.last_entry_id);
    std::size_t scanned = 0;
    while (scanned < options_.dedup_scan_limit && landed.size() < wanted.size()) {
      Reply r = command(s.ctx.get(), {"XRANGE", stream, from, "+", "COUNT", page.view()});
      if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (!r) disconnect(s);
        return false;
      }
      scan(r.get(), false);
      scanned += r->elements;
      if (r->elements < static_cast<std::size_t>(kPage)) break;
      const std::string_view last = entry_id_of(r->element[r->elements - 1]);
      if (last.empty()) break;
      from = next_stream_id(last);
    }
  }

  if (!landed.empty()) {
    // Only the batch in doubt was sent; what follows it in pending is kept as it is. Normally the
    // landed ones are a prefix (Redis ran the pipeline in order until the connection dropped).
    std::vector<bool> drop(doubt);
    std::vector<std::string_view> gone;
    for (std::size_t i = 0; i < doubt; ++i) {
      drop[i] = landed.count(s.pending[i].id) > 0;
      if (drop[i]) gone.push_back(s.pending[i].id);
    }
    journal_done(s, gone);
    std::deque<Violation> kept;
    for (std::size_t i = 0; i < s.pending.size(); ++i)
      if (i >= doubt || !drop[i]) kept.push_back(std::move(s.pending[i]));
    const std::size_t removed = s.pending.size() - kept.size();
    s.pending = std::move(kept);
    release(removed);
    s.last_entry_id = std::move(newest_landed);
    journal_compact(s);
  }
  s.in_doubt = 0;
  return true;
}

std::size_t ViolationWriter::write_batch(Session& s, std::size_t n, bool& broken) {
  const std::string_view stream = config_.violations_stream;
  // maxlen 0 means "never trim" (MAXLEN ~ 0 would empty the stream).
  const Number maxlen(
      static_cast<std::int64_t>(std::min<std::uint64_t>(config_.maxlen, INT64_MAX)));
  const bool trim = config_.maxlen > 0;
  constexpr std::size_t kArgs = 28;
  for (std::size_t i = 0; i < n; ++i) {
    const Violation& v = s.pending[i];
    const Number level(v.level);
    const Number elapsed(v.elapsed.count());
    const Number target(v.target.count());
    const Number ts(to_epoch_ms(v.ts));
    std::array<std::string_view, kArgs> args;
    std::size_t argc = 0;
    for (std::string_view a : {std::string_view("XADD"), stream}) args[argc++] = a;
    if (trim)
      for (std::string_view a : {std::string_view("MAXLEN"), std::string_view("~"), maxlen.view()})
        args[argc++] = a;
    for (std::string_view a : {std::string_view("*"),
                               std::string_view("id"),
                               std::string_view(v.id),
                               std::string_view("rule"),
                               to_string(v.rule),
                               std::string_view("severity"),
                               to_string(v.severity),
                               std::string_view("level"),
                               level.view(),
                               std::string_view("shop"),
                               std::string_view(v.shop),
                               std::string_view("agent"),
                               std::string_view(v.agent),
                               std::string_view("conversation"),
                               std::string_view(v.conversation),
                               std::string_view("elapsed_ms"),
                               elapsed.view(),
                               std::string_view("target_ms"),
                               target.view(),
                               std::string_view("ts"),
                               ts.view(),
                               std::string_view("detail"),
                               std::string_view(v.detail)})
      args[argc++] = a;
    std::array<const char*, kArgs> argv;
    std::array<std::size_t, kArgs> lens;
    for (std::size_t a = 0; a < argc; ++a) {
      argv[a] = args[a].data();
      lens[a] = args[a].size();
    }
    // Formats into the output buffer at once, so the numbers above may go out of scope.
    if (redisAppendCommandArgv(s.ctx.get(), static_cast<int>(argc), argv.data(), lens.data()) !=
        REDIS_OK) {
      // Out of memory: the buffered commands were never sent; start over on a new connection.
      broken = true;
      return 0;
    }
  }

  std::size_t acked = 0;
  bool in_order = true;
  std::string first_error;
  for (std::size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(s.ctx.get(), &raw) != REDIS_OK) {
      broken = true;  // the connection is out of step with the pipeline now
      break;
    }
    Reply r(static_cast<redisReply*>(raw));
    if (r->type == REDIS_REPLY_STRING && in_order) {
      ++acked;
      s.last_entry_id.assign(r->str, r->len);
    } else if (r->type != REDIS_REPLY_STRING) {
      in_order = false;
      if (first_error.empty()) first_error = std::string(reply_text(r.get()));
      // The stream's slot is elsewhere now: reconnect, to its master then.
      if (!seeds_.empty() && is_cluster_redirect(reply_text(r.get()))) broken = true;
    }
  }
  if (!first_error.empty())
    std::fprintf(stderr, "chatdesk: violation writer: Redis refused XADD to %.*s: %s\n",
                 static_cast<int>(stream.size()), stream.data(), first_error.c_str());
  return acked;
}

void ViolationWriter::release(std::size_t count) {
  if (count == 0) return;
  stats_.ok.fetch_add(count, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  spooled_ -= count;
  stats_.spooled.store(spooled_, std::memory_order_relaxed);
}

void ViolationWriter::failed(std::size_t unwritten) {
  stats_.error.fetch_add(unwritten, std::memory_order_relaxed);
}

bool ViolationWriter::wait_backoff(Session& s) {
  const auto until = Clock::now() + s.backoff;
  s.backoff = std::min(s.backoff * 2, options_.backoff_max);
  std::unique_lock lock(mutex_);
  for (;;) {
    // While stopping, keep retrying until the deadline but never sleep past it; with a working
    // on-disk spool, leave at once: what is pending stays in the file.
    if (stopping_ && ((spool_ && s.journal_ok) || past_deadline())) return false;
    if (spool_ && s.journal_ok && !incoming_.empty()) {
      // Journal what arrives during an outage now, not after the backoff: that is what a crash
      // would lose.
      const std::size_t from = take(s);
      lock.unlock();
      journal_new(s, from);
      lock.lock();
      continue;
    }
    const auto now = Clock::now();
    if (now >= until) return true;
    wake_.wait_until(lock, stopping_ ? std::min(until, deadline_) : until);
  }
}

bool ViolationWriter::past_deadline() const {
  return Clock::now() >= deadline_;
}

}  // namespace chatdesk::monitor
