// Tests of the frame parser (gateway/core/protocol.cpp) against docs/protocol.md: every frame a
// customer or an agent may send, and every way a frame can be wrong.

#include <catch2/catch.hpp>
#include <string>
#include <variant>

#include "chatdesk/gateway/protocol.hpp"
#include "chatdesk/monitor/utf8.hpp"

using namespace chatdesk::gateway;

namespace {

ParseLimits limits(std::size_t max_text_chars = 5000) {
  ParseLimits l;
  l.max_text_chars = max_text_chars;
  return l;
}

CustomerCommand customer_ok(std::string_view frame, const ParseLimits& l = limits()) {
  auto r = parse_customer_frame(frame, l);
  if (auto* e = std::get_if<ProtocolError>(&r)) {
    INFO("frame: " << frame << " → " << to_string(e->code) << ": " << e->message);
    FAIL("expected the frame to parse");
  }
  return std::get<CustomerCommand>(std::move(r));
}

AgentCommand agent_ok(std::string_view frame, const ParseLimits& l = limits()) {
  auto r = parse_agent_frame(frame, l);
  if (auto* e = std::get_if<ProtocolError>(&r)) {
    INFO("frame: " << frame << " → " << to_string(e->code) << ": " << e->message);
    FAIL("expected the frame to parse");
  }
  return std::get<AgentCommand>(std::move(r));
}

ProtocolError customer_error(std::string_view frame, const ParseLimits& l = limits()) {
  INFO("frame: " << frame);
  auto r = parse_customer_frame(frame, l);
  REQUIRE(std::holds_alternative<ProtocolError>(r));
  auto e = std::get<ProtocolError>(std::move(r));
  CHECK_FALSE(e.message.empty());
  return e;
}

ProtocolError agent_error(std::string_view frame, const ParseLimits& l = limits()) {
  INFO("frame: " << frame);
  auto r = parse_agent_frame(frame, l);
  REQUIRE(std::holds_alternative<ProtocolError>(r));
  auto e = std::get<ProtocolError>(std::move(r));
  CHECK_FALSE(e.message.empty());
  return e;
}

// Both endpoints refuse `frame` with `code` (frames that are wrong before their type matters).
void both_refuse(std::string_view frame, ErrorCode code, std::string_view echoed = {}) {
  INFO("frame: " << frame);
  auto c = customer_error(frame);
  CHECK(c.code == code);
  CHECK(c.client_msg_id == echoed);
  auto a = agent_error(frame);
  CHECK(a.code == code);
  CHECK(a.client_msg_id == echoed);
}

template <class T, class V>
T get(V&& v) {
  REQUIRE(std::holds_alternative<T>(v));
  return std::get<T>(std::forward<V>(v));
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("error codes have the names of docs/protocol.md", "[protocol]") {
  CHECK(to_string(ErrorCode::bad_request) == "bad_request");
  CHECK(to_string(ErrorCode::unknown_type) == "unknown_type");
  CHECK(to_string(ErrorCode::too_large) == "too_large");
  CHECK(to_string(ErrorCode::not_owner) == "not_owner");
  CHECK(to_string(ErrorCode::target_unavailable) == "target_unavailable");
  CHECK(to_string(ErrorCode::conversation_closed) == "conversation_closed");
  CHECK(to_string(ErrorCode::rate_limited) == "rate_limited");
  CHECK(to_string(ErrorCode::replaced) == "replaced");
}

// --- customer frames ----------------------------------------------------------------------------

TEST_CASE("customer message with text and client_msg_id", "[protocol]") {
  auto m = get<CustomerMessage>(
      customer_ok(R"({"type":"message","text":"在吗？","client_msg_id":"m1"})"));
  CHECK(m.text == "在吗？");
  CHECK(m.client_msg_id == "m1");
}

TEST_CASE("customer message without client_msg_id", "[protocol]") {
  auto m = get<CustomerMessage>(customer_ok(R"({"type":"message","text":"hi"})"));
  CHECK(m.text == "hi");
  CHECK(m.client_msg_id.empty());
}

TEST_CASE("customer message text keeps escapes, emoji and spaces as decoded UTF-8", "[protocol]") {
  auto m = get<CustomerMessage>(
      customer_ok(R"({"type":"message","text":"a\"b\\c\n\u60a8\ud83d\ude00 "})"));
  CHECK(m.text == "a\"b\\c\n您\xF0\x9F\x98\x80 ");
}

TEST_CASE("customer typing and close", "[protocol]") {
  CHECK(std::holds_alternative<CustomerTyping>(customer_ok(R"({"type":"typing"})")));
  CHECK(std::holds_alternative<CustomerClose>(customer_ok(R"({"type":"close"})")));
}

TEST_CASE("unknown fields are ignored", "[protocol]") {
  auto m = get<CustomerMessage>(customer_ok(
      R"({"extra":{"deep":[1,2,{"x":null}]},"type":"message","text":"hi","n":1.5,"b":true})"));
  CHECK(m.text == "hi");
  CHECK(std::holds_alternative<CustomerTyping>(customer_ok(R"({"type":"typing","state":42})")));
  CHECK(std::holds_alternative<CustomerClose>(customer_ok(R"({"type":"close","conversation":1})")));
  auto s = get<AgentStatusCommand>(agent_ok(R"({"type":"status","state":"away","x":[]})"));
  CHECK(s.state == AgentPresence::away);
  auto c = get<AgentClose>(agent_ok(R"({"type":"close","conversation":"c-1","text":5})"));
  CHECK(c.conversation == "c-1");
}

TEST_CASE("whitespace around the object is allowed", "[protocol]") {
  CHECK(std::holds_alternative<CustomerClose>(customer_ok(" \n\t{ \"type\" : \"close\" }\r\n ")));
}

TEST_CASE("a customer may not send agent frames", "[protocol]") {
  for (const char* frame : {R"({"type":"status","state":"available"})",
                            R"({"type":"transfer","conversation":"c-1","to":null})",
                            R"({"type":"handover","to":null})", R"({"type":"welcome"})"}) {
    auto e = customer_error(frame);
    CHECK(e.code == ErrorCode::unknown_type);
  }
}

TEST_CASE("an agent may not send customer-only or server frames", "[protocol]") {
  for (const char* frame : {R"({"type":"ack"})", R"({"type":"assigned"})", R"({"type":"welcome"})",
                            R"({"type":"desk"})"}) {
    auto e = agent_error(frame);
    CHECK(e.code == ErrorCode::unknown_type);
  }
}

// --- agent frames -------------------------------------------------------------------------------

TEST_CASE("agent status available and away", "[protocol]") {
  CHECK(get<AgentStatusCommand>(agent_ok(R"({"type":"status","state":"available"})")).state ==
        AgentPresence::available);
  CHECK(get<AgentStatusCommand>(agent_ok(R"({"type":"status","state":"away"})")).state ==
        AgentPresence::away);
}

TEST_CASE("agent message", "[protocol]") {
  auto m = get<AgentMessage>(agent_ok(
      R"({"type":"message","conversation":"c-0123456789abcdef","text":"您好，请问有什么可以帮您？","client_msg_id":"a-1.x_y:z"})"));
  CHECK(m.conversation == "c-0123456789abcdef");
  CHECK(m.text == "您好，请问有什么可以帮您？");
  CHECK(m.client_msg_id == "a-1.x_y:z");

  auto bare = get<AgentMessage>(agent_ok(R"({"type":"message","conversation":"c-1","text":"ok"})"));
  CHECK(bare.client_msg_id.empty());
}

TEST_CASE("agent typing start and stop", "[protocol]") {
  auto start =
      get<AgentTyping>(agent_ok(R"({"type":"typing","conversation":"c-1","state":"start"})"));
  CHECK(start.conversation == "c-1");
  CHECK(start.start);
  auto stop =
      get<AgentTyping>(agent_ok(R"({"type":"typing","conversation":"c-2","state":"stop"})"));
  CHECK(stop.conversation == "c-2");
  CHECK_FALSE(stop.start);
}

TEST_CASE("agent transfer to an agent or to the queue, with and without a note", "[protocol]") {
  auto to_bob = get<AgentTransfer>(
      agent_ok(R"({"type":"transfer","conversation":"c-1","to":"bob","note":"要退货，订单 42"})"));
  CHECK(to_bob.conversation == "c-1");
  REQUIRE(to_bob.to);
  CHECK(*to_bob.to == "bob");
  CHECK(to_bob.note == "要退货，订单 42");

  auto to_bob_bare =
      get<AgentTransfer>(agent_ok(R"({"type":"transfer","conversation":"c-1","to":"bob"})"));
  REQUIRE(to_bob_bare.to);
  CHECK(*to_bob_bare.to == "bob");
  CHECK(to_bob_bare.note.empty());

  auto to_queue = get<AgentTransfer>(
      agent_ok(R"({"type":"transfer","conversation":"c-2","to":null,"note":"n"})"));
  CHECK(to_queue.conversation == "c-2");
  CHECK_FALSE(to_queue.to);
  CHECK(to_queue.note == "n");

  auto to_queue_bare =
      get<AgentTransfer>(agent_ok(R"({"type":"transfer","conversation":"c-2","to":null})"));
  CHECK_FALSE(to_queue_bare.to);
  CHECK(to_queue_bare.note.empty());

  auto empty_note = get<AgentTransfer>(
      agent_ok(R"({"type":"transfer","conversation":"c-2","to":null,"note":""})"));
  CHECK(empty_note.note.empty());
}

TEST_CASE("agent close", "[protocol]") {
  CHECK(get<AgentClose>(agent_ok(R"({"type":"close","conversation":"c-9"})")).conversation ==
        "c-9");
}

TEST_CASE("agent handover to an agent or to the queue", "[protocol]") {
  auto to_bob = get<AgentHandover>(agent_ok(R"({"type":"handover","to":"bob","note":"交班"})"));
  REQUIRE(to_bob.to);
  CHECK(*to_bob.to == "bob");
  CHECK(to_bob.note == "交班");

  auto to_queue = get<AgentHandover>(agent_ok(R"({"type":"handover","to":null})"));
  CHECK_FALSE(to_queue.to);
  CHECK(to_queue.note.empty());
}

// --- frames that are not a JSON object with a type ---------------------------------------------

TEST_CASE("not JSON, truncated JSON, trailing data", "[protocol]") {
  both_refuse("", ErrorCode::bad_request);
  both_refuse("   ", ErrorCode::bad_request);
  both_refuse("hello", ErrorCode::bad_request);
  both_refuse("{type:'message'}", ErrorCode::bad_request);
  both_refuse(R"({"type":"close")", ErrorCode::bad_request);
  both_refuse(R"({"type":"clo)", ErrorCode::bad_request);
  both_refuse(R"({"type":"close",})", ErrorCode::bad_request);
  both_refuse(R"({"type":"close"} {"type":"close"})", ErrorCode::bad_request);
  both_refuse(R"({"type":"close"}x)", ErrorCode::bad_request);
}

TEST_CASE("JSON that is not an object", "[protocol]") {
  both_refuse(R"([{"type":"close"}])", ErrorCode::bad_request);
  both_refuse(R"("close")", ErrorCode::bad_request);
  both_refuse("42", ErrorCode::bad_request);
  both_refuse("true", ErrorCode::bad_request);
  both_refuse("null", ErrorCode::bad_request);
}

TEST_CASE("missing or non-string type", "[protocol]") {
  both_refuse("{}", ErrorCode::bad_request);
  both_refuse(R"({"text":"hi"})", ErrorCode::bad_request);
  both_refuse(R"({"type":null})", ErrorCode::bad_request);
  both_refuse(R"({"type":1})", ErrorCode::bad_request);
  both_refuse(R"({"type":["message"]})", ErrorCode::bad_request);
  both_refuse(R"({"type":{"name":"message"}})", ErrorCode::bad_request);
  both_refuse(R"({"type":true})", ErrorCode::bad_request);
}

TEST_CASE("a frame without a usable type still echoes its client_msg_id", "[protocol]") {
  both_refuse(R"({"text":"hi","client_msg_id":"m7"})", ErrorCode::bad_request, "m7");
  both_refuse(R"({"type":3,"client_msg_id":"m8"})", ErrorCode::bad_request, "m8");
}

TEST_CASE("unknown type", "[protocol]") {
  for (const char* frame : {R"({"type":"hello"})", R"({"type":""})", R"({"type":"Message"})",
                            R"({"type":"message "})"}) {
    INFO(frame);
    CHECK(customer_error(frame).code == ErrorCode::unknown_type);
    CHECK(agent_error(frame).code == ErrorCode::unknown_type);
  }
}

TEST_CASE("unknown type echoes client_msg_id", "[protocol]") {
  const char* frame = R"({"type":"shout","text":"hi","client_msg_id":"m3"})";
  auto c = customer_error(frame);
  CHECK(c.code == ErrorCode::unknown_type);
  CHECK(c.client_msg_id == "m3");
  auto a = agent_error(frame);
  CHECK(a.code == ErrorCode::unknown_type);
  CHECK(a.client_msg_id == "m3");
}

TEST_CASE("unknown type's message does not repeat a long type", "[protocol]") {
  std::string type(10'000, 'x');
  auto e = customer_error(R"({"type":")" + type + R"("})");
  CHECK(e.code == ErrorCode::unknown_type);
  CHECK(e.message.size() < 200);
}

// Found by tests/fuzz/protocol_fuzz: the type was cut at 32 bytes, splitting a character, and the
// error frame was no longer UTF-8 (a browser closes the WebSocket on such a text frame).
TEST_CASE("unknown type's message is cut between characters, never inside one", "[protocol]") {
  for (const std::string& prefix : {std::string(), std::string("a"), std::string("ab")}) {
    for (const std::string& ch : {std::string("汉"), std::string("😀")}) {  // 3 and 4 bytes
      std::string type = prefix;
      for (int i = 0; i < 12; ++i) type += ch;
      INFO("type: " << type);
      const std::string frame = R"({"type":")" + type + R"(","client_msg_id":"m1"})";
      for (const ProtocolError& e : {customer_error(frame), agent_error(frame)}) {
        CHECK(e.code == ErrorCode::unknown_type);
        CHECK(chatdesk::monitor::utf8::is_valid(e.message));
        CHECK(e.message.find("unknown type '" + prefix) == 0);
      }
    }
  }
  // A type short enough is repeated whole.
  CHECK(customer_error(R"({"type":"\u6C49\u6C49"})").message ==
        "unknown type '汉汉' for a customer");
}

TEST_CASE("invalid UTF-8 inside a string is refused", "[protocol]") {
  both_refuse("{\"type\":\"message\",\"text\":\"a\xFF\"}", ErrorCode::bad_request);
  // A lone continuation byte, an overlong encoding, a UTF-16 surrogate encoded in UTF-8.
  both_refuse("{\"type\":\"message\",\"text\":\"\x80\"}", ErrorCode::bad_request);
  both_refuse("{\"type\":\"message\",\"text\":\"\xC0\xAF\"}", ErrorCode::bad_request);
  both_refuse("{\"type\":\"message\",\"text\":\"\xED\xA0\x80\"}", ErrorCode::bad_request);
  // Truncated multi-byte sequence: the first two bytes of 您 (E6 82 A8).
  both_refuse("{\"type\":\"message\",\"text\":\"\xE6\x82\"}", ErrorCode::bad_request);
  // In a key and in the type.
  both_refuse("{\"type\":\"close\",\"\xFF\":1}", ErrorCode::bad_request);
  both_refuse("{\"type\":\"clo\xFF\"}", ErrorCode::bad_request);
  // An escaped lone surrogate is not a character either.
  both_refuse(R"({"type":"message","text":"\ud800"})", ErrorCode::bad_request);
}

TEST_CASE("a frame the caller has checked as UTF-8 is not checked again", "[protocol]") {
  ParseLimits checked;
  checked.frame_is_valid_utf8 = true;
  // Valid frames read the same either way.
  const std::string frame = R"({"type":"message","text":"您好, \u60a8 😀","client_msg_id":"m1"})";
  auto m =
      std::get<CustomerMessage>(std::get<CustomerCommand>(parse_customer_frame(frame, checked)));
  CHECK(m.text == "您好, 您 😀");
  CHECK(m.client_msg_id == "m1");
  // The second check is really skipped: bytes nobody checked would get through, which is why only
  // callers holding a WebSocket text message (validated by Beast) set it.
  const std::string unchecked = "{\"type\":\"message\",\"text\":\"a\xFF\"}";
  CHECK(std::holds_alternative<ProtocolError>(parse_customer_frame(unchecked, ParseLimits{})));
  CHECK(std::holds_alternative<CustomerCommand>(parse_customer_frame(unchecked, checked)));
  // Escapes are still checked: an escaped lone surrogate is refused.
  CHECK(std::holds_alternative<ProtocolError>(
      parse_customer_frame(R"({"type":"message","text":"\ud800"})", checked)));
}

TEST_CASE("deeply nested JSON is refused, shallow nesting is not", "[protocol]") {
  std::string deep =
      R"({"type":"close","x":)" + std::string(10'000, '[') + std::string(10'000, ']') + "}";
  both_refuse(deep, ErrorCode::bad_request);
  std::string just_too_deep =
      R"({"type":"close","x":)" + std::string(16, '[') + std::string(16, ']') + "}";
  both_refuse(just_too_deep, ErrorCode::bad_request);
  std::string shallow = R"({"type":"close","x":)" + std::string(5, '[') + std::string(5, ']') + "}";
  CHECK(std::holds_alternative<CustomerClose>(customer_ok(shallow)));
}

TEST_CASE("a large frame that needs more than the stack buffer parses", "[protocol]") {
  std::string text = repeat("您", 4000);  // 12 000 bytes
  auto m = get<CustomerMessage>(customer_ok(R"({"type":"message","text":")" + text + R"("})"));
  CHECK(m.text == text);
}

// --- fields -------------------------------------------------------------------------------------

TEST_CASE("required fields missing", "[protocol]") {
  CHECK(customer_error(R"({"type":"message"})").code == ErrorCode::bad_request);
  CHECK(customer_error(R"({"type":"message","client_msg_id":"m1"})").code ==
        ErrorCode::bad_request);
  for (const char* frame : {
           R"({"type":"status"})",
           R"({"type":"message","text":"hi"})",
           R"({"type":"message","conversation":"c-1"})",
           R"({"type":"typing","state":"start"})",
           R"({"type":"typing","conversation":"c-1"})",
           R"({"type":"transfer","to":"bob"})",
           R"({"type":"transfer","conversation":"c-1"})",
           R"({"type":"transfer","conversation":"c-1","note":"n"})",
           R"({"type":"close"})",
           R"({"type":"handover"})",
           R"({"type":"handover","note":"n"})",
       }) {
    INFO(frame);
    CHECK(agent_error(frame).code == ErrorCode::bad_request);
  }
}

TEST_CASE("fields of the wrong type", "[protocol]") {
  for (const char* frame : {
           R"({"type":"message","text":42})",
           R"({"type":"message","text":null})",
           R"({"type":"message","text":["hi"]})",
           R"({"type":"message","text":{"zh":"hi"}})",
           R"({"type":"message","text":"hi","client_msg_id":7})",
           R"({"type":"message","text":"hi","client_msg_id":null})",
       }) {
    INFO(frame);
    CHECK(customer_error(frame).code == ErrorCode::bad_request);
  }
  for (const char* frame : {
           R"({"type":"status","state":true})",
           R"({"type":"status","state":1})",
           R"({"type":"status","state":null})",
           R"({"type":"message","conversation":"c-1","text":42})",
           R"({"type":"message","conversation":{"id":"c-1"},"text":"hi"})",
           R"({"type":"message","conversation":7,"text":"hi"})",
           R"({"type":"message","conversation":"c-1","text":"hi","client_msg_id":["m"]})",
           R"({"type":"typing","conversation":"c-1","state":true})",
           R"({"type":"typing","conversation":{},"state":"start"})",
           R"({"type":"transfer","conversation":{},"to":null})",
           R"({"type":"transfer","conversation":"c-1","to":5})",
           R"({"type":"transfer","conversation":"c-1","to":false})",
           R"({"type":"transfer","conversation":"c-1","to":{"id":"bob"}})",
           R"({"type":"transfer","conversation":"c-1","to":null,"note":5})",
           R"({"type":"transfer","conversation":"c-1","to":null,"note":null})",
           R"({"type":"close","conversation":null})",
           R"({"type":"close","conversation":["c-1"]})",
           R"({"type":"handover","to":1})",
           R"({"type":"handover","to":null,"note":{}})",
       }) {
    INFO(frame);
    CHECK(agent_error(frame).code == ErrorCode::bad_request);
  }
}

TEST_CASE("invalid enum values", "[protocol]") {
  for (const char* frame : {
           R"({"type":"status","state":"busy"})",
           R"({"type":"status","state":""})",
           R"({"type":"status","state":"Available"})",
           R"({"type":"status","state":"available "})",
           R"({"type":"typing","conversation":"c-1","state":"pause"})",
           R"({"type":"typing","conversation":"c-1","state":"START"})",
       }) {
    INFO(frame);
    auto e = agent_error(frame);
    CHECK(e.code == ErrorCode::bad_request);
  }
}

TEST_CASE("conversation ids must be 1-64 characters", "[protocol]") {
  CHECK(agent_error(R"({"type":"close","conversation":""})").code == ErrorCode::bad_request);
  std::string id64(64, 'c');
  CHECK(get<AgentClose>(agent_ok(R"({"type":"close","conversation":")" + id64 + R"("})"))
            .conversation == id64);
  CHECK(agent_error(R"({"type":"close","conversation":")" + id64 + R"(c"})").code ==
        ErrorCode::bad_request);
}

TEST_CASE("transfer and handover targets must be agent ids", "[protocol]") {
  for (const char* frame : {
           R"({"type":"transfer","conversation":"c-1","to":""})",
           R"({"type":"transfer","conversation":"c-1","to":"bob smith"})",
           R"({"type":"transfer","conversation":"c-1","to":"小王"})",
           R"({"type":"handover","to":""})",
           R"({"type":"handover","to":"bob/2"})",
       }) {
    INFO(frame);
    CHECK(agent_error(frame).code == ErrorCode::bad_request);
  }
  std::string long_id(65, 'a');
  CHECK(agent_error(R"({"type":"handover","to":")" + long_id + R"("})").code ==
        ErrorCode::bad_request);
}

// --- text length --------------------------------------------------------------------------------

TEST_CASE("empty text is too_large (docs: 'or an empty text')", "[protocol]") {
  auto c = customer_error(R"({"type":"message","text":"","client_msg_id":"m1"})");
  CHECK(c.code == ErrorCode::too_large);
  CHECK(c.client_msg_id == "m1");
  auto a = agent_error(R"({"type":"message","conversation":"c-1","text":""})");
  CHECK(a.code == ErrorCode::too_large);
}

TEST_CASE("text length is counted in code points, not bytes", "[protocol]") {
  const auto l = limits(5);
  // 5 Chinese characters are 15 bytes but 5 code points.
  CHECK(get<CustomerMessage>(customer_ok(R"({"type":"message","text":"您好您好您"})", l)).text ==
        "您好您好您");
  auto e = customer_error(R"({"type":"message","text":"您好您好您好"})", l);
  CHECK(e.code == ErrorCode::too_large);
  // Emoji outside the BMP: 4 bytes (and 2 UTF-16 units when escaped) but one code point each.
  CHECK(
      get<CustomerMessage>(
          customer_ok(
              R"({"type":"message","text":"\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00"})",
              l))
          .text.size() == 20);
  CHECK(customer_error("{\"type\":\"message\",\"text\":\"😀😀😀😀😀😀\"}", l).code ==
        ErrorCode::too_large);
  // An escape counts as the one character it stands for.
  CHECK(get<CustomerMessage>(customer_ok(R"({"type":"message","text":"\u60a8\n\t\"\\"})", l))
            .text.size() == 7);
  // The same limit for an agent.
  CHECK(get<AgentMessage>(
            agent_ok(R"({"type":"message","conversation":"c-1","text":"您好您好您"})", l))
            .text == "您好您好您");
  CHECK(agent_error(R"({"type":"message","conversation":"c-1","text":"您好您好您好"})", l).code ==
        ErrorCode::too_large);
}

TEST_CASE("ASCII text at and over the limit", "[protocol]") {
  const auto l = limits(5);
  CHECK(get<CustomerMessage>(customer_ok(R"({"type":"message","text":"abcde"})", l)).text ==
        "abcde");
  CHECK(customer_error(R"({"type":"message","text":"abcdef"})", l).code == ErrorCode::too_large);
  CHECK(get<CustomerMessage>(customer_ok(R"({"type":"message","text":"a"})", l)).text == "a");
}

TEST_CASE("the default limit is 5000 code points", "[protocol]") {
  CHECK(get<CustomerMessage>(
            customer_ok(R"({"type":"message","text":")" + repeat("好", 5000) + R"("})"))
            .text.size() == 15000);
  CHECK(customer_error(R"({"type":"message","text":")" + repeat("好", 5001) + R"("})").code ==
        ErrorCode::too_large);
}

TEST_CASE("note over the limit is too_large, and at the limit it passes", "[protocol]") {
  const auto l = limits(5);
  CHECK(
      get<AgentTransfer>(
          agent_ok(R"({"type":"transfer","conversation":"c-1","to":"bob","note":"您好您好您"})", l))
          .note == "您好您好您");
  CHECK(
      agent_error(R"({"type":"transfer","conversation":"c-1","to":"bob","note":"您好您好您好"})", l)
          .code == ErrorCode::too_large);
  CHECK(get<AgentHandover>(agent_ok(R"({"type":"handover","to":null,"note":"abcde"})", l)).note ==
        "abcde");
  CHECK(agent_error(R"({"type":"handover","to":null,"note":"abcdef"})", l).code ==
        ErrorCode::too_large);
}

// --- client_msg_id ------------------------------------------------------------------------------

TEST_CASE("client_msg_id must be 1-64 of [A-Za-z0-9_.:-]", "[protocol]") {
  std::string id64(64, 'm');
  CHECK(get<CustomerMessage>(
            customer_ok(R"({"type":"message","text":"hi","client_msg_id":")" + id64 + R"("})"))
            .client_msg_id == id64);
  for (std::string bad : {std::string(""), std::string(65, 'm'), std::string("m 1"),
                          std::string("m/1"), std::string("消息1"), std::string("m\\n")}) {
    INFO("client_msg_id: " << bad);
    std::string frame = R"({"type":"message","text":"hi","client_msg_id":")" + bad + R"("})";
    auto c = customer_error(frame);
    CHECK(c.code == ErrorCode::bad_request);
    auto a = agent_error(R"({"type":"message","conversation":"c-1","text":"hi","client_msg_id":")" +
                         bad + R"("})");
    CHECK(a.code == ErrorCode::bad_request);
  }
}

TEST_CASE("an invalid client_msg_id string is still echoed so the client can match it",
          "[protocol]") {
  auto e = customer_error(R"({"type":"message","text":"hi","client_msg_id":"m 1"})");
  CHECK(e.code == ErrorCode::bad_request);
  CHECK(e.client_msg_id == "m 1");
  // A client_msg_id that is not a string is not echoed.
  auto n = customer_error(R"({"type":"message","text":"hi","client_msg_id":12})");
  CHECK(n.code == ErrorCode::bad_request);
  CHECK(n.client_msg_id.empty());
}

TEST_CASE("a valid client_msg_id is echoed when another field is wrong", "[protocol]") {
  auto missing = customer_error(R"({"type":"message","client_msg_id":"m1"})");
  CHECK(missing.code == ErrorCode::bad_request);
  CHECK(missing.client_msg_id == "m1");

  auto large =
      customer_error(R"({"type":"message","text":"abcdef","client_msg_id":"m2"})", limits(5));
  CHECK(large.code == ErrorCode::too_large);
  CHECK(large.client_msg_id == "m2");

  auto agent =
      agent_error(R"({"type":"message","conversation":5,"text":"hi","client_msg_id":"m3"})");
  CHECK(agent.code == ErrorCode::bad_request);
  CHECK(agent.client_msg_id == "m3");

  auto status = agent_error(R"({"type":"status","state":"busy","client_msg_id":"m4"})");
  CHECK(status.code == ErrorCode::bad_request);
  CHECK(status.client_msg_id == "m4");
}

TEST_CASE("errors without a client_msg_id echo none", "[protocol]") {
  CHECK(customer_error(R"({"type":"message"})").client_msg_id.empty());
  CHECK(agent_error(R"({"type":"status","state":"busy"})").client_msg_id.empty());
  CHECK(customer_error("not json").client_msg_id.empty());
}

TEST_CASE("the error message never contains the chat text", "[protocol]") {
  auto e = customer_error(R"({"type":"message","text":"secret-你的密码"})", limits(3));
  CHECK(e.code == ErrorCode::too_large);
  CHECK(e.message.find("secret") == std::string::npos);
  CHECK(e.message.find("密码") == std::string::npos);
}

// --- is_valid_client_id -------------------------------------------------------------------------

TEST_CASE("is_valid_client_id", "[protocol]") {
  CHECK(is_valid_client_id("a"));
  CHECK(is_valid_client_id("alice"));
  CHECK(is_valid_client_id("Alice_2.night-shift"));
  CHECK(is_valid_client_id("m:1"));
  CHECK(is_valid_client_id("0"));
  CHECK(is_valid_client_id("..."));
  CHECK(is_valid_client_id("-"));
  CHECK(is_valid_client_id("azAZ09_.:-"));
  CHECK(is_valid_client_id(std::string(64, 'x')));

  CHECK_FALSE(is_valid_client_id(""));
  CHECK_FALSE(is_valid_client_id(std::string(65, 'x')));
  CHECK_FALSE(is_valid_client_id("a b"));
  CHECK_FALSE(is_valid_client_id(" a"));
  CHECK_FALSE(is_valid_client_id("a\n"));
  CHECK_FALSE(is_valid_client_id("a/b"));
  CHECK_FALSE(is_valid_client_id("a@b"));
  CHECK_FALSE(is_valid_client_id("a+b"));
  CHECK_FALSE(is_valid_client_id("小王"));
  CHECK_FALSE(is_valid_client_id("caf\xC3\xA9"));
  CHECK_FALSE(is_valid_client_id(std::string_view("a\0b", 3)));
  CHECK_FALSE(is_valid_client_id("[a]"));
  CHECK_FALSE(is_valid_client_id("a\"b"));
  // One character past each end of every allowed range.
  for (char c : {'/', ';', '@', '[', '`', '{', ',', '^'}) {
    INFO("char: " << c);
    CHECK_FALSE(is_valid_client_id(std::string(1, c)));
  }
}
