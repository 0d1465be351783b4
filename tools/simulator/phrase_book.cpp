#include "phrase_book.hpp"

#include <algorithm>

namespace chatdesk::sim {

namespace {

template <class T>
const T& pick(const std::vector<T>& list, Rng& rng) {
  std::uniform_int_distribution<std::size_t> d(0, list.size() - 1);
  return list[d(rng)];
}

}  // namespace

std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

PhraseBook::PhraseBook() {
  // Customers' first questions: 10-40 code points each.
  questions_ = {
      "你好，请问这款今天下单什么时候能发货？", "我昨天买的衣服还没发货，能帮我催一下吗？",
      "这件外套我平时穿L码，应该选哪个尺码？",  "收到的鞋子有点小，可以退货或者换大一码吗？",
      "请问店铺现在有优惠券可以领吗？",         "快递到新疆要几天？包邮吗？",
      "这个颜色实物和图片有色差吗？",           "下单的时候地址填错了，还能修改吗？",
      "请问可以开发票吗？公司报销要用",         "这款是纯棉的吗？洗了会不会缩水？",
      "我买了两件想退一件，运费怎么算？",       "物流三天没更新了，是不是丢件了？",
      "满减活动和优惠券能一起用吗？",           "身高一米七体重一百三十斤，穿什么码合适？",
      "退货申请提交了，退货地址在哪里看？",
  };
  follow_ups_ = {
      "那大概几天能到？", "好的，那运费谁出呀？", "能便宜一点吗？",   "如果不合适可以换吗？",
      "还有别的颜色吗？", "那我现在下单可以吗？", "退款多久能到账？", "可以顺丰发货吗？",
  };
  thanks_ = {"好的，谢谢！", "明白了，谢谢你", "好的好的，谢谢"};

  // Agents. The shop's greeting phrases are 您好/你好/欢迎, farewells 再见/祝您愉快, and the
  // phrases to avoid 我不能/我不会/我不愿意/我不可以/但是 (config/chatdesk.yaml): only the
  // negative answers and the curt lines break those rules.
  greetings_ = {
      "您好",
      "您好！",
      "您好，在的",
      "你好，在的，请讲",
      "您好，欢迎光临～",
      "您好，请问有什么可以帮您？",
      "您好，欢迎光临本店，请问有什么可以帮您？",
  };
  curt_greetings_ = {"在的", "在呢，请讲", "亲，请问什么问题？"};
  holds_ = {"请稍等", "亲，请稍等", "稍等，我帮您查一下", "请稍等，马上给您查"};
  answers_ = {
      "今天下午四点前付款的订单当天就能发货哦",
      "我们默认发中通快递，一般两到三天就能到",
      "支持七天无理由退货，商品不影响二次销售就可以",
      "建议您参考详情页的尺码表，这款偏小一码",
      "优惠券在店铺首页领取，下单结算时会自动抵扣",
      "这款是纯棉面料，透气不起球，可以放心购买",
      "发票可以在订单详情里申请，电子发票会发到您邮箱",
      "亲，已经帮您备注了，仓库会优先安排发出",
      "退货地址在退货申请通过后会自动显示给您",
      "换货的话运费由我们承担，您直接申请就好",
      "这款目前有现货，黑色和白色都有的",
      "满两百减二十，可以和店铺优惠券一起使用",
      "收到商品有质量问题的话，我们包退包换",
      "您的订单已经发出了，物流单号在订单详情里",
      "地址还可以修改，我这边帮您改好了",
  };
  negative_answers_ = {
      "这个我不能保证，我们会尽量帮您加急处理", "价格是统一的，我不能单独给您改价哦",
      "可以退，但是需要您先承担一下运费",       "这款是有现货的，但是要三天后才能发货",
      "我不会骗您的，这个是品牌正品",
  };
  farewells_ = {"再见！", "不客气，再见！", "感谢您的咨询，再见！", "好的，祝您愉快～",
                "感谢光临，祝您愉快！"};
  curt_farewells_ = {"好的", "还有问题随时找我们哦", "嗯嗯，那先这样"};
  handover_notes_ = {
      "交接班：有顾客在问发货时间，单号已查，请继续跟进",
      "交接：退货的顾客在等退货地址，其他都在正常咨询",
      "换班了，聊天记录里都有，辛苦啦",
  };

  greeting_set_.insert(greetings_.begin(), greetings_.end());
  greeting_set_.insert(curt_greetings_.begin(), curt_greetings_.end());
  hold_set_.insert(holds_.begin(), holds_.end());
  farewell_set_.insert(farewells_.begin(), farewells_.end());
  farewell_set_.insert(curt_farewells_.begin(), curt_farewells_.end());
  thanks_set_.insert(thanks_.begin(), thanks_.end());
  // Shortest first, so greeting() can find the longest that fits.
  auto by_length = [](const std::string& a, const std::string& b) {
    return code_points(a) < code_points(b);
  };
  std::stable_sort(greetings_.begin(), greetings_.end(), by_length);
  std::stable_sort(curt_greetings_.begin(), curt_greetings_.end(), by_length);
}

const std::string& PhraseBook::question(Rng& rng) const {
  return pick(questions_, rng);
}
const std::string& PhraseBook::follow_up(Rng& rng) const {
  return pick(follow_ups_, rng);
}
const std::string& PhraseBook::thanks(Rng& rng) const {
  return pick(thanks_, rng);
}

const std::string& PhraseBook::greeting(Rng& rng, std::size_t max_chars, bool polite) const {
  const auto& list = polite ? greetings_ : curt_greetings_;
  // Among the greetings that fit, any; when none fits, the shortest.
  std::size_t fitting = 0;
  while (fitting < list.size() && code_points(list[fitting]) <= max_chars) ++fitting;
  if (fitting == 0) return list.front();
  std::uniform_int_distribution<std::size_t> d(0, fitting - 1);
  return list[d(rng)];
}

const std::string& PhraseBook::hold(Rng& rng) const {
  return pick(holds_, rng);
}
const std::string& PhraseBook::answer(Rng& rng, bool negative) const {
  return pick(negative ? negative_answers_ : answers_, rng);
}
const std::string& PhraseBook::farewell(Rng& rng, bool polite) const {
  return pick(polite ? farewells_ : curt_farewells_, rng);
}
const std::string& PhraseBook::handover_note(Rng& rng) const {
  return pick(handover_notes_, rng);
}

PhraseBook::AgentLine PhraseBook::classify(const std::string& agent_text) const {
  if (greeting_set_.contains(agent_text)) return AgentLine::greeting;
  if (hold_set_.contains(agent_text)) return AgentLine::hold;
  if (farewell_set_.contains(agent_text)) return AgentLine::farewell;
  return AgentLine::answer;
}

bool PhraseBook::is_thanks(const std::string& customer_text) const {
  return thanks_set_.contains(customer_text);
}

}  // namespace chatdesk::sim
