#pragma once
// Checked reading of yaml-cpp nodes for the config loader. Every value carries its key path and
// line, so that each error can say where it is ("shops[0].sla.greeting_limit (line 12): ...").
// Private to chatdesk_config; used only while parsing at start-up.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chatdesk/config/time.hpp"

namespace chatdesk::config::yaml {

// Where a value sits in the document: its key path and 1-based line. A plain value.
struct Location {
  std::string path;  // "shops[0].sla.greeting_limit"; empty for the document itself
  int line = 1;

  Location key(std::string_view name, const YAML::Mark& mark) const;
  Location element(std::size_t index, const YAML::Mark& mark) const;
};

// Throws ConfigError "<path> (line N): <what>".
[[noreturn]] void fail(const Location& at, std::string_view what);

// One node with where it came from. A plain value (yaml-cpp nodes share their data, so copies are
// cheap); read on the parsing thread only.
struct Field {
  YAML::Node node;
  Location at;
};

// The location of the document's root node. An empty document has no mark; it reads as line 1.
Field root_field(const YAML::Node& root);

// A YAML map checked against the keys its section allows, so that a misspelt key is an error
// instead of a silently ignored setting. Repeated keys are errors too (yaml-cpp keeps them and
// would quietly use the first). A null node (a section whose keys are all commented out) reads as
// empty. Built and used on the parsing thread only.
class Section {
 public:
  Section(const Field& field, std::initializer_list<std::string_view> allowed);

  // The value under `name`, located at its key's line, or nullopt when the key is absent.
  std::optional<Field> get(std::string_view name) const;
  // Like get(), but an absent key is an error reported at the section's own line.
  Field require(std::string_view name) const;
  const Location& at() const { return at_; }

 private:
  Location at_;
  std::vector<std::pair<std::string, Field>> fields_;  // document order
};

// The elements of a list. Anything but a list (including nothing) is an error.
std::vector<Field> elements(const Field& field);

// Any scalar as written; may be empty.
std::string as_string(const Field& field);
std::string as_nonempty_string(const Field& field);
// An integer within [min, max].
long long as_integer(const Field& field, long long min, long long max);

// `text` with control bytes shown as '?': messages quote keys and values from the file, and a NUL
// would cut an exception's what() short (found by tests/fuzz/config_fuzz).
std::string printable(std::string_view text);
// A finite number.
double as_number(const Field& field);
bool as_bool(const Field& field);
// "15s", "500ms", "2m", "1h" (parse_duration).
Duration as_duration(const Field& field);
// A list of non-empty strings.
std::vector<std::string> as_string_list(const Field& field);

}  // namespace chatdesk::config::yaml
