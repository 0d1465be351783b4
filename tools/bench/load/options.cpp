#include "options.hpp"

#include <charconv>
#include <cmath>

namespace chatdesk::bench {

const char* const kUsage =
    "usage: chatdesk-bench-load --target chatdesk|node|echo --port P[,P...] [--host 127.0.0.1]\n"
    "         [--pairs N] [--inflight K] [--seconds S] [--warmup S] [--rate R]\n"
    "         [--shop S[,S...]] [--text-chars 40] [--no-reply] [--avoid-every N]\n"
    "         [--server-pid PID[,PID...]] [--redis-pid PID] [--connect-concurrency N]\n"
    "         [--setup-timeout S]\n"
    "  --port P1,P2,...: one port per gateway node; customer i connects to port i mod n, the\n"
    "    agent of pair i to the next one (with n >= 2: customer and agent on different nodes).\n"
    "  --server-pid: server CPU is the sum over these processes (one per node).\n"
    "  --rate 0 (default): closed loop, each pair keeps K messages in flight.\n"
    "  --rate R: open loop, R customer messages/s in total; latency from the scheduled send.\n"
    "Prints one JSON line with delivered messages, msgs_per_s and latency percentiles (us).\n";

std::string_view to_string(Target t) {
  switch (t) {
    case Target::chatdesk:
      return "chatdesk";
    case Target::node:
      return "node";
    case Target::echo:
      return "echo";
  }
  return "?";
}

namespace {

bool parse_size(std::string_view text, std::size_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_double(std::string_view text, double& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

}  // namespace

bool parse_options(std::span<const std::string_view> args, Options& out, std::string& error) {
  out = Options{};
  bool have_target = false;
  bool have_port = false;
  std::vector<std::string> shops;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    auto value = [&](std::string_view& v) {
      if (i + 1 >= args.size()) {
        error = std::string(arg) + " needs a value";
        return false;
      }
      v = args[++i];
      return true;
    };
    auto size_value = [&](std::size_t& target, std::size_t min) {
      std::string_view v;
      if (!value(v)) return false;
      if (!parse_size(v, target) || target < min) {
        error = std::string(arg) + ": expected an integer >= " + std::to_string(min) + ", got '" +
                std::string(v) + "'";
        return false;
      }
      return true;
    };
    auto double_value = [&](double& target, double min, bool strict) {
      std::string_view v;
      if (!value(v)) return false;
      if (!parse_double(v, target) || target < min || (strict && target == min)) {
        error = std::string(arg) + ": expected a number " + (strict ? "> " : ">= ") +
                std::to_string(min) + ", got '" + std::string(v) + "'";
        return false;
      }
      return true;
    };
    std::string_view v;
    if (arg == "--target") {
      if (!value(v)) return false;
      if (v == "chatdesk") {
        out.target = Target::chatdesk;
      } else if (v == "node") {
        out.target = Target::node;
      } else if (v == "echo") {
        out.target = Target::echo;
      } else {
        error = "--target: expected chatdesk, node or echo, got '" + std::string(v) + "'";
        return false;
      }
      have_target = true;
    } else if (arg == "--host") {
      if (!value(v)) return false;
      out.host = std::string(v);
    } else if (arg == "--port") {
      if (!value(v)) return false;
      auto items = split_list(v);
      if (items.empty()) {
        error = "--port: expected a port or a comma-separated list of ports";
        return false;
      }
      for (const auto& item : items) {
        std::size_t port = 0;
        if (!parse_size(item, port) || port < 1 || port > 65535) {
          error = "--port: expected 1..65535, got '" + item + "'";
          return false;
        }
        out.ports.push_back(static_cast<std::uint16_t>(port));
      }
      have_port = true;
    } else if (arg == "--pairs") {
      if (!size_value(out.pairs, 1)) return false;
    } else if (arg == "--inflight") {
      if (!size_value(out.inflight, 1)) return false;
    } else if (arg == "--seconds") {
      if (!double_value(out.seconds, 0, true)) return false;
    } else if (arg == "--warmup") {
      if (!double_value(out.warmup, 0, false)) return false;
    } else if (arg == "--rate") {
      if (!double_value(out.rate, 0, false)) return false;
    } else if (arg == "--shop") {
      if (!value(v)) return false;
      for (auto& s : split_list(v)) shops.push_back(std::move(s));
    } else if (arg == "--text-chars") {
      if (!size_value(out.text_chars, 1)) return false;
    } else if (arg == "--no-reply") {
      out.reply = false;
    } else if (arg == "--avoid-every") {
      if (!size_value(out.avoid_every, 0)) return false;
    } else if (arg == "--server-pid") {
      if (!value(v)) return false;
      auto items = split_list(v);
      if (items.empty()) {
        error = "--server-pid: expected a pid or a comma-separated list of pids";
        return false;
      }
      for (const auto& item : items) {
        std::size_t pid = 0;
        if (!parse_size(item, pid) || pid < 1 || pid > 0x7fffffff) {
          error = "--server-pid: expected a process id >= 1, got '" + item + "'";
          return false;
        }
        out.server_pids.push_back(static_cast<int>(pid));
      }
    } else if (arg == "--redis-pid") {
      std::size_t pid = 0;
      if (!size_value(pid, 1)) return false;
      out.redis_pid = static_cast<int>(pid);
    } else if (arg == "--connect-concurrency") {
      if (!size_value(out.connect_concurrency, 1)) return false;
    } else if (arg == "--setup-timeout") {
      if (!double_value(out.setup_timeout, 0, true)) return false;
    } else {
      error = "unknown argument '" + std::string(arg) + "'";
      return false;
    }
  }
  if (!have_target || !have_port) {
    error = "--target and --port are required";
    return false;
  }
  if (!shops.empty()) out.shops = std::move(shops);
  return true;
}

}  // namespace chatdesk::bench
