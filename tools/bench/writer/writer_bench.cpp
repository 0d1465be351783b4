// chatdesk-bench-writer: the real ViolationWriter against a local redis-server (benchmarks issue,
// scenario 6). Starts its own redis-server on a free loopback port in a temp directory (the
// integration tests' RedisServer: snapshot on stop, same port and data on restart) and measures:
//
//   throughput  violations/s from the first submit() until Redis acknowledged the last one, with
//               the gateway's default writer settings (spool of 100k, batches of 256). The
//               submitter waits while the spool is nearly full, as the writer is what is measured.
//   outage      violations are submitted at a steady rate; after --before seconds redis-server is
//               stopped for --outage seconds and started again on the same port. Reported: the
//               catch-up time from the restart (Redis answering PING) until every violation
//               submitted before that moment is acknowledged, how much of it was the writer's
//               retry backoff (until its first write after the restart), the peak spool, and the
//               check that none was lost or written twice (stream length and distinct ids equal to
//               the number submitted, nothing dropped).
//
// Prints one JSON line; exit 1 when a check fails or Redis cannot be started.
// Threads: main submits; in outage mode a second thread stops and restarts Redis.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/monitor/violation_writer.hpp"
#include "redis_server.hpp"  // tests/integration/support: a throwaway redis-server

namespace {

namespace monitor = chatdesk::monitor;
using Clock = std::chrono::steady_clock;
using chatdesk::test::RedisServer;

// The command line.
struct Options {
  std::string mode = "both";  // throughput | outage | both
  std::size_t count = 200'000;
  double rate = 5000;    // violations/s submitted in outage mode
  double before = 2;     // seconds before the outage
  double outage = 10;    // seconds redis-server is down
  double after = 1;      // seconds of submitting after the catch-up
  double give_up = 120;  // catch-up longer than this is a failure
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr,
               "chatdesk-bench-writer: %s\n"
               "usage: chatdesk-bench-writer [--mode throughput|outage|both] [--count N]\n"
               "         [--rate R] [--before S] [--outage S] [--after S] [--quick]\n"
               "  --quick: 50k violations, 2 s outage.\n",
               why.c_str());
  std::exit(2);
}

double to_number(std::string_view flag, const char* text) {
  const std::string_view s(text);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < 0)
    usage_error(std::string(flag) + " needs a number >= 0, got '" + std::string(s) + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--mode") {
      o.mode = value();
      if (o.mode != "throughput" && o.mode != "outage" && o.mode != "both")
        usage_error("--mode is throughput, outage or both");
    } else if (a == "--count") {
      o.count = static_cast<std::size_t>(to_number(a, value()));
    } else if (a == "--rate") {
      o.rate = to_number(a, value());
    } else if (a == "--before") {
      o.before = to_number(a, value());
    } else if (a == "--outage") {
      o.outage = to_number(a, value());
    } else if (a == "--after") {
      o.after = to_number(a, value());
    } else if (a == "--quick") {
      o.count = 50'000;
      o.outage = 2;
      o.before = 1;
    } else if (a == "--help" || a == "-h") {
      usage_error("help");
    } else {
      usage_error("unknown argument '" + std::string(a) + "'");
    }
  }
  if (o.count == 0 || o.rate <= 0) usage_error("--count and --rate must be above 0");
  return o;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A greeting breach as the engine makes it, with a unique conversation per number.
monitor::Violation make_violation(std::uint64_t n) {
  std::uint64_t x = (n + 1) * 0x9E3779B97F4A7C15ULL;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  char conv[19];
  std::snprintf(conv, sizeof conv, "c-%016llx", static_cast<unsigned long long>(x));
  monitor::Violation v;
  v.rule = monitor::Rule::greeting;
  v.severity = monitor::Severity::breach;
  v.level = 1;
  v.shop = "bench";
  v.agent = (n % 4 == 0) ? "" : "agent-" + std::to_string(n % 97);
  v.conversation = conv;
  v.id = v.conversation + ":greeting:1:breach";
  v.elapsed = chatdesk::Duration{30'000};
  v.target = chatdesk::Duration{30'000};
  v.ts = std::chrono::time_point_cast<chatdesk::Duration>(std::chrono::system_clock::now());
  return v;
}

chatdesk::config::RedisConfig redis_config(const RedisServer& server, std::string stream) {
  chatdesk::config::RedisConfig c;  // the gateway's defaults: spool 100k, MAXLEN ~ 1M
  c.url = server.url();
  c.violations_stream = std::move(stream);
  return c;
}

// Stream length and the number of distinct `id` fields, read in pages.
struct StreamCheck {
  long long length = -1;
  std::size_t distinct = 0;
  std::size_t entries = 0;
};

StreamCheck check_stream(const RedisServer& server, const std::string& stream) {
  StreamCheck out;
  auto len = server.command({"XLEN", stream});
  if (len->type == REDIS_REPLY_INTEGER) out.length = len->integer;
  std::unordered_set<std::string> ids;
  ids.reserve(static_cast<std::size_t>(std::max(0LL, out.length)));
  std::string from = "-";
  for (;;) {
    auto r = server.command({"XRANGE", stream, from, "+", "COUNT", "10000"});
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) break;
    std::string last;
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
      ++out.entries;
      last.assign(e->element[0]->str, e->element[0]->len);
      const redisReply* f = e->element[1];
      for (std::size_t k = 0; k + 1 < f->elements; k += 2)
        if (std::string_view(f->element[k]->str, f->element[k]->len) == "id")
          ids.emplace(f->element[k + 1]->str, f->element[k + 1]->len);
    }
    if (r->elements < 10000) break;
    // Exclusive start after the last entry ("(" needs Redis 6.2; build the next id instead).
    const auto dash = last.find('-');
    from = last.substr(0, dash + 1) + std::to_string(std::stoull(last.substr(dash + 1)) + 1);
  }
  out.distinct = ids.size();
  return out;
}

void wait_for(const std::function<bool()>& done, double limit_s) {
  const auto start = Clock::now();
  while (!done()) {
    if (seconds_since(start) > limit_s)
      throw std::runtime_error("timed out waiting for the writer");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

std::string throughput(RedisServer& server, const Options& opt, bool& ok) {
  const std::string stream = "bench:throughput";
  const auto cfg = redis_config(server, stream);
  std::vector<monitor::Violation> vs;
  vs.reserve(opt.count);
  for (std::size_t i = 0; i < opt.count; ++i) vs.push_back(make_violation(i));

  monitor::ViolationWriter writer(cfg);
  std::string error;
  if (!writer.start(error)) throw std::runtime_error(error);
  // The writer connects on its first violation: one local TCP connect is inside the figure.
  const auto& st = writer.stats();
  // Keep the spool from overflowing: the writer, not the spool size, is what is measured.
  const std::size_t high_water = cfg.spool_size - 1024;
  const auto t0 = Clock::now();
  for (const auto& v : vs) {
    while (st.spooled.load(std::memory_order_relaxed) >= high_water)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    writer.submit(v);
  }
  const double submit_s = seconds_since(t0);
  wait_for([&] { return st.ok.load() + st.dropped.load() >= opt.count; }, 120);
  const double seconds = seconds_since(t0);
  writer.stop(Clock::now() + std::chrono::seconds(5));
  const StreamCheck check = check_stream(server, stream);
  const bool good = st.dropped.load() == 0 && check.length == static_cast<long long>(opt.count) &&
                    check.distinct == opt.count;
  ok = ok && good;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "\"throughput\":{\"violations\":%zu,\"seconds\":%.3f,\"violations_per_s\":%.0f,"
                "\"submit_seconds\":%.3f,\"dropped\":%llu,\"stream_length\":%lld,"
                "\"distinct_ids\":%zu,\"ok\":%s}",
                opt.count, seconds, static_cast<double>(opt.count) / seconds, submit_s,
                static_cast<unsigned long long>(st.dropped.load()), check.length, check.distinct,
                good ? "true" : "false");
  return buf;
}

std::string outage(RedisServer& server, const Options& opt, bool& ok) {
  const std::string stream = "bench:outage";
  const auto cfg = redis_config(server, stream);
  monitor::ViolationWriter writer(cfg);
  std::string error;
  if (!writer.start(error)) throw std::runtime_error(error);
  const auto& st = writer.stats();

  std::atomic<std::uint64_t> submitted{0};
  std::atomic<bool> restarted{false};
  std::atomic<std::uint64_t> submitted_at_restart{0};
  std::atomic<std::uint64_t> ok_at_restart{0};
  Clock::time_point stopped_at{};
  Clock::time_point restarted_at{};
  std::string control_error;

  const auto t0 = Clock::now();
  std::thread control([&] {
    try {
      std::this_thread::sleep_for(std::chrono::duration<double>(opt.before));
      server.stop();  // snapshot, then SIGTERM: what Redis acknowledged survives
      stopped_at = Clock::now();
      std::this_thread::sleep_until(stopped_at + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(opt.outage)));
      server.restart();  // returns once PING answers
      restarted_at = Clock::now();
      submitted_at_restart = submitted.load();
      ok_at_restart = st.ok.load();
      restarted = true;
    } catch (const std::exception& e) {
      control_error = e.what();
      restarted = true;
    }
  });

  // Steady submission, paced in 1 ms ticks, until `after` seconds past the catch-up.
  std::uint64_t n = 0;
  std::size_t peak_spool = 0;
  bool caught_up = false;
  Clock::time_point caught_up_at{};
  Clock::time_point first_write_at{};
  bool first_write = false;
  for (;;) {
    const double elapsed = seconds_since(t0);
    const auto due = static_cast<std::uint64_t>(elapsed * opt.rate);
    for (; n < due; ++n) writer.submit(make_violation(1'000'000'000ULL + n));
    submitted = n;
    peak_spool = std::max(peak_spool, st.spooled.load());
    if (restarted && !control_error.empty()) break;
    if (restarted) {
      const auto done = st.ok.load();
      if (!first_write && done > ok_at_restart) {
        first_write = true;
        first_write_at = Clock::now();
      }
      if (!caught_up && done >= submitted_at_restart) {
        caught_up = true;
        caught_up_at = Clock::now();
      }
      if (caught_up &&
          std::chrono::duration<double>(Clock::now() - caught_up_at).count() >= opt.after)
        break;
      if (!caught_up &&
          std::chrono::duration<double>(Clock::now() - restarted_at).count() > opt.give_up)
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  control.join();
  if (!control_error.empty()) throw std::runtime_error("redis-server: " + control_error);
  const std::uint64_t total = n;
  writer.stop(Clock::now() + std::chrono::seconds(30));  // flushes the tail
  const StreamCheck check = check_stream(server, stream);

  auto secs = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  const double catch_up = caught_up ? secs(restarted_at, caught_up_at) : -1;
  const double backoff = first_write ? secs(restarted_at, first_write_at) : -1;
  const bool good = caught_up && st.dropped.load() == 0 &&
                    check.length == static_cast<long long>(total) && check.distinct == total;
  ok = ok && good;
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "\"outage\":{\"rate\":%.0f,\"outage_seconds\":%.3f,\"submitted\":%llu,"
                "\"submitted_before_restart\":%llu,\"catch_up_seconds\":%.3f,"
                "\"until_first_write_seconds\":%.3f,\"drain_seconds\":%.3f,\"peak_spool\":%zu,"
                "\"written\":%llu,\"dropped\":%llu,\"retried\":%llu,\"stream_length\":%lld,"
                "\"distinct_ids\":%zu,\"lost\":%lld,\"ok\":%s}",
                opt.rate, secs(stopped_at, restarted_at), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(submitted_at_restart.load()), catch_up, backoff,
                caught_up && first_write ? catch_up - backoff : -1.0, peak_spool,
                static_cast<unsigned long long>(st.ok.load()),
                static_cast<unsigned long long>(st.dropped.load()),
                static_cast<unsigned long long>(st.error.load()), check.length, check.distinct,
                static_cast<long long>(total) - static_cast<long long>(check.distinct),
                good ? "true" : "false");
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  try {
    // Persistence as in scripts/run.sh (append-only file), so Redis does the work it does in use;
    // it also carries what was acknowledged across the outage's restart.
    RedisServer server({"--appendonly", "yes"});
    bool ok = true;
    std::string out = "{";
    if (opt.mode != "outage") out += throughput(server, opt, ok);
    if (opt.mode == "both") out += ",";
    if (opt.mode != "throughput") out += outage(server, opt, ok);
    out += "}";
    std::printf("%s\n", out.c_str());
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chatdesk-bench-writer: %s\n", e.what());
    return 1;
  }
}
