#include "async_redis_cluster.hpp"

#include "chatdesk/monitor/blocking_redis.hpp"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <utility>

namespace chatdesk::gateway {
namespace net = boost::asio;
using boost::system::error_code;
using monitor::ClusterNode;
using monitor::ClusterSlotMap;

namespace {

// Replies are moved out of the objects hiredis allocated into plain redisReply values owned by
// the request (a round trip's replies die with its AsyncRedis completion, the batch's answer
// needs all of them). Their contents are freed the way hiredis 0.14 frees them (malloc'd str,
// element vector of reply objects): re-check free_contents() when moving to hiredis 1.x.
static_assert(HIREDIS_MAJOR == 0, "free_contents() mirrors hiredis 0.x's freeReplyObject");

void free_contents(redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_ARRAY:
      for (std::size_t j = 0; j < r.elements; ++j) freeReplyObject(r.element[j]);
      std::free(r.element);
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      std::free(r.str);
      break;
    default:
      break;
  }
  r = redisReply{};
}

// Moves `from`'s contents into `slot`; `from` is left an empty NIL for hiredis' free.
void take(redisReply& slot, redisReply* from) {
  free_contents(slot);
  slot = *from;
  *from = redisReply{};
  from->type = REDIS_REPLY_NIL;
}

// A local error reply, allocated as hiredis allocates one (so free_contents() frees it).
void set_error(redisReply& slot, std::string_view text) {
  free_contents(slot);
  auto* str = static_cast<char*>(std::malloc(text.size() + 1));
  if (!str) throw std::bad_alloc();
  std::memcpy(str, text.data(), text.size());
  str[text.size()] = '\0';
  slot.type = REDIS_REPLY_ERROR;
  slot.str = str;
  slot.len = text.size();
}

std::string_view text_of(const redisReply& r) {
  return r.str ? std::string_view(r.str, r.len) : std::string_view();
}

constexpr std::string_view kCrossSlot =
    "CROSSSLOT Keys in request don't hash to the same slot (refused by the gateway, not sent)";
constexpr std::string_view kUnsupported =
    "ERR this command cannot be routed in a Redis Cluster batch (refused by the gateway, not sent)";
constexpr std::string_view kMalformed = "ERR malformed command (refused by the gateway, not sent)";

}  // namespace

AsyncRedisCluster::Request::~Request() {
  for (redisReply& r : replies) free_contents(r);
}

AsyncRedisCluster::AsyncRedisCluster(net::io_context& ioc,
                                     std::vector<monitor::RedisEndpoint> seeds,
                                     AsyncRedisOptions options)
    : ioc_(ioc),
      seeds_(std::move(seeds)),
      options_(options),
      probe_timer_(ioc),
      retry_timer_(ioc),
      backoff_(options.backoff_initial) {
  if (seeds_.empty()) throw std::invalid_argument("AsyncRedisCluster: no seed node");
  for (const auto& seed : seeds_) {
    if (seed.db != 0)
      throw std::invalid_argument("AsyncRedisCluster: a Redis Cluster has only db 0");
  }
  cluster_slots_.add({"CLUSTER", "SLOTS"});
}

AsyncRedisCluster::~AsyncRedisCluster() {
  running_ = false;
  // Every pending batch completes (posted) with operation_aborted, in order.
  while (!requests_.empty()) {
    requests_.front().ec = net::error::operation_aborted;
    post_completion(std::move(requests_.front()));
    requests_.pop_front();
  }
  // From here on, the links' and probes' completions (posted by their destructors) find nothing.
  *alive_ = false;
}

monitor::RedisEndpoint AsyncRedisCluster::endpoint_of(const ClusterNode& node) const {
  return monitor::endpoint_of(node, seeds_.front());
}

// --- start, stop, connection state -----------------------------------------------------------

void AsyncRedisCluster::start() {
  if (running_) return;
  running_ = true;
  backoff_ = options_.backoff_initial;
  // The links a previous run left reconnect; the map is learnt afresh.
  for (auto& link : links_)
    if (link->master) link->redis.start();
  refresh();
}

void AsyncRedisCluster::stop() {
  if (!running_) return;
  running_ = false;
  end_round();
  refresh_again_ = false;
  retry_timer_.cancel();
  for (auto& link : links_) {
    link->redis.stop();  // its round trips complete (posted) with operation_aborted: ignored
    link->ready = false;
    link->waiting.clear();
    link->wait_timer.cancel();
  }
  while (!requests_.empty()) {
    requests_.front().ec = net::error::operation_aborted;
    post_completion(std::move(requests_.front()));
    requests_.pop_front();
    ++first_request_;
  }
  update_connected();
}

void AsyncRedisCluster::update_connected() {
  const bool now = running_ && map_.complete() && !master_links_.empty() &&
                   std::all_of(master_links_.begin(), master_links_.end(),
                               [](const Link* l) { return l->ready; });
  if (now == connected_) return;
  connected_ = now;
  if (now) backoff_ = options_.backoff_initial;
  // Posted, like AsyncRedis' notifications.
  net::post(ioc_, [this, alive = alive_, now] {
    if (*alive && on_connection_) on_connection_(now);
  });
}

// --- links -----------------------------------------------------------------------------------

AsyncRedisCluster::Link* AsyncRedisCluster::find_link(const ClusterNode& node) {
  for (auto& link : links_)
    if (link->node == node) return link.get();
  return nullptr;
}

AsyncRedisCluster::Link& AsyncRedisCluster::link_for(const ClusterNode& node) {
  if (Link* found = find_link(node)) {
    if (running_) found->redis.start();  // no-op when running
    return *found;
  }
  auto link = std::make_unique<Link>(ioc_, node, endpoint_of(node), options_);
  Link* l = link.get();
  // Connects in the background; on_link() hears of every change.
  l->redis.on_connection([this, alive = alive_, l](bool up) {
    if (*alive) on_link(*l, up);
  });
  links_.push_back(std::move(link));
  if (running_) l->redis.start();
  return *l;
}

void AsyncRedisCluster::on_link(Link& link, bool up) {
  if (!running_) return;
  link.ready = up;
  if (up) {
    // The round trips redirected here while it connected go first, in the order they came.
    link.wait_timer.cancel();
    while (!link.waiting.empty()) {
      SubBatch sub = std::move(link.waiting.front());
      link.waiting.pop_front();
      write(link, std::move(sub));
    }
  } else if (link.master) {
    // A master gone: a replica may be promoted, or its slots moved. Ask the others.
    refresh();
  }
  update_connected();
}

void AsyncRedisCluster::retire_if_idle(Link& link) {
  if (link.master || link.in_flight != 0 || !link.waiting.empty()) return;
  const auto it =
      std::find_if(links_.begin(), links_.end(), [&](const auto& l) { return l.get() == &link; });
  if (it == links_.end()) return;
  retired_.push_back(std::move(*it));
  links_.erase(it);
  // Destroyed outside whatever handler of it is running now.
  net::post(ioc_, [this, alive = alive_] {
    if (*alive) retired_.clear();
  });
}

void AsyncRedisCluster::map_changed() {
  for (auto& link : links_) link->master = false;
  master_links_.clear();
  for (const ClusterNode& node : map_.masters()) {
    Link& link = link_for(node);
    link.master = true;
    master_links_.push_back(&link);
  }
  // A node that serves no slot any more goes once its round trips are answered.
  std::vector<Link*> idle;
  for (auto& link : links_)
    if (!link->master) idle.push_back(link.get());
  for (Link* link : idle) retire_if_idle(*link);
  update_connected();
}

// --- send ------------------------------------------------------------------------------------

AsyncRedisCluster::Request* AsyncRedisCluster::find(std::uint64_t id) {
  if (id < first_request_ || id - first_request_ >= requests_.size()) return nullptr;
  return &requests_[id - first_request_];
}

void AsyncRedisCluster::send(const RedisBatch& batch, Done done) {
  const std::uint64_t id = first_request_ + requests_.size();
  requests_.emplace_back();
  Request& request = requests_.back();
  request.done = std::move(done);
  const std::size_t n = batch.size();
  if (!running_) {
    request.ec = net::error::not_connected;
    return complete_ready();
  }
  request.replies.resize(n);

  // Where each command goes: a master (its index in map_.masters()), kAny, kEvery, or kLocal.
  targets_.assign(n, kLocal);
  const auto& masters = map_.masters();
  std::int32_t any = -1;  // kAny commands go with the first keyed one
  bool reachable = true;
  bool every = false;
  for (std::size_t i = 0; i < n && reachable; ++i) {
    switch (parse_redis_command(batch.command(i), view_)) {
      case RedisCommandRoute::keys: {
        const std::uint16_t slot = monitor::cluster_key_slot(view_.keys.front());
        const bool one_slot = std::all_of(
            view_.keys.begin() + 1, view_.keys.end(),
            [slot](std::string_view k) { return monitor::cluster_key_slot(k) == slot; });
        if (!one_slot) {
          set_error(request.replies[i], kCrossSlot);
          break;
        }
        const ClusterNode* master = map_.master_of(slot);
        if (!master) {
          reachable = false;
          break;
        }
        const auto index = static_cast<std::int32_t>(master - masters.data());
        if (!master_links_[index]->ready) reachable = false;
        targets_[i] = index;
        if (any < 0) any = index;
        break;
      }
      case RedisCommandRoute::any_master:
        targets_[i] = kAny;
        break;
      case RedisCommandRoute::every_master:
        targets_[i] = kEvery;
        every = true;
        break;
      case RedisCommandRoute::unsupported:
        set_error(request.replies[i], kUnsupported);
        break;
      case RedisCommandRoute::malformed:
        set_error(request.replies[i], kMalformed);
        break;
    }
  }
  if (any < 0 && !master_links_.empty()) any = 0;
  const bool needs_any = std::find(targets_.begin(), targets_.end(), kAny) != targets_.end();
  if (needs_any && (any < 0 || !master_links_[any]->ready)) reachable = false;
  if (every && !std::all_of(master_links_.begin(), master_links_.end(),
                            [](const Link* l) { return l->ready; }))
    reachable = false;
  if (!reachable) {
    // Nothing was sent: the batch fails whole, its local replies dropped.
    for (redisReply& r : request.replies) free_contents(r);
    request.replies.clear();
    request.ec = net::error::not_connected;
    return complete_ready();
  }

  request.batch = batch;  // resent from on MOVED/ASK: the caller may reuse `batch`
  // One round trip per master the batch touches, its commands in batch order.
  for (std::size_t m = 0; m < master_links_.size(); ++m) {
    SubBatch sub;
    sub.request = id;
    const auto master = static_cast<std::int32_t>(m);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int32_t t = targets_[i];
      if (t == master || t == kEvery || (t == kAny && any == master))
        sub.commands.push_back(static_cast<std::uint32_t>(i));
    }
    if (!sub.commands.empty()) launch(*master_links_[m], std::move(sub));
  }
  complete_ready();  // a batch of local replies only (or none) completes in its turn
}

void AsyncRedisCluster::launch(Link& link, SubBatch&& sub) {
  ++find(sub.request)->outstanding;
  if (link.ready) return write(link, std::move(sub));
  // Redirected to a node still connecting: written once it is ready, failed after
  // connect_timeout.
  link.waiting.push_back(std::move(sub));
  if (link.waiting.size() > 1) return;
  link.wait_timer.expires_after(options_.connect_timeout);
  link.wait_timer.async_wait(
      [this, alive = alive_, l = &link, la = link.alive](const error_code& e) {
        if (e || !*alive || !*la) return;
        fail_waiting(*l);
      });
}

void AsyncRedisCluster::write(Link& link, SubBatch&& sub) {
  Request* request = find(sub.request);
  if (!request) return;  // stopped meanwhile
  if (request->ec) {
    // The batch failed meanwhile (this round trip waited for its node): nothing more to send.
    --request->outstanding;
    return complete_ready();
  }
  scratch_.clear();
  for (const std::uint32_t i : sub.commands) {
    if (sub.asking) scratch_.add({"ASKING"});
    parse_redis_command(request->batch.command(i), view_);
    scratch_.add(std::span<const std::string_view>(view_.args));
  }
  ++link.in_flight;
  ++round_trips_;
  commands_ += scratch_.size();
  // One pipelined round trip; on_answer() takes its replies (or its failure). A link is
  // destroyed only once idle (or with this object), so `l` outlives the call.
  link.redis.send(scratch_,
                  [this, alive = alive_, l = &link, la = link.alive, sub = std::move(sub)](
                      const error_code& ec, std::span<redisReply* const> replies) {
                    if (*alive) on_answer(*la ? l : nullptr, sub, ec, replies);
                  });
}

void AsyncRedisCluster::fail_waiting(Link& link) {
  while (!link.waiting.empty()) {
    if (Request* request = find(link.waiting.front().request)) {
      --request->outstanding;
      if (!request->ec) request->ec = net::error::not_connected;
    }
    link.waiting.pop_front();
  }
  retire_if_idle(link);
  complete_ready();
}

void AsyncRedisCluster::on_answer(Link* link, const SubBatch& sub, const error_code& ec,
                                  std::span<redisReply* const> replies) {
  if (link) --link->in_flight;
  if (Request* request = find(sub.request)) {
    --request->outstanding;
    const std::size_t expected = sub.commands.size() * (sub.asking ? 2 : 1);
    if (!ec && replies.size() != expected && !request->ec)
      request->ec = net::error::connection_reset;  // cannot happen: AsyncRedis answers each
    if (ec && !request->ec) request->ec = ec;
    if (!link && !request->ec) request->ec = net::error::operation_aborted;  // cannot happen
    if (!request->ec) take_replies(*link, *request, sub, replies);
  }
  if (link) retire_if_idle(*link);
  complete_ready();
}

void AsyncRedisCluster::take_replies(Link& from, Request& request, const SubBatch& sub,
                                     std::span<redisReply* const> replies) {
  // Redirected commands, grouped per node and kind: each group is one new round trip.
  struct Redirect {
    Link* to;
    SubBatch sub;
  };
  std::vector<Redirect> redirects;
  const std::size_t stride = sub.asking ? 2 : 1;
  bool moved = false, map_dirty = false;
  for (std::size_t k = 0; k < sub.commands.size(); ++k) {
    redisReply* reply = replies[k * stride + stride - 1];  // behind its ASKING's +OK
    const std::uint32_t i = sub.commands[k];
    redisReply& slot = request.replies[i];
    if (reply->type == REDIS_REPLY_ERROR && sub.hops < kMaxRedirections) {
      if (auto redirect = monitor::parse_cluster_redirect(text_of(*reply))) {
        ClusterNode to = std::move(redirect->to);
        if (to.host.empty()) to.host = from.node.host;  // "MOVED 3999 :6381": the same host
        const bool ask = redirect->kind == monitor::ClusterRedirect::Kind::ask;
        if (!ask) {
          // The slot lives elsewhere now: later batches go there at once.
          const ClusterNode* now = map_.master_of(redirect->slot);
          if (!now || !(*now == to)) {
            map_.moved(redirect->slot, to);
            map_dirty = true;
          }
          moved = true;
        }
        Link& target = link_for(to);
        auto group = std::find_if(redirects.begin(), redirects.end(), [&](const Redirect& r) {
          return r.to == &target && r.sub.asking == ask;
        });
        if (group == redirects.end()) {
          redirects.push_back({&target, SubBatch{}});
          group = redirects.end() - 1;
          group->sub.request = sub.request;
          group->sub.asking = ask;
          group->sub.hops = sub.hops + 1;
        }
        group->sub.commands.push_back(i);
        continue;
      }
    }
    // An answer: the first one, or (from every master) the first error.
    if (slot.type == 0 || (reply->type == REDIS_REPLY_ERROR && slot.type != REDIS_REPLY_ERROR))
      take(slot, reply);
  }
  // Resent in the order they came, before any later batch reaches the new master (launched
  // before map_changed(), which drops links with nothing to do).
  for (Redirect& r : redirects) {
    ++redirections_;
    launch(*r.to, std::move(r.sub));
  }
  if (map_dirty) map_changed();
  if (moved) refresh();  // the rest of the map may have changed too
}

void AsyncRedisCluster::complete_ready() {
  while (!requests_.empty() && requests_.front().outstanding == 0) {
    post_completion(std::move(requests_.front()));
    requests_.pop_front();
    ++first_request_;
  }
}

void AsyncRedisCluster::post_completion(Request&& request) {
  // Posted, never run here: `done` may send, stop or destroy this object.
  net::post(ioc_, [r = std::move(request)]() mutable {
    if (!r.done) return;
    if (!r.ec && std::any_of(r.replies.begin(), r.replies.end(),
                             [](const redisReply& x) { return x.type == 0; }))
      r.ec = net::error::connection_reset;  // a command left unanswered: cannot happen
    if (r.ec) return r.done(r.ec, {});
    std::vector<redisReply*> pointers(r.replies.size());
    for (std::size_t i = 0; i < r.replies.size(); ++i) pointers[i] = &r.replies[i];
    r.done(r.ec, std::span<redisReply* const>(pointers));
  });
}

// --- the slot map ----------------------------------------------------------------------------

void AsyncRedisCluster::refresh() {
  if (!running_) return;
  if (refreshing_) {
    refresh_again_ = true;  // once this one ends
    return;
  }
  refreshing_ = true;
  refresh_again_ = false;
  probing_ = false;
  // First the nodes with a ready connection (no new connection, no dead node), masters first.
  candidates_.clear();
  for (const Link* link : master_links_)
    if (link->ready) candidates_.push_back(link->node);
  for (const auto& link : links_)
    if (link->ready &&
        std::find(candidates_.begin(), candidates_.end(), link->node) == candidates_.end())
      candidates_.push_back(link->node);
  candidate_ = 0;
  last_failure_ = "no node answered";
  try_candidate();
}

void AsyncRedisCluster::try_candidate() {
  const std::uint64_t step = ++refresh_step_;
  Link* link = nullptr;
  while (candidate_ < candidates_.size() &&
         !((link = find_link(candidates_[candidate_])) && link->ready))
    ++candidate_;
  if (candidate_ >= candidates_.size()) return probe_all();
  // CLUSTER SLOTS on its connection, behind the batches already there (answered within
  // io_timeout).
  link->redis.send(cluster_slots_, [this, alive = alive_, step, node = link->node](
                                       const error_code& ec, std::span<redisReply* const> replies) {
    if (*alive && step == refresh_step_) slots_answer(node, ec, replies);
  });
}

void AsyncRedisCluster::probe_all() {
  probing_ = true;
  const std::uint64_t step = ++refresh_step_;
  std::vector<ClusterNode> nodes;
  for (const auto& seed : seeds_) nodes.push_back({seed.host, seed.port});
  for (const auto& link : links_)
    if (std::find(nodes.begin(), nodes.end(), link->node) == nodes.end())
      nodes.push_back(link->node);
  for (const ClusterNode& node : nodes) {
    auto it = std::find_if(probes_.begin(), probes_.end(),
                           [&](const Probe& p) { return p.node == node; });
    if (it == probes_.end()) {
      // A connection of its own; asks as soon as it is ready, while the round lasts.
      probes_.push_back({node, std::make_unique<AsyncRedis>(ioc_, endpoint_of(node), options_)});
      it = probes_.end() - 1;
      it->redis->on_connection([this, alive = alive_, node](bool up) {
        if (*alive && up && probing_) ask_probe(node);
      });
      it->redis->start();
    } else if (it->redis->connected()) {
      ask_probe(node);
    }
  }
  // The round ends with the first valid answer, or here.
  probe_timer_.expires_after(options_.connect_timeout + options_.io_timeout);
  probe_timer_.async_wait([this, alive = alive_, step](const error_code& e) {
    if (e || !*alive || !probing_ || step != refresh_step_) return;
    refreshing_ = probing_ = false;
    log_failure("cannot learn the slot map", last_failure_);
    if (refresh_again_) return refresh();
    schedule_refresh();
  });
}

void AsyncRedisCluster::ask_probe(const ClusterNode& node) {
  const auto it =
      std::find_if(probes_.begin(), probes_.end(), [&](const Probe& p) { return p.node == node; });
  if (it == probes_.end()) return;
  it->redis->send(cluster_slots_, [this, alive = alive_, step = refresh_step_, node](
                                      const error_code& ec, std::span<redisReply* const> replies) {
    if (*alive && probing_ && step == refresh_step_) slots_answer(node, ec, replies);
  });
}

void AsyncRedisCluster::slots_answer(const ClusterNode& reached, const error_code& ec,
                                     std::span<redisReply* const> replies) {
  std::vector<ClusterSlotMap::Range> ranges;
  std::optional<std::string> bad;
  if (ec)
    bad = ec.message();
  else if (replies.size() != 1)
    bad = "no reply to CLUSTER SLOTS";
  else
    bad = monitor::parse_cluster_slots(*replies[0], reached, ranges);
  if (!bad) bad = map_.assign(ranges);
  if (bad) {
    last_failure_ = reached.host + ':' + std::to_string(reached.port) + ": " + std::move(*bad);
    if (probing_) return;  // the other probes may still answer, or the round times out
    ++candidate_;
    return try_candidate();
  }
  ++refreshes_;
  failing_ = false;
  end_round();
  map_changed();
  if (refresh_again_) return refresh();
  // Slots unserved or a master not ready yet: ask again after backoff until all is well.
  if (!connected_) schedule_refresh();
}

void AsyncRedisCluster::end_round() {
  ++refresh_step_;  // handlers of this round still queued find nothing to do
  refreshing_ = probing_ = false;
  probe_timer_.cancel();
  if (probes_.empty()) return;
  for (Probe& p : probes_) retired_probes_.push_back(std::move(p));
  probes_.clear();
  // Destroyed outside whatever handler of theirs is running now.
  net::post(ioc_, [this, alive = alive_] {
    if (*alive) retired_probes_.clear();
  });
}

void AsyncRedisCluster::schedule_refresh() {
  if (retry_armed_ || !running_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  retry_timer_.async_wait([this, alive = alive_](const error_code& e) {
    if (!*alive) return;
    retry_armed_ = false;
    if (e || !running_ || connected_) return;
    refresh();
  });
}

void AsyncRedisCluster::log_failure(std::string_view what, std::string_view why) {
  // Once per failure streak: a cluster that stays away is not logged at every retry.
  if (failing_) return;
  failing_ = true;
  std::cerr << "chatdesk-gateway: redis cluster: " << what << " (" << why
            << "); retrying with backoff up to " << options_.backoff_max.count() << " ms\n";
}

std::unique_ptr<RedisPipeline> make_redis_pipeline(boost::asio::io_context& ioc,
                                                   const monitor::RedisEndpoint& endpoint,
                                                   const std::vector<monitor::RedisEndpoint>& seeds,
                                                   const AsyncRedisOptions& options) {
  if (seeds.empty()) return std::make_unique<AsyncRedis>(ioc, endpoint, options);
  return std::make_unique<AsyncRedisCluster>(ioc, seeds, options);
}

}  // namespace chatdesk::gateway
