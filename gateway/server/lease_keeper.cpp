#include "lease_keeper.hpp"

#include <algorithm>
#include <charconv>
#include <iostream>

namespace chatdesk::gateway {

namespace {

constexpr std::string_view kNodeIds = "chatdesk:node-ids";
constexpr std::string_view kNodes = "chatdesk:nodes";

// The live set on Redis's clock: this node's entry is scored by when it expires; expired entries
// go; the answer is every node still alive.
constexpr std::string_view kHeartbeatScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
)lua";

// KEYS: the shop's lease and epoch (one slot: {shop:<id>}). ARGV: node id, PX. The lease's value
// is "<node>:<epoch>". Answers {1, epoch} when the caller holds it now, {0, holder} otherwise.
constexpr std::string_view kClaimScript = R"lua(
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, ':', 1, true)
  local holder = string.sub(v, 1, sep - 1)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(string.sub(v, sep + 1))}
  end
  return {0, tonumber(holder)}
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
return {1, epoch}
)lua";

// KEYS: the lease. ARGV: node id. Deletes it only while it is still the caller's.
constexpr std::string_view kReleaseScript = R"lua(
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. ':' then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

std::string lease_key(std::string_view shop) {
  return "chatdesk:{shop:" + std::string(shop) + "}:lease";
}
std::string epoch_key(std::string_view shop) {
  return "chatdesk:{shop:" + std::string(shop) + "}:epoch";
}

template <typename T>
std::optional<T> number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<NodeId> holder_of(const redisReply* reply) {
  if (reply->type != REDIS_REPLY_STRING) return std::nullopt;
  const std::string_view value(reply->str, reply->len);
  return number<NodeId>(value.substr(0, value.find(':')));
}

}  // namespace

LeaseKeeper::LeaseKeeper(boost::asio::io_context& ioc, RedisPipeline& redis, LeaseTiming timing,
                         std::vector<std::string> shops)
    : ioc_(ioc),
      redis_(redis),
      timing_(timing),
      shops_(std::move(shops)),
      homes_(shops_.size()),
      timer_(ioc) {}

LeaseKeeper::~LeaseKeeper() {
  *alive_ = false;
  timer_.cancel();
}

void LeaseKeeper::start(std::function<void(NodeId)> registered, Changed changed) {
  registered_ = std::move(registered);
  changed_ = std::move(changed);
  running_ = true;
  register_node();
}

void LeaseKeeper::register_node() {
  if (!running_) return;
  batch_.clear();
  batch_.add({"INCR", kNodeIds});
  in_flight_ = true;
  // Redis hands out the node id; until it answers, retry every check period.
  redis_.send(batch_, [this, alive = alive_](const boost::system::error_code& ec,
                                             std::span<redisReply* const> replies) {
    if (!*alive) return;
    in_flight_ = false;
    if (!running_) return;
    if (ec || replies[0]->type != REDIS_REPLY_INTEGER || replies[0]->integer <= 0 ||
        replies[0]->integer > static_cast<long long>(max_node_id)) {
      timer_.expires_after(timing_.check_every);
      timer_.async_wait([this, alive = alive_](const boost::system::error_code& e) {
        if (*alive && !e) register_node();
      });
      return;
    }
    node_ = static_cast<NodeId>(replies[0]->integer);
    leases_ = std::make_unique<ShopLeases>(timing_, node_);
    live_ = {node_};
    if (registered_) registered_(node_);
    tick();
  });
}

void LeaseKeeper::arm(std::chrono::steady_clock::duration after) {
  timer_.expires_after(std::max<std::chrono::steady_clock::duration>(after, Duration(1)));
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& e) {
    if (*alive && !e) tick();
  });
}

void LeaseKeeper::tick() {
  if (!running_) return;
  const auto now = std::chrono::steady_clock::now();
  if (in_flight_) return arm(timing_.check_every);
  // Shops that go to a node that joined: stop deciding for them before releasing them.
  handed_.clear();
  if (heard_live_) leases_->hand_over(now, shops_, live_, handed_);
  // Those, and leases that ran out before an answer came: stop deciding for those shops now.
  report({});
  claims_.clear();
  // Not before the first heartbeat's answer: alone in its own view, a starting node would claim
  // every free shop that another node, starting at the same time, is the preferred home for.
  if (heard_live_) leases_->due(now, shops_, live_, claims_);
  if (leaving_)
    std::erase_if(claims_, [&](const std::string& shop) { return !leases_->holds(shop, now); });
  const auto node = std::to_string(node_);
  const auto px = std::to_string(timing_.redis_ttl.count());
  // A node's heartbeat lives as long as its leases' keys: a dead node leaves the live set (and
  // its shops get a new preferred home) no later than its leases expire.
  const auto heartbeat_ttl = px;
  batch_.clear();
  // Leaving: out of the live set at once (its answer, an integer, leaves live_ as it was).
  if (leaving_)
    batch_.add({"ZREM", kNodes, node});
  else
    batch_.add({"EVAL", kHeartbeatScript, "1", kNodes, node, heartbeat_ttl});
  std::vector<std::size_t> peeked;  // shops read, not claimed
  for (const auto& shop : handed_) batch_.add({"EVAL", kReleaseScript, "1", lease_key(shop), node});
  for (const auto& shop : claims_)
    batch_.add({"EVAL", kClaimScript, "2", lease_key(shop), epoch_key(shop), node, px});
  for (std::size_t i = 0; i < shops_.size(); ++i) {
    if (std::find(claims_.begin(), claims_.end(), shops_[i]) != claims_.end()) continue;
    batch_.add({"GET", lease_key(shops_[i])});
    peeked.push_back(i);
  }
  in_flight_ = true;
  // One round trip: heartbeat, claims, peeks; the answers move the leases.
  redis_.send(
      batch_, [this, alive = alive_, now, peeked = std::move(peeked)](
                  const boost::system::error_code& ec, std::span<redisReply* const> replies) {
        if (!*alive) return;
        in_flight_ = false;
        if (!running_) return;
        std::vector<std::string> gained;
        if (ec) {
          for (const auto& shop : claims_) leases_->unanswered(shop);
        } else {
          if (replies[0]->type == REDIS_REPLY_ARRAY) {
            live_.clear();
            for (std::size_t i = 0; i < replies[0]->elements; ++i) {
              const redisReply* e = replies[0]->element[i];
              if (e->type != REDIS_REPLY_STRING) continue;
              if (auto id = number<NodeId>({e->str, e->len})) live_.push_back(*id);
            }
            if (std::find(live_.begin(), live_.end(), node_) == live_.end()) live_.push_back(node_);
            heard_live_ = true;
          }
          for (std::size_t c = 0; c < claims_.size(); ++c) {
            const redisReply* r = replies[1 + handed_.size() + c];
            const auto& shop = claims_[c];
            if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                r->element[0]->type != REDIS_REPLY_INTEGER ||
                r->element[1]->type != REDIS_REPLY_INTEGER) {
              leases_->unanswered(shop);  // an error reply: nothing known
              continue;
            }
            const auto before = leases_->epoch(shop);
            const auto value = static_cast<std::uint64_t>(r->element[1]->integer);
            if (r->element[0]->integer == 1) {
              leases_->granted(shop, now, value);
              if (before != value) gained.push_back(shop);
            } else {
              leases_->refused(shop, static_cast<NodeId>(value));
            }
            const auto index = static_cast<std::size_t>(
                std::find(shops_.begin(), shops_.end(), shop) - shops_.begin());
            homes_[index] = leases_->holder(shop);
          }
          for (std::size_t p = 0; p < peeked.size(); ++p)
            homes_[peeked[p]] = holder_of(replies[1 + handed_.size() + claims_.size() + p]);
        }
        report(std::move(gained));
        if (checked_) checked_();
        const auto next = leases_->next_check();
        const auto steady_now = std::chrono::steady_clock::now();
        auto wait = timing_.check_every - std::chrono::duration_cast<Duration>(steady_now - now);
        if (next) wait = std::min(wait, std::chrono::duration_cast<Duration>(*next - steady_now));
        arm(wait);
      });
}

void LeaseKeeper::report(std::vector<std::string> gained) {
  std::vector<std::string> lost;
  leases_->take_lost(std::chrono::steady_clock::now(), lost);
  if ((!lost.empty() || !gained.empty()) && changed_) changed_(lost, gained);
}

void LeaseKeeper::stop(std::function<void()> done) {
  if (!running_) {
    if (done) done();
    return;
  }
  std::vector<std::string> held;
  if (leases_) {
    const auto now = std::chrono::steady_clock::now();
    for (const auto& shop : shops_)
      if (leases_->holds(shop, now)) held.push_back(shop);
    const auto node = std::to_string(node_);
    batch_.clear();
    for (const auto& shop : held) batch_.add({"EVAL", kReleaseScript, "1", lease_key(shop), node});
    batch_.add({"ZREM", kNodes, node});
    // Best effort: a node that cannot reach Redis leaves its leases to expire.
    redis_.send(batch_, [alive = alive_, done](const boost::system::error_code&,
                                               std::span<redisReply* const>) {
      if (*alive && done) done();
    });
  } else if (done) {
    done();
  }
  abandon();
  if (!held.empty() && changed_) changed_(held, {});
}

void LeaseKeeper::check_expiry() {
  if (running_ && leases_) report({});
}

void LeaseKeeper::abandon() {
  running_ = false;
  timer_.cancel();
}

bool LeaseKeeper::holds(std::string_view shop) const {
  return leases_ && leases_->holds(shop, std::chrono::steady_clock::now());
}

std::optional<NodeId> LeaseKeeper::home_of(std::string_view shop) const {
  if (holds(shop)) return node_;
  const auto found = std::find(shops_.begin(), shops_.end(), shop);
  if (found == shops_.end()) return std::nullopt;
  const auto home = homes_[static_cast<std::size_t>(found - shops_.begin())];
  // A lease this node held and lost is not its any more.
  if (home == node_) return std::nullopt;
  return home;
}

}  // namespace chatdesk::gateway
