#include "listener.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <iostream>

#include "http_session.hpp"

namespace chatdesk::gateway {
namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(net::io_context& ioc, const config::ListenConfig& listen,
                   std::shared_ptr<Gateway::State> state)
    : ioc_(ioc), acceptor_(ioc), state_(std::move(state)) {
  tcp::endpoint endpoint(net::ip::make_address(listen.address), listen.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void Listener::run() {
  do_accept();
}

void Listener::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void Listener::do_accept() {
  // Wait for the next connection.
  acceptor_.async_accept(
      ioc_, boost::beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(boost::beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // stopping
  if (ec) {
    // Out of descriptors or similar: keep accepting; the error is not the next client's fault.
    std::cerr << "accept: " << ec.message() << "\n";
  } else {
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<HttpSession>(std::move(socket), state_)->run();
  }
  do_accept();
}

}  // namespace chatdesk::gateway
