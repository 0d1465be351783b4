#include "phrase_set.hpp"

#include <algorithm>

namespace chatdesk::monitor {
namespace {

std::uint32_t two_bytes(const char* p) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) << 8) |
         static_cast<unsigned char>(p[1]);
}

// UTF-8 sequence length by the high nibble of its first byte; 1 for ASCII and stray bytes.
constexpr std::uint8_t kCharLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};

}  // namespace

PhraseSet::PhraseSet(std::vector<std::string> phrases) : phrases_(std::move(phrases)) {
  for (std::size_t i = 0; i < phrases_.size() && i < kFast; ++i) {
    const std::string& p = phrases_[i];
    if (p.empty()) continue;
    const auto index = static_cast<std::uint32_t>(i);
    if (p.size() == 1) {
      one_byte_.push_back({static_cast<unsigned char>(p[0]), index});
    } else {
      two_byte_.push_back({two_bytes(p.data()), index});
      first_two_.set(two_bytes(p.data()));
    }
  }
  std::sort(two_byte_.begin(), two_byte_.end(),
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
}

std::uint64_t PhraseSet::fast_matches(std::string_view text) const {
  std::uint64_t mask = 0;
  for (const Entry& e : one_byte_)
    if (text.find(phrases_[e.index][0]) != text.npos) mask |= std::uint64_t{1} << e.index;
  if (two_byte_.empty() || text.size() < 2) return mask;
  const char* const data = text.data();
  const std::size_t size = text.size();
  for (std::size_t pos = 0; pos + 1 < size;) {
    const auto lead = static_cast<unsigned char>(data[pos]);
    const std::uint32_t key = two_bytes(data + pos);
    if (first_two_[key]) {
      const auto [first, last] =
          std::equal_range(two_byte_.begin(), two_byte_.end(), Entry{key, 0},
                           [](const Entry& a, const Entry& b) { return a.key < b.key; });
      for (auto it = first; it != last; ++it) {
        const std::string& p = phrases_[it->index];
        if (text.compare(pos, p.size(), p) == 0) mask |= std::uint64_t{1} << it->index;
      }
    }
    // Phrases start at a character, so step a whole character (CJK is 3 bytes); bytes that begin
    // no character (malformed text) are stepped over one at a time.
    pos += kCharLength[lead >> 4];
  }
  return mask;
}

}  // namespace chatdesk::monitor
