// PhraseSet is private to the engine (monitor/src/engine); it is tested directly because the
// engine's tests reach only the phrases of the default language config.
#include "../../monitor/src/engine/phrase_set.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using chatdesk::monitor::PhraseSet;

namespace {

std::vector<std::size_t> matches(const PhraseSet& set, std::string_view text) {
  std::vector<std::size_t> found;
  set.for_each_match(text, [&](std::size_t i) { found.push_back(i); });
  return found;
}

using Found = std::vector<std::size_t>;

}  // namespace

TEST_CASE("phrase set: the default Chinese phrases in agent messages", "[phrase_set]") {
  const PhraseSet set({"我不能", "我不会", "我不愿意", "我不可以", "但是", "您好", "你好", "欢迎",
                       "再见", "祝您愉快"});
  CHECK(matches(set, "已经帮您查到了，订单今天下午就会发出。") == Found{});
  CHECK(matches(set, "这个价格已经是最低了，但是可以送您一个小礼品。") == Found{4});
  CHECK(matches(set, "感谢您的耐心，祝您愉快，再见！") == Found{8, 9});
  CHECK(matches(set, "您好，欢迎光临小店！") == Found{5, 7});
  CHECK(matches(set, "我不可以，我不能，我不会") == Found{0, 1, 3});
}

TEST_CASE("phrase set: a phrase at the very start and at the very end", "[phrase_set]") {
  const PhraseSet set({"您好", "再见"});
  CHECK(matches(set, "您好") == Found{0});
  CHECK(matches(set, "您好！") == Found{0});
  CHECK(matches(set, "好的，再见") == Found{1});
  CHECK(matches(set, "再见您好") == Found{0, 1});
}

TEST_CASE("phrase set: overlapping phrases are all found", "[phrase_set]") {
  const PhraseSet set({"祝您", "您愉快", "愉快"});
  CHECK(matches(set, "祝您愉快") == Found{0, 1, 2});
  const PhraseSet ascii({"abc", "bcd", "cd"});
  CHECK(matches(ascii, "xabcdx") == Found{0, 1, 2});
  CHECK(matches(ascii, "abdcd") == Found{2});
}

TEST_CASE("phrase set: phrases sharing a prefix are told apart", "[phrase_set]") {
  const PhraseSet set({"我不能", "我不会", "我不愿意", "我不"});
  CHECK(matches(set, "我不愿意") == Found{2, 3});
  CHECK(matches(set, "我不会的") == Found{1, 3});
  CHECK(matches(set, "我不想") == Found{3});
  CHECK(matches(set, "我们") == Found{});
}

TEST_CASE("phrase set: a text that is only a prefix of a phrase does not match", "[phrase_set]") {
  const PhraseSet set({"祝您愉快", "我不愿意"});
  CHECK(matches(set, "祝您愉") == Found{});
  CHECK(matches(set, "祝") == Found{});
  CHECK(matches(set, "") == Found{});
  CHECK(matches(set, "我不愿") == Found{});
  // A text cut inside the phrase's last character.
  CHECK(matches(set, std::string_view("祝您愉快", 11)) == Found{});
}

TEST_CASE("phrase set: mixed ASCII and CJK text and phrases", "[phrase_set]") {
  const PhraseSet set({"OK", "订单SF", "谢谢", "x"});
  CHECK(matches(set, "订单SF1234567890 已发货, OK?") == Found{0, 1});
  CHECK(matches(set, "order SF123 谢谢 x") == Found{2, 3});
  CHECK(matches(set, "ok 订单 SF") == Found{});
  CHECK(matches(set, "2024112500017") == Found{});
}

TEST_CASE("phrase set: empty phrases never match, one-character phrases do", "[phrase_set]") {
  const PhraseSet set({"", "好", "!"});
  CHECK(set.size() == 3);
  CHECK(matches(set, "") == Found{});
  CHECK(matches(set, "好!") == Found{1, 2});
  CHECK(matches(set, "你们") == Found{});
}

TEST_CASE("phrase set: phrases beyond the first 64 are found too", "[phrase_set]") {
  std::vector<std::string> phrases;
  for (int i = 0; i < 70; ++i) phrases.push_back("短语" + std::to_string(i) + "号");
  const PhraseSet set(phrases);
  CHECK(matches(set, "这是短语3号和短语66号") == Found{3, 66});
  CHECK(set.phrase(66) == "短语66号");
}

TEST_CASE("phrase set: a long text is scanned to its end", "[phrase_set]") {
  const PhraseSet set({"再见", "您好啊朋友们"});
  std::string text;
  for (int i = 0; i < 200; ++i) text += "已经帮您查到了";
  CHECK(matches(set, text) == Found{});
  CHECK(matches(set, text + "再见") == Found{0});
  CHECK(matches(set, text + "您好啊朋友们") == Found{1});
  CHECK(matches(set, text + "您好啊朋友") == Found{});
}
