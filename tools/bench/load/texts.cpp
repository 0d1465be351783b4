#include "texts.hpp"

namespace chatdesk::bench {
namespace {

constexpr std::string_view kCustomer =
    "你好，我昨天下的订单到现在还没有发货，请问大概什么时候能发出？我想改一下收货地址，换成公司的地"
    "址可以吗？这件衣服有没有大一号的尺码，我平时穿L码。收到的商品颜色和图片不太一样，可以退换吗？"
    "优惠券为什么用不了，页面一直提示不满足条件。快递显示已经签收了，可是我没有收到包裹。";

constexpr std::string_view kAgent =
    "很高兴为您服务，您的订单已经安排在今天下午发货，请留意物流信息。收货地址可以修改的，请把新地址"
    "发"
    "给我，我马上帮您更新。这款有大一号的尺码，建议您选择XL码，穿着会更舒适。商品支持七天无理由退换"
    "，"
    "运费由我们承担，请放心。";

constexpr std::string_view kAvoid =
    "这个优惠券确实可以使用，但是需要订单满一百元才会生效，请您再看一下。";

constexpr std::string_view kGreeting = "您好，";

std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  return 4;
}

// Code-point offsets of `text`.
std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> cps;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = sequence_length(static_cast<unsigned char>(text[i]));
    cps.push_back(text.substr(i, n));
    i += n;
  }
  return cps;
}

// Where sentences of `body` start (after 。？，): texts cut there read naturally.
std::vector<std::size_t> sentence_starts(std::string_view body) {
  auto b = split(body);
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i + 1 < b.size(); ++i)
    if (b[i] == "。" || b[i] == "？" || b[i] == "，") starts.push_back(i + 1);
  return starts;
}

// `chars` code points: `head`, then `body` from its `sentence`-th sentence start on, cycling.
std::string cut(std::string_view head, std::string_view body, std::size_t sentence,
                std::size_t chars) {
  auto h = split(head);
  auto b = split(body);
  auto starts = sentence_starts(body);
  std::size_t start = starts[sentence % starts.size()];
  std::string out;
  std::size_t n = 0;
  for (; n < chars && n < h.size(); ++n) out += h[n];
  for (std::size_t i = start; n < chars; ++n, ++i) out += b[i % b.size()];
  return out;
}

}  // namespace

std::size_t code_points(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

TextPool make_texts(std::size_t chars) {
  TextPool pool;
  // Different starting sentences make different texts of the same length.
  for (std::size_t i = 0; i < 8; ++i) {
    pool.customer.push_back(cut({}, kCustomer, i * 3, chars));
    pool.agent.push_back(cut(kGreeting, kAgent, i * 2, chars));
  }
  pool.agent_avoid = cut(kGreeting, kAvoid, 0, chars);
  return pool;
}

}  // namespace chatdesk::bench
