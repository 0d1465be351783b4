#pragma once
// A simulated shopper: connects to /ws/customer, asks a first question after 1-3 s, waits for an
// answer (a greeting or a "请稍等" is not one), asks 1-3 follow-ups, then says thanks, closes the
// chat itself, or waits for the agent to close it. Gives up and disconnects when nobody answers
// within its patience (a missed conversation after the shop's resume_grace). Ends exactly once,
// counted as served, left, dropped or cut, then tells the runner through `done`. One thread only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/json/object.hpp>

#include "alarm.hpp"
#include "sim_context.hpp"
#include "ws_connection.hpp"

namespace chatdesk::sim {

class Customer : public std::enable_shared_from_this<Customer> {
 public:
  Customer(SimContext& ctx, std::string shop, std::uint64_t number,
           std::function<void(std::uint64_t)> done);
  ~Customer();

  void start();
  // The simulator is stopping: end the conversation and leave.
  void stop();
  bool connected() const { return conn_ && !ended_; }

 private:
  enum class Ending { served, left, dropped, cut };

  void on_frame(boost::json::object& frame);
  void on_closed(const CloseInfo& info);
  void on_welcome();
  void on_agent_message(const std::string& text);
  // After `delay` (a person typing), send `text`; a typing indicator first, sometimes.
  void say(std::chrono::milliseconds delay, std::string text);
  void after_answer();
  void give_up();
  // Ends the customer: optionally closes the conversation first, then the connection.
  void end(Ending how, bool close_conversation);

  SimContext& ctx_;
  std::string shop_;
  std::uint64_t number_;
  std::string who_;
  std::function<void(std::uint64_t)> done_;
  std::shared_ptr<WsConnection> conn_;
  std::string conversation_;
  int follow_ups_left_ = 0;
  bool heard_agent_ = false;  // any agent message arrived
  bool awaiting_ = false;     // a question is out and unanswered
  bool wrapping_up_ = false;  // nothing more to ask
  bool closed_ = false;       // the conversation ended
  bool ended_ = false;
  Alarm action_;  // the next thing this customer says or does
  Alarm wait_;    // how long it still waits for the agent
};

}  // namespace chatdesk::sim
