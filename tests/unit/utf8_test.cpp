#include "chatdesk/monitor/utf8.hpp"

#include <catch2/catch.hpp>

#include <string>

using chatdesk::monitor::utf8::count_code_points;
using chatdesk::monitor::utf8::is_valid;

TEST_CASE("utf8: Chinese text is counted in code points, not bytes", "[utf8]") {
  const std::string_view greeting = "您好，请问有什么可以帮您？";
  CHECK(greeting.size() == 39);
  CHECK(count_code_points(greeting) == 13u);
}

TEST_CASE("utf8: ASCII, mixed and empty text", "[utf8]") {
  CHECK(count_code_points("") == 0u);
  CHECK(count_code_points("hello") == 5u);
  // Long ASCII runs take the 8-bytes-at-a-time path; the CJK in between the slow one.
  CHECK(count_code_points("order 2024112500017 已发货, tracking SF1234567890 到了吗") == 50u);
  CHECK(count_code_points(std::string_view("a\0b", 3)) == 3u);
  CHECK(count_code_points("😀👍") == 2u);  // 4-byte sequences
}

TEST_CASE("utf8: the edges of each sequence length are accepted", "[utf8]") {
  CHECK(count_code_points("\x7F") == 1u);              // U+007F
  CHECK(count_code_points("\xC2\x80") == 1u);          // U+0080
  CHECK(count_code_points("\xDF\xBF") == 1u);          // U+07FF
  CHECK(count_code_points("\xE0\xA0\x80") == 1u);      // U+0800
  CHECK(count_code_points("\xED\x9F\xBF") == 1u);      // U+D7FF, just below the surrogates
  CHECK(count_code_points("\xEE\x80\x80") == 1u);      // U+E000, just above them
  CHECK(count_code_points("\xEF\xBF\xBF") == 1u);      // U+FFFF
  CHECK(count_code_points("\xF0\x90\x80\x80") == 1u);  // U+10000
  CHECK(count_code_points("\xF4\x8F\xBF\xBF") == 1u);  // U+10FFFF
}

TEST_CASE("utf8: malformed text is refused", "[utf8]") {
  CHECK_FALSE(count_code_points("\x80"));                  // continuation without a lead
  CHECK_FALSE(count_code_points("\xE6\x82"));              // truncated 您
  CHECK_FALSE(count_code_points("\xE6\x82\xA8\xE5"));      // 您 then a truncated character
  CHECK_FALSE(count_code_points("\xE6\x41\xA8"));          // a lead followed by ASCII
  CHECK_FALSE(count_code_points("\xC0\xAF"));              // overlong '/'
  CHECK_FALSE(count_code_points("\xC1\xBF"));              // overlong U+007F
  CHECK_FALSE(count_code_points("\xE0\x80\xAF"));          // overlong, 3 bytes
  CHECK_FALSE(count_code_points("\xF0\x80\x80\xAF"));      // overlong, 4 bytes
  CHECK_FALSE(count_code_points("\xED\xA0\x80"));          // surrogate U+D800
  CHECK_FALSE(count_code_points("\xED\xBF\xBF"));          // surrogate U+DFFF
  CHECK_FALSE(count_code_points("\xF4\x90\x80\x80"));      // U+110000
  CHECK_FALSE(count_code_points("\xF8\x88\x80\x80\x80"));  // 5-byte form
  CHECK_FALSE(count_code_points("\xFF"));
  // A bad byte right after a long ASCII run (the fast path must stop in time).
  CHECK_FALSE(count_code_points("abcdefghijklmnopqrstuvwx\x80yz"));
  CHECK_FALSE(is_valid("abc\xC3"));
  CHECK(is_valid("abc\xC3\xA9"));
}

TEST_CASE("utf8: the trusted count equals the validating one on well-formed text", "[utf8]") {
  using chatdesk::monitor::utf8::count_code_points_trusted;
  // Every length from 0 to 300 bytes and every alignment of the characters against the 8-byte
  // words: prefixes of a text mixing 1-, 2-, 3- and 4-byte characters, cut at characters.
  std::string text;
  const char* const pieces[] = {"a", "您", "é", "😀", "好", "1", "，", "Z", "ü", "测试"};
  for (int i = 0; text.size() < 300; ++i) text += pieces[i % 10];
  for (std::size_t n = 0; n <= text.size(); ++n) {
    const std::string_view prefix(text.data(), n);
    const auto expected = count_code_points(prefix);
    if (!expected) continue;  // cut inside a character
    INFO("length " << n);
    CHECK(count_code_points_trusted(prefix) == expected);
  }
  CHECK(count_code_points_trusted("") == 0u);
  CHECK(count_code_points_trusted("您好，请问有什么可以帮您？") == 13u);
  CHECK(count_code_points_trusted(std::string(1000, 'x')) == 1000u);  // several 31-word blocks
}

TEST_CASE("utf8: the trusted count refuses text cut inside its last character", "[utf8]") {
  using chatdesk::monitor::utf8::count_code_points_trusted;
  CHECK_FALSE(count_code_points_trusted("一二三四五六七八九十\xE4"));
  CHECK_FALSE(count_code_points_trusted("一二三四五六七八九十\xE4\xB8"));
  CHECK_FALSE(count_code_points_trusted("\xF0\x9F\x98"));
  CHECK_FALSE(count_code_points_trusted("ab\xC3"));
  CHECK(count_code_points_trusted("一二三四五六七八九十\xE4\xB8\x80") == 11u);
}

TEST_CASE("utf8: the trusted count is safe on other malformed text", "[utf8]") {
  using chatdesk::monitor::utf8::count_code_points_trusted;
  // Not validated: stray continuation bytes are skipped, the rest counted, nothing read beyond.
  CHECK(count_code_points_trusted("\x80\x80\x80\x80\x80") == 0u);
  CHECK(count_code_points_trusted("a\x80"
                                  "b") == 2u);
  CHECK(count_code_points_trusted("\xFF\xFE\xC0\xAF") == 3u);
  const std::string long_stray(20, '\x80');
  CHECK(count_code_points_trusted(long_stray) == 0u);
}
