#pragma once
// Reads the consoles' files from the web root. Names are plain file names (no '/', no leading
// '.'), so a request can never reach outside the root. Stateless: thread-safe.

#include <optional>
#include <string>
#include <string_view>

namespace chatdesk::gateway {

struct StaticFile {
  std::string body;
  std::string_view content_type;
};

std::optional<StaticFile> read_static_file(const std::string& web_root, std::string_view name);

}  // namespace chatdesk::gateway
