#pragma once
// Finds which of a fixed list of phrases (a shop's avoid, greeting and farewell phrases) occur in
// an agent message, in one pass over the text instead of one search per phrase: the engine checks
// every agent message against all of them. Immutable after construction: thread-safe; matching
// does not allocate.

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatdesk::monitor {

class PhraseSet {
 public:
  // Empty phrases never match; phrases are whole UTF-8 characters (as config text always is).
  explicit PhraseSet(std::vector<std::string> phrases);

  std::size_t size() const { return phrases_.size(); }
  const std::string& phrase(std::size_t i) const { return phrases_[i]; }

  // Calls found(i) once for every phrase i that occurs in `text`, in increasing i.
  template <typename Found>
  void for_each_match(std::string_view text, Found&& found) const {
    for (std::uint64_t mask = fast_matches(text); mask != 0; mask &= mask - 1)
      found(static_cast<std::size_t>(std::countr_zero(mask)));
    for (std::size_t i = kFast; i < phrases_.size(); ++i)
      if (!phrases_[i].empty() && text.find(phrases_[i]) != text.npos) found(i);
  }

 private:
  // The first 64 phrases are found by the one-pass scan (a bit each); any further ones, which no
  // real shop list reaches, by a plain search each.
  static constexpr std::size_t kFast = 64;
  // The scan is Wu-Manber's: a window of min_length_ bytes slides over the text, and the last two
  // bytes of the window say how far it may jump without skipping a phrase start (`shift_`, by a
  // 12-bit hash of the two bytes); only where that is 0 are phrases compared. In Chinese text a
  // window of two characters (6 bytes) jumps 5 bytes at a time, so a message costs a few
  // instructions per character instead of a lookup per character. Phrases are found at any byte
  // position; in well-formed UTF-8 only a character boundary can match a phrase's first byte.
  static constexpr unsigned kBlockBits = 12;
  static std::uint32_t block(const unsigned char* p) {
    const std::uint32_t two = (std::uint32_t{p[0]} << 8) | p[1];
    return (two * 0x9E37'79B1U) >> (32 - kBlockBits);
  }

  std::uint64_t fast_matches(std::string_view text) const;

  std::vector<std::string> phrases_;
  std::vector<std::uint32_t> one_byte_;  // phrases of one byte
  struct Candidate {
    std::uint32_t block;  // block() of the last two bytes of the phrase's first min_length_
    std::uint32_t index;  // into phrases_
  };
  std::vector<Candidate> candidates_;  // phrases of two or more bytes, in index order
  std::size_t min_length_ = 0;         // of those phrases
  std::vector<std::uint8_t> shift_;    // 1 << kBlockBits entries once there are candidates
};

}  // namespace chatdesk::monitor
