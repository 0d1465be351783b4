#pragma once
// Accepts TCP connections and hands each to an HttpSession (Beast chat-multi's listener).
// Not thread-safe: used on the gateway's one thread.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <memory>

#include "chatdesk/config/config.hpp"
#include "gateway_state.hpp"

namespace chatdesk::gateway {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens; throws boost::system::system_error when the address is unusable.
  Listener(boost::asio::io_context& ioc, const config::ListenConfig& listen,
           std::shared_ptr<Gateway::State> state);
  void run();
  void stop();
  unsigned short port() const { return port_; }

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<Gateway::State> state_;
  unsigned short port_ = 0;
};

}  // namespace chatdesk::gateway
