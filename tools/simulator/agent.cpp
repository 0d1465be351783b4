#include "agent.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

namespace chatdesk::sim {
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

bool flag(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

constexpr milliseconds kMaxReconnectDelay{10'000};

}  // namespace

Agent::Agent(SimContext& ctx, std::string shop, int number,
             std::optional<milliseconds> handover_after)
    : ctx_(ctx),
      shop_(std::move(shop)),
      id_("sim-agent-" + std::to_string(number)),
      who_("agent " + shop_ + "/" + id_),
      traits_(ctx.profile.agent_traits(ctx.rng)),
      handover_after_(handover_after),
      status_alarm_(ctx.ioc.get_executor()),
      break_alarm_(ctx.ioc.get_executor()),
      handover_alarm_(ctx.ioc.get_executor()),
      reconnect_alarm_(ctx.ioc.get_executor()) {}

Agent::~Agent() {
  if (conn_) conn_->abort();
}

void Agent::start() {
  connect();
  schedule_break(ctx_.real(ctx_.profile.break_interval(ctx_.rng)));
  if (handover_after_) schedule_handover(*handover_after_);
}

void Agent::leave_desk(std::function<void()> done) {
  status_alarm_.cancel();
  break_alarm_.cancel();
  handover_alarm_.cancel();
  reconnect_alarm_.cancel();
  if (!conn_ || !welcomed_) {
    boost::asio::post(ctx_.ioc, std::move(done));
    return;
  }
  for (auto& [id, chat] : chats_) chat->alarm.cancel();
  leaving_ = true;
  left_desk_ = std::move(done);
  // The gateway handles one connection's frames in order: the "status" reply to "away" comes
  // after both are done.
  send({{"type", "handover"}, {"to", nullptr}, {"note", "下班了，未完成的对话请同事接手"}});
  set_status(false);
}

void Agent::stop() {
  stopped_ = true;
  left_desk_ = nullptr;
  chats_.clear();
  status_alarm_.cancel();
  break_alarm_.cancel();
  handover_alarm_.cancel();
  reconnect_alarm_.cancel();
  if (conn_) conn_->close();
}

void Agent::connect() {
  if (stopped_ || ctx_.stopping) return;
  conn_ = std::make_shared<WsConnection>(ctx_.ioc, ctx_.target,
                                         "/ws/agent?shop=" + shop_ + "&agent=" + id_, ctx_.stats);
  std::weak_ptr<Agent> weak = weak_from_this();
  WsConnection* conn = conn_.get();
  conn_->start({
      .on_frame =
          [weak, conn](json::object& frame) {
            if (auto self = weak.lock(); self && self->conn_.get() == conn) self->on_frame(frame);
          },
      .on_closed =
          [weak, conn](const CloseInfo& info) {
            if (auto self = weak.lock(); self && self->conn_.get() == conn) self->on_closed(info);
          },
  });
}

void Agent::on_closed(const CloseInfo& info) {
  conn_.reset();
  if (left_desk_) boost::asio::post(ctx_.ioc, std::exchange(left_desk_, nullptr));
  chats_.clear();
  status_alarm_.cancel();
  if (welcomed_) --ctx_.stats.agents_online;
  welcomed_ = false;
  available_ = false;
  on_break_ = false;
  if (stopped_ || ctx_.stopping) return;
  if (info.http_status == 404) {
    ctx_.log(who_, info.error + ": the gateway has no shop '" + shop_ + "'");
    if (ctx_.on_unknown_shop) ctx_.on_unknown_shop(shop_);
    return;
  }
  if (info.close_code == 1008) {
    // Replaced: someone else connected with this agent id; do not fight over it.
    ctx_.log(who_, "replaced by another connection with the same agent id; staying offline");
    return;
  }
  milliseconds delay =
      std::min(kMaxReconnectDelay, milliseconds(500) * (1 << std::min(reconnects_, 5)));
  ++reconnects_;
  ctx_.log(who_, (info.opened ? "connection lost (" : "cannot connect (") + info.error +
                     (info.close_code ? ", close code " + std::to_string(info.close_code) : "") +
                     "); reconnecting in " + std::to_string(delay.count()) + " ms");
  reconnect_alarm_.set(delay, [this] { connect(); });
}

void Agent::send(json::object frame) {
  if (conn_) conn_->send(frame);
}

void Agent::on_frame(json::object& frame) {
  std::string_view type = str(frame, "type");
  if (type == "welcome") return on_welcome();
  if (type == "assigned") return on_assigned(frame);
  if (type == "status") {
    available_ = str(frame, "state") == "available";
    if (!available_ && left_desk_) std::exchange(left_desk_, nullptr)();
    return;
  }
  if (type == "desk") {
    roster_.clear();
    if (auto* agents = frame.if_contains("agents"); agents && agents->is_array())
      for (const auto& a : agents->get_array())
        if (a.is_object())
          roster_.emplace_back(str(a.get_object(), "id"), str(a.get_object(), "state"));
    return;
  }
  if (type == "message") {
    ++ctx_.stats.messages_received;
    auto it = chats_.find(std::string(str(frame, "conversation")));
    if (it != chats_.end() && str(frame, "from") == "customer")
      on_customer_message(*it->second, std::string(str(frame, "text")));
    return;
  }
  if (type == "unassigned" || type == "closed")
    return forget(std::string(str(frame, "conversation")));
  if (type == "ack") {
    ++ctx_.stats.acks;
    return;
  }
  if (type == "sla") {
    if (str(frame, "severity") == "breach")
      ++ctx_.stats.sla_breaches;
    else
      ++ctx_.stats.sla_warnings;
    return;
  }
  if (type == "error") return ctx_.on_error_frame(who_, frame);
  // typing, presence: a person would glance at them; nothing to do.
}

void Agent::on_welcome() {
  if (!welcomed_) ++ctx_.stats.agents_online;
  welcomed_ = true;
  reconnects_ = 0;
  if (!on_break_)
    status_alarm_.set(ctx_.real(ctx_.profile.go_available(ctx_.rng)), [this] { set_status(true); });
}

void Agent::set_status(bool available) {
  send({{"type", "status"}, {"state", available ? "available" : "away"}});
  available_ = available;
}

void Agent::on_assigned(const json::object& frame) {
  std::string id(str(frame, "conversation"));
  if (id.empty() || leaving_) return;
  auto chat = std::make_unique<Chat>(ctx_.ioc.get_executor());
  chat->id = id;
  chat->greeted = flag(frame, "greeted");
  // Unanswered customer messages so far: those after the last agent message of the history.
  if (auto* history = frame.if_contains("history"); history && history->is_array()) {
    for (const auto& m : history->get_array()) {
      if (!m.is_object()) continue;
      const auto& msg = m.get_object();
      if (str(msg, "from") == "agent") {
        chat->owed = 0;
        chat->thanked = false;
      } else if (ctx_.phrases.is_thanks(std::string(str(msg, "text")))) {
        chat->thanked = true;
      } else {
        ++chat->owed;
      }
    }
  }
  Chat& c = *chat;
  chats_[id] = std::move(chat);
  if (!c.greeted && ctx_.profile.ignores_customer(ctx_.rng)) {
    c.step = Step::ignoring;  // never answered: greeting warnings, breaches, a missed conversation
    return;
  }
  if (!c.greeted)
    plan_greeting(c);
  else
    next_step(c);
}

void Agent::on_customer_message(Chat& chat, const std::string& text) {
  if (ctx_.phrases.is_thanks(text))
    chat.thanked = true;
  else
    ++chat.owed;
  // Something in progress picks the message up when it is done.
  if (chat.step == Step::idle || chat.step == Step::quiet) {
    chat.alarm.cancel();
    next_step(chat);
  }
}

void Agent::forget(const std::string& conversation) {
  chats_.erase(conversation);
}

milliseconds Agent::typing_time(std::size_t chars) {
  return ctx_.real(ctx_.profile.typing(traits_, chars, ctx_.rng));
}

void Agent::next_step(Chat& chat) {
  chat.step = Step::idle;
  if (!chat.greeted) return plan_greeting(chat);
  if (chat.owed > 0) return plan_reply(chat);
  if (chat.thanked || chat.answers >= ctx_.profile.max_answers()) return plan_farewell(chat);
  // Nothing asked: wait a little for a follow-up, then wrap up (a first question gets longer).
  chat.step = Step::quiet;
  double quiet = chat.answers > 0 ? 1.0 : 6.0;
  Delay d = ctx_.profile.quiet_before_close(ctx_.rng);
  d.seconds *= quiet;
  chat.alarm.set(ctx_.real(d), [this, c = &chat] { plan_farewell(*c); });
}

void Agent::plan_greeting(Chat& chat) {
  const auto& p = ctx_.profile;
  milliseconds latency = ctx_.real(p.greeting_latency(ctx_.rng));
  milliseconds reaction = ctx_.real_seconds(0.5);
  // The longest greeting this agent can type in the time left; the shortest when none fits.
  milliseconds per_char = std::max(milliseconds(1), typing_time(1));
  auto budget = latency > reaction ? (latency - reaction) / per_char : 0;
  std::string text = ctx_.phrases.greeting(ctx_.rng, static_cast<std::size_t>(budget),
                                           p.polite_greeting(ctx_.rng));
  milliseconds typing = typing_time(code_points(text));
  milliseconds wait = std::max(reaction, latency - typing);
  type_then_send(chat, wait, typing, std::move(text), Line::greeting);
}

void Agent::plan_reply(Chat& chat) {
  if (chat.thanked && chat.owed == 0) return plan_farewell(chat);
  const auto& p = ctx_.profile;
  Delay think = p.think(ctx_.rng);
  std::string text = ctx_.phrases.answer(ctx_.rng, p.negative_phrase(ctx_.rng));
  Delay typing = p.typing(traits_, code_points(text), ctx_.rng);
  // A long answer ahead: some agents first ask the customer to wait a moment.
  if (!chat.held && think.seconds + typing.seconds > p.hold_threshold_seconds() &&
      p.sends_hold(ctx_.rng)) {
    chat.held = true;
    std::string hold = ctx_.phrases.hold(ctx_.rng);
    // Measured before the text moves into the call (argument order is unspecified).
    const milliseconds hold_typing = typing_time(code_points(hold));
    return type_then_send(chat, ctx_.real_seconds(1), hold_typing, std::move(hold), Line::hold);
  }
  chat.answering = chat.owed;
  type_then_send(chat, ctx_.real(think), ctx_.real(typing), std::move(text), Line::answer);
}

void Agent::plan_farewell(Chat& chat) {
  std::string text = ctx_.phrases.farewell(ctx_.rng, ctx_.profile.polite_farewell(ctx_.rng));
  const milliseconds typing = typing_time(code_points(text));
  type_then_send(chat, ctx_.real_seconds(1), typing, std::move(text), Line::farewell);
}

void Agent::type_then_send(Chat& chat, milliseconds wait, milliseconds typing, std::string text,
                           Line line) {
  chat.step = Step::waiting;
  chat.alarm.set(wait, [this, c = &chat, typing, text = std::move(text), line]() mutable {
    // "start" also starts the gateway's typing-rate clock for this message.
    send({{"type", "typing"}, {"conversation", c->id}, {"state", "start"}});
    c->step = Step::typing;
    c->alarm.set(typing, [this, c, text = std::move(text), line] { send_line(*c, text, line); });
  });
}

void Agent::send_line(Chat& chat, const std::string& text, Line line) {
  send({{"type", "message"},
        {"conversation", chat.id},
        {"text", text},
        {"client_msg_id", ctx_.next_msg_id()}});
  ++ctx_.stats.messages_sent;
  switch (line) {
    case Line::greeting:
      chat.greeted = true;
      break;
    case Line::hold:
      break;
    case Line::answer:
      ++chat.answers;
      chat.held = false;
      chat.owed = std::max(0, chat.owed - chat.answering);
      chat.answering = 0;
      break;
    case Line::farewell:
      chat.step = Step::closing;
      chat.alarm.set(ctx_.real(ctx_.profile.close_after_farewell(ctx_.rng)), [this, c = &chat] {
        send({{"type", "close"}, {"conversation", c->id}});
        // The chat is forgotten when the gateway confirms with "closed".
      });
      return;
  }
  next_step(chat);
}

void Agent::schedule_break(milliseconds after) {
  break_alarm_.set(after, [this] { try_break(0); });
}

void Agent::try_break(int tries) {
  // Only an idle agent leaves its desk; going away with open chats would requeue them (a handover
  // breach), which the handover agent's shift change shows properly instead.
  if (!welcomed_ || !available_ || !chats_.empty()) {
    if (tries < 12)
      break_alarm_.set(ctx_.real_seconds(10), [this, tries] { try_break(tries + 1); });
    else
      schedule_break(ctx_.real(ctx_.profile.break_interval(ctx_.rng)));
    return;
  }
  set_status(false);
  on_break_ = true;
  break_alarm_.set(ctx_.real(ctx_.profile.break_length(ctx_.rng)), [this] {
    on_break_ = false;
    set_status(true);
    schedule_break(ctx_.real(ctx_.profile.break_interval(ctx_.rng)));
  });
}

void Agent::schedule_handover(milliseconds after) {
  handover_alarm_.set(after, [this] { do_handover(); });
}

void Agent::do_handover() {
  if (handed_over_) return;
  if (!welcomed_ || !available_) return schedule_handover(std::chrono::seconds(2));
  // Another agent of the shop who is available (the roster may be a second old: a race the
  // gateway answers with target_unavailable).
  json::value to = nullptr;
  for (const auto& [id, state] : roster_)
    if (id != id_ && state == "available") {
      to = json::string(id);
      break;
    }
  handed_over_ = true;
  const auto open = chats_.size();
  send({{"type", "handover"}, {"to", to}, {"note", ctx_.phrases.handover_note(ctx_.rng)}});
  // They are the colleague's now: nothing more is typed into them from here.
  chats_.clear();
  // Shift over: away at once, so nothing new is assigned; back after the shift gap.
  set_status(false);
  on_break_ = true;
  break_alarm_.cancel();
  ctx_.log(who_, "shift handover of " + std::to_string(open) + " conversation(s) to " +
                     (to.is_null() ? std::string("the queue") : std::string(to.get_string())));
  break_alarm_.set(ctx_.real(ctx_.profile.shift_gap(ctx_.rng)), [this] {
    on_break_ = false;
    set_status(true);
    schedule_break(ctx_.real(ctx_.profile.break_interval(ctx_.rng)));
  });
}

}  // namespace chatdesk::sim
