#pragma once
// A one-shot, re-armable timer for simulated people: set() replaces any pending action, cancel()
// and the destructor drop it for sure. Unlike a bare steady_timer, an action whose timer had
// already expired when it was cancelled never runs (a generation number guards it), and the
// action may destroy the alarm's owner. One thread only.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace chatdesk::sim {

class Alarm {
 public:
  explicit Alarm(const boost::asio::any_io_executor& executor)
      : state_(std::make_shared<State>(executor)) {}
  ~Alarm() { cancel(); }
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;

  void set(std::chrono::milliseconds delay, std::function<void()> action) {
    auto& s = *state_;
    ++s.generation;
    s.armed = true;
    s.timer.expires_after(delay);
    s.timer.async_wait([state = state_, generation = s.generation,
                        action = std::move(action)](boost::system::error_code ec) {
      if (ec || state->generation != generation) return;
      state->armed = false;
      action();
    });
  }

  void cancel() {
    ++state_->generation;
    state_->armed = false;
    state_->timer.cancel();
  }

  bool armed() const { return state_->armed; }

 private:
  struct State {
    explicit State(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    std::uint64_t generation = 0;
    bool armed = false;
  };
  std::shared_ptr<State> state_;
};

}  // namespace chatdesk::sim
