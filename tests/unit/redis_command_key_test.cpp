// parse_redis_command (gateway/core/redis_command_key.cpp): the keys a Redis Cluster client routes
// a command by, read from the RESP text RedisBatch formats (built here by hand: the gateway/core
// library has no hiredis and RedisBatch lives with the server adapters).
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/gateway/redis_command_key.hpp"

namespace {

using chatdesk::gateway::parse_redis_command;
using chatdesk::gateway::RedisCommandRoute;
using chatdesk::gateway::RedisCommandView;
using Keys = std::vector<std::string_view>;
using namespace std::string_view_literals;

// The RESP of one command, as RedisBatch::add formats it.
std::string resp(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out.append(a);
    out += "\r\n";
  }
  return out;
}

struct Parsed {
  RedisCommandRoute route;
  std::vector<std::string> keys;
};

Parsed parse(std::initializer_list<std::string_view> args) {
  const std::string text = resp(args);
  RedisCommandView view;
  const auto route = parse_redis_command(text, view);
  return {route, std::vector<std::string>(view.keys.begin(), view.keys.end())};
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("redis command keys: ordinary commands have argument 1 as their key", "[cluster]") {
  for (auto args : {std::initializer_list<std::string_view>{"SET", "k", "v"},
                    {"GET", "k"},
                    {"HSET", "k", "f", "v", "g", "w"},
                    {"XADD", "k", "MAXLEN", "~", "100", "0-1", "from", "agent"},
                    {"ZADD", "k", "1", "m"},
                    {"hdel", "k", "f"},  // any case
                    {"ExPiRe", "k", "10"},
                    {"SOMEFUTURECOMMAND", "k", "x"}}) {
    const Parsed p = parse(args);
    CHECK(p.route == RedisCommandRoute::keys);
    CHECK(p.keys == Strings{"k"});
  }
}

TEST_CASE("redis command keys: the store's keys keep their hash tags whole", "[cluster]") {
  const Parsed state = parse({"HSET", "chatdesk:{c-1}:state", "state", "x", "note", ""});
  const Parsed messages = parse({"XADD", "chatdesk:{c-1}:messages", "0-1", "text", "hi"});
  CHECK(state.keys == Strings{"chatdesk:{c-1}:state"});
  CHECK(messages.keys == Strings{"chatdesk:{c-1}:messages"});
}

TEST_CASE("redis command keys: scripts' keys follow numkeys", "[cluster]") {
  CHECK(parse({"EVAL", "return 1", "1", "k", "arg"}).keys == Strings{"k"});
  CHECK(parse({"EVALSHA", "abc", "2", "a", "b", "arg"}).keys == Strings{"a", "b"});
  CHECK(parse({"evalsha_ro", "abc", "1", "a"}).keys == Strings{"a"});
  CHECK(parse({"FCALL", "f", "1", "a", "x"}).keys == Strings{"a"});
  // No key: any master may run it.
  const Parsed none = parse({"EVAL", "return 1", "0", "arg"});
  CHECK(none.route == RedisCommandRoute::any_master);
  CHECK(none.keys.empty());
  // A key count beyond the arguments: no key, the server answers its own error.
  CHECK(parse({"EVAL", "return 1", "3", "a"}).route == RedisCommandRoute::any_master);
  CHECK(parse({"EVAL", "return 1", "x", "a"}).route == RedisCommandRoute::any_master);
  CHECK(parse({"EVAL", "return 1"}).route == RedisCommandRoute::any_master);
}

TEST_CASE("redis command keys: multi-key commands list every key", "[cluster]") {
  CHECK(parse({"DEL", "a", "b", "c"}).keys == Strings{"a", "b", "c"});
  CHECK(parse({"EXISTS", "a"}).keys == Strings{"a"});
  CHECK(parse({"MGET", "a", "b"}).keys == Strings{"a", "b"});
  CHECK(parse({"MSET", "a", "1", "b", "2"}).keys == Strings{"a", "b"});
  CHECK(parse({"BLPOP", "a", "b", "0"}).keys == Strings{"a", "b"});
  CHECK(parse({"RENAME", "a", "b"}).keys == Strings{"a", "b"});
  CHECK(parse({"SMOVE", "a", "b", "member"}).keys == Strings{"a", "b"});
  CHECK(parse({"LMOVE", "a", "b", "LEFT", "RIGHT"}).keys == Strings{"a", "b"});
  CHECK(parse({"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}).keys ==
        Strings{"d", "a", "b"});
  CHECK(parse({"ZINTER", "2", "a", "b"}).keys == Strings{"a", "b"});
  CHECK(parse({"BLMPOP", "0", "2", "a", "b", "LEFT"}).keys == Strings{"a", "b"});
  CHECK(parse({"XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"}).keys == Strings{"a", "b"});
  CHECK(parse({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "$"}).keys == Strings{"a"});
  CHECK(parse({"XINFO", "STREAM", "s"}).keys == Strings{"s"});
  CHECK(parse({"XGROUP", "CREATE", "s", "g", "$"}).keys == Strings{"s"});
  CHECK(parse({"MEMORY", "USAGE", "k"}).keys == Strings{"k"});
  CHECK(parse({"MEMORY", "STATS"}).route == RedisCommandRoute::any_master);
  CHECK(parse({"OBJECT", "HELP"}).route == RedisCommandRoute::any_master);
}

TEST_CASE("redis command keys: keyless, every-master and refused commands", "[cluster]") {
  for (auto args : {std::initializer_list<std::string_view>{"PING"},
                    {"ping", "hello"},
                    {"INFO", "server"},
                    {"CLUSTER", "SLOTS"},
                    {"CLUSTER", "KEYSLOT", "k"},
                    {"CONFIG", "GET", "maxmemory"},
                    {"SCRIPT", "EXISTS", "abc"},
                    {"FUNCTION", "LIST"},
                    {"PUBLISH", "channel", "message"},
                    {"TIME"},
                    {"DBSIZE"},
                    {"GET"}}) {  // a missing key: the server says so
    const Parsed p = parse(args);
    CHECK(p.route == RedisCommandRoute::any_master);
    CHECK(p.keys.empty());
  }
  for (auto args : {std::initializer_list<std::string_view>{"SCRIPT", "LOAD", "return 1"},
                    {"script", "flush"},
                    {"FUNCTION", "LOAD", "#!lua name=x\n"},
                    {"FLUSHALL"},
                    {"FLUSHDB", "ASYNC"}})
    CHECK(parse(args).route == RedisCommandRoute::every_master);
  for (auto args : {std::initializer_list<std::string_view>{"MULTI"},
                    {"EXEC"},
                    {"WATCH", "k"},
                    {"SUBSCRIBE", "c"},
                    {"SSUBSCRIBE", "c"},
                    {"MONITOR"},
                    {"AUTH", "pw"},
                    {"SELECT", "1"},
                    {"ASKING"},
                    {"MIGRATE", "h", "1", "k", "0", "10"}})
    CHECK(parse(args).route == RedisCommandRoute::unsupported);
}

TEST_CASE("redis command keys: binary keys and arguments are read by length", "[cluster]") {
  const std::string key("a\0b\r\n{x}", 8);
  const std::string value("\r\n$3\r\n", 6);
  const Parsed p = parse({"SET", key, value});
  CHECK(p.route == RedisCommandRoute::keys);
  CHECK(p.keys == Strings{key});

  RedisCommandView view;
  const std::string text = resp({"SET", key, value});
  REQUIRE(parse_redis_command(text, view) == RedisCommandRoute::keys);
  REQUIRE(view.args.size() == 3);
  CHECK(view.args[2] == value);
  // The views point into the text: no copy.
  CHECK(view.keys[0].data() >= text.data());
  CHECK(view.keys[0].data() < text.data() + text.size());
}

TEST_CASE("redis command keys: anything but exactly one RESP command is malformed", "[cluster]") {
  RedisCommandView view;
  const std::string good = resp({"GET", "k"});
  for (std::string_view bad :
       {""sv, "GET k\r\n"sv, "*0\r\n"sv, "*1\r\n"sv, "*1\r\n$3\r\nGET"sv, "*1\r\n$3\r\nGETX\r\n"sv,
        "*1\r\n$-1\r\n"sv, "*1\r\n:3\r\n"sv, "*2\r\n$3\r\nGET\r\n"sv,
        "*99999999999\r\n$3\r\nGET\r\n"sv, "*1\r\n$3\r\nGET\r\n*1\r\n$4\r\nPING\r\n"sv,
        "*1\r\n$99999999999999999999\r\nGET\r\n"sv, "*x\r\n"sv, "*1\r\n$\r\n\r\n"sv})
    CHECK(parse_redis_command(bad, view) == RedisCommandRoute::malformed);
  // Every prefix of a good command is malformed too.
  for (std::size_t len = 0; len < good.size(); ++len)
    CHECK(parse_redis_command(std::string_view(good).substr(0, len), view) ==
          RedisCommandRoute::malformed);
  CHECK(parse_redis_command(good, view) == RedisCommandRoute::keys);
}

TEST_CASE("redis command keys: the view's vectors are reused", "[cluster]") {
  RedisCommandView view;
  const std::string first = resp({"DEL", "a", "b", "c", "d"});
  const std::string second = resp({"GET", "k"});
  REQUIRE(parse_redis_command(first, view) == RedisCommandRoute::keys);
  const auto args_capacity = view.args.capacity();
  const auto keys_capacity = view.keys.capacity();
  REQUIRE(parse_redis_command(second, view) == RedisCommandRoute::keys);
  CHECK(view.keys == Keys{"k"});
  CHECK(view.args.size() == 2);
  CHECK(view.args.capacity() == args_capacity);
  CHECK(view.keys.capacity() == keys_capacity);
}
