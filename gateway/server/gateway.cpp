#include <sys/random.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <system_error>

#include "desk_recovery.hpp"
#include "gateway_state.hpp"
#include "listener.hpp"
#include "upgrade_auth.hpp"
#include "websocket_session.hpp"

namespace chatdesk::gateway {
namespace net = boost::asio;

namespace {

std::string find_web_root(const config::Config& config) {
  if (!config.web_root.empty()) return config.web_root;
  return CHATDESK_SOURCE_WEB_ROOT;
}

// The kernel's CSPRNG (getrandom), so resume secrets cannot be predicted. Read 4 KiB at a time:
// std::random_device costs one RDSEED-or-syscall per 32 bits, which was half the gateway's CPU
// while customers connect (tools/bench scenario 4).
RandomSource system_random() {
  struct Pool {
    std::array<std::uint64_t, 512> bits{};
    std::size_t next = 512;
    std::uint64_t draw() {
      if (next == bits.size()) {
        auto* out = reinterpret_cast<unsigned char*>(bits.data());
        std::size_t filled = 0;
        while (filled < sizeof bits) {
          const ssize_t n = ::getrandom(out + filled, sizeof bits - filled, 0);
          if (n > 0)
            filled += static_cast<std::size_t>(n);
          else if (errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        next = 0;
      }
      return bits[next++];
    }
  };
  auto pool = std::make_shared<Pool>();
  return [pool] { return pool->draw(); };
}

// 64 random bits, new at every start: agent-level violation ids carry it, so that a restarted
// gateway (whose sequence starts again) cannot repeat an id already in the Redis stream.
std::string new_run_id() {
  const std::uint64_t bits = system_random()();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (std::size_t i = 0; i < 16; ++i) id[i] = kHex[(bits >> (60 - 4 * i)) & 0xF];
  return id;
}

}  // namespace

void SlaFanout::on_violation(const monitor::Violation& v) {
  metrics_.on_violation(v);
  if (gate_)
    gate_->violation(v);
  else if (writer_)
    writer_->submit(v);
  if (desk_) desk_->notify_violation(v);
  if (leads_) leads_->notify_violation(v);
}

Gateway::State::State(net::io_context& io, const config::Config& cfg, const Clock& clk)
    : ioc(io),
      config(cfg),
      clock(clk),
      web_root(find_web_root(cfg)),
      auth_secret(load_auth_secret(cfg.auth)),  // first: a missing secret stops before Redis
      metrics(cfg),
      metrics_sink(metrics),
      writer(cfg.redis.enabled ? std::make_unique<monitor::ViolationWriter>(cfg.redis) : nullptr),
      gate(cfg.storage.enabled ? std::make_unique<OutputGate>(*this,
                                                              [this](const monitor::Violation& v) {
                                                                if (writer) writer->submit(v);
                                                              })
                               : nullptr),
      fanout(metrics_sink, writer.get()),
      engine(cfg, fanout, new_run_id()),
      desk(cfg, clk, gate ? static_cast<DeskOutput&>(*gate) : *this, engine, system_random()),
      leads(cfg, desk, engine, *this),
      timer_(io) {
  fanout.attach(desk, leads, gate.get());
  if (writer) {
    std::string error;
    if (!writer->start(error)) throw std::runtime_error("redis: " + error);
  }
  if (gate) start_store();
}

void Gateway::State::start_store() {
  auto endpoint = monitor::parse_redis_url(config.redis.url);
  if (!endpoint) throw std::runtime_error("redis: bad url");
  endpoint_ = *endpoint;
  const auto seeds = monitor::cluster_seeds(config.redis);
  if (!seeds) throw std::runtime_error("redis: with redis.cluster, redis.url must name db 0");
  cluster_seeds_ = *seeds;
  desk.attach_store();
  desk.set_accepting(false);  // until the desk is loaded and Redis answers
  redis = make_redis_pipeline(ioc, *endpoint, cluster_seeds_, {});
  store = std::make_unique<RedisDeskStore>(ioc, config, clock, *redis, desk, *gate);
  reports = std::make_unique<ReportService>(ioc, config, *endpoint);
  redis->on_connection([this, endpoint = *endpoint](bool up) {
    // Several nodes: nothing is loaded at start; each shop is, when its lease is gained.
    if (up && !loaded_) {
      if (lease_keeper)
        loaded_ = true;
      else
        load_desk_now(endpoint);
    }
    std::cerr << (up ? "chatdesk-gateway: storage: redis connected\n"
                     : "chatdesk-gateway: storage: redis unreachable; refusing new messages\n");
    if (loaded_) store->connection_changed(up);
    after_event();
  });
  if (config.scale.enabled) start_scale(*endpoint);
  redis->start();
  store->start();
}

void Gateway::State::load_desk_now(const monitor::RedisEndpoint& endpoint) {
  RecoveredDesk recovered;
  RecoveryStats stats;
  std::string error;
  // Blocks the loop for the load: no customer or agent is connected before it (their upgrades
  // get 503 until then), and the desk must know every open conversation before the first.
  if (!load_desk(config, endpoint, std::chrono::steady_clock::now() + std::chrono::seconds(5),
                 recovered, stats, error)) {
    std::cerr << "chatdesk-gateway: storage: cannot load the desk yet: " << error << "\n";
    return;  // the next connection of `redis` tries again
  }
  if (!error.empty())
    std::cerr << "chatdesk-gateway: storage: " << stats.skipped
              << " unreadable conversations skipped; first: " << error << "\n";
  const std::size_t restored = desk.restore(recovered, clock.now());
  loaded_ = true;
  std::cerr << "chatdesk-gateway: storage: restored " << restored << " open conversations ("
            << stats.messages << " messages) in " << stats.took.count() << " ms\n";
}

void Gateway::State::schedule_flush() {
  if (flush_posted_ || !store) return;
  flush_posted_ = true;
  // After the handlers already queued in this loop turn: their changes go in the same write.
  net::post(ioc, [this] {
    flush_posted_ = false;
    // A shop whose lease ran out while the loop was busy is dropped before anything of it is
    // written (docs/scaling.md, "Failure modes").
    if (lease_keeper) lease_keeper->check_expiry();
    store->flush();
    arm_timer();
  });
}

Gateway::State::~State() {
  // Flush what Redis will take within 5 s; whatever is left is counted and logged as dropped.
  if (writer) writer->stop(std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

void Gateway::State::send(SessionId session, const Frame& frame) {
  if (nodes && !nodes->is_local(session)) {
    inbox->batch_for(node_of(session)).send(session, *frame);
    return schedule_bus_flush();
  }
  if (auto it = sessions_.find(session); it != sessions_.end()) it->second->send(frame);
}

void Gateway::State::protocol_error(ErrorCode code) {
  metrics.protocol_error(to_string(code)).Increment();
}

void Gateway::State::close(SessionId session, CloseReason reason) {
  if (nodes && !nodes->is_local(session)) {
    // The desk forgot the session first (DeskOutput::close): so does this node.
    nodes->forget_served(session);
    inbox->batch_for(node_of(session)).close(session, reason);
    return schedule_bus_flush();
  }
  if (auto it = sessions_.find(session); it != sessions_.end()) it->second->close(reason);
}

SessionId Gateway::State::new_session_id() {
  const SessionId local = next_session_++;
  return nodes ? global_session(nodes->self(), local) : local;
}

namespace {

monitor::ConnectionKind connection_kind(PeerKind kind) {
  switch (kind) {
    case PeerKind::customer:
      return monitor::ConnectionKind::customer;
    case PeerKind::agent:
      return monitor::ConnectionKind::agent;
    case PeerKind::lead:
    case PeerKind::echo:  // not counted: session_opened() skips it
      return monitor::ConnectionKind::lead;
  }
  return monitor::ConnectionKind::customer;
}

}  // namespace

SessionId Gateway::State::session_opened(WebSocketSession* session, const Peer& peer) {
  const SessionId id = new_session_id();
  sessions_.emplace(id, session);
  // Echo sessions are kept in sessions_ only so that stop() closes them too.
  if (peer.kind == PeerKind::echo) return id;
  metrics.connections(connection_kind(peer.kind)).Increment();
  if (lease_keeper && route_opened(id, peer)) return id;
  switch (peer.kind) {
    case PeerKind::customer:
      desk.customer_connected(id, peer.shop, peer.id, peer.resume);
      break;
    case PeerKind::agent:
      desk.agent_connected(id, peer.shop, peer.id);
      break;
    case PeerKind::lead:
      leads.lead_connected(id, peer.shop, clock.now());
      break;
    case PeerKind::echo:
      break;
  }
  after_event();
  return id;
}

void Gateway::State::session_frame(SessionId id, PeerKind kind, std::string_view frame) {
  if (lease_keeper && kind != PeerKind::echo && route_frame(id, frame)) return;
  switch (kind) {
    case PeerKind::customer:
      desk.customer_frame(id, frame);
      break;
    case PeerKind::agent:
      desk.agent_frame(id, frame);
      break;
    case PeerKind::lead:
      leads.lead_frame(id);
      break;
    case PeerKind::echo:  // answered by the session itself
      return;
  }
  after_event();
}

void Gateway::State::session_closed(SessionId id, PeerKind kind) {
  sessions_.erase(id);
  if (kind == PeerKind::echo) return;
  metrics.connections(connection_kind(kind)).Decrement();
  // Forwarded sessions tell their home even while stopping: it starts their grace at once.
  if (lease_keeper && route_closed(id)) return;
  if (stopping) return;
  switch (kind) {
    case PeerKind::customer:
      desk.customer_disconnected(id);
      break;
    case PeerKind::agent:
      desk.agent_disconnected(id);
      break;
    case PeerKind::lead:
      leads.lead_disconnected(id);
      break;
    case PeerKind::echo:
      break;
  }
  after_event();
}

void Gateway::State::after_event() {
  if (store && (desk.has_changes() || gate->held() > 0)) schedule_flush();
  arm_timer();
}

void Gateway::State::arm_timer() {
  if (stopping) return;
  auto next = desk.next_deadline();
  if (auto lead = leads.next_deadline(); lead && (!next || *lead < *next)) next = lead;
  if (!next || (armed_ && *armed_ <= *next)) return;
  armed_ = next;
  // The desk speaks wall-clock time; the timer waits on the steady clock for the same span.
  auto wait = *next - clock.now();
  timer_.expires_after(std::max(wait, Duration{0}));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // re-armed earlier, or stopping
    on_timer();
  });
}

void Gateway::State::on_timer() {
  // First thing: how far behind the deadline it was armed for the loop ran this handler (event
  // loop lag; every violation due by then fires now, so none fires later than this after its
  // deadline). Steady time, so a wall-clock step does not show up as lag.
  const auto late = std::chrono::steady_clock::now() - timer_.expiry();
  metrics.timer_lateness().Observe(std::max(0.0, std::chrono::duration<double>(late).count()));
  armed_.reset();
  TimePoint now = clock.now();
  desk.advance(now);
  leads.advance(now);
  after_event();
}

std::string Gateway::State::render_metrics() {
  for (const auto& s : desk.stats()) {
    auto* series = metrics.shop(s.shop);
    if (!series) continue;
    series->queue_length.Set(static_cast<double>(s.queue_length));
    series->conversations_active.Set(static_cast<double>(s.conversations_active));
    series->agents_available.Set(static_cast<double>(s.agents_available));
    series->agents_away.Set(static_cast<double>(s.agents_away));
    series->customers_waiting.Set(static_cast<double>(engine.customers_waiting(s.shop)));
    // The desk counts messages without touching Prometheus on the message path; bring the
    // counters up to its totals here.
    auto catch_up = [](prometheus::Counter& c, std::uint64_t total) {
      double delta = static_cast<double>(total) - c.Value();
      if (delta > 0) c.Increment(delta);
    };
    catch_up(series->messages_customer, s.messages_from_customers);
    catch_up(series->messages_agent, s.messages_from_agents);
  }
  if (store) metrics.record_store(store_available(), store->writes(), redis->commands());
  if (writer) {
    const auto& w = writer->stats();
    metrics.record_writer_totals(w.ok.load(), w.error.load(), w.dropped.load(), w.spooled.load());
  }
  return monitor::serialize(metrics.registry());
}

bool Gateway::State::acquire_connection(const boost::asio::ip::address& address) {
  std::size_t& open = connections_per_ip_[address.to_string()];
  if (open >= config.limits.max_connections_per_ip) return false;  // the limit is at least 1
  ++open;
  return true;
}

void Gateway::State::release_connection(const boost::asio::ip::address& address) {
  auto it = connections_per_ip_.find(address.to_string());
  if (it == connections_per_ip_.end()) return;
  if (--it->second == 0) connections_per_ip_.erase(it);
}

bool Gateway::State::drained() {
  if (!stopping || !sessions_.empty() || !store_idle()) return false;
  if (inbox && !inbox->idle()) return false;
  if (!lease_keeper) return true;
  // Only now are the leases given back: a successor loads each shop from a store holding
  // everything this node wrote for it.
  if (!releasing_) {
    releasing_ = true;
    lease_keeper->stop([this] { leases_released_ = true; });
  }
  return leases_released_;
}

void Gateway::State::stop() {
  if (stopping) return;
  stopping = true;
  if (lease_keeper) lease_keeper->leaving();
  timer_.cancel();
  // Tell every client the server is going away; copy because closing edits the map later.
  std::vector<WebSocketSession*> open;
  for (auto& [id, s] : sessions_) open.push_back(s);
  for (auto* s : open) s->close(CloseReason::going_away);
}

Gateway::Gateway(net::io_context& ioc, const config::Config& config, const Clock& clock)
    : state_(std::make_shared<State>(ioc, config, clock)),
      listener_(std::make_shared<Listener>(ioc, config.listen, state_)) {}

Gateway::~Gateway() = default;

void Gateway::start() {
  if (state_->config.allowed_origins.empty())
    std::cerr << "WARNING: allowed_origins is empty: browser pages from any origin may open "
                 "WebSockets here. List the consoles' origins (docs/security.md).\n";
  listener_->run();
}

void Gateway::stop() {
  listener_->stop();
  state_->stop();
}

unsigned short Gateway::port() const {
  return listener_->port();
}

bool Gateway::drained() const {
  return state_->drained();
}

}  // namespace chatdesk::gateway
