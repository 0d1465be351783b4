#pragma once
// The gateway's shared state (Beast chat-multi's shared_state): the desk, the SLA engine with its
// adapters, the live WebSocket sessions and the one deadline timer. Sessions hold it by
// shared_ptr. With config.scale this gateway is one node of several (docs/scaling.md; the
// multi-node part is in gateway_scale.cpp): its desk serves the shops whose lease it holds, and
// the sessions of other shops are forwarded to their home node through NodeInbox. Not
// thread-safe: everything runs on the gateway's one io_context thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "async_redis.hpp"
#include "async_redis_cluster.hpp"
#include "chatdesk/config/config.hpp"
#include "chatdesk/gateway/desk.hpp"
#include "chatdesk/gateway/gateway.hpp"
#include "chatdesk/gateway/lead_feed.hpp"
#include "chatdesk/gateway/node_sessions.hpp"
#include "chatdesk/gateway/output_gate.hpp"
#include "chatdesk/monitor/blocking_redis.hpp"
#include "chatdesk/monitor/desk_metrics.hpp"
#include "chatdesk/monitor/prometheus_sla_sink.hpp"
#include "chatdesk/monitor/sla_engine.hpp"
#include "chatdesk/monitor/violation_writer.hpp"
#include "desk_store.hpp"
#include "lease_keeper.hpp"
#include "node_inbox.hpp"
#include "report_service.hpp"

namespace chatdesk::gateway {

class WebSocketSession;
// echo: /ws/echo (config diagnostics.echo), which never reaches the desk.
enum class PeerKind { customer, agent, lead, echo };

// Who a WebSocket connection is, from its upgrade request.
struct Peer {
  PeerKind kind = PeerKind::customer;
  std::string shop;
  std::string id;      // agent id, or the customer id asked for (may be empty)
  std::string resume;  // customer's resume secret (may be empty)
};

// Fans the engine's results out to Prometheus, the Redis writer, the owning agent's console and
// the shop's lead pages.
class SlaFanout final : public monitor::SlaSink {
 public:
  SlaFanout(monitor::SlaSink& metrics, monitor::ViolationWriter* writer)
      : metrics_(metrics), writer_(writer) {}
  // With a store, violations reach the Redis writer through `gate`: only once the conversation's
  // clock that fired them is stored, so a restart never sends one twice.
  void attach(Desk& desk, LeadFeed& leads, OutputGate* gate) {
    desk_ = &desk;
    leads_ = &leads;
    gate_ = gate;
  }

  void on_violation(const monitor::Violation& v) override;
  void on_greeting(std::string_view s, std::string_view a, Duration d) override {
    metrics_.on_greeting(s, a, d);
  }
  void on_reply_wait(std::string_view s, std::string_view a, Duration d) override {
    metrics_.on_reply_wait(s, a, d);
  }
  void on_typing_rate(std::string_view s, std::string_view a, double c) override {
    metrics_.on_typing_rate(s, a, c);
  }
  void on_typing_unmeasured(std::string_view s, std::string_view a) override {
    metrics_.on_typing_unmeasured(s, a);
  }
  void on_outcome(std::string_view s, monitor::Outcome o) override { metrics_.on_outcome(s, o); }

 private:
  monitor::SlaSink& metrics_;
  monitor::ViolationWriter* writer_;
  Desk* desk_ = nullptr;
  LeadFeed* leads_ = nullptr;
  OutputGate* gate_ = nullptr;
};

struct Gateway::State final : DeskOutput {
  State(boost::asio::io_context& ioc, const config::Config& config, const Clock& clock);
  ~State() override;

  // DeskOutput
  void send(SessionId session, const Frame& frame) override;
  void close(SessionId session, CloseReason reason) override;
  void protocol_error(ErrorCode code) override;

  // A session's life, reported by WebSocketSession; each routes to the desk or the lead feed.
  SessionId session_opened(WebSocketSession* session, const Peer& peer);
  void session_frame(SessionId id, PeerKind kind, std::string_view frame);
  void session_closed(SessionId id, PeerKind kind);

  // After anything that may have moved the desk's next deadline: re-arm the timer if needed.
  void after_event();
  std::string render_metrics();
  void stop();
  std::size_t open_sessions() const { return sessions_.size(); }
  // Whether the desk can store now (always, without storage).
  bool store_available() const { return !store || (loaded_ && store->available()); }
  bool desk_loaded() const { return (!store || loaded_) && (!lease_keeper || nodes); }
  // Whether a connection of `shop` can be served now: always on one node; with several, once the
  // shop has a home node (and, when that is this node, once the shop is loaded).
  bool shop_reachable(std::string_view shop) const;
  // Stopped, every connection closed, nothing left to write or send, leases given back.
  bool drained();
  // Nothing is waiting to be written to the store.
  bool store_idle() const { return !store || store->idle(); }

  // WebSocket connections per remote address (limits.max_connections_per_ip). acquire_connection
  // counts one more unless the address is at the limit (then false, nothing counted); each true
  // is matched by one release_connection when that connection ends (ConnectionSlot does it).
  bool acquire_connection(const boost::asio::ip::address& address);
  void release_connection(const boost::asio::ip::address& address);

  boost::asio::io_context& ioc;
  const config::Config& config;
  const Clock& clock;
  std::string web_root;
  std::string auth_secret;  // auth.mode token: the HMAC secret (upgrade_auth.hpp); empty when open
  monitor::DeskMetrics metrics;
  monitor::PrometheusSlaSink metrics_sink;
  std::unique_ptr<monitor::ViolationWriter> writer;
  // With storage (docs/storage.md): the desk's output waits in `gate` until `store` has written
  // what it follows, over `redis` (the event loop's own connection).
  std::unique_ptr<OutputGate> gate;
  SlaFanout fanout;
  monitor::SlaEngine engine;
  Desk desk;
  LeadFeed leads;
  std::unique_ptr<RedisPipeline> redis;
  std::unique_ptr<RedisDeskStore> store;
  // With the store: the reports API's reader (its own thread; docs/reports.md).
  std::unique_ptr<ReportService> reports;
  // Several nodes (config.scale): the leases, the inbox on its own connection (its XREAD
  // blocks), and where each session's events go; `nodes` once this node has its id.
  std::unique_ptr<RedisPipeline> inbox_redis;
  std::unique_ptr<LeaseKeeper> lease_keeper;
  std::unique_ptr<NodeInbox> inbox;
  std::optional<NodeSessions> nodes;
  bool stopping = false;

 private:
  void on_timer();
  // Starts the store; the desk is loaded from Redis at its first connection (load_desk_now).
  void start_store();
  void load_desk_now(const monitor::RedisEndpoint& endpoint);
  bool loaded_ = false;
  void schedule_flush();
  void arm_timer();
  bool flush_posted_ = false;
  SessionId new_session_id();

  // gateway_scale.cpp
  void start_scale(const monitor::RedisEndpoint& endpoint);
  void node_registered(NodeId node);
  void shops_changed(std::span<const std::string> lost, std::span<const std::string> gained);
  void load_shops_now();
  void after_check();
  void on_batch(BusBatchReader& batch);
  void on_gap(NodeId from);
  // Forwards a new session of another node's shop (true), or refuses one whose shop has no home
  // now (true, closed); false when this node serves it.
  bool route_opened(SessionId id, const Peer& peer);
  bool route_frame(SessionId id, std::string_view frame);
  bool route_closed(SessionId id);
  // Events of sessions on another node's sockets, served by this node's desk.
  void remote_event(const BusMessage& m);
  void disconnect_served(SessionId id, SessionKind kind);
  // The session's edge died or its batches were lost: agents keep their conversations a while.
  void lost_served(SessionId id, SessionKind kind);
  void close_taken(const NodeSessions::Taken& taken);
  void schedule_bus_flush();
  monitor::RedisEndpoint endpoint_;
  std::vector<monitor::RedisEndpoint> cluster_seeds_;  // empty: one Redis (redis.url)
  std::unordered_set<std::string> ready_shops_;        // held and loaded
  std::vector<std::string> to_load_;                   // held, not loaded yet (Redis failed)
  bool bus_flush_posted_ = false;
  bool leases_released_ = false;
  bool releasing_ = false;

  boost::asio::steady_timer timer_;
  std::optional<TimePoint> armed_;
  std::unordered_map<SessionId, WebSocketSession*> sessions_;
  SessionId next_session_ = 1;
  std::uint64_t seen_customer_messages_ = 0;
  std::unordered_map<std::string, std::size_t> connections_per_ip_;  // address text -> open
};

// One counted connection of an address; releases it when destroyed. Move-only. Holds the state
// so that the count outlives no one.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(std::shared_ptr<Gateway::State> state, boost::asio::ip::address address)
      : state_(std::move(state)), address_(std::move(address)) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() {
    if (state_) state_->release_connection(address_);
  }

 private:
  std::shared_ptr<Gateway::State> state_;
  boost::asio::ip::address address_;
};

}  // namespace chatdesk::gateway
