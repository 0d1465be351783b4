// redis.spool_dir: empty (memory only) by default, a path when set, a string or an error.

#include <catch2/catch.hpp>

#include <string>

#include "chatdesk/config/config_loader.hpp"

namespace {

using namespace chatdesk::config;
using Catch::Matchers::Contains;

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("accepted:\n" << text);
  return {};
}

}  // namespace

TEST_CASE("config: redis.spool_dir is empty by default and read when set", "[config]") {
  CHECK(parse_config("shops: [{id: demo}]", "test.yaml").redis.spool_dir.empty());
  CHECK(parse_config("redis: {spool_dir: \"\"}\nshops: [{id: demo}]", "test.yaml")
            .redis.spool_dir.empty());
  CHECK(
      parse_config("redis: {spool_dir: /var/lib/chatdesk/spool}\nshops: [{id: demo}]", "test.yaml")
          .redis.spool_dir == "/var/lib/chatdesk/spool");
  CHECK_THAT(error_of("redis: {spool_dir: [a]}\nshops: [{id: demo}]"),
             Contains("redis.spool_dir (line 1)"));
}
