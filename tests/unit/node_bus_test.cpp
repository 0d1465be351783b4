// The batches gateway nodes exchange (docs/scaling.md): what is written is read back exactly,
// and a damaged batch is refused whole.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "chatdesk/gateway/node_bus.hpp"

using namespace chatdesk::gateway;

namespace {

std::vector<BusMessage> read_all(BusBatchReader& reader) {
  std::vector<BusMessage> out;
  BusMessage m;
  while (reader.next(m)) out.push_back(m);
  return out;
}

}  // namespace

TEST_CASE("node bus: every entry comes back as written, in order", "[scale]") {
  const auto s1 = global_session(3, 1), s2 = global_session(3, 2), s9 = global_session(9, 77);
  const std::string big(70000, 'x');
  const std::string chinese = "{\"type\":\"message\",\"text\":\"您好，请问有什么可以帮您？\"}";
  BusBatchWriter writer;
  writer.start(3, 41);
  CHECK(writer.empty());
  writer.customer_connected(s1, "demo", "cust-1", "secret");
  writer.customer_connected(s2, "demo", "", "");
  writer.agent_connected(s9, "demo", "alice");
  writer.frame(s1, chinese);
  writer.frame(s2, big);
  writer.disconnected(s2);
  writer.send(s9, "{\"type\":\"ack\"}");
  writer.close(s1, CloseReason::too_slow);
  writer.lead_connected(s2, "demo");
  writer.close(s2, CloseReason::moved);
  CHECK(writer.entries() == 10);

  // The bytes outlive the writer's next batch only if copied: as Redis would carry them.
  const std::string bytes(writer.bytes());
  BusBatchReader reader;
  REQUIRE_FALSE(reader.open(bytes));
  CHECK(reader.header().from == 3);
  CHECK(reader.header().seq == 41);
  const auto all = read_all(reader);
  REQUIRE(all.size() == 10);
  CHECK(all[0].kind == BusEntry::customer_connected);
  CHECK(all[0].session == s1);
  CHECK(all[0].text[0] == "demo");
  CHECK(all[0].text[1] == "cust-1");
  CHECK(all[0].text[2] == "secret");
  CHECK(all[1].text[1].empty());
  CHECK(all[1].text[2].empty());
  CHECK(all[2].kind == BusEntry::agent_connected);
  CHECK(all[2].session == s9);
  CHECK(node_of(all[2].session) == 9);
  CHECK(all[2].text[1] == "alice");
  CHECK(all[3].kind == BusEntry::frame);
  CHECK(all[3].text[0] == chinese);
  CHECK(all[4].text[0] == big);
  CHECK(all[5].kind == BusEntry::disconnected);
  CHECK(all[5].text[0].empty());
  CHECK(all[6].kind == BusEntry::send);
  CHECK(all[6].text[0] == "{\"type\":\"ack\"}");
  CHECK(all[7].kind == BusEntry::close);
  CHECK(static_cast<CloseReason>(all[7].code) == CloseReason::too_slow);
  CHECK(all[8].kind == BusEntry::lead_connected);
  CHECK(all[8].text[0] == "demo");
  CHECK(static_cast<CloseReason>(all[9].code) == CloseReason::moved);

  SECTION("a writer reused starts clean") {
    writer.start(3, 42);
    writer.disconnected(s1);
    REQUIRE_FALSE(reader.open(writer.bytes()));
    CHECK(reader.header().seq == 42);
    CHECK(read_all(reader).size() == 1);
  }
  SECTION("an empty batch is a header only") {
    writer.start(5, 0);
    REQUIRE_FALSE(reader.open(writer.bytes()));
    CHECK(read_all(reader).empty());
  }
}

TEST_CASE("node bus: a damaged batch is refused whole", "[scale]") {
  BusBatchWriter writer;
  writer.start(2, 7);
  writer.frame(global_session(2, 5), "hello");
  writer.close(global_session(2, 5), CloseReason::normal);
  const std::string good(writer.bytes());
  BusBatchReader reader;
  REQUIRE_FALSE(reader.open(good));

  // Every cut short of the whole is refused (the header alone is a valid empty batch).
  for (std::size_t size = 0; size < good.size(); ++size) {
    if (size == 13) continue;
    INFO(size);
    const auto cut = good.substr(0, size);
    if (size > 13 && size == 13 + 11 + 4 + 5) continue;  // ends exactly after the first entry
    CHECK(reader.open(cut));
    BusMessage m;
    CHECK_FALSE(reader.next(m));  // nothing handed out after a refusal
  }

  auto damaged = [&](std::size_t at, char value) {
    std::string bytes = good;
    bytes[at] = value;
    return reader.open(bytes);
  };
  CHECK(damaged(0, 2) == "batch format 2 is not 1");
  CHECK(damaged(13, 9) == "unknown entry kind 9 in entry 0");
  CHECK(damaged(13, 0) == "unknown entry kind 0 in entry 0");
  CHECK(damaged(22, 1) == "bad code 1 in entry 0");  // a frame has no code
  CHECK(damaged(23, 2) == "wrong number of texts in entry 0");
  CHECK(damaged(33 + 9, 5) == "bad code 5 in entry 1");  // no such close reason
  {
    std::string bytes = good;
    for (int i = 0; i < 8; ++i) bytes[14 + i] = 0;
    CHECK(reader.open(bytes) == "session 0 in entry 0");
  }
  {
    std::string bytes = good;
    bytes[24] = static_cast<char>(0xff);  // text length far beyond the batch
    CHECK(reader.open(bytes) == "truncated text in entry 0");
  }
}
