// The frames written directly as text (frames::message, frames::ack, frames::typing in
// gateway/core/frames.cpp) against a reference that builds the same frame as a boost::json::object
// and serializes it, as frames.cpp did before: the bytes must be identical (same key order, same
// escaping), so that clients and the gateway's tests see no change.

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "chatdesk/gateway/frames.hpp"

using namespace chatdesk;
using namespace chatdesk::gateway;
namespace json = boost::json;

namespace {

std::string reference_message(std::string_view conversation, const ChatMessage& m) {
  json::object o{{"conversation", conversation},
                 {"id", m.id},
                 {"from", to_string(m.from)},
                 {"agent", m.agent},
                 {"text", m.text},
                 {"ts", to_epoch_ms(m.ts)}};
  o.emplace("type", "message");
  return json::serialize(o);
}

std::string reference_ack(std::string_view client_msg_id, std::string_view id, TimePoint ts) {
  return json::serialize(json::object{
      {"type", "ack"}, {"client_msg_id", client_msg_id}, {"id", id}, {"ts", to_epoch_ms(ts)}});
}

std::string reference_typing(std::string_view conversation, Party from, std::optional<bool> start) {
  json::object o{{"type", "typing"}, {"conversation", conversation}, {"from", to_string(from)}};
  if (start) o["state"] = *start ? "start" : "stop";
  return json::serialize(o);
}

// Strings that exercise every escaping path of the serializer, and lengths around the writer's
// size estimate (escapes make the text longer than estimated, so the writer must grow).
std::vector<std::string> special_strings() {
  std::vector<std::string> v = {
      "",
      "a",
      "c-0123456789abcdef",
      "c-0123456789abcdef:42",
      "\"",
      "\\",
      "/",
      "\"quoted\" and \\back\\slashed\\",
      "line\nbreak\r\ttab\bback\fform",
      "您好，请问有什么可以帮您？",
      "汉",
      "😀",
      "emoji 😀😃😄 and 中文 mixed \"with\" \\escapes\\ \n",
      "\x7F delete",
      "\xE2\x80\xA8 line separator \xE2\x80\xA9 paragraph separator",
      "\xFF\xFE not UTF-8 bytes pass through as they are",
      std::string(1, '\0'),
      std::string("nul\0inside", 10),
      std::string(300, '\\'),
      std::string(300, '\x01'),
      std::string(5000, 'x'),
  };
  std::string controls;
  for (int c = 0; c < 0x20; ++c) {
    v.push_back(std::string(1, static_cast<char>(c)));
    controls += static_cast<char>(c);
  }
  v.push_back(controls);
  std::string cjk;
  for (int i = 0; i < 5000; ++i) cjk += "好";
  v.push_back(cjk);
  return v;
}

// Random strings from pieces that each hit a different path: ASCII, escapes, controls, CJK, emoji.
std::string random_string(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {
      "a",    "Z",    "0",  " ",  "\"", "\\",           "/",   "\n", "\t", std::string(1, '\0'),
      "\x1F", "\x7F", "您", "好", "😀",  "\xE2\x80\xA8", "c-1", ":",  "{",  "}",
      "[",    "]",    ","};
  std::uniform_int_distribution<std::size_t> length(0, 60);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::string s;
  for (std::size_t n = length(rng); n > 0; --n) s += pieces[pick(rng)];
  return s;
}

const std::vector<std::int64_t> kTimestamps = {0,
                                               1,
                                               -1,
                                               1'700'000'123'456,
                                               std::numeric_limits<std::int64_t>::max(),
                                               std::numeric_limits<std::int64_t>::min()};

}  // namespace

TEST_CASE("message and ack frames are byte-identical to the serialized object", "[frames]") {
  const auto specials = special_strings();
  std::mt19937 rng(20261204);
  std::size_t compared = 0;
  auto check = [&](std::string_view conversation, const ChatMessage& m,
                   std::string_view client_msg_id) {
    INFO("conversation: " << conversation << " id: " << m.id << " agent: " << m.agent
                          << " text: " << m.text << " client_msg_id: " << client_msg_id);
    REQUIRE(*frames::message(conversation, m) == reference_message(conversation, m));
    REQUIRE(*frames::ack(client_msg_id, m.id, m.ts) == reference_ack(client_msg_id, m.id, m.ts));
    ++compared;
  };
  // Every special string in every position, with both parties and every timestamp.
  for (const auto& s : specials) {
    for (Party from : {Party::customer, Party::agent}) {
      for (std::int64_t ts : kTimestamps) {
        ChatMessage m{"c-1:1", from, "alice", "hi", from_epoch_ms(ts)};
        check(s, m, "m1");
        m.id = s;
        check("c-1", m, s);
        m.id = "c-1:1";
        m.agent = s;
        check("c-1", m, "m1");
        m.agent = "alice";
        m.text = s;
        check("c-1", m, "m1");
      }
    }
  }
  // Random combinations.
  std::uniform_int_distribution<std::size_t> ts_pick(0, kTimestamps.size() - 1);
  for (int i = 0; i < 2000; ++i) {
    ChatMessage m{random_string(rng), i % 2 ? Party::agent : Party::customer, random_string(rng),
                  random_string(rng), from_epoch_ms(kTimestamps[ts_pick(rng)])};
    check(random_string(rng), m, random_string(rng));
  }
  CHECK(compared > 2000);
}

TEST_CASE("typing frames are byte-identical to the serialized object", "[frames]") {
  auto strings = special_strings();
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) strings.push_back(random_string(rng));
  for (const auto& conversation : strings) {
    for (Party from : {Party::customer, Party::agent}) {
      for (std::optional<bool> start :
           {std::optional<bool>(), std::optional<bool>(true), std::optional<bool>(false)}) {
        INFO("conversation: " << conversation);
        REQUIRE(*frames::typing(conversation, from, start) ==
                reference_typing(conversation, from, start));
      }
    }
  }
}
