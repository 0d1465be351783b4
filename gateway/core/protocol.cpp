#include "chatdesk/gateway/protocol.hpp"

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>  // the one translation unit that instantiates it
#include <boost/json/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cstdint>
#include <functional>

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
    case ErrorCode::unavailable:
      return "unavailable";
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

// The top-level fields the commands read. Their names, in this order, are kFieldNames.
enum class FieldId : std::uint8_t { type, text, client_msg_id, conversation, state, to, note };
constexpr std::array<std::string_view, 7> kFieldNames = {
    "type", "text", "client_msg_id", "conversation", "state", "to", "note"};

// What a frame held under one of those names: as much as the commands tell apart.
struct Field {
  enum class Kind : std::uint8_t { absent, string, null, other };
  Kind kind = Kind::absent;
  std::string_view string;  // the decoded value when kind == string

  bool present() const { return kind != Kind::absent; }
  bool is_string() const { return kind == Kind::string; }
  bool is_null() const { return kind == Kind::null; }
};

// The fields of one frame, read by FieldCollector.
struct FrameFields {
  std::array<Field, kFieldNames.size()> fields;
  const Field& operator[](FieldId id) const { return fields[static_cast<std::size_t>(id)]; }
};

// The handler of Boost.JSON's SAX parser (json::basic_parser) for a client frame: it keeps only the
// top-level fields of kFieldNames, with their kinds, and skips everything else, so a frame is
// parsed without building a tree (docs/benchmarks.md, "Profiles": the DOM parse was 13.5% of the
// gateway's instructions per message). Results match the DOM parse it replaced (tests/unit/
// protocol_reference_test.cpp): Boost.JSON's object keeps the last of duplicate keys, and so does
// this; the size limits are the DOM handler's. A string that arrives whole and unescaped is kept as
// a view into the frame; one in parts or with escapes is copied into scratch_, which is sized once
// to the frame (a decoded string is never longer than its JSON). One per parse; not shared.
class FieldCollector {
 public:
  // The limits json::parse applies (boost/json/detail/handler.hpp), so errors stay the same.
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  explicit FieldCollector(std::string_view frame) : frame_(frame) {}

  bool root_is_object() const { return root_is_object_; }

  // The fields; string views point into the frame or into this collector.
  FrameFields fields() const {
    FrameFields out;
    for (std::size_t i = 0; i < kFieldNames.size(); ++i) {
      const Slot& s = slots_[i];
      out.fields[i].kind = s.kind;
      if (s.kind == Field::Kind::string)
        out.fields[i].string =
            s.in_scratch ? std::string_view(scratch_).substr(s.offset, s.size) : s.view;
    }
    return out;
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    if (depth_ == 0) root_is_object_ = true;
    value(Field::Kind::other);
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(json::error_code&) {
    value(Field::Kind::other);
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    --depth_;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth_ == 1) key_part(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (depth_ != 1) return true;
    if (key_size_ == 0) {
      current_ = find_field({s.data(), s.size()});
    } else {
      key_part(s);
      current_ = key_size_ <= key_.size() ? find_field({key_.data(), key_size_}) : kNone;
      key_size_ = 0;
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth_ != 1 || current_ == kNone) return true;
    if (!in_parts_) {
      in_parts_ = true;
      start_scratch();
    }
    scratch_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    if (depth_ != 1 || current_ == kNone) return true;
    Slot& slot = slots_[current_];
    slot.kind = Field::Kind::string;
    if (!in_parts_ && in_frame(s)) {
      slot.in_scratch = false;
      slot.view = std::string_view(s.data(), s.size());
    } else {
      if (!in_parts_) start_scratch();
      scratch_.append(s.data(), s.size());
      slot.in_scratch = true;
      slot.offset = part_offset_;
      slot.size = scratch_.size() - part_offset_;
    }
    in_parts_ = false;
    current_ = kNone;
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) {
    value(Field::Kind::other);
    return true;
  }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) {
    value(Field::Kind::other);
    return true;
  }
  bool on_double(double, json::string_view, json::error_code&) {
    value(Field::Kind::other);
    return true;
  }
  bool on_bool(bool, json::error_code&) {
    value(Field::Kind::other);
    return true;
  }
  bool on_null(json::error_code&) {
    value(Field::Kind::null);
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  static constexpr std::size_t kNone = kFieldNames.size();

  struct Slot {
    Field::Kind kind = Field::Kind::absent;
    bool in_scratch = false;
    std::string_view view;             // when !in_scratch
    std::size_t offset = 0, size = 0;  // in scratch_ when in_scratch
  };

  static std::size_t find_field(std::string_view key) {
    for (std::size_t i = 0; i < kFieldNames.size(); ++i)
      if (kFieldNames[i] == key) return i;
    return kNone;
  }

  // A non-string value: recorded when it is the value of a wanted top-level key.
  void value(Field::Kind kind) {
    if (depth_ != 1 || current_ == kNone) return;
    slots_[current_] = Slot{kind, false, {}, 0, 0};
    current_ = kNone;
  }

  // Keys longer than the inline buffer are counted but not kept: no wanted name is that long.
  void key_part(json::string_view s) {
    if (key_size_ + s.size() <= key_.size()) std::copy(s.begin(), s.end(), key_.data() + key_size_);
    key_size_ += s.size();
  }

  void start_scratch() {
    if (scratch_.capacity() < frame_.size()) scratch_.reserve(frame_.size());
    part_offset_ = scratch_.size();
  }

  bool in_frame(json::string_view s) const {
    const std::less_equal<const char*> le;
    return le(frame_.data(), s.data()) && le(s.data() + s.size(), frame_.data() + frame_.size());
  }

  std::string_view frame_;
  std::array<Slot, kFieldNames.size()> slots_{};
  std::size_t depth_ = 0;
  bool root_is_object_ = false;
  std::size_t current_ = kNone;  // the wanted field whose value comes next
  std::array<char, 16> key_{};   // a top-level key arriving in parts
  std::size_t key_size_ = 0;
  bool in_parts_ = false;  // a wanted string's first parts are in scratch_ from part_offset_
  std::size_t part_offset_ = 0;
  std::string scratch_;
};

// Reads the fields of one parsed frame, remembering the first problem. Checking every field the
// same way keeps each command's parser a flat list of its fields.
class FieldReader {
 public:
  FieldReader(const FrameFields& fields, const ParseLimits& limits)
      : fields_(fields), limits_(limits) {
    if (const Field& id = fields_[FieldId::client_msg_id]; id.is_string())
      client_msg_id_ = id.string;
  }

  bool ok() const { return !error_; }
  ProtocolError take_error() {
    error_->client_msg_id = std::string(client_msg_id_);
    return std::move(*error_);
  }
  std::string_view client_msg_id() const { return client_msg_id_; }

  // A required conversation id.
  std::string conversation() {
    auto s = string_field(FieldId::conversation, true);
    if (ok() && (s.empty() || s.size() > 64))
      fail(ErrorCode::bad_request, "'conversation' is not a conversation id");
    return s;
  }

  // Chat text: required, non-empty, at most max_text_chars code points.
  std::string text() {
    auto s = string_field(FieldId::text, true);
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
    auto s = string_field(FieldId::note, false);
    if (ok() && code_points(s) > limits_.max_text_chars)
      fail(ErrorCode::too_large,
           "'note' is longer than " + std::to_string(limits_.max_text_chars) + " characters");
    return s;
  }

  // Optional client_msg_id; must be a short id when present.
  void check_client_msg_id() {
    const Field& v = fields_[FieldId::client_msg_id];
    if (!v.present() || !ok()) return;
    if (!v.is_string() || !is_valid_client_id(v.string))
      fail(ErrorCode::bad_request, "'client_msg_id' must be 1-64 characters of [A-Za-z0-9_.:-]");
  }

  // A required field that is an agent id or null.
  std::optional<std::string> agent_or_null(FieldId id) {
    const Field& v = fields_[id];
    const std::string name(name_of(id));
    if (!ok()) return std::nullopt;
    if (!v.present()) {
      fail(ErrorCode::bad_request, "missing '" + name + "' (an agent id, or null for the queue)");
      return std::nullopt;
    }
    if (v.is_null()) return std::nullopt;
    if (!v.is_string() || !is_valid_client_id(v.string)) {
      fail(ErrorCode::bad_request, "'" + name + "' must be an agent id or null");
      return std::nullopt;
    }
    return std::string(v.string);
  }

  // A required string field that must be one of `choices`; returns its index.
  std::size_t choice(FieldId id, std::initializer_list<std::string_view> choices) {
    auto s = string_field(id, true);
    if (!ok()) return 0;
    std::size_t i = 0;
    for (auto c : choices) {
      if (s == c) return i;
      ++i;
    }
    std::string list;
    for (auto c : choices) list += (list.empty() ? "" : "|") + std::string(c);
    fail(ErrorCode::bad_request, "'" + std::string(name_of(id)) + "' must be " + list);
    return 0;
  }

 private:
  static std::string_view name_of(FieldId id) { return kFieldNames[static_cast<std::size_t>(id)]; }

  std::string string_field(FieldId id, bool required) {
    if (!ok()) return {};
    const Field& v = fields_[id];
    if (!v.present()) {
      if (required) fail(ErrorCode::bad_request, "missing '" + std::string(name_of(id)) + "'");
      return {};
    }
    if (!v.is_string()) {
      fail(ErrorCode::bad_request, "'" + std::string(name_of(id)) + "' must be a string");
      return {};
    }
    return std::string(v.string);
  }

  void fail(ErrorCode code, std::string message) {
    if (!error_) error_ = ProtocolError{code, std::move(message), {}};
  }

  const FrameFields& fields_;
  const ParseLimits& limits_;
  std::string_view client_msg_id_;  // into the frame or the collector, which outlive the reader
  std::optional<ProtocolError> error_;
};

// Parses the frame and finds its type. Returns the error when it is not a JSON object with a
// string "type".
template <class Handler>
auto parse_frame(std::string_view frame, const ParseLimits& limits, Handler&& handler)
    -> decltype(handler(std::string_view{}, std::declval<const FrameFields&>())) {
  json::parse_options options;
  options.max_depth = 16;
  options.allow_invalid_utf8 = limits.frame_is_valid_utf8;
  json::basic_parser<FieldCollector> parser(options, frame);
  json::error_code ec;
  // As json::parse does (boost/json/impl/parser.ipp): the whole frame, and nothing after the value.
  const std::size_t n = parser.write_some(false, frame.data(), frame.size(), ec);
  if (!ec && n < frame.size()) ec = json::error::extra_data;
  if (ec) return ProtocolError{ErrorCode::bad_request, "not valid JSON: " + ec.message(), {}};
  if (!parser.handler().root_is_object())
    return ProtocolError{ErrorCode::bad_request, "a frame must be a JSON object", {}};
  const FrameFields fields = parser.handler().fields();
  const Field& type = fields[FieldId::type];
  if (!type.is_string()) {
    // Echo client_msg_id here too: docs/protocol.md echoes it whenever the bad frame carried one,
    // and a frame without a usable type still did (tests/unit/protocol_test.cpp).
    ProtocolError e{ErrorCode::bad_request, "missing string field 'type'", {}};
    if (const Field& id = fields[FieldId::client_msg_id]; id.is_string())
      e.client_msg_id = std::string(id.string);
    return e;
  }
  return handler(type.string, fields);
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
      frame, limits,
      [&](std::string_view type, const FrameFields& fields) -> ParseResult<CustomerCommand> {
        FieldReader r(fields, limits);
        if (type == "message") {
          r.check_client_msg_id();
          CustomerMessage m;
          m.text = r.text();
          m.client_msg_id = std::string(r.client_msg_id());
          return finish<CustomerCommand>(r, std::move(m));
        }
        if (type == "typing") return CustomerCommand{CustomerTyping{}};
        if (type == "close") return CustomerCommand{CustomerClose{}};
        return ProtocolError{
            ErrorCode::unknown_type,
            "unknown type '" + std::string(utf8_prefix(type, 32)) + "' for a customer",
            std::string(r.client_msg_id())};
      });
}

ParseResult<AgentCommand> parse_agent_frame(std::string_view frame, const ParseLimits& limits) {
  return parse_frame(
      frame, limits,
      [&](std::string_view type, const FrameFields& fields) -> ParseResult<AgentCommand> {
        FieldReader r(fields, limits);
        if (type == "message") {
          r.check_client_msg_id();
          AgentMessage m;
          m.conversation = r.conversation();
          m.text = r.text();
          m.client_msg_id = std::string(r.client_msg_id());
          return finish<AgentCommand>(r, std::move(m));
        }
        if (type == "status") {
          auto i = r.choice(FieldId::state, {"available", "away"});
          return finish<AgentCommand>(
              r, AgentStatusCommand{i == 0 ? AgentPresence::available : AgentPresence::away});
        }
        if (type == "typing") {
          AgentTyping t;
          t.conversation = r.conversation();
          t.start = r.choice(FieldId::state, {"start", "stop"}) == 0;
          return finish<AgentCommand>(r, std::move(t));
        }
        if (type == "transfer") {
          AgentTransfer t;
          t.conversation = r.conversation();
          t.to = r.agent_or_null(FieldId::to);
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
          h.to = r.agent_or_null(FieldId::to);
          h.note = r.note();
          return finish<AgentCommand>(r, std::move(h));
        }
        return ProtocolError{
            ErrorCode::unknown_type,
            "unknown type '" + std::string(utf8_prefix(type, 32)) + "' for an agent",
            std::string(r.client_msg_id())};
      });
}

}  // namespace chatdesk::gateway
