#include "customer.hpp"

#include <boost/asio/post.hpp>

namespace chatdesk::sim {
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

}  // namespace

Customer::Customer(SimContext& ctx, std::string shop, std::uint64_t number,
                   std::function<void(std::uint64_t)> done)
    : ctx_(ctx),
      shop_(std::move(shop)),
      number_(number),
      who_("customer " + shop_ + "#" + std::to_string(number)),
      done_(std::move(done)),
      action_(ctx.ioc.get_executor()),
      wait_(ctx.ioc.get_executor()) {}

Customer::~Customer() {
  // A connection still open here is being closed cleanly by end(); anything else is cut.
  if (conn_ && !ended_) conn_->abort();
}

void Customer::start() {
  ++ctx_.stats.customers_started;
  conn_ = std::make_shared<WsConnection>(ctx_.ioc, ctx_.target, "/ws/customer?shop=" + shop_,
                                         ctx_.stats);
  std::weak_ptr<Customer> weak = weak_from_this();
  conn_->start({
      .on_frame =
          [weak](json::object& frame) {
            if (auto self = weak.lock()) self->on_frame(frame);
          },
      .on_closed =
          [weak](const CloseInfo& info) {
            if (auto self = weak.lock()) self->on_closed(info);
          },
  });
}

void Customer::stop() {
  if (ended_) return;
  end(heard_agent_ ? Ending::served : Ending::cut, true);
}

void Customer::on_closed(const CloseInfo& info) {
  if (ended_) return;
  if (info.http_status == 404 && ctx_.on_unknown_shop) ctx_.on_unknown_shop(shop_);
  if (!ctx_.stopping)
    ctx_.log(who_, (info.opened ? "connection lost (" : "cannot connect (") + info.error +
                       (info.close_code ? ", close code " + std::to_string(info.close_code) : "") +
                       ")");
  conn_.reset();
  end(ctx_.stopping ? (heard_agent_ ? Ending::served : Ending::cut) : Ending::dropped, false);
}

void Customer::on_frame(json::object& frame) {
  if (ended_) return;
  std::string_view type = str(frame, "type");
  if (type == "welcome") return on_welcome();
  if (type == "message") {
    ++ctx_.stats.messages_received;
    if (str(frame, "from") == "agent") on_agent_message(std::string(str(frame, "text")));
    return;
  }
  if (type == "closed") {
    closed_ = true;
    action_.cancel();
    wait_.cancel();
    action_.set(ctx_.real(ctx_.profile.leave_after_closed(ctx_.rng)),
                [this] { end(heard_agent_ ? Ending::served : Ending::left, false); });
    return;
  }
  if (type == "ack") {
    ++ctx_.stats.acks;
    return;
  }
  if (type == "error") return ctx_.on_error_frame(who_, frame);
  // assigned, typing, notice: nothing to do but keep waiting.
}

void Customer::on_welcome() {
  const auto& p = ctx_.profile;
  follow_ups_left_ = p.follow_ups(ctx_.rng);
  // Patience runs from arrival until the agent's first message.
  wait_.set(ctx_.real(p.patience(ctx_.rng)), [this] { give_up(); });
  say(ctx_.real(p.first_question(ctx_.rng)), ctx_.phrases.question(ctx_.rng));
}

void Customer::say(milliseconds delay, std::string text) {
  auto send_it = [this, text] {
    if (closed_ || !conn_) return;
    conn_->send({{"type", "message"}, {"text", text}, {"client_msg_id", ctx_.next_msg_id()}});
    ++ctx_.stats.messages_sent;
    if (!ctx_.phrases.is_thanks(text)) awaiting_ = true;
  };
  if (!ctx_.profile.types_first(ctx_.rng)) return action_.set(delay, send_it);
  // The agent's console shows "customer is typing" for the second half of the delay.
  action_.set(delay / 2, [this, delay, send_it] {
    if (closed_ || !conn_) return;
    conn_->send({{"type", "typing"}});
    action_.set(delay - delay / 2, send_it);
  });
}

void Customer::on_agent_message(const std::string& text) {
  const bool first = !heard_agent_;
  heard_agent_ = true;
  auto line = ctx_.phrases.classify(text);
  // Someone is there: from now on the customer waits a while for each answer, not forever.
  if (first || line != PhraseBook::AgentLine::farewell)
    wait_.set(ctx_.real(ctx_.profile.linger(ctx_.rng)), [this] { end(Ending::served, false); });
  if (line == PhraseBook::AgentLine::answer && awaiting_) {
    awaiting_ = false;
    after_answer();
  }
  // A greeting or a "请稍等" is not an answer; after a farewell the agent closes the chat.
}

void Customer::after_answer() {
  const auto& p = ctx_.profile;
  if (follow_ups_left_ > 0) {
    --follow_ups_left_;
    return say(ctx_.real(p.customer_turn(ctx_.rng)), ctx_.phrases.follow_up(ctx_.rng));
  }
  if (wrapping_up_) return;
  wrapping_up_ = true;
  if (p.sends_thanks(ctx_.rng))
    return say(ctx_.real(p.customer_turn(ctx_.rng)), ctx_.phrases.thanks(ctx_.rng));
  if (p.closes_itself(ctx_.rng))
    return action_.set(ctx_.real(p.customer_turn(ctx_.rng)), [this] { end(Ending::served, true); });
  // Otherwise wait (wait_) for the agent's farewell and close.
}

void Customer::give_up() {
  // Nobody answered in time: just leave (disconnect). The gateway keeps the conversation for the
  // shop's resume_grace, then counts it as missed.
  end(heard_agent_ ? Ending::served : Ending::left, false);
}

void Customer::end(Ending how, bool close_conversation) {
  if (ended_) return;
  ended_ = true;
  action_.cancel();
  wait_.cancel();
  switch (how) {
    case Ending::served:
      ++ctx_.stats.customers_served;
      break;
    case Ending::left:
      ++ctx_.stats.customers_left;
      break;
    case Ending::dropped:
      ++ctx_.stats.customers_dropped;
      break;
    case Ending::cut:
      ++ctx_.stats.customers_cut;
      break;
  }
  if (conn_) {
    if (close_conversation && !closed_) conn_->send({{"type", "close"}});
    conn_->close();
  }
  // Later, so the runner does not destroy this customer inside its own call.
  boost::asio::post(ctx_.ioc, [done = done_, number = number_] { done(number); });
}

}  // namespace chatdesk::sim
