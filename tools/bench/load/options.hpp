#pragma once
// Command line of chatdesk-bench-load (tools/bench/README in docs/benchmarks.md): what to drive,
// how hard, and for how long. Parsing is pure (no I/O) so it is unit-tested. Plain values: safe to
// share read-only.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatdesk::bench {

enum class Target { chatdesk, node, echo };

struct Options {
  Target target = Target::chatdesk;
  std::string host = "127.0.0.1";
  // One port per gateway node (one for a single server): customers connect round-robin over
  // them, and the agent of pair i to the port after its customer's (so that with two nodes or
  // more every customer and its agent are on different nodes).
  std::vector<std::uint16_t> ports;
  std::size_t pairs = 1000;                 // customer–agent pairs (2 connections each)
  std::size_t inflight = 1;                 // closed loop: messages circulating per pair
  double seconds = 5;                       // measured window
  double warmup = 1;                        // traffic before the window, not measured
  double rate = 0;                          // > 0: open loop, customer messages per second in total
  std::vector<std::string> shops{"bench"};  // pairs are spread over these round-robin
  std::size_t text_chars = 40;              // code points of each chat text
  bool reply = true;  // agents answer every customer message (the answer is relayed too)
  std::size_t avoid_every = 100;  // every n-th agent answer holds a phrase to avoid; 0: never
  std::vector<int> server_pids;   // report these processes' CPU time (summed) over the window
  int redis_pid = 0;              // > 0: report this (Redis) process's CPU time over the window
  std::size_t connect_concurrency = 64;  // connection handshakes under way at once
  double setup_timeout = 120;            // seconds to connect and pair everyone
};

// Parses argv[1..]; on failure returns false with `error` set and `out` unspecified.
bool parse_options(std::span<const std::string_view> args, Options& out, std::string& error);

std::string_view to_string(Target t);
extern const char* const kUsage;

}  // namespace chatdesk::bench
