// Tests of the OutputGate (gateway/core/output_gate.cpp): output waits for the write it follows,
// nothing overtakes what was held before it, and output that needed no write still waits behind
// an earlier write.

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "chatdesk/gateway/output_gate.hpp"

namespace chatdesk::gateway::testing {
namespace {

class Log final : public DeskOutput {
 public:
  void send(SessionId s, const Frame& f) override { seen.push_back(std::to_string(s) + ":" + *f); }
  void close(SessionId s, CloseReason) override { seen.push_back(std::to_string(s) + ":close"); }
  void protocol_error(ErrorCode) override { seen.push_back("error counted"); }
  std::vector<std::string> seen;
};

Frame frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

struct GateFixture {
  Log log;
  OutputGate gate{log, [this](const monitor::Violation& v) { log.seen.push_back("v:" + v.id); }};
};

using Seen = std::vector<std::string>;

}  // namespace

TEST_CASE_METHOD(GateFixture, "output waits for the write it follows", "[storage][gate]") {
  gate.send(1, frame("ack"));
  gate.send(2, frame("message"));
  monitor::Violation v;
  v.id = "c-1:greeting:1:warning";
  gate.violation(v);
  CHECK(log.seen.empty());
  const auto token = gate.seal();
  CHECK(log.seen.empty());
  gate.stored(token);
  CHECK(log.seen == Seen{"1:ack", "2:message", "v:c-1:greeting:1:warning"});
  CHECK(gate.held() == 0);
  CHECK(gate.writes_pending() == 0);
}

TEST_CASE_METHOD(GateFixture, "a later write's output waits for an earlier one",
                 "[storage][gate]") {
  gate.send(1, frame("a"));
  const auto first = gate.seal();
  gate.send(1, frame("b"));
  gate.close(1, CloseReason::normal);
  const auto second = gate.seal();
  gate.stored(second);
  CHECK(log.seen.empty());
  gate.stored(first);
  CHECK(log.seen == Seen{"1:a", "1:b", "1:close"});
}

TEST_CASE_METHOD(GateFixture,
                 "output that needed no write goes at once, or behind an earlier "
                 "write",
                 "[storage][gate]") {
  gate.send(1, frame("typing"));
  gate.seal_without_write();
  CHECK(log.seen == Seen{"1:typing"});
  gate.send(1, frame("ack"));
  const auto token = gate.seal();
  gate.send(1, frame("typing again"));
  gate.seal_without_write();
  CHECK(log.seen == Seen{"1:typing"});
  gate.stored(token);
  CHECK(log.seen == Seen{"1:typing", "1:ack", "1:typing again"});
}

TEST_CASE_METHOD(GateFixture, "protocol error counts are not held", "[storage][gate]") {
  gate.protocol_error(ErrorCode::bad_request);
  CHECK(log.seen == Seen{"error counted"});
}

}  // namespace chatdesk::gateway::testing

namespace chatdesk::gateway::testing {

TEST_CASE_METHOD(GateFixture, "a shop given up drops its unsealed output, and only that",
                 "[storage][gate][scale]") {
  monitor::Violation sealed_v, dropped_v, other_v;
  sealed_v.id = "c-1:greeting:1:warning";
  sealed_v.shop = "demo";
  dropped_v.id = "c-2:greeting:1:warning";
  dropped_v.shop = "demo";
  other_v.id = "c-9:greeting:1:warning";
  other_v.shop = "other";
  // Output of a write that was sent: it follows stored changes and still goes out.
  gate.send(1, frame("sealed ack"));
  gate.violation(sealed_v);
  const auto sent = gate.seal();
  // Output of changes the desk dropped with the shop: never goes out.
  gate.send(1, frame("ack of a dropped change"));
  gate.send(9, frame("other shop"));
  gate.violation(dropped_v);
  gate.close(2, CloseReason::normal);
  gate.violation(other_v);
  const std::vector<SessionId> sessions{1, 2};
  gate.drop_unsealed("demo", sessions);
  CHECK(gate.held() == 4);
  gate.stored(sent);
  CHECK(log.seen == Seen{"1:sealed ack", "v:c-1:greeting:1:warning"});
  gate.stored(gate.seal());
  CHECK(log.seen == Seen{"1:sealed ack", "v:c-1:greeting:1:warning", "9:other shop",
                         "v:c-9:greeting:1:warning"});
  CHECK(gate.held() == 0);

  SECTION("nothing unsealed: nothing changes") {
    gate.drop_unsealed("demo", sessions);
    CHECK(gate.held() == 0);
  }
}

}  // namespace chatdesk::gateway::testing
