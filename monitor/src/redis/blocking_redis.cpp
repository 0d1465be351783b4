#include "chatdesk/monitor/blocking_redis.hpp"

#include <sys/time.h>

#include <array>
#include <charconv>

namespace chatdesk::monitor {
namespace {

std::string_view text_of(const redisReply& r) {
  return r.str ? std::string_view(r.str, r.len) : std::string_view();
}

// "host:port" (the host possibly a [bracketed] IPv6 literal), as the config loader checked it.
std::optional<ClusterNode> parse_node(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  const std::string_view digits = text.substr(colon + 1);
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || port < 1 || port > 65535)
    return std::nullopt;
  return ClusterNode{std::string(host), port};
}

}  // namespace

timeval redis_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

RedisContextPtr connect_blocking(const RedisEndpoint& e, std::chrono::milliseconds connect_timeout,
                                 std::chrono::milliseconds io_timeout, std::string& error) {
  const std::string where = e.host + ":" + std::to_string(e.port);
  RedisContextPtr c(
      redisConnectWithTimeout(e.host.c_str(), e.port, redis_timeval(connect_timeout)));
  if (!c || c->err) {
    error = "cannot connect to " + where + ": " + (c ? c->errstr : "out of memory");
    return nullptr;
  }
  // Without a read/write timeout a Redis that accepts but never answers would hold the thread.
  if (redisSetTimeout(c.get(), redis_timeval(io_timeout)) != REDIS_OK) {
    error = where + ": " + c->errstr;
    return nullptr;
  }
  const std::string db = std::to_string(e.db);
  const auto handshake = [&](std::span<const std::string_view> args) {
    RedisReplyPtr r = command_blocking(c.get(), args, error);
    if (r && r->type == REDIS_REPLY_ERROR) error = std::string(text_of(*r));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      error = where + ": " + std::string(args[0]) + ": " + error;
      return false;
    }
    return true;
  };
  if (!e.password.empty()) {
    const std::array<std::string_view, 3> auth{"AUTH", e.user, e.password};
    const bool ok = e.user.empty() ? handshake(std::array<std::string_view, 2>{"AUTH", e.password})
                                   : handshake(auth);
    if (!ok) return nullptr;
  }
  if (e.db != 0 && !handshake(std::array<std::string_view, 2>{"SELECT", db})) return nullptr;
  return c;
}

RedisReplyPtr command_blocking(redisContext* c, std::span<const std::string_view> args,
                               std::string& error) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* reply = redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data());
  if (!reply) error = c->errstr;
  return RedisReplyPtr(static_cast<redisReply*>(reply));
}

std::string reply_string(const redisReply* r) {
  return r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
}

std::map<std::string, std::string> reply_pairs(const redisReply* r) {
  std::map<std::string, std::string> out;
  if (!r || r->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    out.emplace(reply_string(r->element[i]), reply_string(r->element[i + 1]));
  return out;
}

std::optional<std::string> parse_cluster_slots(const redisReply& r, const ClusterNode& reached,
                                               std::vector<ClusterSlotMap::Range>& ranges) {
  if (r.type == REDIS_REPLY_ERROR) return std::string(text_of(r));
  if (r.type != REDIS_REPLY_ARRAY) return "CLUSTER SLOTS did not answer an array";
  ranges.clear();
  for (std::size_t i = 0; i < r.elements; ++i) {
    const redisReply* e = r.element[i];
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
      return "CLUSTER SLOTS: malformed entry";
    const redisReply* master = e->element[2];
    const redisReply* host = master->element[0];
    const redisReply* port = master->element[1];
    if (port->type != REDIS_REPLY_INTEGER ||
        (host->type != REDIS_REPLY_STRING && host->type != REDIS_REPLY_NIL))
      return "CLUSTER SLOTS: malformed master";
    const long long first = e->element[0]->integer, last = e->element[1]->integer;
    if (first < 0 || last < first || last >= cluster_slot_count || port->integer <= 0 ||
        port->integer > 65535)
      return "CLUSTER SLOTS: slot range or port out of bounds";
    ClusterSlotMap::Range range;
    range.first = static_cast<std::uint16_t>(first);
    range.last = static_cast<std::uint16_t>(last);
    const std::string_view h = host->type == REDIS_REPLY_STRING ? text_of(*host) : "";
    range.master.host = h.empty() || h == "?" ? reached.host : std::string(h);
    range.master.port = static_cast<int>(port->integer);
    ranges.push_back(std::move(range));
  }
  return std::nullopt;
}

std::optional<std::vector<RedisEndpoint>> cluster_seeds(const config::RedisConfig& config) {
  std::vector<RedisEndpoint> seeds;
  if (config.cluster.empty()) return seeds;
  const auto credentials = parse_redis_url(config.url);
  if (!credentials || credentials->db != 0) return std::nullopt;
  for (const auto& text : config.cluster) {
    const auto node = parse_node(text);
    if (!node) return std::nullopt;
    seeds.push_back(endpoint_of(*node, *credentials));
  }
  return seeds;
}

bool fetch_cluster_slots(std::span<const RedisEndpoint> seeds,
                         std::chrono::milliseconds connect_timeout,
                         std::chrono::milliseconds io_timeout, ClusterSlotMap& map,
                         std::string& error) {
  error = "no cluster seed";
  std::vector<ClusterSlotMap::Range> ranges;
  for (const auto& seed : seeds) {
    RedisContextPtr c = connect_blocking(seed, connect_timeout, io_timeout, error);
    if (!c) continue;
    const std::array<std::string_view, 2> args{"CLUSTER", "SLOTS"};
    RedisReplyPtr r = command_blocking(c.get(), args, error);
    if (!r) continue;
    if (auto bad = parse_cluster_slots(*r, ClusterNode{seed.host, seed.port}, ranges)) {
      error = seed.host + ":" + std::to_string(seed.port) + ": " + *bad;
      continue;
    }
    ClusterSlotMap candidate;
    if (auto bad = candidate.assign(ranges)) {
      error = *bad;
      continue;
    }
    if (!candidate.complete()) {
      error = seed.host + ":" + std::to_string(seed.port) + ": not every slot has a master";
      continue;
    }
    map = std::move(candidate);
    return true;
  }
  return false;
}

RedisEndpoint endpoint_of(const ClusterNode& node, const RedisEndpoint& credentials) {
  RedisEndpoint e;
  e.host = node.host;
  e.port = node.port;
  e.user = credentials.user;
  e.password = credentials.password;
  return e;
}

}  // namespace chatdesk::monitor
