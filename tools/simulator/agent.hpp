#pragma once
// A simulated desk agent: connects to /ws/agent, goes available, greets each assigned customer
// after a human delay, announces typing before every message and sends it when a person typing at
// its speed would be done, answers follow-ups, closes with a farewell (now and then without),
// takes breaks when idle, and, for the shop's handover agent, hands its conversations over once
// (shift change). Reconnects after a lost connection. One thread only.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "alarm.hpp"
#include "sim_context.hpp"
#include "ws_connection.hpp"

namespace chatdesk::sim {

class Agent : public std::enable_shared_from_this<Agent> {
 public:
  // `handover_after`: when (real time from start) this agent hands over its shift; none for most.
  Agent(SimContext& ctx, std::string shop, int number,
        std::optional<std::chrono::milliseconds> handover_after);
  ~Agent();

  void start();
  // End of the run, before stop(): hands any open conversations back to the queue (a proper
  // handover, not a breach), goes away, and calls `done` once the gateway confirmed (or at once
  // when not connected). Agents of one shop should leave one after the other, so that nothing
  // handed back lands on an agent that is leaving too.
  void leave_desk(std::function<void()> done);
  // Closes the connection cleanly and stays offline.
  void stop();
  bool connected() const { return conn_ != nullptr; }
  const std::string& name() const { return who_; }
  const std::string& shop() const { return shop_; }

 private:
  enum class Line { greeting, hold, answer, farewell };
  enum class Step { idle, ignoring, waiting, typing, quiet, closing };

  struct Chat {
    explicit Chat(const boost::asio::any_io_executor& ex) : alarm(ex) {}
    std::string id;
    bool greeted = false;
    int owed = 0;       // customer questions not answered yet
    int answering = 0;  // of those, what the message being typed answers
    int answers = 0;
    bool thanked = false;  // the customer said thanks: time to say goodbye
    bool held = false;     // a "请稍等" went out for the answer being prepared
    Step step = Step::idle;
    Alarm alarm;
  };

  void connect();
  void on_frame(boost::json::object& frame);
  void on_closed(const CloseInfo& info);
  void send(boost::json::object frame);

  void on_welcome();
  void on_assigned(const boost::json::object& frame);
  void on_customer_message(Chat& chat, const std::string& text);
  void forget(const std::string& conversation);

  // The conversation's next move once nothing is in progress.
  void next_step(Chat& chat);
  void plan_greeting(Chat& chat);
  void plan_reply(Chat& chat);
  void plan_farewell(Chat& chat);
  // After `wait`, announce typing; after `typing` more, send `text`.
  void type_then_send(Chat& chat, std::chrono::milliseconds wait, std::chrono::milliseconds typing,
                      std::string text, Line line);
  void send_line(Chat& chat, const std::string& text, Line line);
  std::chrono::milliseconds typing_time(std::size_t chars);

  void set_status(bool available);
  void schedule_break(std::chrono::milliseconds after);
  void try_break(int tries);
  void schedule_handover(std::chrono::milliseconds after);
  void do_handover();

  SimContext& ctx_;
  std::string shop_;
  std::string id_;   // sim-agent-N
  std::string who_;  // shop/id, for the log
  AgentTraits traits_;
  std::optional<std::chrono::milliseconds> handover_after_;
  std::shared_ptr<WsConnection> conn_;
  bool stopped_ = false;
  bool welcomed_ = false;
  bool available_ = false;
  bool on_break_ = false;
  bool handed_over_ = false;
  bool leaving_ = false;  // leave_desk() was called: no new work
  int reconnects_ = 0;
  std::function<void()> left_desk_;  // leave_desk() waiting for the gateway's "status" reply
  std::map<std::string, std::unique_ptr<Chat>> chats_;
  std::vector<std::pair<std::string, std::string>> roster_;  // (agent, state) from "desk"
  Alarm status_alarm_;
  Alarm break_alarm_;
  Alarm handover_alarm_;
  Alarm reconnect_alarm_;
};

}  // namespace chatdesk::sim
