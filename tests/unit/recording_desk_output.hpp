#pragma once
// A fake DeskOutput for the desk's tests: records every frame the desk sends (parsed back into
// JSON, with the recipient) and every close, in order, so that tests can assert exactly who got
// what and that nothing else was sent. Not thread-safe (the desk calls it from the test's thread).

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "chatdesk/gateway/desk_output.hpp"

namespace chatdesk::gateway::testing {

class RecordingDeskOutput final : public DeskOutput {
 public:
  struct Sent {
    SessionId session = 0;
    std::string to;  // the session's label, or its number
    boost::json::object frame;
    std::string raw;

    std::string type() const {
      auto* t = frame.if_contains("type");
      return t && t->is_string() ? std::string(t->get_string()) : std::string("?");
    }
    // The string field `key`, or "<missing>" / "<not a string>".
    std::string str(std::string_view key) const {
      auto* v = frame.if_contains(key);
      if (!v) return "<missing>";
      if (!v->is_string()) return "<not a string>";
      return std::string(v->get_string());
    }
    const boost::json::value& at(std::string_view key) const {
      INFO("frame: " << raw << ", key: " << key);
      REQUIRE(frame.contains(key));
      return frame.at(key);
    }
  };
  struct Closed {
    SessionId session = 0;
    std::string to;
    CloseReason reason = CloseReason::normal;
    std::size_t after_frames = 0;  // how many frames had been sent (in total) when it was closed
  };

  void send(SessionId session, const Frame& frame) override {
    // A frame to session 0 would be a bug in the desk: no connection has that id.
    CHECK(session != 0);
    REQUIRE(frame);
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(*frame, ec);
    INFO("frame: " << *frame);
    REQUIRE_FALSE(ec);
    REQUIRE(v.is_object());
    sent.push_back({session, label(session), std::move(v.as_object()), *frame});
    ++total_sent;
  }

  void close(SessionId session, CloseReason reason) override {
    closes.push_back({session, label(session), reason, total_sent});
  }

  // Everything sent since the last take(), and forgets it.
  std::vector<Sent> take() { return std::exchange(sent, {}); }
  std::vector<Closed> take_closes() { return std::exchange(closes, {}); }

  std::string label(SessionId session) const {
    auto it = labels.find(session);
    return it == labels.end() ? std::to_string(session) : it->second;
  }

  std::vector<Sent> sent;
  std::vector<Closed> closes;
  std::size_t total_sent = 0;
  std::map<SessionId, std::string> labels;  // names for failure messages: "alice", "c1"
};

// "recipient type" for each frame, for comparing whole sequences in one CHECK.
inline std::vector<std::string> summary(const std::vector<RecordingDeskOutput::Sent>& sent) {
  std::vector<std::string> s;
  s.reserve(sent.size());
  for (const auto& f : sent) s.push_back(f.to + " " + f.type());
  return s;
}

}  // namespace chatdesk::gateway::testing
