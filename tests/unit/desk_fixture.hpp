#pragma once
// The desk tests' shared set-up (tests/unit/desk_test.cpp, desk_store_test.cpp): two shops, a
// ManualClock, a counter as the random source, a real SlaEngine with a recording sink, a
// recording output, and builders and readers of the frames. Not thread-safe (one test thread).

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/desk.hpp"
#include "chatdesk/monitor/sla_engine.hpp"
#include "recording_desk_output.hpp"
#include "recording_sla_sink.hpp"

namespace chatdesk::gateway::testing {

using namespace std::chrono_literals;
namespace json = boost::json;
using monitor::Outcome;
using monitor::Rule;
using monitor::Severity;
using monitor::testing::RecordingSlaSink;
using Strings = std::vector<std::string>;
using Sent = RecordingDeskOutput::Sent;

// "demo": at most 2 conversations per agent, customers may come back within 30 s.
// "tea": at most 1, back within 10 s. Both open around the clock.
inline config::Config two_shops() {
  config::Config c;
  c.limits.max_text_chars = 50;
  config::ShopConfig demo;
  demo.id = "demo";
  demo.name = "Demo shop";
  demo.max_concurrent = 2;
  demo.resume_grace = 30s;
  config::ShopConfig tea;
  tea.id = "tea";
  tea.name = "茶叶店";
  tea.max_concurrent = 1;
  tea.resume_grace = 10s;
  c.shops = {demo, tea};
  return c;
}

// Records what the engine reports and, when `desk` is set, forwards violations to it as the
// gateway's fan-out does.
class ForwardingSink final : public monitor::SlaSink {
 public:
  void on_violation(const monitor::Violation& v) override {
    rec.on_violation(v);
    if (desk) desk->notify_violation(v);
  }
  void on_greeting(std::string_view shop, std::string_view agent, Duration d) override {
    rec.on_greeting(shop, agent, d);
  }
  void on_reply_wait(std::string_view shop, std::string_view agent, Duration d) override {
    rec.on_reply_wait(shop, agent, d);
  }
  void on_typing_rate(std::string_view shop, std::string_view agent, double cpm) override {
    rec.on_typing_rate(shop, agent, cpm);
  }
  void on_typing_unmeasured(std::string_view shop, std::string_view agent) override {
    rec.on_typing_unmeasured(shop, agent);
  }
  void on_outcome(std::string_view shop, Outcome outcome) override {
    rec.on_outcome(shop, outcome);
  }

  RecordingSlaSink rec;
  Desk* desk = nullptr;
};

struct Customer {
  SessionId session = 0;
  std::string conversation;
  std::string id;
  std::string resume;
};

inline std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// --- frames clients send ---

inline std::string customer_message(std::string_view text, std::string_view id = {}) {
  json::object o{{"type", "message"}, {"text", text}};
  if (!id.empty()) o["client_msg_id"] = id;
  return json::serialize(o);
}
inline std::string agent_message(std::string_view conversation, std::string_view text,
                                 std::string_view id = {}) {
  json::object o{{"type", "message"}, {"conversation", conversation}, {"text", text}};
  if (!id.empty()) o["client_msg_id"] = id;
  return json::serialize(o);
}
inline std::string status(std::string_view state) {
  return json::serialize(json::object{{"type", "status"}, {"state", state}});
}
inline std::string agent_typing(std::string_view conversation, std::string_view state) {
  return json::serialize(
      json::object{{"type", "typing"}, {"conversation", conversation}, {"state", state}});
}
inline std::string transfer(std::string_view conversation, std::optional<std::string_view> to,
                            std::optional<std::string_view> note = std::nullopt) {
  json::object o{{"type", "transfer"}, {"conversation", conversation}};
  if (to)
    o["to"] = *to;
  else
    o["to"] = nullptr;
  if (note) o["note"] = *note;
  return json::serialize(o);
}
inline std::string handover(std::optional<std::string_view> to, std::string_view note = {}) {
  json::object o{{"type", "handover"}, {"note", note}};
  if (to)
    o["to"] = *to;
  else
    o["to"] = nullptr;
  return json::serialize(o);
}
inline std::string close_frame(std::string_view conversation) {
  return json::serialize(json::object{{"type", "close"}, {"conversation", conversation}});
}
inline const std::string kCustomerTyping = R"({"type":"typing"})";
inline const std::string kCustomerClose = R"({"type":"close"})";

// --- reading frames ---

inline std::int64_t num(const Sent& f, std::string_view key) {
  const auto& v = f.at(key);
  INFO("frame: " << f.raw << ", key: " << key);
  REQUIRE(v.is_number());
  return v.to_number<std::int64_t>();
}
inline bool flag(const Sent& f, std::string_view key) {
  const auto& v = f.at(key);
  INFO("frame: " << f.raw << ", key: " << key);
  REQUIRE(v.is_bool());
  return v.get_bool();
}
inline const json::array& array(const Sent& f, std::string_view key) {
  const auto& v = f.at(key);
  INFO("frame: " << f.raw << ", key: " << key);
  REQUIRE(v.is_array());
  return v.as_array();
}
inline std::string str(const json::value& v, std::string_view key) {
  INFO("value: " << json::serialize(v) << ", key: " << key);
  REQUIRE(v.is_object());
  REQUIRE(v.as_object().contains(key));
  REQUIRE(v.as_object().at(key).is_string());
  return std::string(v.as_object().at(key).get_string());
}
inline std::int64_t num(const json::value& v, std::string_view key) {
  INFO("value: " << json::serialize(v) << ", key: " << key);
  REQUIRE(v.is_object());
  REQUIRE(v.as_object().contains(key));
  return v.as_object().at(key).to_number<std::int64_t>();
}
// The ids of a history array, in order.
inline Strings history_ids(const Sent& f) {
  Strings ids;
  for (const auto& m : array(f, "history")) ids.push_back(str(m, "id"));
  return ids;
}
// "<id>:<state>:<open>" for each agent of a desk frame.
inline Strings roster(const Sent& f) {
  Strings r;
  for (const auto& a : array(f, "agents"))
    r.push_back(str(a, "id") + ":" + str(a, "state") + ":" + std::to_string(num(a, "open")));
  return r;
}

struct DeskFixture {
  explicit DeskFixture(config::Config c = two_shops()) : config(std::move(c)) {}

  config::Config config;
  ManualClock clock;  // 2023-11-14 22:13:20 UTC
  const TimePoint t0 = clock.now();
  ForwardingSink sink;
  RecordingSlaSink& sla = sink.rec;
  monitor::SlaEngine engine{config, sink};
  RecordingDeskOutput out;
  std::uint64_t random_calls = 0;
  Desk desk{config, clock, out, engine, [this] { return ++random_calls; }};
  SessionId next_session = 1;

  // --- connections ---

  SessionId connect_agent(std::string_view name, std::string_view shop = "demo",
                          std::string label = {}) {
    SessionId s = next_session++;
    out.labels[s] = label.empty() ? std::string(name) : label;
    desk.agent_connected(s, shop, name);
    return s;
  }
  // An agent connected and available; the frames of getting there are dropped.
  SessionId agent(std::string_view name, std::string_view shop = "demo", std::string label = {}) {
    SessionId s = connect_agent(name, shop, std::move(label));
    desk.agent_frame(s, status("available"));
    out.take();
    return s;
  }

  Customer connect_customer(std::string label, std::string_view shop = "demo",
                            std::string_view customer = {}, std::string_view resume = {}) {
    SessionId s = next_session++;
    out.labels[s] = std::move(label);
    desk.customer_connected(s, shop, customer, resume);
    for (auto it = out.sent.rbegin(); it != out.sent.rend(); ++it) {
      if (it->session == s && it->type() == "welcome")
        return Customer{s, it->str("conversation"), it->str("customer"), it->str("resume")};
    }
    FAIL("no welcome for the customer");
    return {};
  }
  // A customer connected; the frames of getting there are dropped.
  Customer customer(std::string label, std::string_view shop = "demo") {
    auto c = connect_customer(std::move(label), shop);
    out.take();
    return c;
  }

  // --- actions ---

  void say(const Customer& c, std::string_view text, std::string_view id = {}) {
    desk.customer_frame(c.session, customer_message(text, id));
  }
  void reply(SessionId agent, const Customer& c, std::string_view text, std::string_view id = {}) {
    desk.agent_frame(agent, agent_message(c.conversation, text, id));
  }
  void at(Duration since_t0) { clock.set(t0 + since_t0); }
  void advance_to(Duration since_t0) {
    at(since_t0);
    desk.advance(clock.now());
  }

  const ShopStats& stats(std::string_view shop) {
    last_stats = desk.stats();
    for (const auto& s : last_stats)
      if (s.shop == shop) return s;
    FAIL("no stats for " << shop);
    return last_stats.front();
  }
  std::vector<ShopStats> last_stats;
};

inline void check_error(const Sent& f, std::string_view code, std::string_view client_msg_id = {}) {
  INFO("frame: " << f.raw);
  CHECK(f.type() == "error");
  CHECK(f.str("code") == code);
  if (client_msg_id.empty())
    CHECK_FALSE(f.frame.contains("client_msg_id"));
  else
    CHECK(f.str("client_msg_id") == client_msg_id);
}

}  // namespace chatdesk::gateway::testing
