#include "chatdesk/gateway/redis_command_key.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <initializer_list>

namespace chatdesk::gateway {
namespace {

// How a command's keys are laid out (see the header for which command has which).
enum class Spec {
  first,           // argument 1
  all,             // every argument from 1
  pairs,           // arguments 1, 3, 5, … (MSET)
  all_but_last,    // arguments 1 … n-2 (BLPOP key… timeout)
  first_two,       // arguments 1 and 2
  numkeys_at_1,    // argument 1 is the key count, the keys follow
  numkeys_at_2,    // argument 2 is the key count, the keys follow (EVAL, BLMPOP)
  dest_numkeys_2,  // argument 1 is a key, argument 2 the count of the keys that follow
  streams,         // the first half of the arguments after STREAMS
  second,          // argument 2 (after a subcommand)
  memory,          // MEMORY USAGE key: argument 2; other MEMORY subcommands have none
  script,          // SCRIPT LOAD/FLUSH: every master; others any master
  function,        // FUNCTION LOAD/DELETE/FLUSH/RESTORE: every master; others any master
  none,            // no key: any master
  every,           // every master
  refused,         // unsupported
};

struct Entry {
  std::string_view name;  // upper case; the table is sorted by it
  Spec spec;
};

constexpr auto kCommands = std::to_array<Entry>({
    {"ASKING", Spec::refused},
    {"AUTH", Spec::refused},
    {"BGREWRITEAOF", Spec::none},
    {"BGSAVE", Spec::none},
    {"BLMOVE", Spec::first_two},
    {"BLMPOP", Spec::numkeys_at_2},
    {"BLPOP", Spec::all_but_last},
    {"BRPOP", Spec::all_but_last},
    {"BRPOPLPUSH", Spec::first_two},
    {"BZMPOP", Spec::numkeys_at_2},
    {"BZPOPMAX", Spec::all_but_last},
    {"BZPOPMIN", Spec::all_but_last},
    {"CLIENT", Spec::none},
    {"CLUSTER", Spec::none},
    {"COMMAND", Spec::none},
    {"CONFIG", Spec::none},
    {"COPY", Spec::first_two},
    {"DBSIZE", Spec::none},
    {"DEL", Spec::all},
    {"DISCARD", Spec::refused},
    {"ECHO", Spec::none},
    {"EVAL", Spec::numkeys_at_2},
    {"EVALSHA", Spec::numkeys_at_2},
    {"EVALSHA_RO", Spec::numkeys_at_2},
    {"EVAL_RO", Spec::numkeys_at_2},
    {"EXEC", Spec::refused},
    {"EXISTS", Spec::all},
    {"FCALL", Spec::numkeys_at_2},
    {"FCALL_RO", Spec::numkeys_at_2},
    {"FLUSHALL", Spec::every},
    {"FLUSHDB", Spec::every},
    {"FUNCTION", Spec::function},
    {"GEOSEARCHSTORE", Spec::first_two},
    {"HELLO", Spec::refused},
    {"INFO", Spec::none},
    {"LASTSAVE", Spec::none},
    {"LATENCY", Spec::none},
    {"LCS", Spec::first_two},
    {"LMOVE", Spec::first_two},
    {"LMPOP", Spec::numkeys_at_1},
    {"MEMORY", Spec::memory},
    {"MGET", Spec::all},
    {"MIGRATE", Spec::refused},
    {"MONITOR", Spec::refused},
    {"MSET", Spec::pairs},
    {"MSETNX", Spec::pairs},
    {"MULTI", Spec::refused},
    {"OBJECT", Spec::second},
    {"PFCOUNT", Spec::all},
    {"PFMERGE", Spec::all},
    {"PING", Spec::none},
    {"PSUBSCRIBE", Spec::refused},
    {"PUBLISH", Spec::none},
    {"PUBSUB", Spec::none},
    {"PUNSUBSCRIBE", Spec::refused},
    {"QUIT", Spec::refused},
    {"RANDOMKEY", Spec::none},
    {"READONLY", Spec::refused},
    {"READWRITE", Spec::refused},
    {"RENAME", Spec::first_two},
    {"RENAMENX", Spec::first_two},
    {"RESET", Spec::refused},
    {"ROLE", Spec::none},
    {"RPOPLPUSH", Spec::first_two},
    {"SAVE", Spec::none},
    {"SCAN", Spec::none},
    {"SCRIPT", Spec::script},
    {"SDIFF", Spec::all},
    {"SDIFFSTORE", Spec::all},
    {"SELECT", Spec::refused},
    {"SINTER", Spec::all},
    {"SINTERCARD", Spec::numkeys_at_1},
    {"SINTERSTORE", Spec::all},
    {"SLOWLOG", Spec::none},
    {"SMOVE", Spec::first_two},
    {"SSUBSCRIBE", Spec::refused},
    {"SUBSCRIBE", Spec::refused},
    {"SUNION", Spec::all},
    {"SUNIONSTORE", Spec::all},
    {"SUNSUBSCRIBE", Spec::refused},
    {"TIME", Spec::none},
    {"TOUCH", Spec::all},
    {"UNLINK", Spec::all},
    {"UNSUBSCRIBE", Spec::refused},
    {"UNWATCH", Spec::refused},
    {"WAIT", Spec::none},
    {"WATCH", Spec::refused},
    {"XGROUP", Spec::second},
    {"XINFO", Spec::second},
    {"XREAD", Spec::streams},
    {"XREADGROUP", Spec::streams},
    {"ZDIFF", Spec::numkeys_at_1},
    {"ZDIFFSTORE", Spec::dest_numkeys_2},
    {"ZINTER", Spec::numkeys_at_1},
    {"ZINTERCARD", Spec::numkeys_at_1},
    {"ZINTERSTORE", Spec::dest_numkeys_2},
    {"ZMPOP", Spec::numkeys_at_1},
    {"ZRANGESTORE", Spec::first_two},
    {"ZUNION", Spec::numkeys_at_1},
    {"ZUNIONSTORE", Spec::dest_numkeys_2},
});

constexpr bool sorted_by_name() {
  for (std::size_t i = 1; i < kCommands.size(); ++i)
    if (!(kCommands[i - 1].name < kCommands[i].name)) return false;
  return true;
}
static_assert(sorted_by_name(), "kCommands must be sorted for the binary search");

constexpr std::size_t kLongestName = 16;  // longer than any name in kCommands

char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view upper_b) {
  if (a.size() != upper_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper_b[i]) return false;
  return true;
}

Spec spec_of(std::string_view name) {
  if (name.size() > kLongestName) return Spec::first;
  char buffer[kLongestName];
  for (std::size_t i = 0; i < name.size(); ++i) buffer[i] = upper(name[i]);
  const std::string_view key(buffer, name.size());
  const auto it = std::lower_bound(kCommands.begin(), kCommands.end(), key,
                                   [](const Entry& e, std::string_view k) { return e.name < k; });
  return it != kCommands.end() && it->name == key ? it->spec : Spec::first;
}

// A RESP length ("12" of "$12\r\n"): digits only, up to '\r\n'. Advances `at` past the CRLF.
bool read_length(std::string_view text, std::size_t& at, std::size_t& value) {
  const std::size_t end = text.find("\r\n", at);
  if (end == std::string_view::npos || end == at) return false;
  const auto [ptr, ec] = std::from_chars(text.data() + at, text.data() + end, value);
  if (ec != std::errc{} || ptr != text.data() + end) return false;
  at = end + 2;
  return true;
}

bool parse_args(std::string_view text, std::vector<std::string_view>& args) {
  args.clear();
  std::size_t at = 1;
  std::size_t count = 0;
  if (text.empty() || text[0] != '*' || !read_length(text, at, count) || count == 0) return false;
  // Each argument takes at least 6 bytes ("$0\r\n\r\n"): a bogus count cannot reserve much.
  if (count > (text.size() - at) / 6) return false;
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t len = 0;
    if (at >= text.size() || text[at] != '$') return false;
    ++at;
    if (!read_length(text, at, len) || len > text.size() - at || text.size() - at - len < 2 ||
        text.substr(at + len, 2) != "\r\n")
      return false;
    args.push_back(text.substr(at, len));
    at += len + 2;
  }
  return at == text.size();
}

// A key count argument: a non-negative integer no larger than what follows it.
bool read_numkeys(std::string_view arg, std::size_t following, std::size_t& n) {
  const auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
  return !arg.empty() && ec == std::errc{} && ptr == arg.data() + arg.size() && n <= following;
}

}  // namespace

RedisCommandRoute parse_redis_command(std::string_view command, RedisCommandView& out) {
  out.keys.clear();
  if (!parse_args(command, out.args)) return RedisCommandRoute::malformed;
  const auto& args = out.args;
  const std::size_t n = args.size();
  auto& keys = out.keys;
  const auto range = [&](std::size_t from, std::size_t to, std::size_t step) {
    for (std::size_t i = from; i < to; i += step) keys.push_back(args[i]);
  };
  const auto subcommand_is = [&](std::initializer_list<std::string_view> names) {
    return n >= 2 && std::any_of(names.begin(), names.end(),
                                 [&](std::string_view s) { return iequals(args[1], s); });
  };
  std::size_t count = 0;
  switch (spec_of(args[0])) {
    case Spec::first:
      if (n < 2) return RedisCommandRoute::any_master;
      range(1, 2, 1);
      break;
    case Spec::all:
      range(1, n, 1);
      break;
    case Spec::pairs:
      if (n % 2 == 0) return RedisCommandRoute::any_master;
      range(1, n, 2);
      break;
    case Spec::all_but_last:
      if (n < 3) return RedisCommandRoute::any_master;
      range(1, n - 1, 1);
      break;
    case Spec::first_two:
      if (n < 3) return RedisCommandRoute::any_master;
      range(1, 3, 1);
      break;
    case Spec::numkeys_at_1:
      if (n < 2 || !read_numkeys(args[1], n - 2, count)) return RedisCommandRoute::any_master;
      range(2, 2 + count, 1);
      break;
    case Spec::numkeys_at_2:
      if (n < 3 || !read_numkeys(args[2], n - 3, count)) return RedisCommandRoute::any_master;
      range(3, 3 + count, 1);
      break;
    case Spec::dest_numkeys_2:
      if (n < 3 || !read_numkeys(args[2], n - 3, count)) return RedisCommandRoute::any_master;
      range(1, 2, 1);
      range(3, 3 + count, 1);
      break;
    case Spec::streams: {
      std::size_t at = 1;
      while (at < n && !iequals(args[at], "STREAMS")) ++at;
      const std::size_t rest = at < n ? n - at - 1 : 0;
      if (rest == 0 || rest % 2 != 0) return RedisCommandRoute::any_master;
      range(at + 1, at + 1 + rest / 2, 1);
      break;
    }
    case Spec::second:
      if (n < 3) return RedisCommandRoute::any_master;  // e.g. OBJECT HELP
      range(2, 3, 1);
      break;
    case Spec::memory:
      if (!subcommand_is({"USAGE"})) return RedisCommandRoute::any_master;
      if (n < 3) return RedisCommandRoute::any_master;
      range(2, 3, 1);
      break;
    case Spec::script:
      return subcommand_is({"LOAD", "FLUSH"}) ? RedisCommandRoute::every_master
                                              : RedisCommandRoute::any_master;
    case Spec::function:
      return subcommand_is({"LOAD", "DELETE", "FLUSH", "RESTORE"}) ? RedisCommandRoute::every_master
                                                                   : RedisCommandRoute::any_master;
    case Spec::none:
      return RedisCommandRoute::any_master;
    case Spec::every:
      return RedisCommandRoute::every_master;
    case Spec::refused:
      return RedisCommandRoute::unsupported;
  }
  return keys.empty() ? RedisCommandRoute::any_master : RedisCommandRoute::keys;
}

}  // namespace chatdesk::gateway
