#pragma once
// Holds the desk's output until the changes it follows are stored (docs/storage.md, "An ack means
// stored"): an ack, the forward of a message, a welcome with a resume secret and a violation all
// leave only after Redis has confirmed the write of the loop turn that made them. The desk writes
// into the gate as into any DeskOutput; the gateway seals what one loop turn produced with the
// token of that turn's write, and releases it when the write is confirmed. Order is kept across
// turns: nothing overtakes what was held before it. Pure; not thread-safe (the desk's thread).

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "chatdesk/gateway/desk_output.hpp"
#include "chatdesk/monitor/violation.hpp"

namespace chatdesk::gateway {

class OutputGate final : public DeskOutput {
 public:
  using ViolationOut = std::function<void(const monitor::Violation&)>;
  // Released frames and closes go to `downstream`, violations to `violations`.
  OutputGate(DeskOutput& downstream, ViolationOut violations);

  void send(SessionId session, const Frame& frame) override;
  void close(SessionId session, CloseReason reason) override;
  void protocol_error(ErrorCode code) override;  // a counter: passes at once
  void violation(const monitor::Violation& v);

  // What was held since the last seal waits for the write the returned token names.
  std::uint64_t seal();
  // What was held since the last seal needs no write of its own: it goes out once everything
  // held before it has.
  void seal_without_write();
  // The write `token` is stored: what waited for it, and for nothing later, goes out now.
  void stored(std::uint64_t token);

  // This node gave `shop` up (docs/scaling.md) and the desk forgot the shop's changes not yet
  // taken by the store: output that followed those changes must not go out (an ack for a message
  // not stored, a violation whose clock the next home will fire again). Drops what is not sealed
  // yet for `sessions` and the shop's violations. Sealed output follows a write that was sent
  // and goes out as usual when it is stored.
  void drop_unsealed(std::string_view shop, std::span<const SessionId> sessions);

  std::size_t held() const { return ops_.size(); }
  std::size_t writes_pending() const { return writes_.size(); }

 private:
  struct Op {
    std::uint64_t token = 0;  // 0: not sealed yet
    enum class Kind { send, close, violation } kind = Kind::send;
    SessionId session = 0;
    Frame frame;
    CloseReason reason = CloseReason::normal;
    std::optional<monitor::Violation> violation;
  };
  void seal_as(std::uint64_t token);
  void release();

  DeskOutput& downstream_;
  ViolationOut violations_;
  std::deque<Op> ops_;
  std::size_t unsealed_ = 0;  // ops at the back with token 0
  std::uint64_t last_token_ = 0;
  // Writes not yet known stored, oldest first: (token, stored). The front decides what is free.
  std::deque<std::pair<std::uint64_t, bool>> writes_;
};

}  // namespace chatdesk::gateway
