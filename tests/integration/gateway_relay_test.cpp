// The real gateway process with real WebSocket clients: two shops, several agents and customers.

#include <catch2/catch.hpp>

#include "support/gateway_process.hpp"
#include "support/ws_client.hpp"

using chatdesk::test::GatewayProcess;
using chatdesk::test::WsClient;
namespace json = boost::json;

namespace {

const std::string kTwoShops =
    "  - {id: tea, name: \"Tea house\", timezone: Asia/Shanghai, max_concurrent: 2}\n"
    "  - {id: shoes, name: \"Shoe shop\", timezone: Asia/Shanghai}\n";

std::unique_ptr<WsClient> agent(const GatewayProcess& gw, const std::string& shop,
                                const std::string& id, bool available = true) {
  auto c = std::make_unique<WsClient>(gw.port(), "/ws/agent?shop=" + shop + "&agent=" + id);
  auto welcome = c->expect("welcome");
  REQUIRE(welcome["agent"].as_string() == id);
  REQUIRE(welcome["shop"].as_string() == shop);
  if (available) {
    c->send({{"type", "status"}, {"state", "available"}});
    REQUIRE(c->expect("status")["state"].as_string() == "available");
  }
  return c;
}

struct Customer {
  std::unique_ptr<WsClient> ws;
  std::string conversation;
  std::string customer;
  std::string resume;
};

Customer customer(const GatewayProcess& gw, const std::string& shop,
                  const std::string& query = "") {
  Customer c;
  c.ws = std::make_unique<WsClient>(gw.port(), "/ws/customer?shop=" + shop + query);
  auto welcome = c.ws->expect("welcome");
  c.conversation = std::string(welcome["conversation"].as_string());
  c.customer = std::string(welcome["customer"].as_string());
  c.resume = std::string(welcome["resume"].as_string());
  return c;
}

}  // namespace

TEST_CASE("the gateway serves health, metrics and both consoles on one port") {
  GatewayProcess gw(kTwoShops);
  CHECK(chatdesk::test::http_get(gw.port(), "/healthz") ==
        std::pair<int, std::string>{200, "ok\n"});
  auto metrics = chatdesk::test::http_get(gw.port(), "/metrics");
  CHECK(metrics.first == 200);
  CHECK(metrics.second.find("chatdesk_queue_length{shop=\"tea\"} 0") != std::string::npos);
  auto agent_page = chatdesk::test::http_get(gw.port(), "/");
  CHECK(agent_page.first == 200);
  CHECK(agent_page.second.find("<html") != std::string::npos);
  CHECK(chatdesk::test::http_get(gw.port(), "/chat?shop=tea").first == 200);
  CHECK(chatdesk::test::http_get(gw.port(), "/static/../CMakeLists.txt").first == 404);
  CHECK(chatdesk::test::http_get(gw.port(), "/nope").first == 404);
}

TEST_CASE(
    "upgrades to an unknown shop or without an agent id are refused before the WebSocket opens") {
  GatewayProcess gw(kTwoShops);
  CHECK_THROWS(WsClient(gw.port(), "/ws/customer?shop=nope"));
  CHECK_THROWS(WsClient(gw.port(), "/ws/customer"));
  CHECK_THROWS(WsClient(gw.port(), "/ws/agent?shop=tea"));
  CHECK_THROWS(WsClient(gw.port(), "/ws/agent?shop=tea&agent=bad%20id"));
  CHECK_THROWS(WsClient(gw.port(), "/ws/other?shop=tea"));
}

TEST_CASE("customers are spread over two shops' agents and messages flow both ways in order") {
  GatewayProcess gw(kTwoShops);
  auto alice = agent(gw, "tea", "alice");
  auto bob = agent(gw, "tea", "bob");
  auto carol = agent(gw, "shoes", "carol");

  // Fewest open conversations first; ties to the agent idle longest (alice became available first).
  auto c1 = customer(gw, "tea");
  CHECK(alice->expect("assigned")["conversation"].as_string() == c1.conversation);
  CHECK(c1.ws->expect("assigned")["agent"].as_string() == "alice");
  auto c2 = customer(gw, "tea");
  CHECK(bob->expect("assigned")["conversation"].as_string() == c2.conversation);
  CHECK(c2.ws->expect("assigned")["agent"].as_string() == "bob");
  auto c3 = customer(gw, "shoes");
  CHECK(carol->expect("assigned")["conversation"].as_string() == c3.conversation);
  CHECK(c3.ws->expect("assigned")["agent"].as_string() == "carol");

  // Ten Chinese messages each way, interleaved; every one acknowledged and delivered in order.
  for (int i = 0; i < 10; ++i) {
    std::string text = "您好，第" + std::to_string(i) + "个问题：这双鞋有43码吗？";
    c1.ws->send({{"type", "message"}, {"text", text}, {"client_msg_id", "m" + std::to_string(i)}});
    auto ack = c1.ws->expect("ack");
    CHECK(ack["client_msg_id"].as_string() == "m" + std::to_string(i));
    CHECK(ack["id"].as_string() == c1.conversation + ":" + std::to_string(2 * i + 1));
    auto got = alice->expect("message");
    CHECK(got["text"].as_string() == text);
    CHECK(got["from"].as_string() == "customer");
    CHECK(got["id"].as_string() == ack["id"].as_string());

    std::string reply = "您好！第" + std::to_string(i) + "个回答：有的，亲。";
    alice->send({{"type", "message"},
                 {"conversation", c1.conversation},
                 {"text", reply},
                 {"client_msg_id", "r" + std::to_string(i)}});
    CHECK(alice->expect("ack")["client_msg_id"].as_string() == "r" + std::to_string(i));
    auto back = c1.ws->expect("message");
    CHECK(back["text"].as_string() == reply);
    CHECK(back["from"].as_string() == "agent");
    CHECK(back["agent"].as_string() == "alice");
  }

  // Nothing leaked to the other agents or customers.
  CHECK(bob->silent());
  CHECK(carol->silent());
  CHECK(c2.ws->silent());
  CHECK(c3.ws->silent());

  // An agent of another shop cannot act on the conversation; an agent of the same shop neither.
  carol->send({{"type", "message"},
               {"conversation", c1.conversation},
               {"text", "hi"},
               {"client_msg_id", "x"}});
  auto err = carol->expect("error");
  CHECK(err["code"].as_string() == "not_owner");
  CHECK(err["client_msg_id"].as_string() == "x");
  bob->send({{"type", "close"}, {"conversation", c1.conversation}});
  CHECK(bob->expect("error")["code"].as_string() == "not_owner");
  CHECK(c1.ws->silent());
}

TEST_CASE("messages written while queued reach the agent in history, and capacity is respected") {
  GatewayProcess gw(kTwoShops);
  auto c1 = customer(gw, "tea");
  c1.ws->send({{"type", "message"}, {"text", "有人吗？"}, {"client_msg_id", "q1"}});
  c1.ws->expect("ack");
  c1.ws->send({{"type", "message"}, {"text", "我想退货"}, {"client_msg_id", "q2"}});
  c1.ws->expect("ack");
  auto c2 = customer(gw, "tea");
  auto c3 = customer(gw, "tea");

  auto dave = agent(gw, "tea", "dave");  // max_concurrent 2 in this shop
  auto a1 = dave->expect("assigned");
  CHECK(a1["conversation"].as_string() == c1.conversation);
  auto& history = a1["history"].as_array();
  REQUIRE(history.size() == 2);
  CHECK(history[0].as_object().at("text").as_string() == "有人吗？");
  CHECK(history[1].as_object().at("text").as_string() == "我想退货");
  CHECK(a1["greeted"].as_bool() == false);
  CHECK(a1["waiting_since"].is_int64());
  CHECK(dave->expect("assigned")["conversation"].as_string() == c2.conversation);
  CHECK(dave->silent());  // c3 waits: dave is at capacity

  // Closing one frees a slot, and the queue is pulled.
  dave->send({{"type", "close"}, {"conversation", c2.conversation}});
  CHECK(c2.ws->expect("closed")["by"].as_string() == "agent");
  CHECK(dave->expect("assigned")["conversation"].as_string() == c3.conversation);
  c2.ws->send({{"type", "message"}, {"text", "还在吗"}, {"client_msg_id", "late"}});
  CHECK(c2.ws->expect("error")["code"].as_string() == "conversation_closed");
}

TEST_CASE("an agent who disconnects hands its conversations back to the queue with their history") {
  GatewayProcess gw(kTwoShops);
  auto erin = agent(gw, "tea", "erin");
  auto c1 = customer(gw, "tea");
  erin->expect("assigned");
  CHECK(c1.ws->expect("assigned")["agent"].as_string() == "erin");
  c1.ws->send({{"type", "message"}, {"text", "订单号12345"}, {"client_msg_id", "a"}});
  erin->expect("message");
  erin.reset();  // the connection drops

  auto frank = agent(gw, "tea", "frank");
  auto a = frank->expect("assigned");
  CHECK(a["conversation"].as_string() == c1.conversation);
  CHECK(a["history"].as_array().size() == 1);
  CHECK(c1.ws->expect("assigned")["agent"].as_string() == "frank");
}

TEST_CASE("transfer and handover move conversations with a note") {
  GatewayProcess gw(kTwoShops);
  auto gina = agent(gw, "tea", "gina");
  auto c1 = customer(gw, "tea");
  gina->expect("assigned");
  auto hank = agent(gw, "tea", "hank");
  auto c2 = customer(gw, "tea");
  hank->expect("assigned");

  gina->send({{"type", "transfer"},
              {"conversation", c1.conversation},
              {"to", "hank"},
              {"note", "要退款"}});
  CHECK(gina->expect("unassigned")["reason"].as_string() == "transferred");
  auto moved = hank->expect("assigned");
  CHECK(moved["conversation"].as_string() == c1.conversation);
  CHECK(moved["note"].as_string() == "要退款");

  hank->send({{"type", "handover"}, {"to", "gina"}, {"note", "交班：两位顾客等物流"}});
  auto h1 = gina->expect("assigned");
  auto h2 = gina->expect("assigned");
  CHECK(h1["note"].as_string() == "交班：两位顾客等物流");
  CHECK(h2["note"].as_string() == "交班：两位顾客等物流");
  CHECK(hank->expect("unassigned")["reason"].as_string() == "handover");

  gina->send({{"type", "transfer"}, {"conversation", c2.conversation}, {"to", "nobody"}});
  CHECK(gina->expect("error")["code"].as_string() == "target_unavailable");
}

TEST_CASE("a customer who reconnects with the resume secret continues the same conversation") {
  GatewayProcess gw(kTwoShops);
  auto ivy = agent(gw, "shoes", "ivy");
  std::string conversation, id, resume;
  {
    auto c = customer(gw, "shoes");
    conversation = c.conversation;
    id = c.customer;
    resume = c.resume;
    ivy->expect("assigned");
    c.ws->send({{"type", "message"}, {"text", "我先下线"}, {"client_msg_id", "a"}});
    ivy->expect("message");
  }
  CHECK(ivy->expect("presence")["customer_online"].as_bool() == false);
  auto back = customer(gw, "shoes", "&customer=" + id + "&resume=" + resume);
  CHECK(back.conversation == conversation);
  CHECK(ivy->expect("presence")["customer_online"].as_bool() == true);

  // The id alone (a wrong secret) opens a new conversation under a new customer id.
  auto other = customer(gw, "shoes", "&customer=" + id + "&resume=wrong");
  CHECK(other.conversation != conversation);
  CHECK(other.customer != id);
}

TEST_CASE("bad frames get an error and the connection stays open") {
  GatewayProcess gw(kTwoShops);
  auto jack = agent(gw, "tea", "jack");
  auto c = customer(gw, "tea");
  jack->expect("assigned");
  c.ws->send_raw("{not json");
  CHECK(c.ws->expect("error")["code"].as_string() == "bad_request");
  c.ws->send({{"type", "dance"}});
  CHECK(c.ws->expect("error")["code"].as_string() == "unknown_type");
  c.ws->send_binary("\x01\x02");
  CHECK(c.ws->expect("error")["code"].as_string() == "bad_request");
  jack->send({{"type", "message"}, {"conversation", c.conversation}});
  CHECK(jack->expect("error")["code"].as_string() == "bad_request");
  // Still working both ways.
  c.ws->send({{"type", "message"}, {"text", "还好吗"}, {"client_msg_id", "ok"}});
  CHECK(c.ws->expect("ack")["client_msg_id"].as_string() == "ok");
  CHECK(jack->expect("message")["text"].as_string() == "还好吗");
  // Each refusal is counted by code.
  auto metrics = chatdesk::test::http_get(gw.port(), "/metrics").second;
  CHECK(metrics.find("chatdesk_protocol_errors_total{code=\"bad_request\"} 3") !=
        std::string::npos);
  CHECK(metrics.find("chatdesk_protocol_errors_total{code=\"unknown_type\"} 1") !=
        std::string::npos);
}

TEST_CASE("SIGTERM closes clients with 1001 going away and exits 0") {
  GatewayProcess gw(kTwoShops);
  auto kim = agent(gw, "tea", "kim");
  auto c = customer(gw, "tea");
  kim->expect("assigned");
  c.ws->expect("assigned");
  CHECK(gw.stop() == 0);
  CHECK_FALSE(c.ws->read(std::chrono::seconds(2)).has_value());
  CHECK(c.ws->close_code() == 1001);
}
