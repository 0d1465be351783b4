#include <catch2/catch.hpp>

#include <string>

#include "chatdesk/monitor/violation_writer.hpp"

using chatdesk::monitor::parse_redis_url;

TEST_CASE("redis url: host, port, password, db", "[redis_url]") {
  auto e = parse_redis_url("redis://127.0.0.1:6379");
  REQUIRE(e);
  CHECK(e->host == "127.0.0.1");
  CHECK(e->port == 6379);
  CHECK(e->password.empty());
  CHECK(e->user.empty());
  CHECK(e->db == 0);

  e = parse_redis_url("redis://redis.internal");
  REQUIRE(e);
  CHECK(e->host == "redis.internal");
  CHECK(e->port == 6379);

  e = parse_redis_url("redis://:p%40ss:w@rd@cache:6380/3");
  REQUIRE(e);
  CHECK(e->password == "p@ss:w@rd");
  CHECK(e->user.empty());
  CHECK(e->host == "cache");
  CHECK(e->port == 6380);
  CHECK(e->db == 3);

  e = parse_redis_url("redis://desk:secret@[::1]:7000/");
  REQUIRE(e);
  CHECK(e->user == "desk");
  CHECK(e->password == "secret");
  CHECK(e->host == "::1");
  CHECK(e->port == 7000);
  CHECK(e->db == 0);
}

TEST_CASE("redis url: malformed ones are refused", "[redis_url]") {
  for (const char* bad :
       {"", "127.0.0.1:6379", "http://host", "rediss://host", "redis://", "redis://:6379",
        "redis://host:", "redis://host:0", "redis://host:65536", "redis://host:12x",
        "redis://host/db", "redis://host/-1", "redis://user@host", "redis://:p%4@host",
        "redis://[::1", "redis://[::1]x"}) {
    INFO(bad);
    CHECK_FALSE(parse_redis_url(bad));
  }
}

TEST_CASE("violation writer: a malformed URL is an error, not an exception", "[redis_url]") {
  chatdesk::config::RedisConfig config;
  config.url = "redis//:hunter2@host";
  chatdesk::monitor::ViolationWriter writer(config);
  std::string error;
  CHECK_FALSE(writer.start(error));
  CHECK_FALSE(error.empty());
  CHECK(error.find("hunter2") == std::string::npos);
  // Not running: a submission is dropped and counted, never lost silently.
  CHECK_FALSE(writer.submit(chatdesk::monitor::Violation{}));
  CHECK(writer.stats().dropped == 1);
  CHECK(writer.stop(std::chrono::steady_clock::now()) == 0);
}
