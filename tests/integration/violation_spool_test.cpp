// The on-disk violation spool (redis.spool_dir): the file itself (round trip, a torn last line, a
// damaged line, the spool_size bound, one process per directory), and the writer using it against
// a real redis-server: what Redis did not take survives a restart of the writer, is written first
// and once, and a violation journaled and sent just before a crash is not written twice.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chatdesk/monitor/violation_spool.hpp"
#include "chatdesk/monitor/violation_writer.hpp"
#include "support/redis_server.hpp"

namespace {

using chatdesk::from_epoch_ms;
using chatdesk::monitor::Rule;
using chatdesk::monitor::Severity;
using chatdesk::monitor::Violation;
using chatdesk::monitor::ViolationSpool;
using chatdesk::monitor::ViolationWriter;
using chatdesk::monitor::ViolationWriterOptions;
using chatdesk::test::eventually;
using chatdesk::test::RedisServer;
using namespace std::chrono_literals;

constexpr const char* kStream = "test:violations";

// A temporary directory, removed with everything in it at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "chatdesk-spool-XXXXXX");
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::filesystem::path file() const { return path / "violations.spool"; }
};

Violation make_violation(int i) {
  static constexpr Rule kRules[] = {Rule::greeting, Rule::reply_wait, Rule::typing_rate,
                                    Rule::missed,   Rule::language,   Rule::courtesy,
                                    Rule::handover};
  Violation v;
  v.id = "v-" + std::to_string(i);
  v.rule = kRules[i % 7];
  v.severity = i % 2 ? Severity::breach : Severity::warning;
  v.level = 1 + i % 3;
  v.shop = "demo";
  v.agent = i % 5 == 0 ? "" : "alice";
  v.conversation = i % 7 == 2 ? "" : "c-" + std::to_string(i);
  v.elapsed = chatdesk::Duration{15'000 + i};
  v.target = chatdesk::Duration{15'000};
  v.ts = from_epoch_ms(1'732'350'000'000 + i);
  // Every character the format escapes, and text that is not ASCII.
  v.detail = i % 4 == 0 ? "但是\t\\n\n\r\\" + std::to_string(i) : "";
  return v;
}

std::deque<Violation> make_violations(int from, int to) {
  std::deque<Violation> out;
  for (int i = from; i < to; ++i) out.push_back(make_violation(i));
  return out;
}

bool same(const Violation& a, const Violation& b) {
  return a.id == b.id && a.rule == b.rule && a.severity == b.severity && a.level == b.level &&
         a.shop == b.shop && a.agent == b.agent && a.conversation == b.conversation &&
         a.elapsed == b.elapsed && a.target == b.target && a.ts == b.ts && a.detail == b.detail;
}

// Violations 0..n-1 with ids v-<first>.., in order.
void require_ids(const std::deque<Violation>& got, const std::vector<int>& ids) {
  REQUIRE(got.size() == ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO("position " << i);
    REQUIRE(same(got[i], make_violation(ids[i])));
  }
}

std::vector<int> range(int from, int to) {
  std::vector<int> out;
  for (int i = from; i < to; ++i) out.push_back(i);
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// What a fresh open of `dir` recovers (the spool is closed again at once).
ViolationSpool::Recovered reopen(const TempDir& dir, std::size_t limit = 1'000'000) {
  ViolationSpool spool;
  ViolationSpool::Recovered found;
  std::string error;
  const bool opened = spool.open(dir.path, limit, found, error);
  INFO(error);
  REQUIRE(opened);
  return found;
}

chatdesk::config::RedisConfig redis_config(const std::string& url, const std::string& spool_dir,
                                           std::size_t spool = 10'000) {
  chatdesk::config::RedisConfig c;
  c.url = url;
  c.violations_stream = kStream;
  c.maxlen = 1'000'000;
  c.spool_size = spool;
  c.spool_dir = spool_dir;
  return c;
}

ViolationWriterOptions fast_options() {
  ViolationWriterOptions o;
  o.backoff_initial = 10ms;
  o.backoff_max = 200ms;
  o.connect_timeout = 500ms;
  o.io_timeout = 2000ms;
  o.batch_max = 64;
  return o;
}

std::vector<std::string> stream_ids(const RedisServer& redis) {
  auto reply = redis.command({"XRANGE", kStream, "-", "+"});
  REQUIRE(reply->type == REDIS_REPLY_ARRAY);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* fields = reply->element[i]->element[1];
    for (std::size_t f = 0; f + 1 < fields->elements; f += 2)
      if (std::string(fields->element[f]->str) == "id")
        ids.emplace_back(fields->element[f + 1]->str, fields->element[f + 1]->len);
  }
  return ids;
}

std::vector<std::string> expected_ids(int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i < to; ++i) ids.push_back("v-" + std::to_string(i));
  return ids;
}

// Lines of the spool file that are violations (acknowledgements and damage aside).
std::size_t violation_lines(const std::filesystem::path& file) {
  std::istringstream in(read_file(file));
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.compare(8, 3, " V\t") == 0 ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("violation spool: round trip keeps every field, the order, and forgets what is done",
          "[spool]") {
  TempDir dir;
  {
    ViolationSpool spool;
    ViolationSpool::Recovered found;
    std::string error;
    REQUIRE(spool.open(dir.path, 1000, found, error));
    CHECK(found.violations.empty());
    CHECK(found.bad_lines == 0);
    REQUIRE(spool.rewrite({}));
    const auto all = make_violations(0, 100);
    REQUIRE(spool.add(all, 0));
    std::vector<std::string_view> done;
    for (int i = 0; i < 100; i += 3) done.push_back(all[static_cast<std::size_t>(i)].id);
    REQUIRE(spool.done(done));
  }
  std::vector<int> left;
  for (int i = 0; i < 100; ++i)
    if (i % 3 != 0) left.push_back(i);
  const auto found = reopen(dir);
  CHECK(found.bad_lines == 0);
  CHECK(found.over_limit == 0);
  require_ids(found.violations, left);

  // rewrite() compacts to exactly what it is given; clear() empties.
  {
    ViolationSpool spool;
    ViolationSpool::Recovered again;
    std::string error;
    REQUIRE(spool.open(dir.path, 1000, again, error));
    REQUIRE(spool.rewrite(again.violations));
    CHECK(violation_lines(dir.file()) == left.size());
    REQUIRE(spool.add(make_violations(100, 101), 0));
    left.push_back(100);
  }
  require_ids(reopen(dir).violations, left);
  {
    ViolationSpool spool;
    ViolationSpool::Recovered again;
    std::string error;
    REQUIRE(spool.open(dir.path, 1000, again, error));
    REQUIRE(spool.clear());
  }
  CHECK(read_file(dir.file()).empty());
  CHECK(reopen(dir).violations.empty());
}

TEST_CASE("violation spool: a torn last line is skipped and counted, the rest kept", "[spool]") {
  TempDir dir;
  std::string content;
  for (const auto& v : make_violations(0, 10)) content += ViolationSpool::encode(v);
  // A crash in the middle of writing the tenth line: any cut point loses that line only.
  const std::string last = ViolationSpool::encode(make_violation(9));
  const std::size_t cut = GENERATE(1, 9, 20);
  write_file(dir.file(), content.substr(0, content.size() - last.size() + cut));

  ViolationSpool spool;
  ViolationSpool::Recovered found;
  std::string error;
  REQUIRE(spool.open(dir.path, 1000, found, error));
  CHECK(found.bad_lines == 1);
  require_ids(found.violations, range(0, 9));

  // What the writer does next: rewrite, then append. The new line must not run into the torn one.
  REQUIRE(spool.rewrite(found.violations));
  REQUIRE(spool.add(make_violations(9, 11), 0));
  spool.close();
  const auto again = reopen(dir);
  CHECK(again.bad_lines == 0);
  require_ids(again.violations, range(0, 11));
}

TEST_CASE("violation spool: a damaged line costs that line only", "[spool]") {
  TempDir dir;
  std::vector<std::string> lines;
  for (const auto& v : make_violations(0, 10)) lines.push_back(ViolationSpool::encode(v));
  std::vector<std::string_view> done_ids{"v-0", "v-1"};
  lines.push_back(ViolationSpool::encode_done(done_ids));
  lines.push_back(ViolationSpool::encode(make_violation(10)));

  SECTION("a flipped byte in a violation line") {
    lines[4][20] ^= 0x20;
    std::string content;
    for (const auto& l : lines) content += l;
    write_file(dir.file(), content);
    const auto found = reopen(dir);
    CHECK(found.bad_lines == 1);
    require_ids(found.violations, {2, 3, 5, 6, 7, 8, 9, 10});
  }
  SECTION("a damaged acknowledgement: those come back (the writer checks them against Redis)") {
    lines[10][12] ^= 0x01;
    std::string content;
    for (const auto& l : lines) content += l;
    write_file(dir.file(), content);
    const auto found = reopen(dir);
    CHECK(found.bad_lines == 1);
    require_ids(found.violations, range(0, 11));
  }
  SECTION("garbage and blank lines between good ones") {
    std::string content = lines[0] + "\n" + "not a record\n" + std::string(300, '\0') + "\n" +
                          "00000000 V\tfake\n" + lines[1];
    write_file(dir.file(), content);
    const auto found = reopen(dir);
    CHECK(found.bad_lines == 4);
    require_ids(found.violations, {0, 1});
  }
}

TEST_CASE("violation spool: the oldest spool_size are kept, the rest counted", "[spool]") {
  TempDir dir;
  std::string content;
  for (const auto& v : make_violations(0, 50)) content += ViolationSpool::encode(v);
  write_file(dir.file(), content);
  const auto found = reopen(dir, 20);
  CHECK(found.over_limit == 30);
  require_ids(found.violations, range(0, 20));
}

TEST_CASE("violation spool: one process per directory", "[spool]") {
  TempDir dir;
  ViolationSpool first;
  ViolationSpool::Recovered found;
  std::string error;
  REQUIRE(first.open(dir.path, 10, found, error));
  ViolationSpool second;
  CHECK_FALSE(second.open(dir.path, 10, found, error));
  CHECK(error.find("in use") != std::string::npos);
  first.close();
  CHECK(second.open(dir.path, 10, found, error));
}

TEST_CASE("violation writer: the on-disk spool keeps what Redis did not take across a restart",
          "[redis][spool]") {
  TempDir dir;
  RedisServer redis;
  redis.stop();  // down from the start: nothing can be written
  {
    ViolationWriter writer(redis_config(redis.url(), dir.path.string()), fast_options());
    std::string error;
    REQUIRE(writer.start(error));
    for (int i = 0; i < 300; ++i) REQUIRE(writer.submit(make_violation(i)));
    // Journaled while Redis is down, not only at stop(): a crash now would lose none of them.
    REQUIRE(eventually([&] { return violation_lines(dir.file()) == 300; }));
    CHECK(writer.stats().ok == 0);

    // stop() does not wait for a Redis that is down: the spool file keeps them.
    const auto started = std::chrono::steady_clock::now();
    CHECK(writer.stop(started + 10s) == 0);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    CHECK(writer.stats().persisted == 300);
    CHECK(writer.stats().dropped == 0);
  }
  CHECK(violation_lines(dir.file()) == 300);

  redis.restart();
  ViolationWriter writer(redis_config(redis.url(), dir.path.string()), fast_options());
  std::string error;
  REQUIRE(writer.start(error));
  CHECK(writer.stats().recovered == 300);
  for (int i = 300; i < 500; ++i) REQUIRE(writer.submit(make_violation(i)));
  REQUIRE(eventually([&] { return writer.stats().ok == 500; }));
  // The recovered ones first, then the new ones; each once.
  CHECK(stream_ids(redis) == expected_ids(0, 500));
  CHECK(writer.stop(std::chrono::steady_clock::now() + 5s) == 0);
  CHECK(writer.stats().persisted == 0);
  CHECK(read_file(dir.file()).empty());  // nothing pending: the file is emptied
}

TEST_CASE("violation writer: violations journaled and sent just before a crash land once",
          "[redis][spool]") {
  // A crash after Redis ran a batch and before the writer noted it: the file still lists them.
  TempDir dir;
  RedisServer redis;
  {
    ViolationWriter writer(redis_config(redis.url(), ""), fast_options());
    std::string error;
    REQUIRE(writer.start(error));
    for (int i = 0; i < 150; ++i) REQUIRE(writer.submit(make_violation(i)));
    REQUIRE(eventually([&] { return writer.stats().ok == 150; }));
    writer.stop(std::chrono::steady_clock::now() + 5s);
  }
  // The file of the crashed run: 100..199 taken and journaled; 100..149 had landed.
  std::string content;
  for (const auto& v : make_violations(100, 200)) content += ViolationSpool::encode(v);
  write_file(dir.file(), content);

  ViolationWriter writer(redis_config(redis.url(), dir.path.string()), fast_options());
  std::string error;
  REQUIRE(writer.start(error));
  CHECK(writer.stats().recovered == 100);
  REQUIRE(eventually([&] { return writer.stats().spooled == 0; }));
  CHECK(stream_ids(redis) == expected_ids(0, 200));
  CHECK(writer.stop(std::chrono::steady_clock::now() + 5s) == 0);
  CHECK(read_file(dir.file()).empty());
}

TEST_CASE("violation writer: with a spool the file stays within its bound while Redis works",
          "[redis][spool]") {
  TempDir dir;
  RedisServer redis;
  auto options = fast_options();
  options.spool_compact_slack = 50;
  ViolationWriter writer(redis_config(redis.url(), dir.path.string(), 100), options);
  std::string error;
  REQUIRE(writer.start(error));
  // Always something pending, so the file is never simply emptied: only compaction bounds it.
  std::size_t most_lines = 0;
  int submitted = 0;
  while (submitted < 3000) {
    if (writer.stats().spooled >= 100) {  // full: let the writer catch up (only we submit)
      std::this_thread::yield();
      continue;
    }
    REQUIRE(writer.submit(make_violation(submitted)));
    if (++submitted % 50 == 0) {
      std::istringstream in(read_file(dir.file()));
      std::size_t lines = 0;
      for (std::string line; std::getline(in, line);) ++lines;
      most_lines = std::max(most_lines, lines);
    }
  }
  REQUIRE(eventually([&] { return writer.stats().ok == 3000; }, 30s));
  CHECK(writer.stats().dropped == 0);
  // Live <= spool_size (100); acknowledged ones at most live + slack before a rewrite; plus one
  // acknowledgement line per batch of those.
  CHECK(most_lines > 0);  // the journal was in use
  CHECK(most_lines <= 100 + (100 + 50 + 64) * 2);
  CHECK(stream_ids(redis) == expected_ids(0, 3000));
  CHECK(writer.stop(std::chrono::steady_clock::now() + 5s) == 0);
}

TEST_CASE("violation writer: a spool directory that cannot be used stops start()", "[spool]") {
  TempDir dir;
  write_file(dir.path / "not-a-dir", "x");
  ViolationWriter writer(redis_config("redis://127.0.0.1:1", (dir.path / "not-a-dir").string()),
                         fast_options());
  std::string error;
  CHECK_FALSE(writer.start(error));
  CHECK(error.find("redis.spool_dir") != std::string::npos);
}
