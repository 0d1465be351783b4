// chatdesk-bench-recovery: how long a gateway takes to rebuild its desk from Redis at start
// (docs/storage.md, "Recovery"; docs/benchmarks.md, "Storage"). Fills a fresh redis-server (AOF
// on, as scripts/run.sh) with N open conversations of M messages each, spelt exactly as the
// gateway's store writes them (store_codec), then times the gateway's own load_desk() and
// Desk::restore() (with the SLA engine) in this process. Prints one JSON line.
// Usage: chatdesk-bench-recovery [--conversations N] [--messages M]

#include <hiredis/hiredis.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "chatdesk/gateway/desk.hpp"
#include "chatdesk/gateway/store_codec.hpp"
#include "desk_recovery.hpp"
#include "redis_server.hpp"

namespace {

using namespace chatdesk;
using Steady = std::chrono::steady_clock;

class NullOutput final : public gateway::DeskOutput {
 public:
  void send(gateway::SessionId, const gateway::Frame&) override {}
  void close(gateway::SessionId, gateway::CloseReason) override {}
};
class NullSink final : public monitor::SlaSink {
 public:
  void on_violation(const monitor::Violation&) override {}
  void on_greeting(std::string_view, std::string_view, Duration) override {}
  void on_reply_wait(std::string_view, std::string_view, Duration) override {}
  void on_typing_rate(std::string_view, std::string_view, double) override {}
  void on_typing_unmeasured(std::string_view, std::string_view) override {}
  void on_outcome(std::string_view, monitor::Outcome) override {}
};

void append(redisContext* c, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
}

double ms_since(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t conversations = 10'000, messages = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--conversations")) conversations = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--messages")) messages = std::stoul(argv[i + 1]);
  }
  test::RedisServer redis({"--appendonly", "yes", "--appendfsync", "everysec"});
  config::Config config;
  config::ShopConfig shop;
  shop.id = "bench";
  config.shops.push_back(shop);

  // --- fill Redis as the store would have -----------------------------------------------------
  redisContext* c = redisConnect("127.0.0.1", redis.port());
  if (!c || c->err) return 2;
  const TimePoint t0 = from_epoch_ms(1'765'000'000'000);
  gateway::store::StateFields state_fields;
  gateway::store::MessageFields message_fields;
  const std::string text = "您好，请问这款连衣裙有M码吗？什么时候可以发货？";  // ~25 chars
  std::size_t pending = 0;
  for (std::size_t i = 0; i < conversations; ++i) {
    gateway::StoredConversation s;
    s.id = "c-" + std::to_string(1'000'000 + i);
    s.shop = "bench";
    s.customer = "u-" + std::to_string(i);
    s.secret_hash = gateway::store::secret_hash(std::to_string(i));
    s.owner = i % 4 == 0 ? "" : "agent-" + std::to_string(i % 50);
    if (s.owner.empty()) s.queue_pos = static_cast<std::int64_t>(i);
    s.created = t0 + Duration{static_cast<std::int64_t>(i)};
    s.first_message_at = s.created;
    s.last_customer_at = s.created + Duration{static_cast<std::int64_t>(messages) * 1000};
    s.greeted = !s.owner.empty();
    s.seq = messages;
    if (!s.owner.empty()) s.agents = {s.owner};
    s.clock.wrote = true;
    s.clock.first_customer = s.created;
    s.clock.greeted = s.greeted;
    s.clock.messages = static_cast<std::uint32_t>(messages);
    s.clock.agent_messages = s.greeted ? static_cast<std::uint32_t>(messages / 2) : 0;
    const std::string state_key = gateway::store::state_key(s.id);
    const std::string messages_key = gateway::store::messages_key(s.id);
    for (std::size_t m = 1; m <= messages; ++m) {
      gateway::ChatMessage msg;
      msg.id = s.id + ":" + std::to_string(m);
      msg.from = m % 2 == 1 || s.owner.empty() ? gateway::Party::customer : gateway::Party::agent;
      msg.agent = s.owner;
      msg.text = text;
      msg.ts = s.created + Duration{static_cast<std::int64_t>(m) * 1000};
      message_fields.encode(m, msg);
      const auto& names = gateway::store::MessageFields::names();
      append(c, {"XADD", messages_key, message_fields.entry_id(), names[0], message_fields.value(0),
                 names[1], message_fields.value(1), names[2], message_fields.value(2), names[3],
                 message_fields.value(3)});
      ++pending;
    }
    state_fields.encode(s);
    append(c, {"HSET", state_key, "state", state_fields.state(), "note", state_fields.note()});
    const std::string score = std::to_string(to_epoch_ms(s.created));
    append(c, {"ZADD", gateway::store::open_key("bench"), score, s.id});
    pending += 2;
    if (pending > 5000 || i + 1 == conversations) {
      for (; pending > 0; --pending) {
        void* reply = nullptr;
        if (redisGetReply(c, &reply) != REDIS_OK) return 2;
        freeReplyObject(reply);
      }
    }
  }
  redisFree(c);

  // --- what a starting gateway does -----------------------------------------------------------
  const auto endpoint = monitor::parse_redis_url(redis.url());
  gateway::RecoveredDesk recovered;
  gateway::RecoveryStats stats;
  std::string error;
  const auto started = Steady::now();
  if (!gateway::load_desk(config, *endpoint, Steady::now() + std::chrono::seconds(5), recovered,
                          stats, error)) {
    std::fprintf(stderr, "load failed: %s\n", error.c_str());
    return 2;
  }
  const double load_ms = ms_since(started);
  ManualClock clock(t0 + std::chrono::hours(1));
  NullSink sink;
  monitor::SlaEngine engine(config, sink);
  NullOutput out;
  std::uint64_t n = 0;
  gateway::Desk desk(config, clock, out, engine, [&n] { return ++n; });
  desk.attach_store();
  const auto restoring = Steady::now();
  const std::size_t restored = desk.restore(recovered, clock.now());
  const double restore_ms = ms_since(restoring);
  const double total_ms = ms_since(started);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"conversations\":%zu,\"messages\":%zu,\"restored\":%zu,\"load_ms\":%.1f,"
      "\"restore_ms\":%.1f,\"total_ms\":%.1f,\"max_rss_kib\":%ld}\n",
      conversations, stats.messages, restored, load_ms, restore_ms, total_ms, usage.ru_maxrss);
  return restored == conversations && stats.messages == conversations * messages ? 0 : 1;
}
