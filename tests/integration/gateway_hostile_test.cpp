// Bad and hostile clients against the real gateway (docs/security.md, "Error and close codes"):
// malformed frames that a client library would refuse to send (a raw socket builds them), oversized
// and fragmented floods, huge HTTP requests, a client that never reads while a thousand others
// chat, bad JSON, and attempts on other agents', shops' and customers' conversations. Each must be
// refused with its documented code, counted in /metrics, and leave everyone else served.

#include <sys/resource.h>
#include <sys/types.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/async_ws_client.hpp"
#include "support/gateway_process.hpp"
#include "support/raw_ws.hpp"
#include "support/ws_client.hpp"

using chatdesk::test::AsyncWsClient;
using chatdesk::test::GatewayProcess;
using chatdesk::test::metric;
using chatdesk::test::RawWsClient;
using chatdesk::test::ws_frame;
using chatdesk::test::WsClient;
using chatdesk::test::WsFrameOptions;
using chatdesk::test::WsOpcode;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kShops =
    "  - {id: tea, name: \"Tea house\", max_concurrent: 1}\n"
    "  - {id: shoes, name: \"Shoe shop\", max_concurrent: 1}\n";

double closed(int port, const std::string& reason) {
  return metric(port, "chatdesk_connections_closed_total{reason=\"" + reason + "\"}");
}

double protocol_errors(int port, const std::string& code) {
  return metric(port, "chatdesk_protocol_errors_total{code=\"" + code + "\"}");
}

// Polls /metrics until `series` reaches `value` (counters are bumped when a connection has fully
// ended, a moment after the client saw the close); returns the last value seen.
double wait_metric(int port, const std::string& series, double value,
                   std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  double seen = metric(port, series);
  while (seen != value && Clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    seen = metric(port, series);
  }
  return seen;
}

double wait_closed_count(int port, const std::string& reason, double value) {
  return wait_metric(port, "chatdesk_connections_closed_total{reason=\"" + reason + "\"}", value);
}

// Resident memory of a process in KiB (VmRSS), or -1.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::unique_ptr<WsClient> agent(const GatewayProcess& gw, const std::string& shop,
                                const std::string& id) {
  auto c = std::make_unique<WsClient>(gw.port(), "/ws/agent?shop=" + shop + "&agent=" + id);
  c->expect("welcome");
  c->send({{"type", "status"}, {"state", "available"}});
  REQUIRE(c->expect("status")["state"].as_string() == "available");
  return c;
}

struct Customer {
  std::unique_ptr<WsClient> ws;
  std::string conversation, id, resume;
};

Customer customer(const GatewayProcess& gw, const std::string& shop,
                  const std::string& query = "") {
  Customer c;
  c.ws = std::make_unique<WsClient>(gw.port(), "/ws/customer?shop=" + shop + query);
  auto welcome = c.ws->expect("welcome");
  c.conversation = std::string(welcome["conversation"].as_string());
  c.id = std::string(welcome["customer"].as_string());
  c.resume = std::string(welcome["resume"].as_string());
  return c;
}

// One message customer -> agent and the reply back; both must arrive with the same text.
void round_trip(Customer& c, WsClient& owner, const std::string& text) {
  c.ws->send({{"type", "message"}, {"text", text}, {"client_msg_id", "rt"}});
  c.ws->expect("ack");
  auto got = owner.expect("message");
  REQUIRE(got["text"].as_string() == text);
  REQUIRE(got["conversation"].as_string() == c.conversation);
  owner.send({{"type", "message"},
              {"conversation", c.conversation},
              {"text", "回复 " + text},
              {"client_msg_id", "rr"}});
  owner.expect("ack");
  REQUIRE(c.ws->expect("message")["text"].as_string() == "回复 " + text);
}

// A customer of shop `shop` on a raw socket, past the handshake.
std::unique_ptr<RawWsClient> raw_customer(const GatewayProcess& gw, const std::string& shop,
                                          int rcvbuf = 0) {
  auto raw = std::make_unique<RawWsClient>(gw.port(), rcvbuf);
  REQUIRE(raw->handshake("/ws/customer?shop=" + shop) == 101);
  return raw;
}

std::string text_message(const std::string& text) {
  return json::serialize(json::object{{"type", "message"}, {"text", text}});
}

}  // namespace

TEST_CASE("invalid UTF-8 in a text frame closes that connection with 1007, the shop chats on") {
  GatewayProcess gw(kShops);
  auto alice = agent(gw, "tea", "alice");
  auto c = customer(gw, "tea");
  alice->expect("assigned");
  auto bob = agent(gw, "tea", "bob");

  auto raw = raw_customer(gw, "tea");
  // A valid message first: the raw client is a working customer of the same shop.
  bob->expect("assigned");
  REQUIRE(raw->write_all(ws_frame(WsOpcode::text, text_message("你好"))));
  REQUIRE(bob->expect("message")["text"].as_string() == "你好");
  // An overlong encoding of '/' (C0 AF) and a lone continuation byte: never valid UTF-8.
  REQUIRE(
      raw->write_all(ws_frame(WsOpcode::text, "{\"type\":\"message\",\"text\":\"\xC0\xAF\x80\"}")));
  CHECK(raw->read_close_code() == 1007u);
  raw->close();
  CHECK(wait_closed_count(gw.port(), "bad_utf8", 1) == 1);
  // Not a frame-level error: nothing was parsed, so no error frame and no protocol error.
  CHECK(protocol_errors(gw.port(), "bad_request") == 0);
  // Invalid UTF-8 split across fragments is caught as well.
  auto split = raw_customer(gw, "tea");
  REQUIRE(split->write_all(ws_frame(WsOpcode::text, "{\"type\":\"message\",\"text\":\"\xE4",
                                    WsFrameOptions{}.not_final())));
  REQUIRE(split->write_all(ws_frame(WsOpcode::continuation, "\x28\"}")));
  CHECK(split->read_close_code() == 1007u);
  split->close();
  CHECK(wait_closed_count(gw.port(), "bad_utf8", 2) == 2);

  // The other clients of the shop keep chatting, both ways.
  round_trip(c, *alice, "还在吗？");
  CHECK_FALSE(c.ws->closed());
  CHECK_FALSE(alice->closed());
}

TEST_CASE("a frame announcing 10 MB gets 1009, read by the client, and is not buffered") {
  GatewayProcess gw(kShops, "redis: {enabled: false}\nlimits: {max_message_bytes: 65536}\n");
  auto alice = agent(gw, "tea", "alice");
  auto c = customer(gw, "tea");
  alice->expect("assigned");
  const long rss_before = rss_kib(gw.pid());
  REQUIRE(rss_before > 0);

  auto raw = raw_customer(gw, "shoes");
  constexpr std::uint64_t kAnnounced = 10 * 1024 * 1024;
  const std::string body(kAnnounced, 'x');
  // Only the header and the first 4 KiB, then read: the refusal comes from the header alone. The
  // RSS check catches a buffer sized by the announced length (10 MiB at once) as well as one
  // filled by the push below.
  const std::string head = ws_frame(WsOpcode::text, std::string_view(body).substr(0, 4096),
                                    WsFrameOptions{}.announcing(kAnnounced));
  REQUIRE(raw->write_all(head));
  CHECK(raw->read_close_code() == 1009u);
  // A client that keeps pushing its 10 MB anyway: the gateway has closed the connection after
  // its close frame (Beast's teardown reads once more, then closes), so the push ends with a
  // reset, and nothing of it may stay in the gateway's memory. Bounded by a deadline; whether the
  // push got anywhere is reported, not required.
  const std::string rest = body.substr(4096);
  const bool pushed = raw->write_all(rest, 10s);
  const long rss_after = rss_kib(gw.pid());
  INFO("pushed the whole 10 MB: " << pushed << "; gateway VmRSS before " << rss_before
                                  << " KiB, after " << rss_after << " KiB");
  WARN("10 MB frame: pushed the rest: " << pushed << ", gateway VmRSS " << rss_before << " -> "
                                        << rss_after << " KiB");
  CHECK(rss_after - rss_before < 2048);  // far below the 10240 KiB announced
  raw->close();
  CHECK(wait_closed_count(gw.port(), "too_big", 1) == 1);

  // The gateway and the other connections carry on.
  round_trip(c, *alice, "你好");
}

TEST_CASE(
    "a flood of one-byte continuation frames is closed at the size limit, others are served") {
  GatewayProcess gw(kShops, "redis: {enabled: false}\nlimits: {max_message_bytes: 65536}\n");
  auto alice = agent(gw, "tea", "alice");
  auto c = customer(gw, "tea");
  alice->expect("assigned");
  const long rss_before = rss_kib(gw.pid());

  auto raw = raw_customer(gw, "shoes");
  // A text frame without FIN, then 100,000 one-byte continuations (7 bytes each on the wire) in
  // chunks of 10,000; between chunks the shop's chat must still work. The message passes 64 KiB
  // after 65,536 frames.
  const std::string one = ws_frame(WsOpcode::continuation, "a", WsFrameOptions{}.not_final());
  std::string chunk;
  for (int i = 0; i < 10'000; ++i) chunk += one;
  REQUIRE(raw->write_all(ws_frame(WsOpcode::text, "a", WsFrameOptions{}.not_final())));
  int chunks_written = 0;
  for (int i = 0; i < 10; ++i) {
    if (!raw->write_all(chunk, 10s)) break;
    ++chunks_written;
    round_trip(c, *alice, "第" + std::to_string(i) + "轮");
  }
  INFO("chunks of 10,000 frames written: " << chunks_written);
  CHECK(chunks_written >= 7);  // the limit is passed inside the seventh
  CHECK(raw->read_close_code(10s) == 1009u);
  const long rss_after = rss_kib(gw.pid());
  INFO("gateway VmRSS before " << rss_before << " KiB, after " << rss_after << " KiB");
  WARN("continuation flood: gateway VmRSS " << rss_before << " -> " << rss_after << " KiB");
#ifdef __SANITIZE_ADDRESS__
  // ASan keeps freed memory resident in its quarantine (up to 256 MB), so RSS says nothing about
  // what the gateway holds on to; the plain and TSan builds check the bound.
  WARN("RSS bound not checked under AddressSanitizer");
#else
  CHECK(rss_after - rss_before < 2048);
#endif
  raw->close();
  CHECK(wait_closed_count(gw.port(), "too_big", 1) == 1);
  round_trip(c, *alice, "结束");
}

TEST_CASE("an upgrade request with 2000 headers gets 431 and reaches nothing, others are served") {
  GatewayProcess gw(kShops);
  auto alice = agent(gw, "tea", "alice");
  auto c = customer(gw, "tea");
  alice->expect("assigned");

  std::string headers;
  for (int i = 0; i < 2000; ++i)
    headers += "X-Filler-" + std::to_string(i) + ": " + std::to_string(i) + "\r\n";
  RawWsClient raw(gw.port());
  REQUIRE(raw.write_all(RawWsClient::upgrade_request("/ws/customer?shop=shoes", headers)));
  CHECK(raw.read_response_head() == 431);
  CHECK(raw.wait_closed());
  CHECK(wait_metric(gw.port(), "chatdesk_http_errors_total{status=\"431\"}", 1) == 1);
  // Nothing reached the desk: no customer of that shop, no conversation, no WebSocket.
  CHECK(metric(gw.port(), "chatdesk_connections{kind=\"customer\"}") == 1);
  CHECK(metric(gw.port(), "chatdesk_conversations_active{shop=\"shoes\"}") == 0);
  round_trip(c, *alice, "还好");
}

TEST_CASE("limits.max_header_bytes is the request head limit: 431 just past it, 101 within it") {
  GatewayProcess gw(kShops, "redis: {enabled: false}\nlimits: {max_header_bytes: 2048}\n");
  // Default-sized heads that fit 8 KiB but not 2 KiB are refused; a head within 2 KiB upgrades.
  {
    RawWsClient raw(gw.port());
    REQUIRE(raw.write_all(RawWsClient::upgrade_request(
        "/ws/customer?shop=tea", "X-Filler: " + std::string(3000, 'a') + "\r\n")));
    CHECK(raw.read_response_head() == 431);
    CHECK(raw.wait_closed());
  }
  {
    RawWsClient raw(gw.port());
    CHECK(raw.handshake("/ws/customer?shop=tea", "X-Filler: " + std::string(1000, 'a') + "\r\n") ==
          101);
  }
  CHECK(wait_metric(gw.port(), "chatdesk_http_errors_total{status=\"431\"}", 1) == 1);
}

TEST_CASE(
    "rsv bits, unmasked frames and bad opcodes close with 1002, and deflate is not negotiated") {
  GatewayProcess gw(kShops);
  const std::string offer =
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
  {
    RawWsClient raw(gw.port());
    REQUIRE(raw.handshake("/ws/customer?shop=tea", offer) == 101);
    // The offer is declined: the answer names no extension, so frames are never compressed.
    CHECK(raw.response_head().find("Sec-WebSocket-Extensions") == std::string::npos);
    CHECK(raw.response_head().find("sec-websocket-extensions") == std::string::npos);
    // RSV1 is the compressed-message bit: without the extension it is a protocol error.
    REQUIRE(
        raw.write_all(ws_frame(WsOpcode::text, text_message("x"), WsFrameOptions{}.with_rsv(4))));
    CHECK(raw.read_close_code() == 1002u);
  }
  {
    auto raw = raw_customer(gw, "tea");
    REQUIRE(
        raw->write_all(ws_frame(WsOpcode::text, text_message("x"), WsFrameOptions{}.unmasked())));
    CHECK(raw->read_close_code() == 1002u);
  }
  {
    auto raw = raw_customer(gw, "tea");
    REQUIRE(raw->write_all(ws_frame(static_cast<WsOpcode>(0x3), "x")));  // reserved opcode
    CHECK(raw->read_close_code() == 1002u);
  }
  CHECK(wait_closed_count(gw.port(), "protocol", 3) == 3);
}

TEST_CASE("bad frames on the chat endpoints each get their documented error and are counted") {
  GatewayProcess gw(kShops);
  auto alice = agent(gw, "tea", "alice");
  auto c = customer(gw, "tea");
  alice->expect("assigned");
  WsClient lead(gw.port(), "/ws/lead?shop=tea");
  lead.expect("welcome");

  struct Case {
    WsClient* client;
    std::string frame;  // sent as a text frame
    std::string code;
  };
  const std::string conv = c.conversation;
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::vector<Case> cases{
      // Not JSON, not an object, too deep.
      {c.ws.get(), "{\"type\":\"message\",", "bad_request"},
      {c.ws.get(), "[1,2,3]", "bad_request"},
      {c.ws.get(), "\"message\"", "bad_request"},
      {c.ws.get(), "{\"type\":\"message\",\"text\":" + deep + "}", "bad_request"},
      // Missing or wrongly typed fields.
      {c.ws.get(), "{\"text\":\"hi\"}", "bad_request"},
      {c.ws.get(), "{\"type\":7}", "bad_request"},
      {c.ws.get(), "{\"type\":\"message\"}", "bad_request"},
      {c.ws.get(), "{\"type\":\"message\",\"text\":42}", "bad_request"},
      {c.ws.get(), "{\"type\":\"message\",\"text\":\"hi\",\"client_msg_id\":\"bad id\"}",
       "bad_request"},
      {alice.get(), "{\"type\":\"status\",\"state\":\"busy\"}", "bad_request"},
      {alice.get(), "{\"type\":\"status\",\"state\":true}", "bad_request"},
      {alice.get(), "{\"type\":\"message\",\"conversation\":[\"" + conv + "\"],\"text\":\"x\"}",
       "bad_request"},
      {alice.get(), "{\"type\":\"transfer\",\"conversation\":\"" + conv + "\"}", "bad_request"},
      {alice.get(), "{\"type\":\"typing\",\"conversation\":\"" + conv + "\",\"state\":1}",
       "bad_request"},
      // Unknown types, per endpoint.
      {c.ws.get(), "{\"type\":\"transfer\"}", "unknown_type"},
      {alice.get(), "{\"type\":\"hack\"}", "unknown_type"},
      {&lead, "{\"type\":\"status\",\"state\":\"available\"}", "unknown_type"},
      // Empty and over-long texts.
      {c.ws.get(), "{\"type\":\"message\",\"text\":\"\"}", "too_large"},
      {c.ws.get(), text_message(std::string(5001, 'x')), "too_large"},
  };
  std::map<std::string, int> expected;
  for (const auto& k : cases) {
    INFO(k.frame.substr(0, 80));
    k.client->send_raw(k.frame);
    auto err = k.client->expect("error");
    CHECK(err["code"].as_string() == k.code);
    ++expected[k.code];
  }
  // Binary frames on each chat endpoint.
  c.ws->send_binary("{\"type\":\"message\",\"text\":\"hi\"}");
  CHECK(c.ws->expect("error")["code"].as_string() == "bad_request");
  alice->send_binary(std::string("\x00\xff", 2));
  CHECK(alice->expect("error")["code"].as_string() == "bad_request");
  expected["bad_request"] += 2;

  for (const auto& [code, count] : expected) {
    INFO(code);
    CHECK(protocol_errors(gw.port(), code) == count);
  }
  // None of it reached anyone else or changed the conversation; every connection is still open.
  CHECK(alice->silent(200ms));
  CHECK(c.ws->silent(200ms));
  round_trip(c, *alice, "一切正常");
  CHECK(closed(gw.port(), "protocol") == 0);
}

TEST_CASE("other agents, other shops and wrong resume secrets cannot touch a conversation") {
  GatewayProcess gw(kShops);
  auto alice = agent(gw, "tea", "alice");
  auto c1 = customer(gw, "tea");
  CHECK(alice->expect("assigned")["conversation"].as_string() == c1.conversation);
  c1.ws->expect("assigned");
  auto bob = agent(gw, "tea", "bob");
  auto c2 = customer(gw, "tea");
  CHECK(bob->expect("assigned")["conversation"].as_string() == c2.conversation);
  c2.ws->expect("assigned");
  auto carol = agent(gw, "shoes", "carol");
  auto c3 = customer(gw, "shoes");
  CHECK(carol->expect("assigned")["conversation"].as_string() == c3.conversation);
  c3.ws->expect("assigned");
  const double not_owner_before = protocol_errors(gw.port(), "not_owner");

  // Another agent of the same shop, then an agent of another shop, on alice's conversation.
  int not_owner = 0;
  for (WsClient* intruder : {bob.get(), carol.get()}) {
    const std::vector<json::object> attempts{
        {{"type", "message"},
         {"conversation", c1.conversation},
         {"text", "给我"},
         {"client_msg_id", "x1"}},
        {{"type", "typing"}, {"conversation", c1.conversation}, {"state", "start"}},
        {{"type", "transfer"}, {"conversation", c1.conversation}, {"to", nullptr}},
        {{"type", "close"}, {"conversation", c1.conversation}},
        // A conversation id that does not exist gets the same answer (ids cannot be probed).
        {{"type", "close"}, {"conversation", "c-does-not-exist"}},
    };
    for (const auto& a : attempts) {
      intruder->send(a);
      auto err = intruder->expect("error");
      CHECK(err["code"].as_string() == "not_owner");
      ++not_owner;
    }
  }
  CHECK(protocol_errors(gw.port(), "not_owner") == not_owner_before + not_owner);
  // Transfers across shops: the target is not an agent of this shop.
  carol->send({{"type", "transfer"}, {"conversation", c3.conversation}, {"to", "alice"}});
  CHECK(carol->expect("error")["code"].as_string() == "target_unavailable");
  bob->send({{"type", "handover"}, {"to", "carol"}});
  CHECK(bob->expect("error")["code"].as_string() == "target_unavailable");

  // A customer id with a wrong secret, and the right pair in another shop: a new conversation
  // each, never c1 (both shops' agents are full, so they wait in the queue).
  auto wrong = customer(gw, "tea", "&customer=" + c1.id + "&resume=" + std::string(32, '0'));
  CHECK(wrong.conversation != c1.conversation);
  CHECK(wrong.id != c1.id);
  CHECK(wrong.ws->skipped().empty());
  auto elsewhere = customer(gw, "shoes", "&customer=" + c1.id + "&resume=" + c1.resume);
  CHECK(elsewhere.conversation != c1.conversation);
  wrong.ws->send({{"type", "message"}, {"text", "我是c1"}, {"client_msg_id", "w1"}});
  wrong.ws->expect("ack");

  // Nothing changed for the owners: c1's next message reaches alice and nobody else, and her
  // reply reaches c1 and nobody else.
  c1.ws->send({{"type", "message"}, {"text", "我的订单呢"}, {"client_msg_id", "m1"}});
  c1.ws->expect("ack");
  auto got = alice->expect("message");
  CHECK(got["conversation"].as_string() == c1.conversation);
  CHECK(got["text"].as_string() == "我的订单呢");
  alice->send({{"type", "message"},
               {"conversation", c1.conversation},
               {"text", "马上查"},
               {"client_msg_id", "r1"}});
  alice->expect("ack");
  CHECK(c1.ws->expect("message")["text"].as_string() == "马上查");
  CHECK(alice->silent(300ms));
  int index = 0;
  for (WsClient* other :
       {bob.get(), carol.get(), c2.ws.get(), c3.ws.get(), wrong.ws.get(), elsewhere.ws.get()}) {
    INFO("client " << index++);
    const bool quiet = other->silent(100ms);
    INFO((quiet ? std::string() : json::serialize(other->skipped().back())));
    CHECK(quiet);
  }
  CHECK_FALSE(c1.ws->closed());
}

TEST_CASE("/ws/echo is 404 unless diagnostics.echo is on") {
  GatewayProcess gw(kShops);
  RawWsClient raw(gw.port());
  CHECK(raw.handshake("/ws/echo") == 404);
  CHECK(chatdesk::test::http_get(gw.port(), "/ws/echo").first == 404);
}

TEST_CASE("/ws/echo echoes text and binary under the chat endpoints' limits") {
  GatewayProcess gw(
      kShops,
      "redis: {enabled: false}\n"
      "diagnostics: {echo: true}\n"
      "limits: {max_message_bytes: 65536, message_rate: {per_second: 1, burst: 20}}\n");
  {
    RawWsClient raw(gw.port());
    REQUIRE(raw.handshake("/ws/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n") == 101);
    CHECK(raw.response_head().find("permessage-deflate") == std::string::npos);
    REQUIRE(raw.write_all(ws_frame(WsOpcode::text, "你好, echo")));
    auto text = raw.read_message();
    REQUIRE(text);
    CHECK(text->opcode == WsOpcode::text);
    CHECK(text->payload == "你好, echo");
    const std::string bytes("\x00\x01\xfe\xff", 4);
    REQUIRE(raw.write_all(ws_frame(WsOpcode::binary, bytes)));
    auto binary = raw.read_message();
    REQUIRE(binary);
    CHECK(binary->opcode == WsOpcode::binary);
    CHECK(binary->payload == bytes);
    // A fragmented message comes back whole; a ping in between is answered.
    REQUIRE(raw.write_all(ws_frame(WsOpcode::text, "frag", WsFrameOptions{}.not_final()) +
                          ws_frame(WsOpcode::ping, "p") +
                          ws_frame(WsOpcode::continuation, "mented")));
    auto pong = raw.read_frame();
    REQUIRE(pong);
    CHECK(pong->opcode == WsOpcode::pong);
    CHECK(pong->payload == "p");
    auto whole = raw.read_message();
    REQUIRE(whole);
    CHECK(whole->opcode == WsOpcode::text);
    CHECK(whole->payload == "fragmented");
    // The largest message allowed comes back (perhaps in several frames); one byte more is 1009.
    std::string max(65536, 'm');
    max[0] = '\0';
    max[65535] = '\xff';
    REQUIRE(raw.write_all(ws_frame(WsOpcode::binary, max)));
    auto big = raw.read_message();
    REQUIRE(big);
    CHECK(big->opcode == WsOpcode::binary);
    CHECK(big->payload.size() == max.size());
    CHECK((big->payload == max));
    REQUIRE(raw.write_all(ws_frame(WsOpcode::binary, max + "!")));
    CHECK(raw.read_close_code() == 1009u);
  }
  {
    // The rate limit on a fresh connection: the burst of 20 is echoed, the rest are refused with
    // rate_limited, and more than `burst` refusals in a row close it with 1008.
    RawWsClient raw(gw.port());
    REQUIRE(raw.handshake("/ws/echo") == 101);
    std::string burst;
    for (int i = 0; i < 60; ++i) burst += ws_frame(WsOpcode::text, "m" + std::to_string(i));
    REQUIRE(raw.write_all(burst));
    int echoed = 0;
    int refused = 0;
    std::optional<unsigned> close_code;
    while (auto frame = raw.read_message()) {
      if (frame->opcode == WsOpcode::close) {
        close_code = frame->close_code();
        break;
      }
      if (frame->payload.find("rate_limited") != std::string::npos)
        ++refused;
      else
        ++echoed;
    }
    CHECK(echoed >= 20);
    CHECK(echoed <= 22);  // a token a second may be earned meanwhile
    CHECK(refused >= 21);
    CHECK(refused <= 23);
    CHECK(close_code == 1008u);
  }
  CHECK(wait_closed_count(gw.port(), "too_big", 1) == 1);
  CHECK(wait_closed_count(gw.port(), "rate_limited", 1) == 1);
  // The echo never reached the desk.
  for (const char* kind : {"customer", "agent", "lead"})
    CHECK(metric(gw.port(), std::string("chatdesk_connections{kind=\"") + kind + "\"}") == 0);
  CHECK(metric(gw.port(), "chatdesk_conversations_active{shop=\"tea\"}") == 0);
}

namespace {

// Percentile (0-100) of `samples` in milliseconds; sorts them.
double percentile(std::vector<double>& samples, double p) {
  if (samples.empty()) return -1;
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(rank, samples.size() - 1)];
}

void raise_descriptor_limit(rlim_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

TEST_CASE("a client that never reads does not slow 1000 others and is cut past send_queue_limit") {
  constexpr int kShopsCount = 10;
  constexpr int kPairsPerShop = 50;
  constexpr int kPairs = kShopsCount * kPairsPerShop;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitized builds run the gateway several times slower: the same 1000 clients, fewer messages.
  constexpr auto kInterval = 1000ms;
  constexpr auto kFloodEvery = 10ms;
#else
  constexpr auto kInterval = 200ms;  // each customer sends one message this often: 2500/s in all
  constexpr auto kFloodEvery = 5ms;  // a 4000-character message to the stalled client
#endif
  constexpr auto kBaseline = 5s;
  constexpr std::size_t kQueueLimit = 300;
  constexpr int kAttempts = 3;
  // Both processes (this test and the gateway, which inherits the limit) need > 1000 sockets.
  raise_descriptor_limit(4096);
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  REQUIRE(limit.rlim_cur >= 2200);

  std::string shops;
  const std::string relaxed =
      "sla: {greeting_target: 1h, greeting_limit: 1h, reply_wait_limit: 1h}";
  for (int s = 0; s < kShopsCount; ++s)
    shops += "  - {id: load" + std::to_string(s) + ", max_concurrent: 1, " + relaxed + "}\n";
  // resume_grace 0s: a cut stalled customer's conversation ends at once, freeing the flooder.
  shops += "  - {id: stall, max_concurrent: 1, resume_grace: 0s, " + relaxed + "}\n";
  GatewayProcess gw(shops,
                    "redis: {enabled: false}\n"
                    "limits: {max_connections_per_ip: 2000, send_queue_limit: " +
                        std::to_string(kQueueLimit) +
                        ", message_rate: {per_second: 1000, burst: 1000}}\n");

  boost::asio::io_context ioc;
  // Sample bookkeeping: message seq -> send time and phase; latencies per phase.
  constexpr std::size_t kMaxMessages = 400'000;
  std::vector<Clock::time_point> sent_at(kMaxMessages);
  std::vector<int> phase_of(kMaxMessages, -1);
  std::vector<double> latencies[2];
  std::size_t next_seq = 0;
  std::size_t received = 0;
  int phase = -1;  // -1 warm-up (not measured), 0 baseline, 1 with the stalled client
  bool sending = false;

  // 500 agents, available, one per customer (max_concurrent 1).
  std::vector<std::shared_ptr<AsyncWsClient>> agents, customers;
  int agents_ready = 0;
  int assigned = 0;
  auto on_agent = [&](AsyncWsClient& self, const json::object& f) {
    auto type = f.at("type").as_string();
    if (type == "welcome") {
      self.send(R"({"type":"status","state":"available"})");
    } else if (type == "status") {
      ++agents_ready;
    } else if (type == "assigned") {
      self.conversation = std::string(f.at("conversation").as_string());
      ++assigned;
    } else if (type == "message") {
      const auto now = Clock::now();
      const auto seq = static_cast<std::size_t>(std::stoull(std::string(f.at("text").as_string())));
      ++received;
      if (seq < kMaxMessages && phase_of[seq] >= 0)
        latencies[phase_of[seq]].push_back(
            std::chrono::duration<double, std::milli>(now - sent_at[seq]).count());
    }
  };
  auto on_customer = [&](AsyncWsClient&, const json::object&) {};
  auto run_until = [&](auto done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done() && Clock::now() < deadline) ioc.run_for(20ms);
    return done();
  };
  auto run_for = [&](std::chrono::milliseconds span) { run_until([] { return false; }, span); };

  for (int i = 0; i < kPairs; ++i) {
    auto a = std::make_shared<AsyncWsClient>(
        ioc, gw.port(),
        "/ws/agent?shop=load" + std::to_string(i % kShopsCount) + "&agent=a" + std::to_string(i),
        on_agent);
    agents.push_back(a);
    a->start();
    if (i % 100 == 99) run_until([&] { return agents_ready >= i + 1; }, 30s);
  }
  REQUIRE(run_until([&] { return agents_ready == kPairs; }, 30s));

  // The flooder: the agent of the shop where each stalled customer lands.
  int flood_acked = 0;
  bool stalled_gone = false;
  Clock::time_point stalled_gone_at{};
  std::string stalled_conversation;
  auto flooder = std::make_shared<AsyncWsClient>(
      ioc, gw.port(), "/ws/agent?shop=stall&agent=flooder",
      [&](AsyncWsClient& self, const json::object& f) {
        auto type = f.at("type").as_string();
        if (type == "welcome") self.send(R"({"type":"status","state":"available"})");
        if (type == "assigned")
          stalled_conversation = std::string(f.at("conversation").as_string());
        if (type == "ack") ++flood_acked;
        if (type == "presence" && !f.at("customer_online").as_bool() && !stalled_gone) {
          stalled_gone = true;
          stalled_gone_at = Clock::now();
        }
      });
  flooder->start();

  for (int i = 0; i < kPairs; ++i) {
    auto c = std::make_shared<AsyncWsClient>(
        ioc, gw.port(), "/ws/customer?shop=load" + std::to_string(i % kShopsCount), on_customer);
    customers.push_back(c);
    c->start();
    if (i % 100 == 99) run_until([&] { return assigned >= i + 1; }, 30s);
  }
  REQUIRE(run_until([&] { return assigned == kPairs; }, 30s));
  for (auto& c : customers) REQUIRE(c->open());

  // Every customer sends one message per kInterval, spread evenly over the interval.
  std::vector<Clock::time_point> due(kPairs);
  boost::asio::steady_timer ticker(ioc);
  std::function<void()> tick = [&] {
    const auto now = Clock::now();
    if (sending) {
      for (int i = 0; i < kPairs; ++i) {
        if (due[i] > now || next_seq >= kMaxMessages) continue;
        const std::size_t seq = next_seq++;
        sent_at[seq] = Clock::now();
        phase_of[seq] = phase;
        customers[i]->send(R"({"type":"message","text":")" + std::to_string(seq) + "\"}");
        due[i] += kInterval;
        if (due[i] < now) due[i] = now + kInterval;  // fell behind: do not burst to catch up
      }
    }
    ticker.expires_after(1ms);
    ticker.async_wait([&](boost::system::error_code ec) {
      if (!ec) tick();
    });
  };
  auto start_sending = [&](int p) {
    phase = p;
    const auto now = Clock::now();
    for (int i = 0; i < kPairs; ++i) due[i] = now + kInterval * i / kPairs;
    sending = true;
  };
  auto stop_sending = [&] {
    sending = false;
    const auto sent = next_seq;
    return run_until([&] { return received == sent; }, 20s);
  };
  tick();
  start_sending(-1);  // warm-up, not measured
  run_for(1s);
  REQUIRE(stop_sending());

  const std::string flood_frame = json::serialize(
      json::object{{"type", "message"}, {"conversation", "?"}, {"text", std::string(4000, 'z')}});
  boost::asio::steady_timer flood_timer(ioc);
  int flood_sent = 0;
  std::string frame_for_conversation;
  std::function<void()> flood = [&] {
    if (stalled_gone) return;
    flooder->send(frame_for_conversation);
    ++flood_sent;
    flood_timer.expires_after(kFloodEvery);
    flood_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) flood();
    });
  };

  // One attempt: a baseline, then the same load with a stalled client until the gateway cuts it.
  // Head-of-line blocking behind the stalled client (a blocking write, a shared queue, a loop
  // that waits for one socket) delays the others for as long as it is stalled, seconds here, in
  // every attempt. On a shared 2-core machine the gateway, these 1000 clients and whatever else
  // runs (compilers, other load tests) compete for the cores: one 20-30 ms scheduling gap delays
  // the ~1% of messages in flight during it, which is the p99 (measured: baseline p99 from 0.8 to
  // 50 ms between runs under parallel builds), and now and then the whole machine stalls for most
  // of a second. So:
  // - p99 <= 2 x baseline p99 + 50 ms: above the scheduling noise, far below a blocked loop;
  // - p50 <= 2 x baseline p50 + 2 ms: the median moves only when the delay is sustained, so this
  //   catches a milder blocking (measured: a 20 ms wait per frame queued for the stalled client,
  //   injected on purpose, moved the p50 from 0.15 to 8.8 ms while the p99 stayed at 26 ms);
  // - a fresh attempt (at most three, same gateway and clients) gets past a machine-wide stall,
  //   which does not strike every attempt; blocking fails all three.
  struct Attempt {
    double base_p50, base_p99, base_max, with_p50, with_p99, with_max, stalled_ms;
    std::size_t base_n, with_n;
    int flood_sent, flood_acked;
  };
  std::vector<Attempt> attempts;
  std::ostringstream report;
  bool within_bound = false;
  for (int attempt = 1; attempt <= kAttempts && !within_bound; ++attempt) {
    latencies[0].clear();
    latencies[1].clear();
    start_sending(0);
    run_for(kBaseline);
    REQUIRE(stop_sending());

    // The stalled customer: a 4 KiB receive buffer, the handshake, then never a read.
    stalled_conversation.clear();
    stalled_gone = false;
    flood_sent = flood_acked = 0;
    RawWsClient stalled(gw.port(), 4096);
    REQUIRE(stalled.handshake("/ws/customer?shop=stall") == 101);
    REQUIRE(run_until([&] { return !stalled_conversation.empty(); }, 10s));
    frame_for_conversation = flood_frame;
    frame_for_conversation.replace(frame_for_conversation.find("\"?\""), 3,
                                   "\"" + stalled_conversation + "\"");

    // With it: the flooder sends it a 4000-character message every kFloodEvery until the gateway
    // cuts it (the kernel's socket buffers take a few MB first, then the gateway's queue fills);
    // the others chat as before, measured until the cut.
    start_sending(1);
    const auto stall_started = Clock::now();
    flood();
    REQUIRE(run_until([&] { return stalled_gone; }, 60s));
    flood_timer.cancel();
    REQUIRE(stop_sending());

    Attempt a{};
    std::vector<double> base = latencies[0], with = latencies[1];
    a.base_p50 = percentile(base, 50);
    a.base_p99 = percentile(base, 99);
    a.base_max = percentile(base, 100);
    a.with_p50 = percentile(with, 50);
    a.with_p99 = percentile(with, 99);
    a.with_max = percentile(with, 100);
    a.base_n = base.size();
    a.with_n = with.size();
    a.stalled_ms =
        std::chrono::duration<double, std::milli>(stalled_gone_at - stall_started).count();
    a.flood_sent = flood_sent;
    a.flood_acked = flood_acked;
    attempts.push_back(a);
    std::ostringstream line;
    line << "attempt " << attempt << ": customer->agent latency over " << kPairs
         << " pairs: baseline p50 " << a.base_p50 << " ms, p99 " << a.base_p99 << " ms, max "
         << a.base_max << " ms (" << a.base_n << " messages); with the stalled client p50 "
         << a.with_p50 << " ms, p99 " << a.with_p99 << " ms, max " << a.with_max << " ms ("
         << a.with_n << " messages over " << a.stalled_ms << " ms until it was cut; flooder sent "
         << a.flood_sent << ", acked " << a.flood_acked << ")\n";
    report << line.str();
    std::cout << line.str() << std::flush;

    // Enough samples for a p99 in both phases.
    const auto expected_base = static_cast<std::size_t>(kPairs * (kBaseline / kInterval));
    CHECK(a.base_n >= expected_base * 8 / 10);
    CHECK(a.with_n >= expected_base * 4 / 10);
    // The stalled client was cut because its queue passed the limit, not before: the gateway
    // accepted (acked) more than send_queue_limit frames for it, and counted a slow reader.
    CHECK(a.flood_acked > static_cast<int>(kQueueLimit));
    CHECK(wait_closed_count(gw.port(), "slow_reader", attempt) == attempt);
    within_bound = a.with_p99 <= 2 * a.base_p99 + 50 && a.with_p50 <= 2 * a.base_p50 + 2;
  }
  INFO(report.str());
  CHECK(within_bound);
  // Nothing was lost, and everyone else is still connected.
  CHECK(received == next_seq);
  for (auto& c : customers) CHECK(c->open());
  for (auto& a : agents) CHECK(a->open());

  ticker.cancel();
  for (auto& c : customers) c->cut();
  for (auto& a : agents) a->cut();
  flooder->cut();
  ioc.run_for(500ms);
}
