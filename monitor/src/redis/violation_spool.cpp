#include "chatdesk/monitor/violation_spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace chatdesk::monitor {

namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr auto kCrcTable = make_crc_table();

// CRC-32 (IEEE 802.3, as zlib's crc32).
std::uint32_t crc32(std::string_view data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void append_escaped(std::string& out, std::string_view text) {
  for (char ch : text) {
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += ch;
    }
  }
}

bool unescape(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return false;
    switch (text[i]) {
      case '\\':
        out += '\\';
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        return false;
    }
  }
  return true;
}

template <typename Int>
void append_number(std::string& out, Int value) {
  std::array<char, 24> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), ec == std::errc{} ? static_cast<std::size_t>(end - buf.data()) : 0);
}

template <typename Int>
bool parse_number(std::string_view text, Int& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size();
}

// "<crc> <body>\n" around a body built by `build`.
template <typename Build>
std::string framed(Build build) {
  std::string line(9, ' ');
  build(line);
  const std::uint32_t crc = crc32(std::string_view(line).substr(9));
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) line[static_cast<std::size_t>(i)] = kHex[(crc >> (28 - 4 * i)) & 0xF];
  line += '\n';
  return line;
}

// The body of a line whose checksum holds; empty when it does not.
std::string_view checked_body(std::string_view line) {
  if (line.size() < 10 || line[8] != ' ') return {};
  std::uint32_t crc = 0;
  auto [end, ec] = std::from_chars(line.data(), line.data() + 8, crc, 16);
  if (ec != std::errc{} || end != line.data() + 8) return {};
  const std::string_view body = line.substr(9);
  return crc32(body) == crc ? body : std::string_view{};
}

std::vector<std::string_view> split_tabs(std::string_view body) {
  std::vector<std::string_view> fields;
  for (;;) {
    const auto tab = body.find('\t');
    fields.push_back(body.substr(0, tab));
    if (tab == std::string_view::npos) return fields;
    body.remove_prefix(tab + 1);
  }
}

template <typename Enum, std::size_t N>
bool parse_enum(std::string_view text, const std::array<Enum, N>& values, Enum& out) {
  for (Enum e : values)
    if (to_string(e) == text) {
      out = e;
      return true;
    }
  return false;
}

constexpr std::array kRules{Rule::greeting, Rule::reply_wait, Rule::typing_rate, Rule::missed,
                            Rule::language, Rule::courtesy,   Rule::handover};
constexpr std::array kSeverities{Severity::warning, Severity::breach};

bool parse_violation(const std::vector<std::string_view>& f, Violation& v) {
  if (f.size() != 12) return false;
  std::int64_t elapsed = 0;
  std::int64_t target = 0;
  std::int64_t ts = 0;
  std::string rule;
  std::string severity;
  return unescape(f[1], v.id) && !v.id.empty() && unescape(f[2], rule) &&
         parse_enum(rule, kRules, v.rule) && unescape(f[3], severity) &&
         parse_enum(severity, kSeverities, v.severity) && parse_number(f[4], v.level) &&
         unescape(f[5], v.shop) && unescape(f[6], v.agent) && unescape(f[7], v.conversation) &&
         parse_number(f[8], elapsed) && parse_number(f[9], target) && parse_number(f[10], ts) &&
         unescape(f[11], v.detail) && (v.elapsed = Duration{elapsed}, true) &&
         (v.target = Duration{target}, true) && (v.ts = from_epoch_ms(ts), true);
}

std::string describe(std::string_view what, const std::filesystem::path& path, int err) {
  return std::string(what) + " " + path.string() + ": " + std::strerror(err);
}

}  // namespace

ViolationSpool::~ViolationSpool() {
  close();
}

std::string ViolationSpool::encode(const Violation& v) {
  return framed([&](std::string& s) {
    s += 'V';
    for (std::string_view text :
         {std::string_view(v.id), to_string(v.rule), to_string(v.severity)}) {
      s += '\t';
      append_escaped(s, text);
    }
    s += '\t';
    append_number(s, v.level);
    for (const std::string* text : {&v.shop, &v.agent, &v.conversation}) {
      s += '\t';
      append_escaped(s, *text);
    }
    for (std::int64_t n : {static_cast<std::int64_t>(v.elapsed.count()),
                           static_cast<std::int64_t>(v.target.count()), to_epoch_ms(v.ts)}) {
      s += '\t';
      append_number(s, n);
    }
    s += '\t';
    append_escaped(s, v.detail);
  });
}

std::string ViolationSpool::encode_done(const std::vector<std::string_view>& ids) {
  return framed([&](std::string& s) {
    s += 'D';
    for (std::string_view id : ids) {
      s += '\t';
      append_escaped(s, id);
    }
  });
}

bool ViolationSpool::fail(std::string_view what) {
  error_ = describe(what, path_, errno);
  return false;
}

bool ViolationSpool::write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool ViolationSpool::open(const std::filesystem::path& dir, std::size_t limit, Recovered& recovered,
                          std::string& error) {
  close();
  dir_ = dir;
  path_ = dir / "violations.spool";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "cannot create " + dir.string() + ": " + ec.message();
    return false;
  }
  const auto lock_path = dir / "lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    error = describe("cannot open", lock_path, errno);
    return false;
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    error = errno == EWOULDBLOCK ? dir.string() + " is in use by another process"
                                 : describe("cannot lock", lock_path, errno);
    close();
    return false;
  }
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    error = describe("cannot open", path_, errno);
    close();
    return false;
  }

  std::string content;
  std::array<char, 64 * 1024> buf;
  for (;;) {
    const ssize_t n = ::pread(fd_, buf.data(), buf.size(), static_cast<off_t>(content.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = describe("cannot read", path_, errno);
      close();
      return false;
    }
    if (n == 0) break;
    content.append(buf.data(), static_cast<std::size_t>(n));
  }

  // Every violation added, in order, and whether it was acknowledged since.
  std::vector<std::pair<Violation, bool>> added;
  std::unordered_map<std::string, std::size_t> index;
  std::string_view rest = content;
  std::string id;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos) {  // torn by a crash mid-write
      ++recovered.bad_lines;
      break;
    }
    const std::string_view body = checked_body(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
    const auto fields = split_tabs(body);
    Violation v;
    if (fields[0] == "V" && parse_violation(fields, v)) {
      if (index.emplace(v.id, added.size()).second) added.emplace_back(std::move(v), false);
    } else if (fields[0] == "D" && fields.size() >= 2) {
      bool ok = true;
      for (std::size_t i = 1; i < fields.size() && ok; ++i) {
        ok = unescape(fields[i], id);
        if (auto it = index.find(id); ok && it != index.end()) added[it->second].second = true;
      }
      if (!ok) ++recovered.bad_lines;
    } else {
      ++recovered.bad_lines;
    }
  }
  for (auto& [v, landed] : added) {
    if (landed) continue;
    if (recovered.violations.size() < limit)
      recovered.violations.push_back(std::move(v));
    else
      ++recovered.over_limit;
  }
  return true;
}

bool ViolationSpool::add(const std::deque<Violation>& violations, std::size_t from) {
  if (fd_ < 0) return false;
  std::string out;
  for (std::size_t i = from; i < violations.size(); ++i) out += encode(violations[i]);
  if (out.empty()) return true;
  if (!write_all(fd_, out)) return fail("cannot append to");
  if (::fdatasync(fd_) != 0) return fail("cannot flush");
  return true;
}

bool ViolationSpool::done(const std::vector<std::string_view>& ids) {
  if (fd_ < 0) return false;
  if (ids.empty()) return true;
  if (!write_all(fd_, encode_done(ids))) return fail("cannot append to");
  return true;
}

bool ViolationSpool::rewrite(const std::deque<Violation>& live) {
  if (fd_ < 0) return false;
  const auto tmp = dir_ / "violations.spool.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error_ = describe("cannot create", tmp, errno);
    return false;
  }
  bool ok = true;
  std::string out;
  for (std::size_t i = 0; i < live.size() && ok; ++i) {
    out += encode(live[i]);
    if (out.size() >= 256 * 1024 || i + 1 == live.size()) {
      ok = write_all(fd, out);
      out.clear();
    }
  }
  ok = ok && ::fdatasync(fd) == 0;
  if (!ok) error_ = describe("cannot write", tmp, errno);
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    error_ = describe("cannot rename over", path_, errno);
    ok = false;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  // The rename is durable once the directory is.
  if (const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  const int fresh = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fresh < 0) return fail("cannot reopen");
  ::close(fd_);
  fd_ = fresh;
  return true;
}

bool ViolationSpool::clear() {
  if (fd_ < 0) return false;
  if (::ftruncate(fd_, 0) != 0) return fail("cannot truncate");
  return true;
}

void ViolationSpool::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  lock_fd_ = -1;
}

}  // namespace chatdesk::monitor
