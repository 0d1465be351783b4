#include "phrase_set.hpp"

#include <algorithm>
#include <cstring>

namespace chatdesk::monitor {

PhraseSet::PhraseSet(std::vector<std::string> phrases) : phrases_(std::move(phrases)) {
  for (std::size_t i = 0; i < phrases_.size() && i < kFast; ++i) {
    const std::string& p = phrases_[i];
    if (p.empty()) continue;
    const auto index = static_cast<std::uint32_t>(i);
    if (p.size() == 1) {
      one_byte_.push_back(index);
      continue;
    }
    candidates_.push_back({0, index});
    min_length_ = min_length_ == 0 ? p.size() : std::min(min_length_, p.size());
  }
  if (candidates_.empty()) return;
  // A window may jump so far that its last two bytes land on the last two of some phrase's
  // prefix; min_length_ - 1 when they occur in none. Shifts are at most 254 (longer prefixes are
  // cut there), and a hash collision only makes a jump shorter, never skips a phrase.
  min_length_ = std::min<std::size_t>(min_length_, 255);
  shift_.assign(std::size_t{1} << kBlockBits, static_cast<std::uint8_t>(min_length_ - 1));
  for (Candidate& c : candidates_) {
    const auto* p = reinterpret_cast<const unsigned char*>(phrases_[c.index].data());
    for (std::size_t j = 0; j + 2 <= min_length_; ++j) {
      std::uint8_t& s = shift_[block(p + j)];
      s = std::min(s, static_cast<std::uint8_t>(min_length_ - 2 - j));
    }
    c.block = block(p + min_length_ - 2);
  }
}

std::uint64_t PhraseSet::fast_matches(std::string_view text) const {
  std::uint64_t mask = 0;
  for (const std::uint32_t i : one_byte_)
    if (text.find(phrases_[i][0]) != text.npos) mask |= std::uint64_t{1} << i;
  const std::size_t m = min_length_;
  const std::size_t size = text.size();
  if (candidates_.empty() || size < m) return mask;
  const auto* const data = reinterpret_cast<const unsigned char*>(text.data());
  const std::uint8_t* const shift = shift_.data();
  // `pos` is where the window starts; its last two bytes are at pos + m - 2.
  for (std::size_t pos = 0; pos + m <= size;) {
    const std::uint32_t b = block(data + pos + m - 2);
    const std::size_t s = shift[b];
    if (s != 0) {
      pos += s;
      continue;
    }
    const std::size_t left = size - pos;
    for (const Candidate& c : candidates_) {
      if (c.block != b) continue;
      const std::string& p = phrases_[c.index];
      if (p.size() <= left && std::memcmp(data + pos, p.data(), p.size()) == 0)
        mask |= std::uint64_t{1} << c.index;
    }
    ++pos;
  }
  return mask;
}

}  // namespace chatdesk::monitor
