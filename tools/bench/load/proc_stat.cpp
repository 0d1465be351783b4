#include "proc_stat.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace chatdesk::bench {

std::optional<double> parse_proc_stat_cpu(std::string_view stat, long ticks_per_second) {
  // "pid (comm) state ppid ..." — comm may hold spaces and parentheses, so start after the last
  // ')'.
  std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // Fields after ')' start at field 3 (state); utime is field 14 and stime field 15.
  unsigned long long values[2] = {0, 0};
  int field = 2;
  std::size_t i = 0;
  while (i < rest.size() && field < 15) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    std::size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') ++i;
    if (start == i) break;
    ++field;
    if (field == 14 || field == 15) {
      auto [end, ec] = std::from_chars(rest.data() + start, rest.data() + i, values[field - 14]);
      if (ec != std::errc() || end != rest.data() + i) return std::nullopt;
    }
  }
  if (field < 15) return std::nullopt;
  return static_cast<double>(values[0] + values[1]) / static_cast<double>(ticks_per_second);
}

std::optional<double> process_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return parse_proc_stat_cpu(text.str(), ::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace chatdesk::bench
