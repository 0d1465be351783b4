#pragma once
// The running gateway: one port for HTTP and WebSocket (Beast), the desk, the SLA engine and its
// adapters (Prometheus, Redis writer), and the one timer that drives the engine's deadlines.
// Everything runs on one io_context thread, so the desk and the engine need no locks and no
// strand hops (docs/design.md). Not thread-safe: construct, run and stop it from that thread
// (stop() may be posted from a signal handler).

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"

namespace chatdesk::gateway {

class Gateway {
 public:
  // Binds the listening socket; throws on failure (start-up).
  Gateway(boost::asio::io_context& ioc, const config::Config& config, const Clock& clock);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts accepting. Returns at once; the io_context does the work.
  void start();
  // Stops accepting, closes every client with 1001 going away, flushes violations (bounded).
  void stop();

  unsigned short port() const;
  // After stop(): every WebSocket session has closed. (Violations are flushed on destruction.)
  bool drained() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<class Listener> listener_;
};

}  // namespace chatdesk::gateway
