#pragma once
// Test support: the steps chat tests repeat against a real gateway: reading a string field of a
// frame, sending a message and waiting for its ack, reading a Redis stream whole. Not
// thread-safe: one test thread drives it.

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "support/redis_server.hpp"
#include "support/ws_client.hpp"

namespace chatdesk::test {

inline std::string str(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Sends a message and waits for its ack (reading past other frames; those that are messages go
// to `seen` when given, in the order they came). The ack's id, or empty after an error frame for
// it or 5 s of silence.
inline std::string send_acked(WsClient& ws, boost::json::object frame, const std::string& client_id,
                              std::vector<boost::json::object>* seen = nullptr) {
  frame["type"] = "message";
  frame["client_msg_id"] = client_id;
  ws.send(frame);
  for (;;) {
    auto f = ws.read(std::chrono::seconds(5));
    if (!f) return {};
    const auto type = str(*f, "type");
    if (type == "ack" && str(*f, "client_msg_id") == client_id) return str(*f, "id");
    if (type == "error" && str(*f, "client_msg_id") == client_id) return {};
    if (type == "message" && seen) seen->push_back(*f);
  }
}

// Every entry of a stream, as field maps, oldest first. `redis`: a RedisServer, or anything
// else with its command().
template <typename Redis>
std::vector<std::map<std::string, std::string>> stream(const Redis& redis, const std::string& key) {
  std::vector<std::map<std::string, std::string>> out;
  auto reply = redis.command({"XRANGE", key, "-", "+"});
  if (reply->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* fields = reply->element[i]->element[1];
    std::map<std::string, std::string> entry;
    for (std::size_t k = 0; k + 1 < fields->elements; k += 2)
      entry[std::string(fields->element[k]->str, fields->element[k]->len)] =
          std::string(fields->element[k + 1]->str, fields->element[k + 1]->len);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace chatdesk::test
