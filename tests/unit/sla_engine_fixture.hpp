#pragma once
// Shared set-up of the SLA engine tests: a config with an always-open shop ("demo", the defaults
// of config.hpp) and the night market (Asia/Shanghai, open 08:30–17:30 and 17:30–01:00), an engine
// feeding a RecordingSlaSink, and explicit time points (no clock, no sleeping).

#include <chrono>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"
#include "chatdesk/monitor/sla_engine.hpp"
#include "recording_sla_sink.hpp"

namespace chatdesk::monitor::testing {

using namespace std::chrono_literals;

inline config::Config sla_test_config() {
  config::Config c;
  config::ShopConfig demo;
  demo.id = "demo";
  demo.name = "Demo shop";
  demo.timezone = "Asia/Shanghai";
  c.shops.push_back(demo);

  config::ShopConfig night = demo;
  night.id = "night-market";
  night.name = "Night market";
  night.shifts = {{"day", {8 * 60 + 30}, {17 * 60 + 30}}, {"night", {17 * 60 + 30}, {1 * 60}}};
  c.shops.push_back(night);
  return c;
}

// Wall-clock time in Shanghai (UTC+8 all year) as an instant.
inline TimePoint shanghai(int y, unsigned mo, unsigned d, int h, int mi, int s = 0, int ms = 0) {
  using namespace std::chrono;
  const sys_days date{year{y} / month{mo} / day{d}};
  return time_point_cast<Duration>(date) + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms} -
         hours{8};
}

struct EngineFixture {
  config::Config config = sla_test_config();
  RecordingSlaSink sink;
  SlaEngine engine{config, sink};
  // 2023-11-14 22:13:20 UTC; the demo shop is always open, so the date does not matter.
  TimePoint t0 = from_epoch_ms(1'700'000'000'000);

  TimePoint at(Duration d) const { return t0 + d; }

  // A conversation in the demo shop whose customer arrived and wrote at t0 + `first_message`.
  void open_conversation(std::string_view id, Duration first_message = 0ms) {
    engine.customer_arrived(id, "demo", at(first_message));
    engine.customer_message(id, "在吗？", at(first_message));
  }
};

}  // namespace chatdesk::monitor::testing
