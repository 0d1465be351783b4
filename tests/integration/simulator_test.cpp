// The traffic simulator (tools/simulator) against the real gateway: a short, fast run serves
// conversations with messages both ways and no protocol errors; bad targets are refused.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/gateway_process.hpp"

extern char** environ;

using chatdesk::test::GatewayProcess;

namespace {

const std::string kDemoShop =
    "  - {id: demo, name: \"Demo shop\", timezone: Asia/Shanghai, max_concurrent: 5}\n";

// The simulator is built next to the gateway: <build>/gateway/chatdesk-gateway →
// <build>/tools/simulator/chatdesk-simulator.
std::filesystem::path simulator_binary() {
  std::filesystem::path gateway(CHATDESK_GATEWAY_BIN);
  return gateway.parent_path().parent_path() / "tools" / "simulator" / "chatdesk-simulator";
}

struct RunResult {
  int exit_status = -1;  // -1: killed at the deadline, or did not exit normally
  std::string output;    // stdout and stderr together
};

// Runs the simulator with `args` and waits for it, at most `deadline` (then SIGKILL).
RunResult run_simulator(const std::vector<std::string>& args, std::chrono::seconds deadline) {
  auto bin = simulator_binary();
  if (!std::filesystem::exists(bin))
    FAIL(
        "no simulator at " << bin.string()
                           << ": build the chatdesk-simulator target (ninja builds it by default)");
  auto log = std::filesystem::temp_directory_path() /
             ("chatdesk-sim-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".log");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string path = bin.string();
  std::vector<std::string> storage{path};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);

  RunResult result;
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + deadline;
  // Waits for the process to exit; the poll interval only bounds how late we notice.
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  std::ifstream in(log);
  result.output.assign(std::istreambuf_iterator<char>(in), {});
  std::error_code ignored;
  std::filesystem::remove(log, ignored);
  return result;
}

// The sum of the samples of `name` whose labels contain every one of `labels` (e.g.
// `shop="demo"`); nullopt when there is no such sample.
std::optional<double> metric(const std::string& text, const std::string& name,
                             const std::vector<std::string>& labels) {
  std::istringstream lines(text);
  std::string line;
  std::optional<double> sum;
  while (std::getline(lines, line)) {
    if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) continue;
    bool match = true;
    for (const auto& l : labels)
      if (line.find(l) == std::string::npos) match = false;
    if (!match) continue;
    sum = sum.value_or(0) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// The line of `output` that starts with `prefix`, or "".
std::string line_starting(const std::string& output, const std::string& prefix) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line))
    if (line.starts_with(prefix)) return line;
  return {};
}

long field(const std::string& line, const std::string& key) {
  std::smatch m;
  std::regex re("\\b" + key + "=([0-9]+)");
  if (!std::regex_search(line, m, re)) return -1;
  return std::stol(m[1]);
}

}  // namespace

TEST_CASE("the simulator serves conversations through a real gateway without protocol errors") {
  GatewayProcess gw(kDemoShop);
  // 8 s at 20x: 160 simulated seconds of a 4-agent desk with ~27 customers.
  auto run = run_simulator(
      {"--url", "ws://127.0.0.1:" + std::to_string(gw.port()), "--shop", "demo", "--agents", "4",
       "--customers-per-minute", "10", "--duration", "8s", "--speed", "20", "--seed", "42"},
      std::chrono::seconds(40));
  INFO(run.output);
  REQUIRE(run.exit_status == 0);

  const std::string final_line = line_starting(run.output, "sim final");
  REQUIRE_FALSE(final_line.empty());
  CHECK(field(final_line, "protocol_errors") == 0);
  CHECK(field(final_line, "served") > 0);
  CHECK(field(final_line, "sent") > 0);
  CHECK(field(final_line, "received") > 0);
  CHECK(field(final_line, "live") == 0);  // everything closed before it exited
  CHECK(line_starting(run.output, "sim verdict") ==
        "sim verdict: no protocol errors (stopped: "
        "duration reached)");

  // The gateway saw it too. Its counters are final once the simulator has closed everything,
  // but poll with a deadline rather than assume when /metrics catches up (the gateway drops its
  // closed sessions a moment after the closing handshake).
  std::string metrics;
  double served = 0, from_customers = 0, from_agents = 0, connections = -1;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    metrics = chatdesk::test::http_get(gw.port(), "/metrics").second;
    served =
        metric(metrics, "chatdesk_conversations_total", {"shop=\"demo\"", "outcome=\"served\""})
            .value_or(0);
    from_customers =
        metric(metrics, "chatdesk_messages_total", {"shop=\"demo\"", "from=\"customer\""})
            .value_or(0);
    from_agents =
        metric(metrics, "chatdesk_messages_total", {"shop=\"demo\"", "from=\"agent\""}).value_or(0);
    connections = metric(metrics, "chatdesk_connections", {}).value_or(-1);
    if (served > 0 && from_customers > 0 && from_agents > 0 && connections == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(metrics);
  CHECK(served > 0);
  CHECK(from_customers > 0);
  CHECK(from_agents > 0);
  CHECK(connections == 0);
  // Every message the simulator sent was one the gateway counted (none refused as malformed).
  CHECK(from_customers + from_agents <= static_cast<double>(field(final_line, "sent")));
  for (const char* code : {"bad_request", "unknown_type", "too_large"})
    CHECK(metric(metrics, "chatdesk_protocol_errors_total", {std::string("code=\"") + code + "\""})
              .value_or(0) == 0);
  // Agents left their desk by handing back, not by dropping open chats.
  CHECK(metric(metrics, "chatdesk_sla_violations_total", {"rule=\"handover\""}).value_or(0) == 0);
}

TEST_CASE("the simulator refuses a non-loopback gateway and fails when it cannot connect") {
  SECTION("a remote address needs --allow-remote") {
    auto run = run_simulator({"--url", "ws://192.0.2.1:8080", "--duration", "1s"},
                             std::chrono::seconds(10));
    INFO(run.output);
    CHECK(run.exit_status == 1);
    CHECK(run.output.find("not a loopback address") != std::string::npos);
  }
  SECTION("nothing listening: exit status 1") {
    // A port that was free a moment ago; nothing listens on it.
    const int port = chatdesk::test::free_loopback_port();
    auto run = run_simulator(
        {"--url", "ws://127.0.0.1:" + std::to_string(port), "--duration", "2s", "--speed", "10"},
        std::chrono::seconds(20));
    INFO(run.output);
    CHECK(run.exit_status == 1);
    CHECK(run.output.find("no connection") != std::string::npos);
  }
}
