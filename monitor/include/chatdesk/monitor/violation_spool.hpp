#pragma once
// The on-disk spool of the Redis violation writer (redis.spool_dir): a journal of the violations
// the writer has taken and Redis has not acknowledged yet, so that they survive a restart, and a
// crash, of the gateway. Appends are flushed to the disk (fdatasync) before the violations are
// sent; acknowledgements are appended without a flush (one lost only makes the next start check
// that violation against the stream again). The file is emptied whenever nothing is pending and
// rewritten (temp file, fsync, rename) once it holds more acknowledged lines than live ones, so it
// stays within about twice redis.spool_size.
//
// File <dir>/violations.spool, one record a line, "<crc32 of body, 8 hex> <body>\n":
//   V <id> <rule> <severity> <level> <shop> <agent> <conversation> <elapsed_ms> <target_ms> <ts_ms>
//     <detail>                 a violation to write (fields tab-separated)
//   D <id> [<id> ...]          these violations are in Redis
// Text fields escape backslash, tab, CR and LF as \\ \t \r \n. A line with a wrong checksum or
// that does not parse (a torn write at a crash, a damaged disk block) is skipped on its own: the
// lines around it still count. <dir>/lock is held (flock) while the spool is open, so two gateways
// cannot share one directory.
//
// Not thread-safe: one thread uses it (the writer thread; start-up before that thread exists).

#include <cstddef>
#include <deque>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/monitor/violation.hpp"

namespace chatdesk::monitor {

class ViolationSpool {
 public:
  // What open() found in the file.
  struct Recovered {
    std::deque<Violation> violations;  // not acknowledged, oldest first, at most `limit`
    std::size_t bad_lines = 0;         // skipped: wrong checksum, unparsable, or torn last line
    std::size_t over_limit = 0;        // not acknowledged but beyond `limit`: not kept
  };

  ViolationSpool() = default;
  ~ViolationSpool();
  ViolationSpool(const ViolationSpool&) = delete;
  ViolationSpool& operator=(const ViolationSpool&) = delete;

  // Creates `dir` if needed, locks it and reads the spool file into `recovered` (the oldest
  // `limit` violations not acknowledged). The file is left as it is: call rewrite() before add()
  // (a torn last line must not run into the next record). false, with `error` set, when the
  // directory cannot be created, locked (another process has it) or the file cannot be opened.
  [[nodiscard]] bool open(const std::filesystem::path& dir, std::size_t limit, Recovered& recovered,
                          std::string& error);

  // Appends `violations` and flushes them to the disk. false on an I/O error (error() says which);
  // the file may then hold part of them.
  bool add(const std::deque<Violation>& violations, std::size_t from);
  // Appends that the violations with these ids are in Redis (not flushed).
  bool done(const std::vector<std::string_view>& ids);
  // Makes the file hold exactly `live`, atomically (temp file, fdatasync, rename, fsync of the
  // directory). On failure the previous file stays as it was.
  bool rewrite(const std::deque<Violation>& live);
  // Empties the file (nothing pending).
  bool clear();
  void close();

  bool is_open() const { return fd_ >= 0; }
  const std::filesystem::path& path() const { return path_; }
  const std::string& error() const { return error_; }

  // The record format, exposed for tests.
  static std::string encode(const Violation& v);
  static std::string encode_done(const std::vector<std::string_view>& ids);

 private:
  bool fail(std::string_view what);
  bool write_all(int fd, std::string_view data);

  std::filesystem::path dir_;
  std::filesystem::path path_;
  int fd_ = -1;       // the spool file, O_APPEND
  int lock_fd_ = -1;  // <dir>/lock, flock'ed
  std::string error_;
};

}  // namespace chatdesk::monitor
