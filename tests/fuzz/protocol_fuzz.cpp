// Fuzzes the client frame parsers (gateway/core/protocol.cpp) with the bytes of one WebSocket
// message, the gateway's main untrusted input. Beyond crashes and sanitizer reports it checks what
// docs/protocol.md promises: no exception, every accepted field within its bounds, and every
// refusal an error frame that is a valid JSON text (WebSocket text frames must be UTF-8, or the
// browser drops the connection).

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "chatdesk/gateway/frames.hpp"
#include "chatdesk/gateway/protocol.hpp"
#include "chatdesk/monitor/utf8.hpp"
#include "fuzz_check.hpp"

namespace {

namespace gw = chatdesk::gateway;
namespace utf8 = chatdesk::monitor::utf8;
using chatdesk::fuzz::require;

// Chat text the desk will store and relay: well-formed and within the limit.
void check_text(const std::string& text, const gw::ParseLimits& limits, bool may_be_empty,
                const char* what) {
  const auto n = utf8::count_code_points(text);
  require(n.has_value(), what);
  require(*n <= limits.max_text_chars, what);
  require(may_be_empty || *n > 0, what);
}

void check_conversation(const std::string& id) {
  require(!id.empty() && id.size() <= 64 && utf8::is_valid(id),
          "accepted conversation id is not 1-64 bytes of UTF-8");
}

void check_client_msg_id(const std::string& id) {
  require(id.empty() || gw::is_valid_client_id(id), "accepted client_msg_id is not a client id");
}

void check_agent_id(const std::optional<std::string>& id) {
  require(!id || gw::is_valid_client_id(*id), "accepted 'to' is not an agent id");
}

// A refusal goes back to the client as frames::error: it must say something, and the frame must be
// UTF-8 JSON that reads back as the same error.
void check_error(const gw::ProtocolError& e) {
  require(!e.message.empty(), "error without a message");
  require(utf8::is_valid(e.message), "error message is not valid UTF-8");
  require(utf8::is_valid(e.client_msg_id), "echoed client_msg_id is not valid UTF-8");
  const gw::Frame frame = gw::frames::error(e);
  require(utf8::is_valid(*frame), "error frame is not valid UTF-8");
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(*frame, ec);
  require(!ec && v.is_object(), "error frame is not a JSON object");
  const auto& o = v.get_object();
  const auto* code = o.if_contains("code");
  require(code && code->is_string() && code->get_string() == gw::to_string(e.code),
          "error frame does not carry its code");
}

struct CustomerChecks {
  const gw::ParseLimits& limits;
  void operator()(const gw::CustomerMessage& m) const {
    check_text(m.text, limits, false, "accepted customer text is not 1..max_text_chars of UTF-8");
    check_client_msg_id(m.client_msg_id);
  }
  void operator()(const gw::CustomerTyping&) const {}
  void operator()(const gw::CustomerClose&) const {}
};

struct AgentChecks {
  const gw::ParseLimits& limits;
  void operator()(const gw::AgentStatusCommand&) const {}
  void operator()(const gw::AgentMessage& m) const {
    check_conversation(m.conversation);
    check_text(m.text, limits, false, "accepted agent text is not 1..max_text_chars of UTF-8");
    check_client_msg_id(m.client_msg_id);
  }
  void operator()(const gw::AgentTyping& t) const { check_conversation(t.conversation); }
  void operator()(const gw::AgentTransfer& t) const {
    check_conversation(t.conversation);
    check_agent_id(t.to);
    check_text(t.note, limits, true, "accepted transfer note is not 0..max_text_chars of UTF-8");
  }
  void operator()(const gw::AgentClose& c) const { check_conversation(c.conversation); }
  void operator()(const gw::AgentHandover& h) const {
    check_agent_id(h.to);
    check_text(h.note, limits, true, "accepted handover note is not 0..max_text_chars of UTF-8");
  }
};

void run(std::string_view frame, const gw::ParseLimits& limits) {
  auto customer = gw::parse_customer_frame(frame, limits);
  if (auto* e = std::get_if<gw::ProtocolError>(&customer))
    check_error(*e);
  else
    std::visit(CustomerChecks{limits}, std::get<gw::CustomerCommand>(customer));

  auto agent = gw::parse_agent_frame(frame, limits);
  if (auto* e = std::get_if<gw::ProtocolError>(&agent))
    check_error(*e);
  else
    std::visit(AgentChecks{limits}, std::get<gw::AgentCommand>(agent));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  // The configured default, and a tiny limit so that the too_large paths are reached as well.
  run(frame, gw::ParseLimits{});
  gw::ParseLimits tiny;
  tiny.max_text_chars = 3;
  run(frame, tiny);
  return 0;
}
