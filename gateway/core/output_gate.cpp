#include "chatdesk/gateway/output_gate.hpp"

#include <algorithm>
#include <utility>

namespace chatdesk::gateway {

OutputGate::OutputGate(DeskOutput& downstream, ViolationOut violations)
    : downstream_(downstream), violations_(std::move(violations)) {}

void OutputGate::send(SessionId session, const Frame& frame) {
  Op& op = ops_.emplace_back();
  op.kind = Op::Kind::send;
  op.session = session;
  op.frame = frame;
  ++unsealed_;
}

void OutputGate::close(SessionId session, CloseReason reason) {
  Op& op = ops_.emplace_back();
  op.kind = Op::Kind::close;
  op.session = session;
  op.reason = reason;
  ++unsealed_;
}

void OutputGate::protocol_error(ErrorCode code) {
  downstream_.protocol_error(code);
}

void OutputGate::violation(const monitor::Violation& v) {
  Op& op = ops_.emplace_back();
  op.kind = Op::Kind::violation;
  op.violation = v;
  ++unsealed_;
}

void OutputGate::drop_unsealed(std::string_view shop, std::span<const SessionId> sessions) {
  const auto first = ops_.end() - static_cast<std::ptrdiff_t>(unsealed_);
  const auto kept = std::remove_if(first, ops_.end(), [&](const Op& op) {
    if (op.kind == Op::Kind::violation) return op.violation->shop == shop;
    return std::find(sessions.begin(), sessions.end(), op.session) != sessions.end();
  });
  unsealed_ -= static_cast<std::size_t>(ops_.end() - kept);
  ops_.erase(kept, ops_.end());
}

void OutputGate::seal_as(std::uint64_t token) {
  for (auto it = ops_.end() - static_cast<std::ptrdiff_t>(unsealed_); it != ops_.end(); ++it)
    it->token = token;
  unsealed_ = 0;
}

std::uint64_t OutputGate::seal() {
  const std::uint64_t token = ++last_token_;
  writes_.emplace_back(token, false);
  seal_as(token);
  return token;
}

void OutputGate::seal_without_write() {
  if (unsealed_ == 0) return;
  const std::uint64_t token = ++last_token_;
  writes_.emplace_back(token, true);
  seal_as(token);
  release();
}

void OutputGate::stored(std::uint64_t token) {
  for (auto& [t, done] : writes_) {
    if (t == token) {
      done = true;
      break;
    }
  }
  release();
}

void OutputGate::release() {
  // The oldest writes that are stored free their ops; a write not stored yet holds everything
  // after it, so per-session order is that of the desk.
  while (!writes_.empty() && writes_.front().second) {
    const std::uint64_t token = writes_.front().first;
    writes_.pop_front();
    while (!ops_.empty() && ops_.front().token == token) {
      Op op = std::move(ops_.front());
      ops_.pop_front();
      switch (op.kind) {
        case Op::Kind::send:
          downstream_.send(op.session, op.frame);
          break;
        case Op::Kind::close:
          downstream_.close(op.session, op.reason);
          break;
        case Op::Kind::violation:
          violations_(*op.violation);
          break;
      }
    }
  }
}

}  // namespace chatdesk::gateway
