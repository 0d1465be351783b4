// nginx in front of gateway nodes, configured from deploy/nginx/chatdesk.conf as scripts/run.sh
// --nodes renders it: WebSockets pass through, new connections spread over the nodes, a node that
// is down is skipped, a node's 503 reaches the client (it is about one shop, not the node) and
// never takes the node out of the rotation. The nodes here are independent single-node gateways (no
// shared desk) and stand-ins that answer 503: what is tested is the balancer's config.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "support/gateway_process.hpp"
#include "support/nginx.hpp"
#include "support/ws_client.hpp"

using chatdesk::test::eventually;
using chatdesk::test::GatewayProcess;
using chatdesk::test::http_get;
using chatdesk::test::metric;
using chatdesk::test::NginxBalancer;
using chatdesk::test::WsClient;

namespace {

const std::string kOneShop = "  - {id: tea, name: \"Tea house\", timezone: Asia/Shanghai}\n";

void require_nginx() {
  if (!NginxBalancer::available())
    FAIL("nginx is not installed at " CHATDESK_NGINX_BIN " (scripts/install-deps.sh installs it)");
}

double customers(const GatewayProcess& gw) {
  return metric(gw.port(), "chatdesk_connections{kind=\"customer\"}");
}

// A node that answers every request with 503, as a gateway does while it loads the desk from
// Redis or drains on SIGTERM.
class Always503 {
 public:
  Always503() {
    fd_ = chatdesk::test::listen_loopback(16, "503 server", port_);
    thread_ = std::thread([this] { loop(); });
  }
  ~Always503() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  Always503(const Always503&) = delete;
  Always503& operator=(const Always503&) = delete;

  int port() const { return port_; }
  int answered() const { return answered_; }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      // Read the request head (it fits one read on loopback; the answer does not depend on it).
      char buf[8192];
      pollfd q{c, POLLIN, 0};
      if (::poll(&q, 1, 1000) > 0 && ::recv(c, buf, sizeof buf, 0) > 0) {
        const std::string answer =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
            "Content-Length: 28\r\nConnection: close\r\n\r\nloading the desk from redis\n";
        if (::send(c, answer.data(), answer.size(), MSG_NOSIGNAL) > 0) ++answered_;
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("nginx renders the deploy template with one server line per node",
          "[integration][nginx]") {
  const std::string tmpl =
      "pid @PREFIX@/nginx.pid;\n  listen @LISTEN@;\n    server @UPSTREAM@ max_fails=2;\n"
      "    server @UPSTREAM@ backup;\n  tries @NODES@;\n";
  CHECK(NginxBalancer::render(tmpl, "/p", "127.0.0.1:80", {"127.0.0.1:1", "127.0.0.1:2"}) ==
        "pid /p/nginx.pid;\n  listen 127.0.0.1:80;\n    server 127.0.0.1:1 max_fails=2;\n"
        "    server 127.0.0.1:2 max_fails=2;\n    server 127.0.0.1:1 backup;\n"
        "    server 127.0.0.1:2 backup;\n  tries 2;\n");
  CHECK_THROWS(NginxBalancer::render("listen @LISTEN@;\n", "/p", "127.0.0.1:80", {"x"}));
  // The deploy template itself: every placeholder is one the renderers know.
  const std::string deploy = NginxBalancer::render(NginxBalancer::read_template(), "/p",
                                                   "127.0.0.1:80", {"127.0.0.1:1", "127.0.0.1:2"});
  CHECK(deploy.find('@') == std::string::npos);
}

TEST_CASE("nginx passes health, pages and WebSockets through and spreads customers over two nodes",
          "[integration][nginx]") {
  require_nginx();
  GatewayProcess a(kOneShop);
  GatewayProcess b(kOneShop);
  NginxBalancer lb({a.port(), b.port()});

  CHECK(http_get(lb.port(), "/healthz") == std::pair<int, std::string>{200, "ok\n"});
  auto page = http_get(lb.port(), "/chat?shop=tea");
  CHECK(page.first == 200);
  CHECK(page.second.find("<html") != std::string::npos);
  CHECK(http_get(lb.port(), "/nope").first == 404);  // a node's own answer, passed on

  // least_conn: while the WebSockets stay open, each new one goes to the node with fewer.
  std::vector<std::unique_ptr<WsClient>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(std::make_unique<WsClient>(lb.port(), "/ws/customer?shop=tea"));
    CHECK(open.back()->handshake_status() == 101);
    auto welcome = open.back()->expect("welcome");
    CHECK(!welcome["conversation"].as_string().empty());
  }
  CHECK(eventually([&] { return customers(a) + customers(b) == 4; }));
  CHECK(customers(a) >= 1);
  CHECK(customers(b) >= 1);

  // A WebSocket through nginx is a working one: a frame the customer sends is acknowledged.
  open.front()->send({{"type", "message"}, {"text", "您好"}, {"client_msg_id", "m1"}});
  CHECK(open.front()->expect("ack")["client_msg_id"].as_string() == "m1");

  for (auto& ws : open) ws->close();
  CHECK(eventually([&] { return customers(a) == 0 && customers(b) == 0; }));
}

TEST_CASE("nginx skips a node that is down, and a 503 never takes a node out of the rotation",
          "[integration][nginx]") {
  require_nginx();
  GatewayProcess live(kOneShop);
  Always503 busy;
  GatewayProcess gone(kOneShop);
  const int gone_port = gone.port();
  gone.stop();
  NginxBalancer lb({gone_port, busy.port(), live.port()});

  // A request never fails on the dead node; it lands on one of the other two, and the 503
  // node's answer is passed on as it is.
  int ok = 0, refused = 0;
  for (int i = 0; i < 12; ++i) {
    const auto [status, body] = http_get(lb.port(), "/healthz");
    ok += status == 200 ? 1 : 0;
    refused += status == 503 ? 1 : 0;
  }
  CHECK(ok + refused == 12);
  // Far more than max_fails 503s: the node stays in the rotation (it kept being asked).
  CHECK(refused >= 4);
  CHECK(ok >= 4);
  CHECK(busy.answered() == refused);
}

TEST_CASE("nginx passes on the nodes' 503 when every node answers 503, never a 502 of its own",
          "[integration][nginx]") {
  require_nginx();
  // As for a shop with no home during a take-over: every node refuses its connections.
  Always503 a;
  Always503 b;
  NginxBalancer lb({a.port(), b.port()});
  for (int i = 0; i < 12; ++i) {
    const auto [status, body] = http_get(lb.port(), "/ws/customer?shop=tea");
    CHECK(status == 503);
    CHECK(body == "loading the desk from redis\n");
  }
  CHECK(lb.log().find("no live upstreams") == std::string::npos);
}
