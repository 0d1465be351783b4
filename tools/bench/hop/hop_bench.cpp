// The cost of one hop between gateway nodes through Redis (docs/scaling.md, "Messages between
// nodes"): a publisher sends batches to a receiver's inbox at a fixed rate, the receiver reads
// them, and the bench prints, per transport, the publish -> receive latency (p50, p99), Redis's
// CPU per batch (from /proc/<redis pid>/stat) and Redis commands per batch (INFO commandstats).
//   pubsub: PUBLISH to a channel the receiver SUBSCRIBEs to (lost while the receiver is away).
//   stream: XADD MAXLEN ~ to a stream the receiver reads with XREAD BLOCK (kept while it is away).
// Sync hiredis, one thread each side; a batch carries its send time. One JSON line per transport.
// Usage: chatdesk-bench-hop --port P --redis-pid PID [--batches N] [--rate R] [--bytes B]

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "proc_stat.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 6379;
  int redis_pid = 0;
  int batches = 50000;
  double rate = 20000;  // batches per second
  int bytes = 200;      // one relayed message's batch: a frame and the entry's head
};

redisContext* connect(int port) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (!c || c->err) {
    std::fprintf(stderr, "hop: cannot connect to 127.0.0.1:%d\n", port);
    std::exit(1);
  }
  return c;
}

void check(redisReply* r, const char* what) {
  if (!r || r->type == REDIS_REPLY_ERROR) {
    std::fprintf(stderr, "hop: %s failed: %s\n", what, r ? r->str : "no reply");
    std::exit(1);
  }
}

long long commands_processed(redisContext* c) {
  auto* r = static_cast<redisReply*>(redisCommand(c, "INFO stats"));
  check(r, "INFO");
  const std::string_view info(r->str, r->len);
  const auto at = info.find("total_commands_processed:");
  const long long n = at == std::string_view::npos ? 0 : std::atoll(info.data() + at + 25);
  freeReplyObject(r);
  return n;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The batch's first 8 bytes are its send time.
std::int64_t sent_at(const char* data, std::size_t len) {
  std::int64_t t = 0;
  if (len >= sizeof t) std::memcpy(&t, data, sizeof t);
  return t;
}

void run(const Options& o, bool stream) {
  const char* key = stream ? "chatdesk:bench:inbox" : "chatdesk:bench:channel";
  redisContext* admin = connect(o.port);
  freeReplyObject(redisCommand(admin, "DEL %s", key));
  std::vector<std::int64_t> latencies;
  latencies.reserve(static_cast<std::size_t>(o.batches));
  std::atomic<bool> ready{false};

  std::thread receiver([&] {
    redisContext* c = connect(o.port);
    if (!stream) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "SUBSCRIBE %s", key));
      check(r, "SUBSCRIBE");
      freeReplyObject(r);
      ready = true;
      while (static_cast<int>(latencies.size()) < o.batches) {
        void* reply = nullptr;
        if (redisGetReply(c, &reply) != REDIS_OK) break;
        auto* m = static_cast<redisReply*>(reply);
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 3)
          latencies.push_back(now_ns() - sent_at(m->element[2]->str, m->element[2]->len));
        freeReplyObject(m);
      }
    } else {
      std::string last = "0-0";
      ready = true;
      while (static_cast<int>(latencies.size()) < o.batches) {
        auto* r = static_cast<redisReply*>(
            redisCommand(c, "XREAD COUNT 1000 BLOCK 1000 STREAMS %s %s", key, last.c_str()));
        check(r, "XREAD");
        if (r->type == REDIS_REPLY_ARRAY) {
          const redisReply* entries = r->element[0]->element[1];
          const auto at = now_ns();
          for (std::size_t i = 0; i < entries->elements; ++i) {
            const redisReply* e = entries->element[i];
            last.assign(e->element[0]->str, e->element[0]->len);
            const redisReply* value = e->element[1]->element[1];
            latencies.push_back(at - sent_at(value->str, value->len));
          }
        }
        freeReplyObject(r);
      }
    }
    redisFree(c);
  });
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the SUBSCRIBE took effect

  redisContext* pub = connect(o.port);
  std::string payload(static_cast<std::size_t>(std::max(o.bytes, 8)), 'x');
  const auto cpu0 = chatdesk::bench::process_cpu_seconds(o.redis_pid);
  const auto commands0 = commands_processed(admin);
  const auto start = Clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / o.rate);
  for (int i = 0; i < o.batches; ++i) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * i);
    while (Clock::now() < due) {
    }
    const std::int64_t t = now_ns();
    std::memcpy(payload.data(), &t, sizeof t);
    auto* r = stream ? static_cast<redisReply*>(redisCommand(pub, "XADD %s MAXLEN ~ 10000 * b %b",
                                                             key, payload.data(), payload.size()))
                     : static_cast<redisReply*>(
                           redisCommand(pub, "PUBLISH %s %b", key, payload.data(), payload.size()));
    check(r, stream ? "XADD" : "PUBLISH");
    freeReplyObject(r);
  }
  receiver.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto cpu1 = chatdesk::bench::process_cpu_seconds(o.redis_pid);
  // The INFO calls themselves are two commands.
  const auto commands = commands_processed(admin) - commands0 - 1;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies[std::min(
               latencies.size() - 1,
               static_cast<std::size_t>(p * static_cast<double>(latencies.size())))] /
           1000.0;
  };
  const double redis_cpu = cpu0 && cpu1 ? (*cpu1 - *cpu0) : -1;
  std::printf(
      "{\"transport\":\"%s\",\"batches\":%d,\"bytes\":%d,\"rate\":%.0f,\"seconds\":%.3f,"
      "\"p50_us\":%.1f,\"p99_us\":%.1f,\"redis_cpu_us_per_batch\":%.2f,"
      "\"redis_commands_per_batch\":%.3f}\n",
      stream ? "stream" : "pubsub", o.batches, o.bytes, o.rate, seconds, pct(0.5), pct(0.99),
      redis_cpu * 1e6 / o.batches, static_cast<double>(commands) / o.batches);
  std::fflush(stdout);
  freeReplyObject(redisCommand(admin, "DEL %s", key));
  redisFree(pub);
  redisFree(admin);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--port")
      o.port = std::atoi(argv[i + 1]);
    else if (a == "--redis-pid")
      o.redis_pid = std::atoi(argv[i + 1]);
    else if (a == "--batches")
      o.batches = std::atoi(argv[i + 1]);
    else if (a == "--rate")
      o.rate = std::atof(argv[i + 1]);
    else if (a == "--bytes")
      o.bytes = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: chatdesk-bench-hop --port P --redis-pid PID [--batches N] "
                   "[--rate R] [--bytes B]\n");
      return 2;
    }
  }
  if (o.batches <= 0 || o.rate <= 0 || o.redis_pid <= 0) {
    std::fprintf(stderr, "hop: --redis-pid, and positive --batches and --rate, are needed\n");
    return 2;
  }
  run(o, false);
  run(o, true);
  return 0;
}
