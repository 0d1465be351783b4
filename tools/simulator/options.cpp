#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace chatdesk::sim {

namespace {

bool is_valid_shop_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

template <class T>
std::optional<T> parse_number(const std::string& s) {
  T value{};
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// from_chars for double is available in libstdc++ 11+, which bookworm ships.
std::optional<double> parse_double(const std::string& s) {
  auto v = parse_number<double>(s);
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

}  // namespace

std::string_view to_string(ProfileKind p) {
  switch (p) {
    case ProfileKind::realistic:
      return "realistic";
    case ProfileKind::slow:
      return "slow";
    case ProfileKind::missed:
      return "missed";
  }
  return "realistic";
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::string s = text;
  double scale = 1000;  // a plain number means seconds
  auto strip = [&](std::string_view suffix, double factor) {
    if (s.size() > suffix.size() && s.ends_with(suffix)) {
      s.resize(s.size() - suffix.size());
      scale = factor;
      return true;
    }
    return false;
  };
  strip("ms", 1) || strip("s", 1000) || strip("m", 60'000) || strip("h", 3'600'000);
  auto v = parse_double(s);
  if (!v || *v < 0) return std::nullopt;
  double ms = *v * scale;
  if (ms > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

std::optional<Url> parse_ws_url(const std::string& text, std::string& error) {
  constexpr std::string_view kScheme = "ws://";
  if (!text.starts_with(kScheme)) {
    error = text.starts_with("wss://") ? "wss:// is not supported; use ws:// (loopback)"
                                       : "the URL must start with ws://";
    return std::nullopt;
  }
  std::string rest = text.substr(kScheme.size());
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    if (rest.substr(slash) != "/") {
      error = "the URL must not have a path: the simulator adds /ws/agent and /ws/customer";
      return std::nullopt;
    }
    rest.resize(slash);
  }
  if (rest.find('@') != std::string::npos || rest.find('?') != std::string::npos ||
      rest.find('#') != std::string::npos) {
    error = "the URL must be ws://host[:port]";
    return std::nullopt;
  }
  Url url;
  std::string port;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string::npos) {
      error = "unterminated IPv6 address in the URL";
      return std::nullopt;
    }
    url.host = rest.substr(1, close - 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        error = "unexpected text after the IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    auto colon = rest.find(':');
    url.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (url.host.empty()) {
    error = "the URL has no host";
    return std::nullopt;
  }
  if (!port.empty()) {
    auto p = parse_number<unsigned>(port);
    if (!p || *p == 0 || *p > 65535) {
      error = "bad port '" + port + "'";
      return std::nullopt;
    }
    url.port = port;
  }
  bool v6 = url.host.find(':') != std::string::npos;
  url.host_header = v6 ? "[" + url.host + "]" : url.host;
  if (url.port != "80") url.host_header += ":" + url.port;
  return url;
}

std::string usage() {
  return R"(chatdesk-simulator: simulated agents and customers for a running chatdesk gateway

usage: chatdesk-simulator [options]
  --url ws://HOST:PORT          gateway to connect to (default ws://127.0.0.1:8080); only
                                loopback addresses unless --allow-remote
  --shop ID                     shop to simulate; repeat for several (default demo)
  --agents N                    agents per shop (default 3)
  --customers-per-minute R      customer arrivals per shop per simulated minute (default 20)
  --duration D                  how long to run: 60s, 5m, 1h; 0 runs until SIGINT/SIGTERM
                                (default 60s)
  --seed S                      random seed, so a run's decisions can be repeated
  --speed F                     human delays run F times faster than real time (default 1);
                                the gateway's SLA clocks stay real time (docs/simulator.md)
  --profile P                   realistic | slow | missed (default realistic)
  --ignore-share X              share (0..1) of customers agents never answer; default per
                                profile (realistic 0.03, slow 0.03, missed 0.3)
  --max-connections N           cap on open connections, agents included (default 500)
  --allow-remote                allow a gateway that is not on a loopback address
  -h, --help                    this text

Prints a summary line every 10 s and at the end. Exit status: 0 after a run, 1 when no
connection to the gateway ever succeeded, 2 for a bad command line.
)";
}

ParseOutcome parse_options(int argc, char** argv) {
  ParseOutcome out;
  Options o;
  auto fail = [&](std::string message) {
    out.options.reset();
    out.exit_code = 2;
    out.message = "chatdesk-simulator: " + message + " (see --help)";
    return out;
  };

  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> inline_value;
    if (name.starts_with("--")) {
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    auto flag_has_value = [&] { return inline_value.has_value(); };

    if (name == "-h" || name == "--help") {
      out.exit_code = 0;
      out.message = usage();
      return out;
    }
    if (name == "--allow-remote") {
      if (flag_has_value()) return fail("--allow-remote takes no value");
      o.allow_remote = true;
      continue;
    }
    static const std::vector<std::string> kWithValue{
        "--url",  "--shop",  "--agents",  "--customers-per-minute", "--duration",
        "--seed", "--speed", "--profile", "--ignore-share",         "--max-connections"};
    if (std::find(kWithValue.begin(), kWithValue.end(), name) == kWithValue.end())
      return fail("unknown option '" + name + "'");
    auto v = value();
    if (!v) return fail(name + " needs a value");

    if (name == "--url") {
      o.url_text = *v;
    } else if (name == "--shop") {
      if (!is_valid_shop_id(*v)) return fail("bad shop id '" + *v + "'");
      if (std::find(o.shops.begin(), o.shops.end(), *v) == o.shops.end()) o.shops.push_back(*v);
    } else if (name == "--agents") {
      auto n = parse_number<int>(*v);
      if (!n || *n < 0 || *n > 1000) return fail("--agents must be 0..1000");
      o.agents = *n;
    } else if (name == "--customers-per-minute") {
      auto r = parse_double(*v);
      if (!r || *r < 0 || *r > 100'000) return fail("--customers-per-minute must be 0..100000");
      o.customers_per_minute = *r;
    } else if (name == "--duration") {
      auto d = parse_duration(*v);
      if (!d) return fail("bad --duration '" + *v + "' (e.g. 60s, 5m, 0)");
      o.duration = *d;
    } else if (name == "--seed") {
      auto s = parse_number<std::uint64_t>(*v);
      if (!s) return fail("--seed must be a non-negative integer");
      o.seed = *s;
      o.seed_given = true;
    } else if (name == "--speed") {
      auto s = parse_double(*v);
      if (!s || *s <= 0 || *s > 1000) return fail("--speed must be > 0 and <= 1000");
      o.speed = *s;
    } else if (name == "--profile") {
      if (*v == "realistic")
        o.profile = ProfileKind::realistic;
      else if (*v == "slow")
        o.profile = ProfileKind::slow;
      else if (*v == "missed")
        o.profile = ProfileKind::missed;
      else
        return fail("--profile must be realistic, slow or missed");
    } else if (name == "--ignore-share") {
      auto s = parse_double(*v);
      if (!s || *s < 0 || *s > 1) return fail("--ignore-share must be 0..1");
      o.ignore_share = *s;
    } else if (name == "--max-connections") {
      auto n = parse_number<int>(*v);
      if (!n || *n < 1 || *n > 100'000) return fail("--max-connections must be 1..100000");
      o.max_connections = *n;
    }
  }

  if (o.shops.empty()) o.shops.push_back("demo");
  std::string error;
  auto url = parse_ws_url(o.url_text, error);
  if (!url) return fail("bad --url '" + o.url_text + "': " + error);
  o.url = *url;
  const long agent_connections = static_cast<long>(o.agents) * static_cast<long>(o.shops.size());
  if (agent_connections >= o.max_connections) {
    std::ostringstream m;
    m << agent_connections << " agents leave no room for customers under --max-connections "
      << o.max_connections;
    return fail(m.str());
  }
  out.options = std::move(o);
  return out;
}

}  // namespace chatdesk::sim
