// Differential test of the client frame parsers (gateway/core/protocol.cpp, a Boost.JSON SAX
// parse that keeps only the fields the commands read) against the DOM parse they replaced, kept
// here as the reference: for the fuzz seed corpus (tests/fuzz/corpus/protocol), mutations of it and
// generated frames, both must give the same command or the same error (code, message and echoed
// client_msg_id).

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "chatdesk/gateway/protocol.hpp"

using namespace chatdesk::gateway;
namespace json = boost::json;

namespace {

// --- the reference: protocol.cpp's DOM parse before the SAX parser ------------------------------
namespace reference {

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  while (max > 0 && (static_cast<unsigned char>(s[max]) & 0xC0) == 0x80) --max;
  return s.substr(0, max);
}

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

  std::string conversation() {
    auto s = string_field("conversation", true);
    if (ok() && (s.empty() || s.size() > 64))
      fail(ErrorCode::bad_request, "'conversation' is not a conversation id");
    return s;
  }

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

  std::string note() {
    auto s = string_field("note", false);
    if (ok() && code_points(s) > limits_.max_text_chars)
      fail(ErrorCode::too_large,
           "'note' is longer than " + std::to_string(limits_.max_text_chars) + " characters");
    return s;
  }

  void check_client_msg_id() {
    auto* v = obj_.if_contains("client_msg_id");
    if (!v || !ok()) return;
    if (!v->is_string() || !is_valid_client_id(v->get_string()))
      fail(ErrorCode::bad_request, "'client_msg_id' must be 1-64 characters of [A-Za-z0-9_.:-]");
  }

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

template <class Handler>
auto parse_frame(std::string_view frame, Handler&& handler)
    -> decltype(handler(std::string_view{}, std::declval<const json::object&>())) {
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

}  // namespace reference

// --- comparison ---------------------------------------------------------------------------------

std::string opt(const std::optional<std::string>& s) {
  return s ? "\"" + *s + "\"" : "null";
}

// Everything a parse result carries, as text, so that two results compare (and print) whole.
struct Describe {
  std::string operator()(const ProtocolError& e) const {
    return "error " + std::string(to_string(e.code)) + " '" + e.message + "' id=" + e.client_msg_id;
  }
  std::string operator()(const CustomerMessage& m) const {
    return "customer message text=" + m.text + " id=" + m.client_msg_id;
  }
  std::string operator()(const CustomerTyping&) const { return "customer typing"; }
  std::string operator()(const CustomerClose&) const { return "customer close"; }
  std::string operator()(const AgentStatusCommand& s) const {
    return std::string("agent status ") +
           (s.state == AgentPresence::available ? "available" : "away");
  }
  std::string operator()(const AgentMessage& m) const {
    return "agent message conversation=" + m.conversation + " text=" + m.text +
           " id=" + m.client_msg_id;
  }
  std::string operator()(const AgentTyping& t) const {
    return "agent typing conversation=" + t.conversation + (t.start ? " start" : " stop");
  }
  std::string operator()(const AgentTransfer& t) const {
    return "agent transfer conversation=" + t.conversation + " to=" + opt(t.to) + " note=" + t.note;
  }
  std::string operator()(const AgentClose& c) const {
    return "agent close conversation=" + c.conversation;
  }
  std::string operator()(const AgentHandover& h) const {
    return "agent handover to=" + opt(h.to) + " note=" + h.note;
  }
  template <class... Ts>
  std::string operator()(const std::variant<Ts...>& v) const {
    return std::visit(*this, v);
  }
};

std::string describe(const auto& result) {
  return std::visit(Describe{}, result);
}

// Compares both parsers, both endpoints and two limits on one frame; counts the frames the new
// parser accepted, so that a test can show it reached the command paths too.
struct Differ {
  std::size_t frames = 0;
  std::size_t accepted = 0;

  void operator()(std::string_view frame) {
    ParseLimits tiny;
    tiny.max_text_chars = 3;
    for (const ParseLimits& limits : {ParseLimits{}, tiny}) {
      INFO("frame: " << frame << " max_text_chars: " << limits.max_text_chars);
      const auto customer = parse_customer_frame(frame, limits);
      REQUIRE(describe(customer) == describe(reference::parse_customer_frame(frame, limits)));
      const auto agent = parse_agent_frame(frame, limits);
      REQUIRE(describe(agent) == describe(reference::parse_agent_frame(frame, limits)));
      accepted += !std::holds_alternative<ProtocolError>(customer);
      accepted += !std::holds_alternative<ProtocolError>(agent);
    }
    ++frames;
  }
};

std::vector<std::string> corpus() {
  const auto dir =
      std::filesystem::path(__FILE__).parent_path().parent_path() / "fuzz" / "corpus" / "protocol";
  std::vector<std::string> frames;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    frames.push_back(bytes.str());
  }
  std::sort(frames.begin(), frames.end());
  return frames;
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("SAX parse matches the DOM reference on the fuzz corpus and its mutations",
          "[protocol]") {
  const auto frames = corpus();
  REQUIRE(frames.size() >= 20);
  Differ diff;
  const std::string replacements[] = {"",     "\"",        "\\",   "{",       "}", "[",
                                      "]",    ",",         ":",    "x",       " ", "0",
                                      "null", "\"\\u0074", "\xFF", "\xE4\xBD"};
  for (const auto& frame : frames) {
    diff(frame);
    for (std::size_t i = 0; i <= frame.size(); ++i) {
      diff(frame.substr(0, i));                       // truncated
      diff(frame.substr(0, i) + frame.substr(0, i));  // doubled prefix
      if (i == frame.size()) continue;
      for (const auto& r : replacements) {
        diff(frame.substr(0, i) + r + frame.substr(i + 1));  // byte replaced (or deleted)
        diff(frame.substr(0, i) + r + frame.substr(i));      // inserted
      }
    }
  }
  CHECK(diff.frames > 40'000);
  CHECK(diff.accepted > 1000);
}

TEST_CASE("SAX parse matches the DOM reference on generated frames", "[protocol]") {
  // Values of every kind, including strings that need escapes, that are long enough to arrive in
  // parts (Boost.JSON's parser hands escaped strings over in pieces of its stack buffer), and that
  // are valid or invalid for each field.
  const std::vector<std::string> values = {
      R"("message")",
      R"("typing")",
      R"("close")",
      R"("status")",
      R"("transfer")",
      R"("handover")",
      R"("welcome")",
      R"("\u006dessage")",
      R"("mess\u0061ge")",
      R"("available")",
      R"("away")",
      R"("start")",
      R"("stop")",
      R"("c-1")",
      R"("bob")",
      R"("m1")",
      R"("m 1")",
      R"("")",
      R"("您好")",
      R"("\u60a8\ud83d\ude00\n\"")",
      R"("abcd")",
      R"("ab")",
      "\"" + std::string(65, 'c') + "\"",
      "\"" + repeat("\\n", 3000) + "\"",
      "\"" + repeat("x", 5000) + repeat("\\t", 10) + "\"",
      "\"" + repeat("好", 2000) + "\\u597d\"",
      "null",
      "true",
      "false",
      "0",
      "-1.5e3",
      "18446744073709551615",
      "[]",
      R"(["message"])",
      "{}",
      R"({"type":"close","text":"hi"})",
      R"([[{"to":null}]])",
  };
  // Wanted names (also escaped and in pieces), and names that are not wanted.
  const std::vector<std::string> keys = {R"("type")",
                                         R"("text")",
                                         R"("client_msg_id")",
                                         R"("conversation")",
                                         R"("state")",
                                         R"("to")",
                                         R"("note")",
                                         R"("\u0074ype")",
                                         R"("client_\u006dsg_id")",
                                         R"("t\u0065xt")",
                                         R"("typ")",
                                         R"("types")",
                                         R"("")",
                                         R"("x")",
                                         "\"" + repeat("k", 40) + "\"",
                                         "\"" + repeat("\\u0074", 20) + "\"",
                                         R"("type\u0000")"};

  std::mt19937 rng(20261204);
  auto pick = [&](const auto& v) -> const std::string& {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
  };
  Differ diff;
  // Every key with every value next to a usable frame, before and after it (duplicates included).
  for (const auto& key : keys) {
    for (const auto& value : values) {
      for (const char* base : {R"("type":"message","text":"hi","client_msg_id":"m1")",
                               R"("type":"transfer","conversation":"c-1","to":null,"note":"n")",
                               R"("type":"status","state":"away")",
                               R"("type":"typing","conversation":"c-1","state":"start")",
                               R"("type":"handover","to":"bob")"}) {
        diff("{" + key + ":" + value + "," + base + "}");
        diff("{" + std::string(base) + "," + key + ":" + value + "}");
      }
    }
  }
  // Random objects of wanted and unwanted keys with random values, in random whitespace.
  const std::vector<std::string> spaces = {"", " ", "\n\t "};
  for (int i = 0; i < 20'000; ++i) {
    std::string frame = pick(spaces) + "{";
    const int members = std::uniform_int_distribution<int>(0, 8)(rng);
    for (int m = 0; m < members; ++m) {
      if (m > 0) frame += ",";
      frame += pick(spaces) + pick(keys) + pick(spaces) + ":" + pick(spaces) + pick(values);
    }
    frame += pick(spaces) + "}" + pick(spaces);
    diff(frame);
  }
  // Objects with more members than a small table holds (duplicates in a large object).
  std::string many = R"({"type":"message","text":"first")";
  for (int i = 0; i < 100; ++i) many += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  diff(many + R"(,"text":"last"})");
  diff(many + R"(,"text":null,"type":"close"})");
  // Nesting around max_depth 16, and roots that are not objects.
  for (int depth = 0; depth < 20; ++depth) {
    diff(R"({"type":"close","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}");
    diff(R"({"type":"close","x":)" + repeat(R"({"a":)", depth) + "1" + std::string(depth, '}') +
         "}");
    diff(std::string(depth, '[') + R"({"type":"close"})" + std::string(depth, ']'));
  }
  for (const char* frame : {"", " ", "null", "1", "\"close\"", "[]", "{}", "{} ", "{}{}", "{},"})
    diff(frame);
  CHECK(diff.frames > 20'000);
  CHECK(diff.accepted > 1000);
}
