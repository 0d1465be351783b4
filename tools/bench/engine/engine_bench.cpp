// chatdesk-bench-engine: desk events per second through the pure SLA engine (SlaEngine) on one
// thread, with about 100k open conversations in a realistic mix (benchmarks issue, scenario 5).
//
// A population of "lanes" each plays one conversation after another from a small script:
// arrival, customer messages, assignment, agent typing and replies (greetings, farewells, now and
// then a phrase to avoid), transfers, closes, and a share of slow greetings, slow replies and
// customers nobody answers, so that greeting, reply_wait, missed, language and courtesy deadlines
// and violations really fire. Simulated time moves 3 s per round; each round every lane plays its
// next step, in a freshly shuffled order (no cache-friendly sweep over the engine's slots), and the
// gateway's deadline timer is imitated by an advance() call per simulated millisecond.
//
// Each round's events are generated into a buffer first (untimed) and then replayed into the engine
// (timed, thread CPU time and wall time), so the figure is the engine's cost alone. Prints one JSON
// line. Single-threaded; nothing here is shared.

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/monitor/sla_engine.hpp"
#include "chatdesk/monitor/sla_sink.hpp"

namespace {

using chatdesk::Duration;
using chatdesk::TimePoint;
namespace config = chatdesk::config;
namespace monitor = chatdesk::monitor;

// The command line. Everything in this program runs on one thread.
struct Options {
  std::size_t conversations = 100'000;
  std::size_t shops = 10;
  std::size_t warmup_rounds = 25;  // until every lane runs a steady mix (staggered starts over)
  std::size_t rounds = 60;         // measured
  std::uint64_t seed = 1;
  int cpu = -1;  // pin to this CPU when >= 0
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(
      stderr,
      "chatdesk-bench-engine: %s\n"
      "usage: chatdesk-bench-engine [--conversations N] [--shops S] [--rounds R]\n"
      "         [--warmup-rounds W] [--seed X] [--cpu C] [--quick]\n"
      "  Replays a realistic desk event mix into the SLA engine and prints one JSON line.\n"
      "  --quick: 15 measured rounds instead of 60.\n",
      why.c_str());
  std::exit(2);
}

std::uint64_t number(std::string_view flag, const char* text) {
  std::uint64_t v = 0;
  const std::string_view s(text);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    usage_error(std::string(flag) + " needs a number, got '" + std::string(s) + "'");
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
    if (a == "--conversations") {
      o.conversations = number(a, value());
    } else if (a == "--shops") {
      o.shops = number(a, value());
    } else if (a == "--rounds") {
      o.rounds = number(a, value());
    } else if (a == "--warmup-rounds") {
      o.warmup_rounds = number(a, value());
    } else if (a == "--seed") {
      o.seed = number(a, value());
    } else if (a == "--cpu") {
      o.cpu = static_cast<int>(number(a, value()));
    } else if (a == "--quick") {
      o.rounds = 15;
    } else if (a == "--help" || a == "-h") {
      usage_error("help");
    } else {
      usage_error("unknown argument '" + std::string(a) + "'");
    }
  }
  if (o.conversations == 0 || o.shops == 0 || o.rounds == 0)
    usage_error("--conversations, --shops and --rounds must be at least 1");
  return o;
}

// Counts what the engine reports; the virtual calls are part of the engine's real cost. Called on
// the engine's thread only.
class CountingSink final : public monitor::SlaSink {
 public:
  void on_violation(const monitor::Violation& v) override {
    ++violations[static_cast<std::size_t>(v.rule)];
    id_bytes += v.id.size();
  }
  void on_greeting(std::string_view, std::string_view, Duration) override { ++greetings; }
  void on_reply_wait(std::string_view, std::string_view, Duration) override { ++replies; }
  void on_typing_rate(std::string_view, std::string_view, double) override { ++typing_measured; }
  void on_typing_unmeasured(std::string_view, std::string_view) override { ++typing_unmeasured; }
  void on_outcome(std::string_view, monitor::Outcome) override { ++outcomes; }

  std::array<std::uint64_t, 7> violations{};
  std::uint64_t id_bytes = 0;
  std::uint64_t greetings = 0;
  std::uint64_t replies = 0;
  std::uint64_t typing_measured = 0;
  std::uint64_t typing_unmeasured = 0;
  std::uint64_t outcomes = 0;
};

// --- the workload ------------------------------------------------------------------------------

// One step of a lane's script. `wait` steps emit nothing (the conversation is quiet that round).
enum class Op : std::uint8_t {
  arrive,
  customer_message,
  assign,
  typing,
  typing_stop,
  greet,        // agent message with a greeting phrase
  greet_rude,   // first agent message without one (courtesy warning)
  reply,        // agent message
  reply_avoid,  // agent message with a phrase to avoid (language warning)
  reply_bye,    // agent message with a farewell
  transfer,     // to another agent of the shop
  close_agent,
  customer_left,
  wait,
};

// Events as replayed. `advance` is the gateway's timer; the rest are desk events.
enum class Kind : std::uint8_t {
  arrived,
  customer_message,
  assigned,
  typing_start,
  typing_stop,
  agent_message,
  transferred,
  closed_by_agent,
  customer_left,
  advance,
  count
};
constexpr std::array<const char*, static_cast<std::size_t>(Kind::count)> kKindNames{
    "arrived",       "customer_message", "assigned",        "typing_start",  "typing_stop",
    "agent_message", "transferred",      "closed_by_agent", "customer_left", "advance"};

// The ids travel inside the event, so that replaying reads the buffer sequentially and every cache
// miss measured is the engine's own (as in the gateway, where the desk hands the engine ids it
// already holds).
struct Event {
  std::int64_t t_ms;
  char conversation[18];  // "c-" and 16 hex digits, as the desk makes them
  char agent[16];         // the agent of the event (owner, sender, or transfer target)
  std::uint8_t agent_length;
  Kind kind;
  std::uint8_t text;  // index into Texts for messages
  std::uint8_t shop;

  std::string_view conversation_id() const { return {conversation, sizeof conversation}; }
  std::string_view agent_id() const { return {agent, agent_length}; }
};

// Realistic lengths: customers write short questions, agents a sentence or two (Chinese shops).
struct Texts {
  std::vector<std::string> customer{
      "你好，我昨天下的订单什么时候发货？", "这个尺码偏大还是偏小？", "可以便宜一点吗",
      "请问有现货吗？我想今天下单。",       "快递到上海要几天？",     "好的，谢谢"};
  std::vector<std::string> greet{"您好，欢迎光临小店！请问有什么可以帮您？",
                                 "你好，我是客服小李，很高兴为您服务。"};
  std::vector<std::string> greet_rude{"请稍等，我查一下订单。"};
  std::vector<std::string> reply{
      "已经帮您查到了，订单今天下午就会发出，预计两到三天送达。",
      "这款尺码是标准的，建议按平时的尺码选择就可以。",
      "有现货的，您现在下单的话今天就能安排发货。",
      "上海一般是次日达，偏远地区会慢一点，请您耐心等待。",
  };
  std::vector<std::string> reply_avoid{"这个价格已经是最低了，但是可以送您一个小礼品。"};
  std::vector<std::string> bye{"感谢您的耐心，祝您愉快，再见！"};

  const std::string& of(Op op, std::uint8_t i) const {
    switch (op) {
      case Op::customer_message:
        return customer[i % customer.size()];
      case Op::greet:
        return greet[i % greet.size()];
      case Op::greet_rude:
        return greet_rude[i % greet_rude.size()];
      case Op::reply_avoid:
        return reply_avoid[i % reply_avoid.size()];
      case Op::reply_bye:
        return bye[i % bye.size()];
      default:
        return reply[i % reply.size()];
    }
  }
};

// One step of a script.
struct Step {
  Op op;
  std::uint8_t arg;  // wait: rounds; messages: text index
};

// One simulated customer seat: the conversation it is playing now and where it is in its script.
struct Lane {
  char id[18];  // "c-" and 16 hex digits, as the desk makes them
  std::uint32_t shop = 0;
  std::uint32_t agent = 0;  // current owner
  std::uint16_t step = 0;
  std::uint8_t waiting = 0;  // rounds left of a wait step
  bool live = false;
  std::vector<Step> script;
};

constexpr std::int64_t kRoundMs = 3000;
// 2024-06-03 10:00 in Shanghai: inside the day shift of the shops that have shifts.
constexpr std::int64_t kStartMs = 1'717'380'000'000;

// Makes each round's events from the lanes' scripts, deterministically from the seed. Not
// thread-safe (one thread generates and replays).
class Workload {
 public:
  Workload(const Options& o, std::size_t agents_per_shop, const std::vector<std::string>& agents)
      : opt_(o),
        agents_per_shop_(agents_per_shop),
        agent_names_(agents),
        rng_(o.seed),
        lanes_(o.conversations) {
    order_.resize(lanes_.size());
    for (std::uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    for (std::uint32_t i = 0; i < lanes_.size(); ++i) {
      Lane& l = lanes_[i];
      l.shop = i % static_cast<std::uint32_t>(opt_.shops);
      l.script.reserve(32);
      // Staggered first arrivals, so that lanes are spread over their scripts.
      l.script.push_back({Op::wait, static_cast<std::uint8_t>(rng_() % 20)});
      l.waiting = l.script[0].arg;
    }
  }

  std::size_t live() const { return live_; }

  // The events of the next round, in time order.
  void next_round(std::vector<Event>& out) {
    out.clear();
    std::shuffle(order_.begin(), order_.end(), rng_);
    const std::int64_t begin = kStartMs + static_cast<std::int64_t>(round_) * kRoundMs;
    const std::size_t n = order_.size();
    std::int64_t last_advance = begin - 1;
    for (std::size_t k = 0; k < n; ++k) {
      const std::int64_t t =
          begin + static_cast<std::int64_t>(k) * kRoundMs / static_cast<std::int64_t>(n);
      // The gateway's timer wakes the engine about once per millisecond while deadlines are due.
      if (t > last_advance) {
        Event e{};
        e.t_ms = t;
        e.kind = Kind::advance;
        out.push_back(e);
        last_advance = t;
      }
      play(order_[k], t, out);
    }
    ++round_;
  }

 private:
  std::uint32_t random_agent(std::uint32_t shop) {
    return shop * static_cast<std::uint32_t>(agents_per_shop_) +
           static_cast<std::uint32_t>(rng_() % agents_per_shop_);
  }

  std::uint8_t text() { return static_cast<std::uint8_t>(rng_() % 16); }

  // Scripts: shares and timings chosen so that most conversations meet every rule and a realistic
  // minority does not (docs/sla.md defaults: greeting 15 s / 30 s, reply 20 s; a round is 3 s).
  void write_script(Lane& l) {
    auto& s = l.script;
    s.clear();
    const std::uint32_t kind = static_cast<std::uint32_t>(rng_() % 100);
    s.push_back({Op::arrive, 0});
    s.push_back({Op::customer_message, text()});
    if (kind < 6) {  // nobody answers: greeting warning, breach, then the customer leaves (missed)
      s.push_back({Op::wait, 11});
      s.push_back({Op::customer_left, 0});
      return;
    }
    const bool slow_greeting = kind < 14;  // greeted after ~24 s: a warning
    const bool slow_reply = kind >= 14 && kind < 22;
    const bool transfer = kind >= 22 && kind < 27;
    const bool rude = kind >= 27 && kind < 30;
    if (slow_greeting) s.push_back({Op::wait, 5});
    s.push_back({Op::assign, 0});
    s.push_back({Op::typing, 0});
    s.push_back({rude ? Op::greet_rude : Op::greet, text()});
    const int exchanges = 1 + static_cast<int>(rng_() % 4);
    for (int i = 0; i < exchanges; ++i) {
      s.push_back({Op::customer_message, text()});
      if (transfer && i == 0) s.push_back({Op::transfer, 0});
      if (slow_reply && i == exchanges - 1) s.push_back({Op::wait, 6});  // ~27 s: a breach
      s.push_back({Op::typing, 0});
      if (rng_() % 8 == 0) s.push_back({Op::typing_stop, 0});
      s.push_back({rng_() % 10 == 0 ? Op::reply_avoid : Op::reply, text()});
    }
    if (!rude) {
      s.push_back({Op::customer_message, text()});
      s.push_back({Op::typing, 0});
      s.push_back({Op::reply_bye, 0});
    }
    s.push_back({Op::close_agent, 0});
  }

  void new_conversation(Lane& l) {
    // Ids look like the desk's: random 64 bits in hex.
    std::uint64_t x = ++conversation_counter_ * 0x9E3779B97F4A7C15ULL;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 29;
    char buf[sizeof l.id + 1];
    std::snprintf(buf, sizeof buf, "c-%016llx", static_cast<unsigned long long>(x));
    std::memcpy(l.id, buf, sizeof l.id);
    write_script(l);
    l.step = 0;
    l.waiting = 0;
  }

  void play(std::uint32_t index, std::int64_t t, std::vector<Event>& out) {
    Lane& l = lanes_[index];
    if (l.waiting > 0) {
      if (--l.waiting > 0) return;
      ++l.step;  // the wait is over: play the next step this round
    }
    if (l.step >= l.script.size()) new_conversation(l);
    const Step st = l.script[l.step];
    const auto ev = [&](Kind k, std::uint32_t agent = 0, std::uint8_t txt = 0) {
      Event& e = out.emplace_back();
      e.t_ms = t;
      std::memcpy(e.conversation, l.id, sizeof e.conversation);
      const std::string& name = agent_names_[agent];
      e.agent_length = static_cast<std::uint8_t>(name.size());
      std::memcpy(e.agent, name.data(), name.size());
      e.kind = k;
      e.text = txt;
      e.shop = static_cast<std::uint8_t>(l.shop);
    };
    switch (st.op) {
      case Op::wait:
        l.waiting = st.arg;
        if (l.waiting == 0) ++l.step;
        return;
      case Op::arrive:
        ev(Kind::arrived);
        l.live = true;
        ++live_;
        break;
      case Op::customer_message:
        ev(Kind::customer_message, 0, st.arg);
        break;
      case Op::assign:
        l.agent = random_agent(l.shop);
        ev(Kind::assigned, l.agent);
        break;
      case Op::typing:
        ev(Kind::typing_start, l.agent);
        break;
      case Op::typing_stop:
        ev(Kind::typing_stop, l.agent);
        break;
      case Op::greet:
      case Op::greet_rude:
      case Op::reply:
      case Op::reply_avoid:
      case Op::reply_bye:
        ev(Kind::agent_message, l.agent,
           static_cast<std::uint8_t>(static_cast<std::uint8_t>(st.op) << 4 | (st.arg & 0xF)));
        break;
      case Op::transfer: {
        std::uint32_t to = random_agent(l.shop);
        if (to == l.agent)
          to = l.shop * static_cast<std::uint32_t>(agents_per_shop_) +
               (to + 1) % static_cast<std::uint32_t>(agents_per_shop_);
        ev(Kind::transferred, to);
        l.agent = to;
        break;
      }
      case Op::close_agent:
        ev(Kind::closed_by_agent, l.agent);
        l.live = false;
        --live_;
        break;
      case Op::customer_left:
        ev(Kind::customer_left);
        l.live = false;
        --live_;
        break;
    }
    ++l.step;
  }

  const Options& opt_;
  std::size_t agents_per_shop_;
  const std::vector<std::string>& agent_names_;
  std::mt19937_64 rng_;
  std::vector<Lane> lanes_;
  std::vector<std::uint32_t> order_;
  std::size_t round_ = 0;
  std::size_t live_ = 0;
  std::uint64_t conversation_counter_ = 0;
};

config::Config make_config(const Options& o) {
  config::Config c;
  for (std::size_t i = 0; i < o.shops; ++i) {
    config::ShopConfig s;
    s.id = "shop-" + std::to_string(i);
    s.name = "Bench shop " + std::to_string(i);
    s.timezone = "Asia/Shanghai";
    // Half the shops keep business hours (the bench runs inside the day shift), half are open
    // around the clock: both paths of the engine's clock arithmetic are exercised.
    if (i % 2 == 1) {
      s.shifts.push_back({"day", {8 * 60 + 30}, {17 * 60 + 30}});
      s.shifts.push_back({"night", {17 * 60 + 30}, {60}});
    }
    c.shops.push_back(std::move(s));
  }
  return c;
}

// The measured replays go through here (never inlined), so a profiler can collect just them:
//   valgrind --tool=callgrind --toggle-collect='*measured_round*' chatdesk-bench-engine ...
template <typename Replay>
[[gnu::noinline]] void measured_round(const Replay& replay, const std::vector<Event>& events) {
  replay(events);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  if (opt.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(opt.cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("sched_setaffinity");
  }

  const config::Config cfg = make_config(opt);
  // About four open conversations per agent (max_concurrent defaults to 5).
  const std::size_t agents_per_shop = std::max<std::size_t>(1, opt.conversations / opt.shops / 4);
  std::vector<std::string> agent_names;
  agent_names.reserve(agents_per_shop * opt.shops);
  for (std::size_t s = 0; s < opt.shops; ++s)
    for (std::size_t a = 0; a < agents_per_shop; ++a)
      agent_names.push_back("agent-" + std::to_string(s) + "-" + std::to_string(a));
  if (agent_names.back().size() > sizeof Event{}.agent || opt.shops > 255)
    usage_error("too many shops or agents for the event layout");
  std::vector<std::string> shop_ids;
  for (const auto& s : cfg.shops) shop_ids.push_back(s.id);

  CountingSink sink;
  monitor::SlaEngine engine(cfg, sink);
  Workload work(opt, agents_per_shop, agent_names);
  const Texts texts;

  std::array<std::uint64_t, static_cast<std::size_t>(Kind::count)> by_kind{};
  std::vector<Event> events;
  events.reserve(opt.conversations * 11 / 10 + 4096);

  auto replay = [&](const std::vector<Event>& evs) {
    for (const Event& e : evs) {
      const TimePoint t = chatdesk::from_epoch_ms(e.t_ms);
      const std::string_view conv = e.conversation_id();
      switch (e.kind) {
        case Kind::arrived:
          engine.customer_arrived(conv, shop_ids[e.shop], t);
          break;
        case Kind::customer_message:
          engine.customer_message(conv, texts.of(Op::customer_message, e.text), t);
          break;
        case Kind::assigned:
          engine.assigned(conv, e.agent_id(), t);
          break;
        case Kind::typing_start:
          engine.agent_typing(conv, e.agent_id(), true, t);
          break;
        case Kind::typing_stop:
          engine.agent_typing(conv, e.agent_id(), false, t);
          break;
        case Kind::agent_message:
          engine.agent_message(conv, e.agent_id(),
                               texts.of(static_cast<Op>(e.text >> 4), e.text & 0xF), t);
          break;
        case Kind::transferred:
          engine.transferred(conv, {}, e.agent_id(), t);
          break;
        case Kind::closed_by_agent:
          engine.closed(conv, e.agent_id(), true, t);
          break;
        case Kind::customer_left:
          engine.customer_left(conv, t);
          break;
        case Kind::advance:
          engine.advance(t);
          break;
        case Kind::count:
          break;
      }
    }
  };

  for (std::size_t r = 0; r < opt.warmup_rounds; ++r) {
    work.next_round(events);
    replay(events);
  }
  const CountingSink before = sink;

  double cpu = 0;
  double wall = 0;
  std::uint64_t total = 0;
  double live_sum = 0;
  std::size_t live_min = SIZE_MAX;
  for (std::size_t r = 0; r < opt.rounds; ++r) {
    work.next_round(events);
    for (const Event& e : events) ++by_kind[static_cast<std::size_t>(e.kind)];
    total += events.size();
    const auto w0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_seconds();
    measured_round(replay, events);
    cpu += thread_cpu_seconds() - c0;
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    live_sum += static_cast<double>(work.live());
    live_min = std::min(live_min, work.live());
  }

  std::uint64_t violations = 0;
  std::string rules;
  static constexpr std::array<const char*, 7> kRuleNames{
      "greeting", "reply_wait", "typing_rate", "missed", "language", "courtesy", "handover"};
  for (std::size_t i = 0; i < sink.violations.size(); ++i) {
    const std::uint64_t n = sink.violations[i] - before.violations[i];
    violations += n;
    rules +=
        (rules.empty() ? "" : ",") + std::string("\"") + kRuleNames[i] + "\":" + std::to_string(n);
  }
  std::string kinds;
  for (std::size_t i = 0; i < by_kind.size(); ++i)
    kinds += (kinds.empty() ? "" : ",") + std::string("\"") + kKindNames[i] +
             "\":" + std::to_string(by_kind[i]);

  std::printf(
      "{\"events\":%llu,\"cpu_seconds\":%.4f,\"wall_seconds\":%.4f,\"events_per_s\":%.0f,"
      "\"events_per_s_wall\":%.0f,\"ns_per_event\":%.1f,\"open_conversations_avg\":%.0f,"
      "\"open_conversations_min\":%zu,\"agents\":%zu,\"shops\":%zu,\"rounds\":%zu,"
      "\"violations\":%llu,\"violations_by_rule\":{%s},\"events_by_kind\":{%s}}\n",
      static_cast<unsigned long long>(total), cpu, wall, static_cast<double>(total) / cpu,
      static_cast<double>(total) / wall, cpu * 1e9 / static_cast<double>(total),
      live_sum / static_cast<double>(opt.rounds), live_min, agent_names.size(), opt.shops,
      opt.rounds, static_cast<unsigned long long>(violations), rules.c_str(), kinds.c_str());
  return 0;
}
