// The exposition passes `promtool check metrics` (format and Prometheus naming lints). CI installs
// promtool (package `prometheus`), so a missing promtool fails rather than skips.

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "chatdesk/monitor/desk_metrics.hpp"
#include "chatdesk/monitor/prometheus_sla_sink.hpp"

namespace {

using namespace chatdesk::monitor;

// Runs `command` through the shell; returns its exit status and (in `output`) stdout+stderr.
int run(const std::string& command, std::string& output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("desk metrics: promtool check metrics accepts the exposition", "[metrics][promtool]") {
  std::string where;
  REQUIRE(run("command -v promtool", where) == 0);

  chatdesk::config::Config config;
  config.shops.resize(2);
  config.shops[0].id = "demo";
  config.shops[1].id = "tea";
  DeskMetrics metrics(config);
  PrometheusSlaSink sink(metrics);
  sink.on_greeting("demo", "alice", chatdesk::Duration{12'000});
  sink.on_reply_wait("demo", "alice", chatdesk::Duration{3'000});
  sink.on_typing_rate("tea", "bob", 61);
  sink.on_typing_unmeasured("tea", "bob");
  sink.on_outcome("demo", Outcome::requeued);
  Violation v;
  v.id = "v-1";
  v.rule = Rule::language;
  v.shop = "demo";
  v.conversation = "c-1";
  v.detail = "但是";
  sink.on_violation(v);
  metrics.shop("demo")->queue_length.Set(2);
  metrics.connections(ConnectionKind::customer).Increment();
  metrics.protocol_error("bad_request").Increment();
  metrics.record_writer_totals(3, 1, 0, 2);

  const auto path = std::filesystem::temp_directory_path() /
                    ("chatdesk-metrics-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(path);
    out << serialize(metrics.registry());
  }
  std::string output;
  const int status = run("promtool check metrics < '" + path.string() + "'", output);
  std::filesystem::remove(path);
  INFO(output);
  CHECK(status == 0);
  CHECK(output.empty());
}
