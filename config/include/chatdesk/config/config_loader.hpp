#pragma once
// Reads and validates the YAML configuration. Start-up only, so errors are exceptions: every
// problem names the key path and the line, e.g. "shops[0].sla.greeting_limit (line 12): bad
// duration 'abc' (use 15s, 500ms, 2m)". Stateless functions; thread-safe.

#include <stdexcept>
#include <string>
#include <string_view>

#include "chatdesk/config/config.hpp"

namespace chatdesk::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses YAML text. `source` names the file in error messages.
Config parse_config(std::string_view yaml_text, std::string_view source = "<config>");

// Reads the file and parses it.
Config load_config(const std::string& path);

// "15s", "500ms", "2m", "1h" → milliseconds. Throws ConfigError on anything else.
Duration parse_duration(std::string_view text);

}  // namespace chatdesk::config
