#pragma once
// The simulator's command line (docs/simulator.md): parsed and checked once at start-up.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chatdesk::sim {

enum class ProfileKind { realistic, slow, missed };

struct Url {
  std::string host;  // without brackets for IPv6 literals
  std::string port = "80";
  std::string host_header;  // what goes into the Host header: host[:port]
};

struct Options {
  std::string url_text = "ws://127.0.0.1:8080";
  Url url;
  std::vector<std::string> shops;              // "demo" when none is given
  int agents = 3;                              // per shop
  double customers_per_minute = 20;            // per shop, in simulated minutes
  std::chrono::milliseconds duration{60'000};  // 0: until SIGINT/SIGTERM
  std::uint64_t seed = 0;
  bool seed_given = false;
  double speed = 1;  // simulated seconds per real second for human delays
  ProfileKind profile = ProfileKind::realistic;
  std::optional<double> ignore_share;  // overrides the profile's share of ignored customers
  int max_connections = 500;
  bool allow_remote = false;
};

// What parse_options() decided: run with `options`, or stop with `exit_code` after printing
// `message` (help text on stdout for --help, an error on stderr otherwise).
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
  std::string message;
};

ParseOutcome parse_options(int argc, char** argv);

// "ws://host[:port][/]" only; nullopt with `error` set otherwise.
std::optional<Url> parse_ws_url(const std::string& text, std::string& error);

// "60s", "500ms", "2m", "1h", "0" or a plain number of seconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

std::string_view to_string(ProfileKind p);
std::string usage();

}  // namespace chatdesk::sim
