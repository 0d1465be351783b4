#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

#include "chatdesk/config/config_loader.hpp"
#include "yaml_fields.hpp"

namespace chatdesk::config {

Duration parse_duration(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return ConfigError(yaml::printable("bad duration '" + std::string(text) + "'" +
                                       std::string(why) + " (use 15s, 500ms, 2m)"));
  };
  if (!text.empty() && text.front() == '-') throw bad(": must not be negative");

  // Unsigned, so that from_chars itself refuses signs; whitespace and fractions fall out as an
  // unknown unit below.
  std::uint64_t count = 0;
  const char* const end = text.data() + text.size();
  const auto [unit_begin, ec] = std::from_chars(text.data(), end, count);
  if (ec == std::errc::result_out_of_range) throw bad(": too large");
  if (ec != std::errc{}) throw bad("");

  const std::string_view unit(unit_begin, static_cast<std::size_t>(end - unit_begin));
  std::int64_t ms_per_unit = 0;
  if (unit == "ms")
    ms_per_unit = 1;
  else if (unit == "s")
    ms_per_unit = 1'000;
  else if (unit == "m")
    ms_per_unit = 60'000;
  else if (unit == "h")
    ms_per_unit = 3'600'000;
  else if (unit.empty())
    throw bad(": missing unit");
  else
    throw bad("");

  if (count > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / ms_per_unit))
    throw bad(": too large");
  return Duration{static_cast<std::int64_t>(count) * ms_per_unit};
}

}  // namespace chatdesk::config
