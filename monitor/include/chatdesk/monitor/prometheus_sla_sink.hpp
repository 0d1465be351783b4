#pragma once
// The SLA engine's results as Prometheus series: violations count, measurements observe the
// histograms of DeskMetrics. Events of shops not in the config are ignored.
// Not thread-safe: called on the engine's thread, which must be the thread that owns DeskMetrics'
// series cache (the gateway's event loop).

#include <string_view>

#include "chatdesk/monitor/desk_metrics.hpp"
#include "chatdesk/monitor/sla_sink.hpp"

namespace chatdesk::monitor {

class PrometheusSlaSink final : public SlaSink {
 public:
  // `metrics` must outlive the sink.
  explicit PrometheusSlaSink(DeskMetrics& metrics) : metrics_(metrics) {}

  void on_violation(const Violation& v) override;
  void on_greeting(std::string_view shop, std::string_view agent, Duration latency) override;
  void on_reply_wait(std::string_view shop, std::string_view agent, Duration wait) override;
  void on_typing_rate(std::string_view shop, std::string_view agent, double cpm) override;
  void on_typing_unmeasured(std::string_view shop, std::string_view agent) override;
  void on_outcome(std::string_view shop, Outcome outcome) override;

 private:
  DeskMetrics& metrics_;
};

}  // namespace chatdesk::monitor
