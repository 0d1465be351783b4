#include "chatdesk/monitor/prometheus_sla_sink.hpp"

namespace chatdesk::monitor {

namespace {

// Prometheus base units: durations in seconds.
double seconds(Duration d) {
  return static_cast<double>(d.count()) / 1000.0;
}

}  // namespace

void PrometheusSlaSink::on_violation(const Violation& v) {
  // Only shop, agent, rule and severity become labels: the conversation id, detail (chat text)
  // and violation id would make one series per conversation and leak them.
  if (AgentSeries* series = metrics_.agent(v.shop, v.agent))
    series->violations(v.rule, v.severity).Increment();
}

void PrometheusSlaSink::on_greeting(std::string_view shop, std::string_view agent,
                                    Duration latency) {
  if (AgentSeries* series = metrics_.agent(shop, agent))
    series->greeting_latency.Observe(seconds(latency));
}

void PrometheusSlaSink::on_reply_wait(std::string_view shop, std::string_view agent,
                                      Duration wait) {
  if (AgentSeries* series = metrics_.agent(shop, agent)) series->reply_wait.Observe(seconds(wait));
}

void PrometheusSlaSink::on_typing_rate(std::string_view shop, std::string_view agent, double cpm) {
  if (AgentSeries* series = metrics_.agent(shop, agent)) series->typing_rate.Observe(cpm);
}

void PrometheusSlaSink::on_typing_unmeasured(std::string_view shop, std::string_view agent) {
  if (AgentSeries* series = metrics_.agent(shop, agent)) series->typing_unmeasured.Increment();
}

void PrometheusSlaSink::on_outcome(std::string_view shop, Outcome outcome) {
  if (ShopSeries* series = metrics_.shop(shop)) series->outcome(outcome).Increment();
}

}  // namespace chatdesk::monitor
