// Fuzzes the YAML configuration loader (config/src). It runs once at start-up on a file an operator
// wrote, so a bad file is expected to throw ConfigError (config_loader.hpp) naming where it is
// wrong; that is a normal outcome here. Any other exception, a crash, a sanitizer report or a hang
// is a finding, and so is an accepted config that breaks a rule docs/configuration.md states.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chatdesk/config/config_loader.hpp"
#include "fuzz_check.hpp"

namespace {

namespace cfg = chatdesk::config;
using chatdesk::fuzz::require;

constexpr std::string_view kSource = "fuzz.yaml";

bool plain_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

void check_accepted(const cfg::Config& c) {
  require(c.listen.port >= 1, "accepted port 0");
  require(!c.listen.address.empty(), "accepted an empty listen address");
  require(c.limits.max_text_chars >= 1 && c.limits.max_message_bytes >= 1, "accepted a zero limit");
  require(c.limits.message_rate.per_second >= 1 && c.limits.message_rate.burst >= 1,
          "accepted a zero message rate");
  require(c.limits.handshake_timeout.count() > 0 && c.limits.idle_timeout.count() > 0,
          "accepted a timeout of 0s");
  require(!c.shops.empty(), "accepted a config without shops");
  for (std::size_t i = 0; i < c.shops.size(); ++i) {
    const cfg::ShopConfig& s = c.shops[i];
    require(plain_id(s.id), "accepted a shop id that is not 1-64 of [A-Za-z0-9_-]");
    for (std::size_t j = 0; j < i; ++j) require(c.shops[j].id != s.id, "accepted a duplicate id");
    require(s.max_concurrent >= 1, "accepted max_concurrent 0");
    require(s.resume_grace.count() >= 0, "accepted a negative resume_grace");
    require(s.sla.greeting_target.count() > 0 && s.sla.greeting_limit.count() > 0 &&
                s.sla.escalate_every.count() > 0 && s.sla.reply_wait_limit.count() > 0,
            "accepted an SLA duration of 0s");
    require(s.sla.greeting_target <= s.sla.greeting_limit,
            "accepted greeting_target longer than greeting_limit");
    require(std::isfinite(s.sla.typing_min_cpm) && s.sla.typing_min_cpm > 0,
            "accepted a typing_min_cpm that is not a positive number");
    require(s.sla.typing_window >= 1, "accepted typing_window 0");
    for (const auto* list : {&s.language.avoid, &s.language.greetings, &s.language.farewells})
      for (const auto& phrase : *list) require(!phrase.empty(), "accepted an empty phrase");
    for (const auto& shift : s.shifts) {
      require(!shift.name.empty(), "accepted a shift without a name");
      require(shift.start.minutes >= 0 && shift.start.minutes < 24 * 60 && shift.end.minutes >= 0 &&
                  shift.end.minutes < 24 * 60,
              "accepted a shift time outside 00:00-23:59");
      require(shift.start != shift.end, "accepted a shift that starts and ends together");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check_accepted(cfg::parse_config(text, kSource));
  } catch (const cfg::ConfigError& e) {
    // The documented outcome for a bad file: the message names the file, then what is wrong.
    const std::string_view what = e.what();
    require(what.starts_with(kSource) && what.size() > kSource.size() + 2,
            "ConfigError does not name the file and the problem");
  }
  // Anything else thrown leaves this function: libFuzzer reports the uncaught exception (abort).
  return 0;
}
