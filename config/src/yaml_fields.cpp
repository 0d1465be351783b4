#include "yaml_fields.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "chatdesk/config/config_loader.hpp"

namespace chatdesk::config::yaml {
namespace {

// yaml-cpp marks are 0-based and a node that was never in the text (an empty document) has none.
int line_of(const YAML::Mark& mark, int fallback) {
  return mark.is_null() ? fallback : mark.line + 1;
}

// What the node holds, in words, for "expected X, got Y" messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// The scalar text of `field`, or an error saying that `expected` was wanted instead.
const std::string& scalar(const Field& field, std::string_view expected) {
  if (!field.node.IsScalar())
    fail(field.at, "expected " + std::string(expected) + ", got " + describe(field.node));
  return field.node.Scalar();
}

}  // namespace

Location Location::key(std::string_view name, const YAML::Mark& mark) const {
  return {path.empty() ? std::string(name) : path + "." + std::string(name), line_of(mark, line)};
}

Location Location::element(std::size_t index, const YAML::Mark& mark) const {
  return {path + "[" + std::to_string(index) + "]", line_of(mark, line)};
}

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  return out;
}

void fail(const Location& at, std::string_view what) {
  const std::string where = at.path.empty() ? std::string("top level") : at.path;
  throw ConfigError(
      printable(where + " (line " + std::to_string(at.line) + "): " + std::string(what)));
}

Field root_field(const YAML::Node& root) {
  return {root, {"", line_of(root.Mark(), 1)}};
}

Section::Section(const Field& field, std::initializer_list<std::string_view> allowed)
    : at_(field.at) {
  if (field.node.IsNull()) return;
  if (!field.node.IsMap()) fail(at_, "expected a map, got " + describe(field.node));
  for (const auto& entry : field.node) {
    // Keys are placed at their own line: a null value's mark points past it, and a block map
    // value starts on the next line, but the key is what the reader looks for.
    const Location key_at =
        at_.key(entry.first.IsScalar() ? entry.first.Scalar() : "?", entry.first.Mark());
    if (!entry.first.IsScalar()) fail(key_at, "keys must be plain names");
    const std::string& name = entry.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      fail(key_at, "unknown key");
    const auto seen = std::find_if(fields_.begin(), fields_.end(),
                                   [&](const auto& f) { return f.first == name; });
    if (seen != fields_.end())
      fail(key_at, "duplicate key (first at line " + std::to_string(seen->second.at.line) + ")");
    fields_.emplace_back(name, Field{entry.second, key_at});
  }
}

std::optional<Field> Section::get(std::string_view name) const {
  for (const auto& [key, field] : fields_)
    if (key == name) return field;
  return std::nullopt;
}

Field Section::require(std::string_view name) const {
  if (auto field = get(name)) return *field;
  fail(at_.key(name, YAML::Mark::null_mark()), "required");
}

std::vector<Field> elements(const Field& field) {
  if (!field.node.IsSequence()) fail(field.at, "expected a list, got " + describe(field.node));
  std::vector<Field> out;
  out.reserve(field.node.size());
  std::size_t index = 0;
  for (const auto& element : field.node) {
    out.push_back({element, field.at.element(index, element.Mark())});
    ++index;
  }
  return out;
}

std::string as_string(const Field& field) {
  return scalar(field, "a string");
}

std::string as_nonempty_string(const Field& field) {
  std::string s = scalar(field, "a non-empty string");
  if (s.empty()) fail(field.at, "must not be empty");
  return s;
}

long long as_integer(const Field& field, long long min, long long max) {
  const std::string& text = scalar(field, "an integer");
  long long value = 0;
  if (!YAML::convert<long long>::decode(field.node, value))
    fail(field.at, "expected an integer, got '" + text + "'");
  if (value < min || value > max) {
    const std::string range = max == std::numeric_limits<long long>::max()
                                  ? "at least " + std::to_string(min)
                                  : "from " + std::to_string(min) + " to " + std::to_string(max);
    fail(field.at, "must be " + range + ", got " + text);
  }
  return value;
}

double as_number(const Field& field) {
  const std::string& text = scalar(field, "a number");
  double value = 0;
  // yaml-cpp also decodes .inf and .nan, which no setting here can mean.
  if (!YAML::convert<double>::decode(field.node, value) || !std::isfinite(value))
    fail(field.at, "expected a number, got '" + text + "'");
  return value;
}

bool as_bool(const Field& field) {
  const std::string& text = scalar(field, "true or false");
  bool value = false;
  if (!YAML::convert<bool>::decode(field.node, value))
    fail(field.at, "expected true or false, got '" + text + "'");
  return value;
}

Duration as_duration(const Field& field) {
  const std::string& text = scalar(field, "a duration like 15s");
  try {
    return parse_duration(text);
  } catch (const ConfigError& e) {
    fail(field.at, e.what());
  }
}

std::vector<std::string> as_string_list(const Field& field) {
  std::vector<std::string> out;
  for (const auto& element : elements(field)) out.push_back(as_nonempty_string(element));
  return out;
}

}  // namespace chatdesk::config::yaml
