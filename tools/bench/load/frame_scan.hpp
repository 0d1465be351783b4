#pragma once
// Just enough JSON reading for the load generator's hot path: the value of a top-level string
// field of a server frame, found by scanning, without building a DOM. The servers write compact
// JSON with "type" first, and the fields read here (type, conversation, customer, code) are ids
// without escapes; a value holding an escape is reported as not found rather than misread. Pure
// functions: safe from any thread.

#include <cstdint>
#include <optional>
#include <string_view>

namespace chatdesk::bench {

// The string value of the first `"key":` in `json` (whitespace after the colon allowed), or
// nullopt when absent, not a string, or escaped.
std::optional<std::string_view> string_field(std::string_view json, std::string_view key);

// The frame's "type" (the first "type" key), or an empty view.
std::string_view frame_type(std::string_view json);

// The number after the last '-' of an id such as "b1234-17" (17), or nullopt.
std::optional<std::uint32_t> index_suffix(std::string_view id);

}  // namespace chatdesk::bench
