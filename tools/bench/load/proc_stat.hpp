#pragma once
// CPU time of a process from /proc/<pid>/stat: utime + stime of all its threads, in seconds (the
// kernel counts in clock ticks, usually 10 ms). Reads a file; safe from any thread.

#include <optional>
#include <string_view>

namespace chatdesk::bench {

// utime + stime of `pid` in seconds, or nullopt when the process is gone or unreadable.
std::optional<double> process_cpu_seconds(int pid);

// The same from the text of a /proc/<pid>/stat file (pure, for tests); `ticks_per_second` is
// sysconf(_SC_CLK_TCK).
std::optional<double> parse_proc_stat_cpu(std::string_view stat, long ticks_per_second);

// This process's own user + system CPU time in seconds (getrusage).
double own_cpu_seconds();

}  // namespace chatdesk::bench
