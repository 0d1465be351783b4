#pragma once
// Which arguments of one Redis command are keys, read from the command's RESP text alone (as
// RedisBatch::command(i) gives it): what a Redis Cluster client routes by (docs/scaling.md,
// "Redis Cluster"). Pure: no Redis, no slots (cluster_key_slot lives with the Redis adapters);
// the caller hashes the keys found here and checks that they share a slot.
//
// The rules, from the commands' key specs (`COMMAND INFO`) reduced to what a pipelined batch
// needs:
// - ordinary commands: argument 1 (0-based, after the name) is the key; a command with no
//   argument has none;
// - several keys: DEL/UNLINK/EXISTS/MGET/TOUCH/SINTER/SUNION/SDIFF(+STORE)/PFCOUNT/PFMERGE (every
//   argument), MSET/MSETNX (every other one), BLPOP/BRPOP/BZPOPMIN/BZPOPMAX (all but the timeout),
//   RENAME/RENAMENX/RPOPLPUSH/BRPOPLPUSH/SMOVE/LMOVE/BLMOVE/COPY/LCS/ZRANGESTORE/GEOSEARCHSTORE
//   (the first two), XREAD/XREADGROUP (the first half after STREAMS);
// - a key count: EVAL/EVALSHA/EVAL_RO/EVALSHA_RO/FCALL/FCALL_RO (numkeys at 2; no key when it is
//   0), ZUNION/ZINTER/ZDIFF/SINTERCARD/ZINTERCARD/LMPOP/ZMPOP (numkeys at 1), BLMPOP/BZMPOP (at
//   2), ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE (the destination, then numkeys at 2);
// - a subcommand first: MEMORY USAGE, OBJECT, XINFO, XGROUP (the key is argument 2);
// - no key, any master: PING, ECHO, INFO, CLUSTER, CONFIG, CLIENT, COMMAND, TIME, DBSIZE, PUBLISH,
//   SCRIPT EXISTS/KILL, FUNCTION LIST/STATS/DUMP/KILL, …;
// - every master: SCRIPT LOAD/FLUSH, FUNCTION LOAD/DELETE/FLUSH/RESTORE, FLUSHALL, FLUSHDB (a
//   script or function a master lacks answers NOSCRIPT there);
// - refused: what changes or takes over the connection and so cannot share a pipelined,
//   routed one: MULTI/EXEC/DISCARD/WATCH/UNWATCH, (P|S)SUBSCRIBE and their UNSUBSCRIBE, MONITOR,
//   AUTH, HELLO, SELECT, RESET, QUIT, MIGRATE, READONLY/READWRITE, ASKING.
// A command whose arguments do not fit its rule (a missing key, a key count larger than what
// follows) has no key found and goes to any master, which answers it with its own arity error
// without running it. Names are matched case-insensitively.

#include <string_view>
#include <vector>

namespace chatdesk::gateway {

enum class RedisCommandRoute {
  keys,          // the command's keys are in `keys` (at least one): route by their slot
  any_master,    // no key: any master may run it
  every_master,  // meant for every master (scripts, functions, flushes)
  unsupported,   // cannot be routed in a pipelined batch (see above)
  malformed,     // not exactly one RESP array of bulk strings
};

// One command taken apart: views into the text it was parsed from (valid as long as it is).
struct RedisCommandView {
  std::vector<std::string_view> args;  // args[0] is the name
  std::vector<std::string_view> keys;  // the key arguments, in order (empty unless route keys)
};

// Parses `command` ("*N\r\n$len\r\n…\r\n…", exactly one command, nothing after it) into `out`,
// reusing its vectors (no allocation once warm), and says how it is routed. On malformed, `out`
// holds whatever was read.
RedisCommandRoute parse_redis_command(std::string_view command, RedisCommandView& out);

}  // namespace chatdesk::gateway
