#include "chatdesk/gateway/protocol.hpp"

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace chatdesk::gateway {
namespace json = boost::json;

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request:
      return "bad_request";
    case ErrorCode::unknown_type:
      return "unknown_type";
    case ErrorCode::too_large:
      return "too_large";
    case ErrorCode::not_owner:
      return "not_owner";
    case ErrorCode::target_unavailable:
      return "target_unavailable";
    case ErrorCode::conversation_closed:
      return "conversation_closed";
    case ErrorCode::rate_limited:
      return "rate_limited";
    case ErrorCode::replaced:
      return "replaced";
  }
  return "bad_request";
}

bool is_valid_client_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':';
  });
}

namespace {

// Boost.JSON has already rejected invalid UTF-8, so every byte that is not a continuation byte
// starts one code point.
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// At most `max` bytes of the (valid UTF-8) `s`, never cutting a character in two: the result is
// echoed in an error frame, and a WebSocket text frame that is not UTF-8 makes the browser drop
// the connection (found by tests/fuzz/protocol_fuzz).
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  while (max > 0 && (static_cast<unsigned char>(s[max]) & 0xC0) == 0x80) --max;
  return s.substr(0, max);
}

// Reads the fields of one parsed frame, remembering the first problem. Checking every field the
// same way keeps each command's parser a flat list of its fields.
class FieldReader {
 public:
  FieldReader(const json::object& obj, const ParseLimits& limits) : obj_(obj), limits_(limits) {
    if (auto* id = obj_.if_contains("client_msg_id"); id && id->is_string())
      client_msg_id_ = std::string(id->get_string());
  }

  bool ok() const { return !error_; }
  ProtocolError take_error() {
    error_->client_msg_id = client_msg_id_;
    return std::move(*error_);
  }
  const std::string& client_msg_id() const { return client_msg_id_; }

  // A required conversation id.
  std::string conversation() {
    auto s = string_field("conversation", true);
    if (ok() && (s.empty() || s.size() > 64))
      fail(ErrorCode::bad_request, "'conversation' is not a conversation id");
    return s;
  }

  // Chat text: required, non-empty, at most max_text_chars code points.
  std::string text() {
    auto s = string_field("text", true);
    if (!ok()) return s;
    if (s.empty())
      fail(ErrorCode::too_large, "'text' is empty");
    else if (code_points(s) > limits_.max_text_chars)
      fail(ErrorCode::too_large,
           "'text' is longer than " + std::to_string(limits_.max_text_chars) + " characters");
    return s;
  }

  // Optional note, same length bound as a message.
  std::string note() {
    auto s = string_field("note", false);
    if (ok() && code_points(s) > limits_.max_text_chars)
      fail(ErrorCode::too_large,
           "'note' is longer than " + std::to_string(limits_.max_text_chars) + " characters");
    return s;
  }

  // Optional client_msg_id; must be a short id when present.
  void check_client_msg_id() {
    auto* v = obj_.if_contains("client_msg_id");
    if (!v || !ok()) return;
    if (!v->is_string() || !is_valid_client_id(v->get_string()))
      fail(ErrorCode::bad_request, "'client_msg_id' must be 1-64 characters of [A-Za-z0-9_.:-]");
  }

  // A required field that is an agent id or null.
  std::optional<std::string> agent_or_null(const char* name) {
    auto* v = obj_.if_contains(name);
    if (!ok()) return std::nullopt;
    if (!v) {
      fail(ErrorCode::bad_request,
           std::string("missing '") + name + "' (an agent id, or null for the queue)");
      return std::nullopt;
    }
    if (v->is_null()) return std::nullopt;
    if (!v->is_string() || !is_valid_client_id(v->get_string())) {
      fail(ErrorCode::bad_request, std::string("'") + name + "' must be an agent id or null");
      return std::nullopt;
    }
    return std::string(v->get_string());
  }

  // A required string field that must be one of `choices`; returns its index.
  std::size_t choice(const char* name, std::initializer_list<std::string_view> choices) {
    auto s = string_field(name, true);
    if (!ok()) return 0;
    std::size_t i = 0;
    for (auto c : choices) {
      if (s == c) return i;
      ++i;
    }
    std::string list;
    for (auto c : choices) list += (list.empty() ? "" : "|") + std::string(c);
    fail(ErrorCode::bad_request, std::string("'") + name + "' must be " + list);
    return 0;
  }

 private:
  std::string string_field(const char* name, bool required) {
    if (!ok()) return {};
    auto* v = obj_.if_contains(name);
    if (!v) {
      if (required) fail(ErrorCode::bad_request, std::string("missing '") + name + "'");
      return {};
    }
    if (!v->is_string()) {
      fail(ErrorCode::bad_request, std::string("'") + name + "' must be a string");
      return {};
    }
    return std::string(v->get_string());
  }

  void fail(ErrorCode code, std::string message) {
    if (!error_) error_ = ProtocolError{code, std::move(message), {}};
  }

  const json::object& obj_;
  const ParseLimits& limits_;
  std::string client_msg_id_;
  std::optional<ProtocolError> error_;
};

// Parses the frame into `storage` and finds its type. Returns the error when it is not a JSON
// object with a string "type".
template <class Handler>
auto parse_frame(std::string_view frame, Handler&& handler)
    -> decltype(handler(std::string_view{}, std::declval<const json::object&>())) {
  // Frames are small: parse into a stack buffer so most frames allocate nothing for the tree.
  std::array<unsigned char, 4096> buffer;
  json::monotonic_resource resource(buffer.data(), buffer.size());
  json::parse_options options;
  options.max_depth = 16;
  boost::system::error_code ec;
  json::value value = json::parse(frame, ec, &resource, options);
  if (ec) return ProtocolError{ErrorCode::bad_request, "not valid JSON: " + ec.message(), {}};
  auto* obj = value.if_object();
  if (!obj) return ProtocolError{ErrorCode::bad_request, "a frame must be a JSON object", {}};
  auto* type = obj->if_contains("type");
  if (!type || !type->is_string()) {
    // Echo client_msg_id here too: docs/protocol.md echoes it whenever the bad frame carried one,
    // and a frame without a usable type still did (tests/unit/protocol_test.cpp).
    ProtocolError e{ErrorCode::bad_request, "missing string field 'type'", {}};
    if (auto* id = obj->if_contains("client_msg_id"); id && id->is_string())
      e.client_msg_id = std::string(id->get_string());
    return e;
  }
  return handler(std::string_view(type->get_string()), *obj);
}

template <class Command, class T>
ParseResult<Command> finish(FieldReader& r, T&& command) {
  if (!r.ok()) return r.take_error();
  return Command{std::forward<T>(command)};
}

}  // namespace

ParseResult<CustomerCommand> parse_customer_frame(std::string_view frame,
                                                  const ParseLimits& limits) {
  return parse_frame(
      frame, [&](std::string_view type, const json::object& obj) -> ParseResult<CustomerCommand> {
        FieldReader r(obj, limits);
        if (type == "message") {
          r.check_client_msg_id();
          CustomerMessage m;
          m.text = r.text();
          m.client_msg_id = r.client_msg_id();
          return finish<CustomerCommand>(r, std::move(m));
        }
        if (type == "typing") return CustomerCommand{CustomerTyping{}};
        if (type == "close") return CustomerCommand{CustomerClose{}};
        return ProtocolError{
            ErrorCode::unknown_type,
            "unknown type '" + std::string(utf8_prefix(type, 32)) + "' for a customer",
            r.client_msg_id()};
      });
}

ParseResult<AgentCommand> parse_agent_frame(std::string_view frame, const ParseLimits& limits) {
  return parse_frame(
      frame, [&](std::string_view type, const json::object& obj) -> ParseResult<AgentCommand> {
        FieldReader r(obj, limits);
        if (type == "message") {
          r.check_client_msg_id();
          AgentMessage m;
          m.conversation = r.conversation();
          m.text = r.text();
          m.client_msg_id = r.client_msg_id();
          return finish<AgentCommand>(r, std::move(m));
        }
        if (type == "status") {
          auto i = r.choice("state", {"available", "away"});
          return finish<AgentCommand>(
              r, AgentStatusCommand{i == 0 ? AgentPresence::available : AgentPresence::away});
        }
        if (type == "typing") {
          AgentTyping t;
          t.conversation = r.conversation();
          t.start = r.choice("state", {"start", "stop"}) == 0;
          return finish<AgentCommand>(r, std::move(t));
        }
        if (type == "transfer") {
          AgentTransfer t;
          t.conversation = r.conversation();
          t.to = r.agent_or_null("to");
          t.note = r.note();
          return finish<AgentCommand>(r, std::move(t));
        }
        if (type == "close") {
          AgentClose c;
          c.conversation = r.conversation();
          return finish<AgentCommand>(r, std::move(c));
        }
        if (type == "handover") {
          AgentHandover h;
          h.to = r.agent_or_null("to");
          h.note = r.note();
          return finish<AgentCommand>(r, std::move(h));
        }
        return ProtocolError{
            ErrorCode::unknown_type,
            "unknown type '" + std::string(utf8_prefix(type, 32)) + "' for an agent",
            r.client_msg_id()};
      });
}

}  // namespace chatdesk::gateway
