#include "runner.hpp"

#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "frame_scan.hpp"
#include "proc_stat.hpp"

namespace chatdesk::bench {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

Nanos now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::chrono::steady_clock::time_point to_time_point(Nanos t) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t));
}

// The start of a frame, for error messages (a frame may carry a long history).
std::string excerpt(std::string_view frame) {
  constexpr std::size_t kMax = 160;
  if (frame.size() <= kMax) return std::string(frame);
  return std::string(frame.substr(0, kMax)) + "...";
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Payloads waiting to be written, oldest first; slots keep their capacity for reuse.
class SendQueue {
 public:
  std::string& push() {
    if (size_ == slots_.size()) {
      std::vector<std::string> grown(slots_.empty() ? 8 : slots_.size() * 2);
      for (std::size_t i = 0; i < size_; ++i)
        grown[i] = std::move(slots_[(head_ + i) % slots_.size()]);
      slots_ = std::move(grown);
      head_ = 0;
    }
    std::string& slot = slots_[(head_ + size_) % slots_.size()];
    ++size_;
    slot.clear();
    return slot;
  }
  const std::string& front() const { return slots_[head_]; }
  void pop() {
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }
  bool empty() const { return size_ == 0; }

 private:
  std::vector<std::string> slots_;
  std::size_t head_ = 0, size_ = 0;
};

// A WebSocket client (chatdesk gateway and Node baseline).
class WsConn final : public Conn {
 public:
  WsConn(Runner& runner, Role role, std::uint32_t index, std::size_t node, std::string target)
      : Conn(runner, role, index, node), ws_(runner.ioc()), target_(std::move(target)) {
    // Masking keys need no cryptographic quality for a benchmark on loopback.
    ws_.secure_prng(false);
    ws_.auto_fragment(false);
    ws_.read_message_max(1 << 20);
  }

  void start() override {
    ws_.next_layer().async_connect(runner_.endpoint(node), [this](boost::system::error_code ec) {
      if (ec) return runner_.on_failed(*this, "connect", ec);
      ws_.next_layer().set_option(tcp::no_delay(true), ec);
      ws_.async_handshake(runner_.host_header(node), target_, [this](boost::system::error_code ec) {
        if (ec) return runner_.on_failed(*this, "handshake", ec);
        ws_.text(true);
        runner_.on_open(*this);
        read();
      });
    });
  }

  void send(std::string_view payload) override {
    if (failed) return;
    queue_.push().append(payload);
    if (!writing_) write_next();
  }

 private:
  void read() {
    ws_.async_read(buffer_, [this](boost::system::error_code ec, std::size_t) {
      if (ec) return runner_.on_failed(*this, "read", ec);
      auto data = buffer_.cdata();
      runner_.on_frame(*this, std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer_.consume(buffer_.size());
      read();
    });
  }

  void write_next() {
    writing_ = true;
    ws_.async_write(net::buffer(queue_.front()), [this](boost::system::error_code ec, std::size_t) {
      writing_ = false;
      if (ec) return runner_.on_failed(*this, "write", ec);
      queue_.pop();
      if (!queue_.empty()) write_next();
    });
  }

  websocket::stream<tcp::socket> ws_;
  std::string target_;
  beast::flat_buffer buffer_;
  SendQueue queue_;
  bool writing_ = false;
};

// A raw TCP client for the echo server: each message is a 4-byte big-endian length and the bytes.
class TcpConn final : public Conn {
 public:
  TcpConn(Runner& runner, Role role, std::uint32_t index, std::size_t node)
      : Conn(runner, role, index, node), socket_(runner.ioc()), buffer_(64 * 1024) {}

  void start() override {
    socket_.async_connect(runner_.endpoint(node), [this](boost::system::error_code ec) {
      if (ec) return runner_.on_failed(*this, "connect", ec);
      socket_.set_option(tcp::no_delay(true), ec);
      runner_.on_open(*this);
      read();
    });
  }

  void send(std::string_view payload) override {
    if (failed) return;
    std::string& slot = queue_.push();
    auto n = static_cast<std::uint32_t>(payload.size());
    unsigned char prefix[4] = {static_cast<unsigned char>(n >> 24),
                               static_cast<unsigned char>(n >> 16),
                               static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    slot.append(reinterpret_cast<const char*>(prefix), 4);
    slot.append(payload);
    if (!writing_) write_next();
  }

 private:
  void read() {
    socket_.async_read_some(
        net::buffer(buffer_.data() + filled_, buffer_.size() - filled_),
        [this](boost::system::error_code ec, std::size_t n) {
          if (ec) return runner_.on_failed(*this, "read", ec);
          filled_ += n;
          std::size_t at = 0;
          while (filled_ - at >= 4) {
            const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + at);
            std::size_t len = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) |
                              (std::size_t{p[2]} << 8) | std::size_t{p[3]};
            if (len + 4 > buffer_.size())
              return runner_.on_failed(*this, "read", net::error::message_size);
            if (filled_ - at < len + 4) break;
            runner_.on_frame(*this, std::string_view(buffer_.data() + at + 4, len));
            at += len + 4;
          }
          if (at > 0) {
            std::memmove(buffer_.data(), buffer_.data() + at, filled_ - at);
            filled_ -= at;
          }
          read();
        });
  }

  void write_next() {
    writing_ = true;
    net::async_write(socket_, net::buffer(queue_.front()),
                     [this](boost::system::error_code ec, std::size_t) {
                       writing_ = false;
                       if (ec) return runner_.on_failed(*this, "write", ec);
                       queue_.pop();
                       if (!queue_.empty()) write_next();
                     });
  }

  tcp::socket socket_;
  std::vector<char> buffer_;
  std::size_t filled_ = 0;
  SendQueue queue_;
  bool writing_ = false;
};

// Same length as the gateway's conversation ids ("c-" and 16 hex digits), for the echo payloads.
constexpr std::string_view kEchoConversation = "c-0123456789abcdef";

}  // namespace

Runner::Runner(net::io_context& ioc, Options options)
    : ioc_(ioc),
      options_(std::move(options)),
      texts_(make_texts(options_.text_chars)),
      tag_("b" + std::to_string(::getpid()) + "x" + std::to_string(now_ns() % 100000)),
      pairs_(options_.pairs),
      phase_timer_(ioc),
      setup_timer_(ioc),
      pump_timer_(ioc) {
  if (options_.rate > 0) interval_ = static_cast<Nanos>(1e9 / options_.rate);
  if (interval_ < 1) interval_ = 1;
  const auto address = net::ip::make_address(options_.host);
  for (std::uint16_t port : options_.ports) {
    endpoints_.emplace_back(address, port);
    host_headers_.push_back(options_.host + ":" + std::to_string(port));
  }
  if (endpoints_.empty()) throw std::invalid_argument("no port to connect to");
}

Runner::~Runner() = default;

int Runner::run() {
  setup_started_ = now_ns();
  setup_timer_.expires_after(
      std::chrono::milliseconds(static_cast<std::int64_t>(options_.setup_timeout * 1000)));
  setup_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || phase_ == Phase::running || phase_ == Phase::done) return;
    fail("set-up timed out: " + std::to_string(opened_) + " connections open, " +
         std::to_string(agents_ready_) + " of " + std::to_string(options_.pairs) +
         " agents available, " + std::to_string(linked_) + " of " + std::to_string(options_.pairs) +
         " pairs linked");
  });

  const std::size_t n = options_.pairs;
  if (options_.target == Target::echo) {
    // Two connections per pair, like the WebSocket targets; each message is echoed back.
    for (std::uint32_t i = 0; i < n; ++i) {
      customers_.push_back(
          std::make_unique<TcpConn>(*this, Conn::Role::customer, i, customer_node(i)));
      agents_.push_back(std::make_unique<TcpConn>(*this, Conn::Role::agent, i, agent_node(i)));
      pairs_[i].customer = customers_.back().get();
      pairs_[i].agent = agents_.back().get();
      pairs_[i].conversation = std::string(kEchoConversation);
    }
    for (auto& c : customers_) agents_.push_back(std::move(c));
    customers_.clear();
    phase_ = Phase::customers;
    start_connections(agents_);
  } else {
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::string& shop = options_.shops[i % options_.shops.size()];
      agents_.push_back(std::make_unique<WsConn>(
          *this, Conn::Role::agent, i, agent_node(i),
          "/ws/agent?shop=" + shop + "&agent=" + tag_ + "a-" + std::to_string(i)));
    }
    phase_ = Phase::agents;
    start_connections(agents_);
  }
  ioc_.run();

  if (phase_ == Phase::failed) {
    std::cerr << "chatdesk-bench-load: " << failure_ << "\n";
    return 1;
  }
  std::string line = print_result();
  std::cout << line << std::endl;
  if (delivered_ == 0) {
    std::cerr << "chatdesk-bench-load: no message was delivered in the measured window\n";
    return 1;
  }
  return 0;
}

void Runner::start_connections(std::vector<std::unique_ptr<Conn>>& conns) {
  starting_ = &conns;
  next_start_ = 0;
  handshakes_ = 0;
  start_more();
}

void Runner::start_more() {
  while (starting_ && next_start_ < starting_->size() &&
         handshakes_ < options_.connect_concurrency) {
    ++handshakes_;
    (*starting_)[next_start_++]->start();
  }
}

void Runner::on_open(Conn& c) {
  ++opened_;
  --handshakes_;
  start_more();
  if (options_.target == Target::echo) {
    if (opened_ == 2 * options_.pairs) begin_traffic();
    return;
  }
  (void)c;
}

void Runner::on_failed(Conn& c, std::string_view what, const boost::system::error_code& ec) {
  if (c.failed) return;
  c.failed = true;
  if (phase_ == Phase::done || phase_ == Phase::failed) return;
  std::string message = std::string(c.role == Conn::Role::customer ? "customer " : "agent ") +
                        std::to_string(c.index) + ": " + std::string(what) + ": " + ec.message();
  if (phase_ != Phase::running) return fail(message);
  count_error(message);
}

void Runner::count_error(std::string_view what) {
  ++errors_;
  if (logged_errors_ < 5) {
    ++logged_errors_;
    std::cerr << "chatdesk-bench-load: error: " << what << "\n";
  }
}

void Runner::fail(std::string message) {
  if (phase_ == Phase::failed || phase_ == Phase::done) return;
  phase_ = Phase::failed;
  failure_ = std::move(message);
  ioc_.stop();
}

void Runner::on_frame(Conn& c, std::string_view frame) {
  if (options_.target == Target::echo) {
    Pair& p = pairs_[c.index];
    if (c.role == Conn::Role::customer)
      delivered_to_agent(p);
    else
      delivered_to_customer(p);
    return;
  }
  std::string_view type = frame_type(frame);
  if (c.role == Conn::Role::agent)
    agent_frame(c, type, frame);
  else
    customer_frame(c, type, frame);
}

void Runner::agent_frame(Conn& c, std::string_view type, std::string_view frame) {
  if (type == "message") {
    auto conversation = string_field(frame, "conversation");
    if (conversation) {
      for (auto& [id, pair] : c.conversations)
        if (id == *conversation) return delivered_to_agent(pairs_[pair]);
    }
    return count_error("agent got a message for a conversation it does not own");
  }
  if (type == "ack") {
    if (measuring_) ++acks_;
  } else if (type == "sla") {
    if (measuring_) ++sla_frames_;
  } else if (type == "welcome") {
    c.send(R"({"type":"status","state":"available"})");
  } else if (type == "status") {
    if (string_field(frame, "state") == "available" && phase_ == Phase::agents) {
      if (++agents_ready_ == options_.pairs) {
        phase_ = Phase::customers;
        for (std::uint32_t i = 0; i < options_.pairs; ++i) {
          const std::string& shop = options_.shops[i % options_.shops.size()];
          customers_.push_back(std::make_unique<WsConn>(
              *this, Conn::Role::customer, i, customer_node(i),
              "/ws/customer?shop=" + shop + "&customer=" + tag_ + "c-" + std::to_string(i)));
          pairs_[i].customer = customers_.back().get();
        }
        start_connections(customers_);
      }
    }
  } else if (type == "assigned") {
    auto customer = string_field(frame, "customer");
    auto conversation = string_field(frame, "conversation");
    auto index = customer ? index_suffix(*customer) : std::nullopt;
    if (!conversation || !index || *index >= options_.pairs || !customer->starts_with(tag_ + "c-"))
      return fail("agent " + std::to_string(c.index) +
                  " was assigned a customer this run did not open (is the server fresh?): " +
                  excerpt(frame));
    Pair& p = pairs_[*index];
    p.agent = &c;
    p.assigned = true;
    c.conversations.emplace_back(std::string(*conversation), *index);
    check_linked(p);
  } else if (type == "error") {
    count_error("agent got " + excerpt(frame));
  } else if (type == "unassigned" || type == "closed") {
    count_error("agent got " + excerpt(frame));
  }
  // desk (roster), presence: nothing to do.
}

void Runner::customer_frame(Conn& c, std::string_view type, std::string_view frame) {
  Pair& p = pairs_[c.index];
  if (type == "ack") {
    if (measuring_) ++acks_;
  } else if (type == "message") {
    delivered_to_customer(p);
  } else if (type == "welcome") {
    auto conversation = string_field(frame, "conversation");
    if (!conversation) return fail("customer welcome without a conversation: " + excerpt(frame));
    p.conversation = std::string(*conversation);
    p.welcomed = true;
    check_linked(p);
  } else if (type == "error" || type == "closed") {
    count_error("customer got " + excerpt(frame));
  }
  // assigned, notice: nothing to do.
}

void Runner::check_linked(Pair& p) {
  if (!p.welcomed || !p.assigned) return;
  // The customer's welcome and the agent's assignment must name the same conversation.
  bool same = false;
  for (auto& [id, pair] : p.agent->conversations)
    if (id == p.conversation) same = true;
  if (!same) return fail("customer and agent disagree on the conversation id");
  if (++linked_ == options_.pairs) begin_traffic();
}

void Runner::begin_traffic() {
  phase_ = Phase::running;
  setup_timer_.cancel();
  traffic_started_ = now_ns();
  cross_node_pairs_ = 0;
  for (const auto& p : pairs_)
    if (p.customer && p.agent && p.customer->node != p.agent->node) ++cross_node_pairs_;
  std::cerr << "chatdesk-bench-load: " << 2 * options_.pairs << " connections ready in "
            << static_cast<double>(traffic_started_ - setup_started_) / 1e9 << " s";
  if (endpoints_.size() > 1)
    std::cerr << " on " << endpoints_.size() << " ports (" << cross_node_pairs_ << " of "
              << options_.pairs << " pairs with customer and agent on different ones)";
  std::cerr << "; " << (options_.rate > 0 ? "open loop" : "closed loop") << "\n";
  if (options_.rate > 0) {
    pump();
  } else {
    for (auto& p : pairs_)
      for (std::size_t k = 0; k < options_.inflight; ++k) customer_send(p, traffic_started_);
  }
  phase_timer_.expires_at(
      to_time_point(traffic_started_ + static_cast<Nanos>(options_.warmup * 1e9)));
  phase_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) begin_window();
  });
}

void Runner::pump() {
  // Every message whose time has come goes out now, stamped with its scheduled time, so a late
  // sender (us or a stalled server) shows up as latency instead of silently lowering the load.
  Nanos now = now_ns();
  Nanos next = traffic_started_ + static_cast<Nanos>(scheduled_) * interval_;
  while (next <= now) {
    if (measuring_) send_lag_.add(now_ns() - next);
    customer_send(pairs_[scheduled_ % pairs_.size()], next);
    ++scheduled_;
    next = traffic_started_ + static_cast<Nanos>(scheduled_) * interval_;
  }
  pump_timer_.expires_at(to_time_point(next));
  pump_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && phase_ == Phase::running) pump();
  });
}

void Runner::begin_window() {
  std::size_t expected = static_cast<std::size_t>(
      std::min(5e7, (options_.rate > 0 ? options_.rate : 2e5) * options_.seconds));
  to_agent_.reserve(expected);
  to_customer_.reserve(options_.reply ? expected : 0);
  send_lag_.reserve(options_.rate > 0 ? expected : 0);
  server_cpu0_ = server_cpu_seconds(server_cpu_each0_);
  if (options_.redis_pid > 0) redis_cpu0_ = process_cpu_seconds(options_.redis_pid).value_or(-1);
  own_cpu0_ = own_cpu_seconds();
  window_start_ = now_ns();
  measuring_ = true;
  phase_timer_.expires_at(
      to_time_point(window_start_ + static_cast<Nanos>(options_.seconds * 1e9)));
  phase_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) end_window();
  });
}

void Runner::end_window() {
  window_end_ = now_ns();
  measuring_ = false;
  server_cpu1_ = server_cpu_seconds(server_cpu_each1_);
  if (options_.redis_pid > 0) redis_cpu1_ = process_cpu_seconds(options_.redis_pid).value_or(-1);
  own_cpu1_ = own_cpu_seconds();
  phase_ = Phase::done;
  pump_timer_.cancel();
  ioc_.stop();
}

double Runner::server_cpu_seconds(std::vector<double>& each) const {
  each.clear();
  if (options_.server_pids.empty()) return -1;
  double sum = 0;
  for (int pid : options_.server_pids) {
    auto cpu = process_cpu_seconds(pid);
    if (!cpu) return -1;
    each.push_back(*cpu);
    sum += *cpu;
  }
  return sum;
}

void Runner::customer_send(Pair& p, Nanos stamp) {
  if (!p.customer || p.customer->failed) return;
  std::uint64_t seq = ++seq_;
  scratch_.clear();
  scratch_ += R"({"type":"message","text":")";
  scratch_ += texts_.customer[seq % texts_.customer.size()];
  scratch_ += R"(","client_msg_id":"m)";
  append_number(scratch_, seq);
  scratch_ += "\"}";
  p.c2a.push(stamp);
  if (measuring_) ++sent_;
  p.customer->send(scratch_);
}

void Runner::agent_send(Pair& p, Nanos stamp) {
  if (!p.agent || p.agent->failed) return;
  std::uint64_t seq = ++seq_;
  std::uint64_t reply = ++agent_replies_;
  bool avoid = options_.avoid_every > 0 && reply % options_.avoid_every == 0;
  scratch_.clear();
  scratch_ += R"({"type":"message","conversation":")";
  scratch_ += p.conversation;
  scratch_ += R"(","text":")";
  scratch_ += avoid ? texts_.agent_avoid : texts_.agent[seq % texts_.agent.size()];
  scratch_ += R"(","client_msg_id":"r)";
  append_number(scratch_, seq);
  scratch_ += "\"}";
  p.a2c.push(stamp);
  if (measuring_) ++sent_;
  p.agent->send(scratch_);
}

void Runner::delivered_to_agent(Pair& p) {
  Nanos now = now_ns();
  Nanos sent = 0;
  if (!p.c2a.pop(sent)) return count_error("a customer message arrived that was never sent");
  if (measuring_) {
    to_agent_.add(now - sent);
    ++delivered_;
  }
  if (phase_ != Phase::running) return;
  if (options_.reply)
    agent_send(p, now);
  else if (options_.rate == 0)
    customer_send(p, now);
}

void Runner::delivered_to_customer(Pair& p) {
  Nanos now = now_ns();
  Nanos sent = 0;
  if (!p.a2c.pop(sent)) return count_error("an agent message arrived that was never sent");
  if (measuring_) {
    to_customer_.add(now - sent);
    ++delivered_;
  }
  if (phase_ == Phase::running && options_.rate == 0) customer_send(p, now);
}

std::string Runner::print_result() {
  double seconds = static_cast<double>(window_end_ - window_start_) / 1e9;
  auto a = to_agent_.summarize();
  auto b = to_customer_.summarize();
  double rate = seconds > 0 ? static_cast<double>(delivered_) / seconds : 0;
  char buf[2048];
  int n = std::snprintf(
      buf, sizeof buf,
      "{\"target\":\"%s\",\"pairs\":%zu,\"inflight\":%zu,\"rate\":%.1f,\"reply\":%s,"
      "\"delivered\":%llu,\"seconds\":%.4f,\"msgs_per_s\":%.1f,"
      "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f,"
      "\"a2c_p50_us\":%.1f,\"a2c_p99_us\":%.1f,\"a2c_p999_us\":%.1f,"
      "\"sent\":%llu,\"acks\":%llu,\"sla_frames\":%llu,\"errors\":%llu,"
      "\"setup_s\":%.3f,\"load_cpu_s\":%.3f,\"load_cpu_util\":%.3f,"
      "\"nodes\":%zu,\"cross_node_pairs\":%zu",
      std::string(to_string(options_.target)).c_str(), options_.pairs,
      options_.rate > 0 ? std::size_t{0} : options_.inflight, options_.rate,
      options_.reply ? "true" : "false", static_cast<unsigned long long>(delivered_), seconds, rate,
      a.p50_us, a.p99_us, a.p999_us, a.max_us, a.mean_us, b.p50_us, b.p99_us, b.p999_us,
      static_cast<unsigned long long>(sent_), static_cast<unsigned long long>(acks_),
      static_cast<unsigned long long>(sla_frames_), static_cast<unsigned long long>(errors_),
      static_cast<double>(traffic_started_ - setup_started_) / 1e9, own_cpu1_ - own_cpu0_,
      seconds > 0 ? (own_cpu1_ - own_cpu0_) / seconds : 0, endpoints_.size(), cross_node_pairs_);
  std::string line(buf, static_cast<std::size_t>(n));
  if (server_cpu0_ >= 0 && server_cpu1_ >= 0) {
    double cpu = server_cpu1_ - server_cpu0_;
    n = std::snprintf(buf, sizeof buf,
                      ",\"server_pid\":%d,\"server_cpu_s\":%.3f,\"server_cpu_util\":%.3f,"
                      "\"cpu_us_per_msg\":%.3f",
                      options_.server_pids.front(), cpu, seconds > 0 ? cpu / seconds : 0,
                      delivered_ > 0 ? cpu * 1e6 / static_cast<double>(delivered_) : 0);
    line.append(buf, static_cast<std::size_t>(n));
    // Each process's share (one per node), in --server-pid order.
    line += ",\"server_pids\":[";
    for (std::size_t i = 0; i < options_.server_pids.size(); ++i) {
      if (i > 0) line += ",";
      append_number(line, static_cast<std::uint64_t>(options_.server_pids[i]));
    }
    line += "],\"server_cpu_s_each\":[";
    for (std::size_t i = 0; i < server_cpu_each1_.size() && i < server_cpu_each0_.size(); ++i) {
      n = std::snprintf(buf, sizeof buf, "%s%.3f", i > 0 ? "," : "",
                        server_cpu_each1_[i] - server_cpu_each0_[i]);
      line.append(buf, static_cast<std::size_t>(n));
    }
    line += "]";
  }
  if (redis_cpu0_ >= 0 && redis_cpu1_ >= 0) {
    // The gateway's Redis (its store and violation writer): its share of the server's work.
    double cpu = redis_cpu1_ - redis_cpu0_;
    n = std::snprintf(buf, sizeof buf, ",\"redis_cpu_s\":%.3f,\"redis_cpu_us_per_msg\":%.3f", cpu,
                      delivered_ > 0 ? cpu * 1e6 / static_cast<double>(delivered_) : 0);
    line.append(buf, static_cast<std::size_t>(n));
  }
  if (options_.rate > 0) {
    auto lag = send_lag_.summarize();
    n = std::snprintf(buf, sizeof buf, ",\"send_lag_p99_us\":%.1f,\"send_lag_p999_us\":%.1f",
                      lag.p99_us, lag.p999_us);
    line.append(buf, static_cast<std::size_t>(n));
  }
  line += "}";
  return line;
}

}  // namespace chatdesk::bench
