// The real gateway observes how late its SLA deadline timer runs
// (chatdesk_sla_timer_lateness_seconds, docs/operations.md section 9): every time the timer fires a
// violation on an otherwise quiet desk, one observation, and on an idle gateway none is late by
// anything near a second.

#include <catch2/catch.hpp>
#include <string>

#include "support/gateway_process.hpp"
#include "support/ws_client.hpp"

using chatdesk::test::eventually;
using chatdesk::test::GatewayProcess;
using chatdesk::test::http_get;
using chatdesk::test::WsClient;

namespace {

// One sample's value, or -1 when the series is not on the page.
double sample_value(const std::string& scrape, const std::string& series) {
  const auto pos = scrape.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(scrape.substr(pos + series.size() + 2));
}

double greeting_violations(const std::string& scrape) {
  double sum = 0;
  for (const char* severity : {"warning", "breach"}) {
    const std::string needle = std::string("rule=\"greeting\",severity=\"") + severity + "\"";
    for (auto pos = scrape.find("\nchatdesk_sla_violations_total{"); pos != std::string::npos;
         pos = scrape.find("\nchatdesk_sla_violations_total{", pos + 1)) {
      const auto end = scrape.find('\n', pos + 1);
      const std::string line = scrape.substr(pos + 1, end - pos - 1);
      if (line.find(needle) != std::string::npos) sum += std::stod(line.substr(line.rfind(' ')));
    }
  }
  return sum;
}

}  // namespace

TEST_CASE("the SLA deadline timer's lateness is observed each time it fires") {
  GatewayProcess gw(
      "  - {id: fast, name: Fast shop, timezone: UTC, sla: {greeting_target: 200ms, "
      "greeting_limit: 400ms, escalate_every: 400ms}}\n");
  const auto scrape = [&] { return http_get(gw.port(), "/metrics").second; };
  const std::string count = "chatdesk_sla_timer_lateness_seconds_count";

  // No deadline yet: the series is there, empty.
  CHECK(sample_value(scrape(), count) == 0);

  WsClient customer(gw.port(), "/ws/customer?shop=fast");
  customer.expect("welcome");
  customer.send({{"type", "message"}, {"text", "有人吗？"}, {"client_msg_id", "m1"}});
  customer.expect("ack");

  // Nothing else happens on this desk, so the warning (200 ms) and the breaches (400 ms, 800 ms,
  // ...) are fired by the timer alone: one run each at least.
  std::string page;
  REQUIRE(eventually([&] {
    page = scrape();
    return greeting_violations(page) >= 3;
  }));
  const double runs = sample_value(page, count);
  CHECK(runs >= 3);
  CHECK(sample_value(page, "chatdesk_sla_timer_lateness_seconds_bucket{le=\"+Inf\"}") == runs);
  // An idle gateway runs its timer on time; a second late would be a stalled loop.
  CHECK(sample_value(page, "chatdesk_sla_timer_lateness_seconds_bucket{le=\"1\"}") == runs);
  CHECK(sample_value(page, "chatdesk_sla_timer_lateness_seconds_sum") < runs * 0.5);
}
