// The metrics that count refused input at the connection and HTTP level
// (chatdesk_connections_closed_total, chatdesk_http_errors_total; docs/security.md, "Error and
// close codes"), and the diagnostics section of the config that opens /ws/echo.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "chatdesk/config/config_loader.hpp"
#include "chatdesk/monitor/desk_metrics.hpp"

namespace {

using namespace chatdesk;
using Catch::Matchers::Contains;

config::Config one_shop() {
  config::Config c;
  c.shops.resize(1);
  c.shops[0].id = "demo";
  return c;
}

// The value of the sample line `series` (name and labels as printed), or -1.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("every connection close reason is a counter from zero, with a fixed label set",
          "[metrics]") {
  const auto config = one_shop();
  monitor::DeskMetrics metrics(config);
  std::string text = monitor::serialize(metrics.registry());
  CHECK_THAT(text, Contains("# TYPE chatdesk_connections_closed_total counter\n"));
  const char* reasons[] = {"client",     "dropped",  "handshake",    "idle",        "too_big",
                           "bad_utf8",   "protocol", "rate_limited", "slow_reader", "replaced",
                           "going_away", "moved",    "server"};
  static_assert(std::size(reasons) == monitor::kCloseCauseCount);
  for (std::size_t i = 0; i < monitor::kCloseCauseCount; ++i) {
    INFO(reasons[i]);
    CHECK(monitor::to_string(static_cast<monitor::CloseCause>(i)) == reasons[i]);
    CHECK(sample(text, std::string("chatdesk_connections_closed_total{reason=\"") + reasons[i] +
                           "\"}") == 0);
  }
  metrics.connection_closed(monitor::CloseCause::bad_utf8).Increment();
  metrics.connection_closed(monitor::CloseCause::slow_reader).Increment();
  metrics.connection_closed(monitor::CloseCause::slow_reader).Increment();
  text = monitor::serialize(metrics.registry());
  CHECK(sample(text, "chatdesk_connections_closed_total{reason=\"bad_utf8\"}") == 1);
  CHECK(sample(text, "chatdesk_connections_closed_total{reason=\"slow_reader\"}") == 2);
  CHECK(sample(text, "chatdesk_connections_closed_total{reason=\"client\"}") == 0);
}

TEST_CASE("HTTP error statuses are counted by status, any other status as 'other'", "[metrics]") {
  const auto config = one_shop();
  monitor::DeskMetrics metrics(config);
  std::string text = monitor::serialize(metrics.registry());
  CHECK_THAT(text, Contains("# TYPE chatdesk_http_errors_total counter\n"));
  for (unsigned status : monitor::kHttpErrorStatuses) {
    INFO(status);
    CHECK(sample(text, "chatdesk_http_errors_total{status=\"" + std::to_string(status) + "\"}") ==
          0);
  }
  CHECK(sample(text, "chatdesk_http_errors_total{status=\"other\"}") == 0);

  metrics.http_error(431).Increment();
  metrics.http_error(429).Increment();
  metrics.http_error(418).Increment();
  metrics.http_error(599).Increment();
  CHECK(&metrics.http_error(418) == &metrics.http_error(599));
  CHECK(&metrics.http_error(431) != &metrics.http_error(429));
  text = monitor::serialize(metrics.registry());
  CHECK(sample(text, "chatdesk_http_errors_total{status=\"431\"}") == 1);
  CHECK(sample(text, "chatdesk_http_errors_total{status=\"429\"}") == 1);
  CHECK(sample(text, "chatdesk_http_errors_total{status=\"other\"}") == 2);
  // No series per odd status: the label set stays fixed.
  CHECK(text.find("status=\"418\"") == std::string::npos);
}

TEST_CASE("diagnostics.echo is off unless the config turns it on", "[config]") {
  CHECK_FALSE(config::parse_config("shops: [{id: a}]", "t.yaml").diagnostics.echo);
  CHECK(config::parse_config("diagnostics: {echo: true}\nshops: [{id: a}]", "t.yaml")
            .diagnostics.echo);
  CHECK_FALSE(config::parse_config("diagnostics: {echo: false}\nshops: [{id: a}]", "t.yaml")
                  .diagnostics.echo);
  CHECK_THROWS_WITH(config::parse_config("diagnostics: {echo: 2}\nshops: [{id: a}]", "t.yaml"),
                    Contains("diagnostics.echo"));
  CHECK_THROWS_WITH(config::parse_config("diagnostics: {fuzz: true}\nshops: [{id: a}]", "t.yaml"),
                    Contains("unknown key"));
  // The shipped config keeps it off.
  const auto root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  CHECK_FALSE(config::load_config((root / "config" / "chatdesk.yaml").string()).diagnostics.echo);
}
