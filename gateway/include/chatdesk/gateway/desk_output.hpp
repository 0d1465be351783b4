#pragma once
// How the desk reaches client connections without knowing sockets: the server implements it with
// WebSocket sessions, tests with a recorder. Called on the desk's thread only.

#include <cstdint>

#include "chatdesk/gateway/frames.hpp"

namespace chatdesk::gateway {

using SessionId = std::uint64_t;  // 0 is never a session

// moved: the shop's desk is now on another gateway node (docs/scaling.md); the client reconnects.
enum class CloseReason { normal, replaced, going_away, too_slow, moved };

class DeskOutput {
 public:
  virtual ~DeskOutput() = default;
  // Queues `frame` for the session; frames reach a session in the order they were sent.
  virtual void send(SessionId session, const Frame& frame) = 0;
  // Closes the session once its queued frames are written. The desk forgets the session first,
  // so the disconnect that follows is ignored.
  virtual void close(SessionId session, CloseReason reason) = 0;
  // A client's frame was refused with `code` (for the protocol-error metric). The error frame
  // itself goes through send().
  virtual void protocol_error(ErrorCode code) { (void)code; }
};

}  // namespace chatdesk::gateway
