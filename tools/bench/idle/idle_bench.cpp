// chatdesk-bench-idle: opens many customer WebSockets to the gateway and keeps them open and idle
// (benchmarks issue, scenario 4), or, with --message, makes each of them an unanswered customer who
// wrote once (scenario 5's population whose SLA deadlines keep firing).
//
// Frugal and fast on purpose, so that the figure is the gateway's: connections are opened from
// several 127.0.0.x source addresses (past the ephemeral port range of one address), a bounded
// number of connects and handshakes are in flight at once, and Beast's WebSocket stream lives only
// for the handshake, the welcome (and the one message with its ack): then only the bare socket is
// kept, waiting for readability so that a close by the gateway is noticed. Replies are not parsed
// after that (the bench config keeps the gateway from pinging: long idle_timeout).
//
// stdout: one JSON line when every connection is up (or failed), then one more at exit. With
// --lead it also watches the shop's lead page and measures how late each violation arrives (its
// delivery time minus its `ts`, the deadline); SIGUSR1 restarts that measurement, SIGUSR2 prints a
// JSON line with it. Exits on SIGTERM/SIGINT, or after --hold seconds.
// One thread; nothing here is shared.

#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// The command line.
struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string shop = "bench";
  std::size_t connections = 1000;
  std::size_t inflight = 256;
  std::size_t sources = 0;   // 0: one per 20000 connections
  unsigned source_base = 2;  // first source address 127.0.0.<base>
  double connect_rate = 0;   // connects started per second; 0: as fast as `inflight` allows
  bool message = false;
  bool lead = false;
  double hold = -1;  // seconds to stay after all are up; < 0: until SIGTERM/SIGINT
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(
      stderr,
      "chatdesk-bench-idle: %s\n"
      "usage: chatdesk-bench-idle --port P [--host H] [--shop S] [--connections N]\n"
      "         [--inflight K] [--sources K] [--source-base B] [--connect-rate R] [--message]\n"
      "         [--lead] [--hold S]\n"
      "  Opens N customer WebSockets (/ws/customer?shop=S) from 127.0.0.B, 127.0.0.B+1, ...\n"
      "  and keeps them idle. --message: each sends one chat message and waits for its ack.\n"
      "  --lead: also watch /ws/lead?shop=S and measure violation delivery lateness.\n",
      why.c_str());
  std::exit(2);
}

double to_number(std::string_view flag, const char* text) {
  const std::string_view s(text);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < 0)
    usage_error(std::string(flag) + " needs a number >= 0, got '" + std::string(s) + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      o.port = static_cast<unsigned short>(to_number(a, value()));
    } else if (a == "--shop") {
      o.shop = value();
    } else if (a == "--connections") {
      o.connections = static_cast<std::size_t>(to_number(a, value()));
    } else if (a == "--inflight") {
      o.inflight = static_cast<std::size_t>(to_number(a, value()));
    } else if (a == "--sources") {
      o.sources = static_cast<std::size_t>(to_number(a, value()));
    } else if (a == "--source-base") {
      o.source_base = static_cast<unsigned>(to_number(a, value()));
    } else if (a == "--connect-rate") {
      o.connect_rate = to_number(a, value());
    } else if (a == "--message") {
      o.message = true;
    } else if (a == "--lead") {
      o.lead = true;
    } else if (a == "--hold") {
      o.hold = to_number(a, value());
    } else if (a == "--help" || a == "-h") {
      usage_error("help");
    } else {
      usage_error("unknown argument '" + std::string(a) + "'");
    }
  }
  if (o.port == 0) usage_error("--port is required");
  if (o.inflight == 0) o.inflight = 1;
  if (o.sources == 0) o.sources = std::max<std::size_t>(1, (o.connections + 19'999) / 20'000);
  if (o.source_base == 0 || o.source_base + o.sources > 255)
    usage_error("source addresses must stay within 127.0.0.1-127.0.0.254");
  return o;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Why connections failed, by phase.
struct Failures {
  std::size_t connect = 0;
  std::size_t handshake = 0;
  std::size_t welcome = 0;
  std::size_t ack = 0;
  std::size_t total() const { return connect + handshake + welcome + ack; }
};

// Lateness of violations as the lead page receives them (ms resolution: `ts` is in ms).
struct LeadStats {
  std::vector<std::int64_t> lateness_ms;
  std::int64_t early = 0;         // frames whose ts is after the receive time (clock granularity)
  std::size_t largest_frame = 0;  // bytes: the lead page's snapshots grow with the shop

  std::string json() {
    std::sort(lateness_ms.begin(), lateness_ms.end());
    auto pct = [&](double p) -> long long {
      if (lateness_ms.empty()) return -1;
      const auto i = static_cast<std::size_t>(p * static_cast<double>(lateness_ms.size() - 1));
      return lateness_ms[i];
    };
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"lead_violations\":%zu,\"lead_p50_ms\":%lld,\"lead_p99_ms\":%lld,"
                  "\"lead_max_ms\":%lld,\"lead_largest_frame_bytes\":%zu}",
                  lateness_ms.size(), pct(0.5), pct(0.99),
                  lateness_ms.empty() ? -1LL : static_cast<long long>(lateness_ms.back()),
                  largest_frame);
    return buf;
  }
};

class Bench;

// One connection while it is being opened. Freed once only its socket is kept.
class Opening : public std::enable_shared_from_this<Opening> {
 public:
  Opening(Bench& bench, std::size_t index);
  void start();

 private:
  void on_connect(beast::error_code ec);
  void on_handshake(beast::error_code ec);
  void on_welcome(beast::error_code ec, std::size_t);
  void on_sent(beast::error_code ec, std::size_t);
  void on_reply(beast::error_code ec, std::size_t);
  void fail(std::size_t Failures::*phase, beast::error_code ec);
  void done();

  Bench& bench_;
  std::size_t index_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::string message_;
};

// An open, idle connection: the socket alone. Waits for readability to notice a close.
struct Held {
  explicit Held(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
};

// The whole client: paces and bounds the openings, keeps the open sockets, watches the lead page
// and prints the results. Lives on the one io_context thread.
class Bench {
 public:
  Bench(net::io_context& ioc, Options opt)
      : ioc_(ioc),
        opt_(std::move(opt)),
        target_("/ws/customer?shop=" + opt_.shop),
        host_header_(opt_.host + ":" + std::to_string(opt_.port)),
        endpoint_(net::ip::make_address(opt_.host), opt_.port),
        pacer_(ioc),
        hold_timer_(ioc),
        signals_(ioc, SIGINT, SIGTERM),
        usr_(ioc, SIGUSR1, SIGUSR2) {
    held_.reserve(opt_.connections);
  }

  void run() {
    signals_.async_wait([this](beast::error_code ec, int) {
      if (!ec) finish();
    });
    if (opt_.lead) {
      watch_usr();
      start_lead();
    } else {
      begin();
    }
  }

  // --- used by Opening ----------------------------------------------------------------------
  net::io_context& ioc() { return ioc_; }
  const Options& opt() const { return opt_; }
  const std::string& target() const { return target_; }
  const std::string& host_header() const { return host_header_; }
  const tcp::endpoint& endpoint() const { return endpoint_; }

  net::ip::address_v4 source(std::size_t index) const {
    return net::ip::address_v4((127U << 24) | (opt_.source_base + index % opt_.sources));
  }

  void opened(tcp::socket socket) {
    held_.emplace_back(std::make_unique<Held>(std::move(socket)));
    watch(*held_.back());
    ++connected_;
    settle();
  }

  void failed(std::size_t Failures::*phase, const beast::error_code& ec) {
    ++(failures_.*phase);
    if (failures_.total() <= 5)
      std::fprintf(stderr, "chatdesk-bench-idle: connection failed (%s)\n", ec.message().c_str());
    settle();
  }

 private:
  void begin() {
    started_at_ = Clock::now();
    launch();
  }

  // Starts connections while fewer than `inflight` are opening (and the pace allows).
  void launch() {
    while (started_ < opt_.connections && inflight_ < opt_.inflight) {
      if (opt_.connect_rate > 0) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - started_at_).count();
        if (static_cast<double>(started_) >= elapsed * opt_.connect_rate) {
          if (!pacing_) {
            pacing_ = true;
            pacer_.expires_after(std::chrono::milliseconds(1));
            pacer_.async_wait([this](beast::error_code ec) {
              pacing_ = false;
              if (!ec) launch();
            });
          }
          return;
        }
      }
      ++inflight_;
      std::make_shared<Opening>(*this, started_++)->start();
    }
  }

  void settle() {
    --inflight_;
    if (connected_ + failures_.total() == opt_.connections) {
      all_up();
    } else {
      launch();
    }
  }

  void all_up() {
    const double seconds = std::chrono::duration<double>(Clock::now() - started_at_).count();
    std::printf(
        "{\"connected\":%zu,\"failed\":%zu,\"seconds\":%.3f,\"connects_per_s\":%.0f,"
        "\"sources\":%zu,\"message\":%s,\"failures\":{\"connect\":%zu,\"handshake\":%zu,"
        "\"welcome\":%zu,\"ack\":%zu}}\n",
        connected_, failures_.total(), seconds,
        seconds > 0 ? static_cast<double>(connected_) / seconds : 0.0, opt_.sources,
        opt_.message ? "true" : "false", failures_.connect, failures_.handshake, failures_.welcome,
        failures_.ack);
    std::fflush(stdout);
    if (opt_.hold >= 0) {
      hold_timer_.expires_after(
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt_.hold)));
      hold_timer_.async_wait([this](beast::error_code ec) {
        if (!ec) finish();
      });
    }
  }

  void watch(Held& h) {
    h.socket.async_wait(tcp::socket::wait_read, [this, &h](beast::error_code ec) {
      if (ec) return;  // stopping
      // Anything readable is either data we do not parse or the end of the connection.
      char scratch[4096];
      beast::error_code read_ec;
      const std::size_t n = h.socket.read_some(net::buffer(scratch), read_ec);
      if (read_ec == net::error::would_block || (!read_ec && n > 0)) {
        ++frames_ignored_;
        watch(h);
        return;
      }
      ++closed_by_server_;
      beast::error_code ignored;
      h.socket.close(ignored);
    });
  }

  // --- the lead page (violation delivery lateness) -------------------------------------------
  void start_lead() {
    lead_ = std::make_unique<websocket::stream<beast::tcp_stream>>(ioc_);
    beast::get_lowest_layer(*lead_).async_connect(endpoint_, [this](beast::error_code ec) {
      if (ec) return lead_failed("connect", ec);
      lead_->async_handshake(host_header_, "/ws/lead?shop=" + opt_.shop,
                             [this](beast::error_code hec) {
                               if (hec) return lead_failed("handshake", hec);
                               read_lead();
                               begin();
                             });
    });
  }

  void lead_failed(const char* what, beast::error_code ec) {
    std::fprintf(stderr, "chatdesk-bench-idle: lead page %s failed: %s\n", what,
                 ec.message().c_str());
    std::exit(1);
  }

  void read_lead() {
    lead_->async_read(lead_buffer_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        if (!stopping_) std::fprintf(stderr, "chatdesk-bench-idle: lead page closed\n");
        return;
      }
      const std::int64_t now = wall_ms();
      const auto data = lead_buffer_.cdata();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      lead_stats_.largest_frame = std::max(lead_stats_.largest_frame, text.size());
      if (text.find("\"type\":\"sla\"") != std::string_view::npos) {
        beast::error_code jec;
        const boost::json::value v = boost::json::parse(text, jec);
        if (!jec && v.is_object()) {
          if (const auto* ts = v.as_object().if_contains("ts"); ts && ts->is_int64()) {
            const std::int64_t late = now - ts->as_int64();
            if (late < 0) ++lead_stats_.early;
            lead_stats_.lateness_ms.push_back(std::max<std::int64_t>(late, 0));
          }
        }
      }
      lead_buffer_.consume(lead_buffer_.size());
      read_lead();
    });
  }

  void watch_usr() {
    usr_.async_wait([this](beast::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGUSR1) {
        lead_stats_ = {};
      } else {
        std::printf("%s\n", lead_stats_.json().c_str());
        std::fflush(stdout);
      }
      watch_usr();
    });
  }

  void finish() {
    if (stopping_) return;
    stopping_ = true;
    std::printf("{\"closed_by_server\":%zu,\"frames_ignored\":%zu,\"lead\":%s}\n",
                closed_by_server_, frames_ignored_,
                opt_.lead ? lead_stats_.json().c_str() : "null");
    std::fflush(stdout);
    // Leaving closes every socket at once; the gateway sees them go.
    std::_Exit(0);
  }

  net::io_context& ioc_;
  Options opt_;
  std::string target_;
  std::string host_header_;
  tcp::endpoint endpoint_;
  net::steady_timer pacer_;
  net::steady_timer hold_timer_;
  net::signal_set signals_;
  net::signal_set usr_;
  bool pacing_ = false;
  bool stopping_ = false;
  Clock::time_point started_at_{};
  std::size_t started_ = 0;
  std::size_t inflight_ = 0;
  std::size_t connected_ = 0;
  std::size_t closed_by_server_ = 0;
  std::size_t frames_ignored_ = 0;
  Failures failures_;
  std::vector<std::unique_ptr<Held>> held_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> lead_;
  beast::flat_buffer lead_buffer_;
  LeadStats lead_stats_;
};

Opening::Opening(Bench& bench, std::size_t index)
    : bench_(bench), index_(index), ws_(bench.ioc()) {}

void Opening::start() {
  auto& stream = beast::get_lowest_layer(ws_);
  auto& socket = stream.socket();
  beast::error_code ec;
  socket.open(tcp::v4(), ec);
  if (!ec) {
    // Let connect() pick the source port per destination (4-tuple), not bind(): without it every
    // bound socket takes a port of its own and one address runs out at the ephemeral range.
    const int on = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    socket.bind(tcp::endpoint(bench_.source(index_), 0), ec);
  }
  if (ec) return fail(&Failures::connect, ec);
  stream.expires_after(std::chrono::seconds(30));
  stream.async_connect(bench_.endpoint(),
                       beast::bind_front_handler(&Opening::on_connect, shared_from_this()));
}

void Opening::on_connect(beast::error_code ec) {
  if (ec) return fail(&Failures::connect, ec);
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds(30);
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.async_handshake(bench_.host_header(), bench_.target(),
                      beast::bind_front_handler(&Opening::on_handshake, shared_from_this()));
}

void Opening::on_handshake(beast::error_code ec) {
  if (ec) return fail(&Failures::handshake, ec);
  ws_.async_read(buffer_, beast::bind_front_handler(&Opening::on_welcome, shared_from_this()));
}

void Opening::on_welcome(beast::error_code ec, std::size_t) {
  if (ec) return fail(&Failures::welcome, ec);
  const auto data = buffer_.cdata();
  const std::string_view text(static_cast<const char*>(data.data()), data.size());
  if (text.find("\"welcome\"") == std::string_view::npos)
    return fail(&Failures::welcome, net::error::invalid_argument);
  buffer_.consume(buffer_.size());
  if (!bench_.opt().message) return done();
  message_ =
      "{\"type\":\"message\",\"text\":\"你好，请问有人在吗？我的订单还没有发货。\","
      "\"client_msg_id\":\"m" +
      std::to_string(index_) + "\"}";
  ws_.text(true);
  ws_.async_write(net::buffer(message_),
                  beast::bind_front_handler(&Opening::on_sent, shared_from_this()));
}

void Opening::on_sent(beast::error_code ec, std::size_t) {
  if (ec) return fail(&Failures::ack, ec);
  ws_.async_read(buffer_, beast::bind_front_handler(&Opening::on_reply, shared_from_this()));
}

void Opening::on_reply(beast::error_code ec, std::size_t) {
  if (ec) return fail(&Failures::ack, ec);
  const auto data = buffer_.cdata();
  const std::string_view text(static_cast<const char*>(data.data()), data.size());
  const bool ack = text.find("\"type\":\"ack\"") != std::string_view::npos;
  const bool error = text.find("\"type\":\"error\"") != std::string_view::npos;
  buffer_.consume(buffer_.size());
  if (error) return fail(&Failures::ack, net::error::connection_refused);
  if (!ack) {  // a notice (desk offline) may come first
    ws_.async_read(buffer_, beast::bind_front_handler(&Opening::on_reply, shared_from_this()));
    return;
  }
  done();
}

void Opening::fail(std::size_t Failures::*phase, beast::error_code ec) {
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  bench_.failed(phase, ec);
}

void Opening::done() {
  // Keep the bare socket; Beast's stream and buffers go with this object.
  bench_.opened(beast::get_lowest_layer(ws_).release_socket());
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  // Every connection is a descriptor: ask for as many as the hard limit allows.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  try {
    net::io_context ioc(1);
    Bench bench(ioc, opt);
    bench.run();
    ioc.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chatdesk-bench-idle: %s\n", e.what());
    return 1;
  }
  return 0;
}
