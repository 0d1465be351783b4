// The hardening limits against the real gateway (docs/security.md, "Limits"): allowed origins,
// connections per address, the per-connection message rate, the message size and the HTTP request
// timeout.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/gateway_process.hpp"
#include "support/ws_client.hpp"

using chatdesk::test::GatewayProcess;
using chatdesk::test::metric;
using chatdesk::test::WsClient;
namespace json = boost::json;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

namespace {

const std::string kShop = "  - {id: tea, name: \"Tea house\"}\n";
const std::string kOrigin = "http://127.0.0.1:8080";

// The HTTP status a WebSocket upgrade request gets (101 when accepted), or 0 when the connection
// failed. The connection is dropped afterwards.
int upgrade_status(int port, const std::string& target, const std::string& origin = "") {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.socket().connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return 0;
  stream.expires_after(5s);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  if (!origin.empty()) req.set(http::field::origin, origin);
  http::write(stream, req, ec);
  if (ec) return 0;
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> res;
  res.skip(true);  // a 101 has no body; a refusal's body is not needed
  http::read_header(stream, buffer, res, ec);
  if (ec) return 0;
  return static_cast<int>(res.get().result_int());
}

std::unique_ptr<WsClient> available_agent(const GatewayProcess& gw, const std::string& id) {
  auto c = std::make_unique<WsClient>(gw.port(), "/ws/agent?shop=tea&agent=" + id);
  c->expect("welcome");
  c->send({{"type", "status"}, {"state", "available"}});
  REQUIRE(c->expect("status")["state"].as_string() == "available");
  return c;
}

std::unique_ptr<WsClient> customer(const GatewayProcess& gw) {
  auto c = std::make_unique<WsClient>(gw.port(), "/ws/customer?shop=tea");
  c->expect("welcome");
  return c;
}

// Reads until the connection closes (bounded); returns the error codes received on the way.
std::vector<std::string> errors_until_closed(WsClient& c, std::chrono::milliseconds timeout = 5s) {
  std::vector<std::string> codes;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!c.closed() && std::chrono::steady_clock::now() < deadline) {
    auto frame = c.read(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (frame && (*frame)["type"].as_string() == "error")
      codes.emplace_back((*frame)["code"].as_string());
  }
  return codes;
}

}  // namespace

TEST_CASE(
    "an upgrade from an origin not in allowed_origins gets 403, and listed or none is let in") {
  GatewayProcess gw(kShop, "redis: {enabled: false}\nallowed_origins: [\"" + kOrigin +
                               "\", \"https://desk.example.com\"]\n");
  CHECK(upgrade_status(gw.port(), "/ws/customer?shop=tea", "http://evil.example") == 403);
  CHECK(upgrade_status(gw.port(), "/ws/agent?shop=tea&agent=a", "http://127.0.0.1:8081") == 403);
  CHECK(upgrade_status(gw.port(), "/ws/lead?shop=tea", "null") == 403);
  CHECK_THROWS(WsClient(gw.port(), "/ws/customer?shop=tea", "http://evil.example"));

  CHECK(upgrade_status(gw.port(), "/ws/customer?shop=tea", kOrigin) == 101);
  WsClient allowed(gw.port(), "/ws/customer?shop=tea", kOrigin);
  CHECK(allowed.handshake_status() == 101);
  allowed.expect("welcome");
  WsClient other(gw.port(), "/ws/customer?shop=tea", "https://desk.example.com");
  other.expect("welcome");
  // No Origin header: not a browser, nothing to check.
  WsClient tool(gw.port(), "/ws/customer?shop=tea");
  tool.expect("welcome");
  CHECK(gw.log().find("allowed_origins is empty") == std::string::npos);
}

TEST_CASE("without allowed_origins any origin is accepted and the gateway warns at start") {
  GatewayProcess gw(kShop);
  WsClient c(gw.port(), "/ws/customer?shop=tea", "http://anything.example");
  c.expect("welcome");
  CHECK(gw.log().find("WARNING: allowed_origins is empty") != std::string::npos);
}

TEST_CASE("the connection after max_connections_per_ip gets 429 until one of them closes") {
  GatewayProcess gw(kShop, "redis: {enabled: false}\nlimits: {max_connections_per_ip: 3}\n");
  std::vector<std::unique_ptr<WsClient>> open;
  for (int i = 0; i < 3; ++i) open.push_back(customer(gw));
  CHECK(upgrade_status(gw.port(), "/ws/customer?shop=tea") == 429);
  CHECK_THROWS(WsClient(gw.port(), "/ws/agent?shop=tea&agent=late"));
  // Plain HTTP is not counted: health checks and pages still work.
  CHECK(chatdesk::test::http_get(gw.port(), "/healthz").first == 200);
  // The open connections are not disturbed.
  open[0]->send({{"type", "typing"}});
  CHECK(open[1]->silent(100ms));

  // The server releases the slot when it has seen the close; wait for that (bounded) rather than
  // for a fixed time.
  open[0]->close();
  REQUIRE(open[0]->closed());
  std::unique_ptr<WsClient> again;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!again && std::chrono::steady_clock::now() < deadline) {
    try {
      again = customer(gw);
    } catch (const std::exception&) {
      std::this_thread::sleep_for(10ms);
    }
  }
  REQUIRE(again);
  CHECK(upgrade_status(gw.port(), "/ws/customer?shop=tea") == 429);
}

TEST_CASE(
    "a flooding client gets rate_limited while others flow, and a persistent one is closed 1008") {
  GatewayProcess gw(kShop,
                    "redis: {enabled: false}\n"
                    "limits: {message_rate: {per_second: 1, burst: 5}}\n");
  auto alice = available_agent(gw, "alice");
  auto chat = customer(gw);
  alice->expect("assigned");

  // Eight frames at once: the burst of five is processed (each an unknown_type error), the rest
  // are refused unprocessed. One token a second, so at most one more gets through meanwhile.
  auto flooder = std::make_unique<WsClient>(gw.port(), "/ws/customer?shop=tea");
  flooder->expect("welcome");
  for (int i = 0; i < 8; ++i) flooder->send({{"type", "nope"}});
  int processed = 0;
  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    auto code = std::string(flooder->expect("error")["code"].as_string());
    if (code == "unknown_type") ++processed;
    if (code == "rate_limited") ++refused;
    // Refused frames come after the processed ones, in order.
    if (code == "unknown_type") CHECK(refused == 0);
  }
  CHECK(processed >= 5);
  CHECK(processed <= 6);
  CHECK(refused == 8 - processed);
  CHECK_FALSE(flooder->closed());
  CHECK(metric(gw.port(), "chatdesk_protocol_errors_total{code=\"rate_limited\"}") == refused);

  // Another customer's messages still flow both ways.
  chat->send({{"type", "message"}, {"text", "还在吗？"}, {"client_msg_id", "m1"}});
  chat->expect("ack");
  auto got = alice->expect("message");
  CHECK(got["text"].as_string() == "还在吗？");
  alice->send({{"type", "message"},
               {"conversation", got["conversation"]},
               {"text", "在的"},
               {"client_msg_id", "r1"}});
  alice->expect("ack");
  CHECK(chat->expect("message")["text"].as_string() == "在的");

  // A client that keeps going: more than `burst` (5) refusals in a row close it with 1008. The
  // server stops reading its frames then, so writes after the close may fail; that is expected.
  auto persistent = std::make_unique<WsClient>(gw.port(), "/ws/customer?shop=tea");
  persistent->expect("welcome");
  try {
    for (int i = 0; i < 40; ++i) persistent->send({{"type", "nope"}});
  } catch (const std::exception&) {
  }
  auto codes = errors_until_closed(*persistent);
  REQUIRE(persistent->closed());
  CHECK(persistent->close_code() == 1008);
  REQUIRE(codes.size() >= 11);
  CHECK(codes.back() == "rate_limited");
  // Nothing was answered after the closing refusal: five processed, then six refusals in a row
  // (allowing one more token earned while writing).
  CHECK(codes.size() <= 13);

  // The others are not affected.
  chat->send({{"type", "message"}, {"text", "好的"}, {"client_msg_id", "m2"}});
  chat->expect("ack");
  CHECK(alice->expect("message")["text"].as_string() == "好的");
  CHECK_FALSE(chat->closed());
  CHECK_FALSE(flooder->closed());
}

TEST_CASE(
    "a message over max_message_bytes closes that connection with 1009, and 10 MB is cut off") {
  GatewayProcess gw(kShop, "redis: {enabled: false}\nlimits: {max_message_bytes: 65536}\n");
  auto alice = available_agent(gw, "alice");
  auto over = customer(gw);
  alice->expect("assigned");
  // One byte over: the whole message fits in the socket buffers, so the close frame is read.
  over->send_raw(std::string(65536 + 1, 'x'));
  errors_until_closed(*over);
  REQUIRE(over->closed());
  CHECK(over->close_code() == 1009);

  // 10 MB: the gateway refuses it after 64 KiB and the connection ends. (Whether the client gets
  // to read the 1009 close frame before its own write fails is up to the kernel, so only the end
  // of the connection is checked here.)
  auto big = customer(gw);
  alice->expect("assigned");
  big->send_raw_nowait(std::string(10 * 1024 * 1024, 'x'));
  errors_until_closed(*big);
  CHECK(big->closed());

  // The gateway and the other connections carry on.
  auto chat = customer(gw);
  alice->expect("assigned");
  chat->send({{"type", "message"}, {"text", "你好"}, {"client_msg_id", "m1"}});
  chat->expect("ack");
  CHECK(alice->expect("message")["text"].as_string() == "你好");
}

TEST_CASE("a connection that sends no request is closed after limits.handshake_timeout") {
  GatewayProcess gw(kShop, "redis: {enabled: false}\nlimits: {handshake_timeout: 300ms}\n");
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.socket().connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(gw.port())});
  stream.expires_after(5s);  // far beyond the gateway's 300 ms
  auto started = std::chrono::steady_clock::now();
  char byte = 0;
  bool done = false;
  beast::error_code ec;
  stream.async_read_some(boost::asio::buffer(&byte, 1), [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  ioc.run_for(10s);
  REQUIRE(done);
  // The gateway closed the connection (eof or reset), not our own 5 s deadline.
  CHECK(ec);
  CHECK(ec != beast::error::timeout);
  CHECK(std::chrono::steady_clock::now() - started < 4s);
}
