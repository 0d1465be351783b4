// Key slots, redirections and the slot map of a Redis Cluster. The expected slots were read from
// a real redis-server 7.0 (`redis-server --cluster-enabled yes`, `CLUSTER KEYSLOT <key>`).
#include <catch2/catch.hpp>

#include "chatdesk/monitor/cluster_slots.hpp"

using chatdesk::monitor::cluster_key_slot;
using chatdesk::monitor::ClusterNode;
using chatdesk::monitor::ClusterRedirect;
using chatdesk::monitor::ClusterSlotMap;
using chatdesk::monitor::crc16_xmodem;
using chatdesk::monitor::parse_cluster_redirect;

TEST_CASE("cluster slots: CRC16 is the spec's XMODEM checksum", "[cluster]") {
  CHECK(crc16_xmodem("123456789") == 0x31C3);  // the spec's check value
  CHECK(crc16_xmodem("") == 0);
}

TEST_CASE("cluster slots: keys hash to the slots redis-server gives them", "[cluster]") {
  const std::pair<const char*, int> known[] = {
      {"123456789", 12739},
      {"foo", 12182},
      {"somekey", 11058},
      {"hello", 866},
      {"", 0},
      {"{", 4092},
      {"\xc3\xa9{}", 12524},  // a UTF-8 key with an empty tag
      {"chatdesk:{c-0123456789abcdef}:state", 3823},
      {"chatdesk:{shop:demo}:open", 8277},
      {"chatdesk:conversations", 6799},
  };
  for (const auto& [key, slot] : known) {
    INFO(key);
    CHECK(cluster_key_slot(key) == slot);
  }
}

TEST_CASE("cluster slots: hash tags follow the spec's examples", "[cluster]") {
  // The part between the first { and the next } is hashed ...
  CHECK(cluster_key_slot("{user1000}.following") == 3443);
  CHECK(cluster_key_slot("{user1000}.followers") == 3443);
  CHECK(cluster_key_slot("user1000") == 3443);
  CHECK(cluster_key_slot("foo{bar}{zap}") == cluster_key_slot("bar"));
  CHECK(cluster_key_slot("foo{{bar}}zap") == cluster_key_slot("{bar"));
  // ... unless it is empty: then the whole key is.
  CHECK(cluster_key_slot("foo{}{bar}") == 8363);
  CHECK(cluster_key_slot("}{a}") == 15495);
  // So a key whose tag is another key's whole name shares that key's slot: the records stream and
  // its de-duplication set (docs/scaling.md).
  CHECK(cluster_key_slot("{chatdesk:conversations}:recorded") ==
        cluster_key_slot("chatdesk:conversations"));
}

TEST_CASE("cluster slots: MOVED and ASK errors are read, anything else is not a redirection",
          "[cluster]") {
  const auto moved = parse_cluster_redirect("MOVED 3999 127.0.0.1:6381");
  REQUIRE(moved);
  CHECK(moved->kind == ClusterRedirect::Kind::moved);
  CHECK(moved->slot == 3999);
  CHECK(moved->to == ClusterNode{"127.0.0.1", 6381});

  const auto ask = parse_cluster_redirect("ASK 16383 [::1]:7002");
  REQUIRE(ask);
  CHECK(ask->kind == ClusterRedirect::Kind::ask);
  CHECK(ask->slot == 16383);
  CHECK(ask->to == ClusterNode{"::1", 7002});
  CHECK(parse_cluster_redirect("MOVED 2 ::1:7003")->to == ClusterNode{"::1", 7003});

  const auto unknown_host = parse_cluster_redirect("MOVED 1 :7000");
  REQUIRE(unknown_host);
  CHECK(unknown_host->to.host.empty());

  for (const char* not_one : {"ERR unknown command", "MOVED", "MOVED 16384 h:1", "MOVED -1 h:1",
                              "MOVED 1 h", "MOVED 1 h:0", "MOVED 1 h:65536", "ASK x h:1",
                              "MOVED 1 h:1x", "moved 1 h:1", "CLUSTERDOWN Hash slot not served"}) {
    INFO(not_one);
    CHECK_FALSE(parse_cluster_redirect(not_one));
  }
}

TEST_CASE("cluster slots: the map sends each slot to the master of its range", "[cluster]") {
  ClusterSlotMap map;
  CHECK(map.master_of(0) == nullptr);
  CHECK_FALSE(map.complete());

  const ClusterNode a{"127.0.0.1", 7000}, b{"127.0.0.1", 7001}, c{"127.0.0.1", 7002};
  REQUIRE_FALSE(map.assign({{0, 5460, a}, {10923, 16383, c}, {5461, 10922, b}}));
  CHECK(map.complete());
  CHECK(*map.master_of(0) == a);
  CHECK(*map.master_of(5460) == a);
  CHECK(*map.master_of(5461) == b);
  CHECK(*map.master_of(10922) == b);
  CHECK(*map.master_of(10923) == c);
  CHECK(*map.master_of(16383) == c);
  CHECK(map.master_of(16384) == nullptr);
  CHECK(*map.master_of_key("foo") == c);  // 12182
  CHECK(map.masters() == std::vector<ClusterNode>{a, c, b});

  SECTION("MOVED moves one slot; a master left with none is dropped") {
    map.moved(12182, a);
    CHECK(*map.master_of_key("foo") == a);
    CHECK(*map.master_of(12181) == c);
    ClusterSlotMap single;
    REQUIRE_FALSE(single.assign({
        {0, 16383, a},
    }));
    single.moved(0, b);
    CHECK(single.masters().size() == 2);
    ClusterSlotMap tiny;
    REQUIRE_FALSE(tiny.assign({{0, 0, a}, {1, 16383, b}}));
    tiny.moved(0, b);
    CHECK(tiny.masters() == std::vector<ClusterNode>{b});
    CHECK(*tiny.master_of(0) == b);
  }
  SECTION("uncovered slots have no master") {
    REQUIRE_FALSE(map.assign({{0, 100, a}}));
    CHECK(*map.master_of(100) == a);
    CHECK(map.master_of(101) == nullptr);
    CHECK_FALSE(map.complete());
  }
  SECTION("a bad reply is refused whole and changes nothing") {
    CHECK(map.assign({{0, 100, a}, {100, 200, b}}) == "slot ranges 0-100 and 100-200 overlap");
    CHECK(map.assign({{0, 16384, a}}) == "slot range 0-16384 is out of bounds");
    CHECK(map.assign({{5, 4, a}}) == "slot range 5-4 is out of bounds");
    CHECK(map.assign({{0, 1, {"h", 0}}}) == "slot range 0-1 has no valid master port");
    CHECK(map.complete());
    CHECK(*map.master_of(16383) == c);
  }
}
