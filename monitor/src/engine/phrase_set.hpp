#pragma once
// Finds which of a fixed list of phrases (a shop's avoid, greeting and farewell phrases) occur in
// an agent message, in one pass over the text instead of one search per phrase: the engine checks
// every agent message against all of them. Immutable after construction: thread-safe; matching
// does not allocate.

#include <bitset>
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
    const std::uint64_t mask = fast_matches(text);
    for (std::size_t i = 0; i < phrases_.size(); ++i) {
      const bool hit = i < kFast ? ((mask >> i) & 1U) != 0
                                 : (!phrases_[i].empty() && text.find(phrases_[i]) != text.npos);
      if (hit) found(i);
    }
  }

 private:
  // The first 64 phrases are found by the one-pass scan (a bit each); any further ones, which no
  // real shop list reaches, by a plain search each.
  static constexpr std::size_t kFast = 64;
  struct Entry {
    std::uint32_t key;  // first one or two bytes of the phrase
    std::uint32_t index;
  };
  std::uint64_t fast_matches(std::string_view text) const;

  std::vector<std::string> phrases_;
  std::vector<Entry> two_byte_;   // phrases of 2+ bytes by their first two bytes, sorted by key
  std::vector<Entry> one_byte_;   // phrases of one byte
  std::bitset<65536> first_two_;  // whether any phrase starts with these two bytes
};

}  // namespace chatdesk::monitor
