// chatdesk-bench-echo: the loopback limit for the benchmarks (docs/benchmarks.md, scenario 3). A
// minimal raw TCP echo on Asio, one thread, epoll underneath: every byte read is written back at
// once, so the 4-byte length-prefixed messages of chatdesk-bench-load come back unchanged. No
// framing, JSON, routing or bookkeeping: what is left is the cost of the kernel's loopback and
// the event loop. Usage: chatdesk-bench-echo --port P [--host 127.0.0.1]. Single-threaded; each
// session is kept alive by its pending operation.

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

namespace {
namespace net = boost::asio;
using tcp = net::ip::tcp;

// One client connection: read what is there, write it all back, read again.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}
  void start() { read(); }

 private:
  void read() {
    socket_.async_read_some(net::buffer(buffer_), [self = shared_from_this()](
                                                      boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      self->write(n);
    });
  }
  void write(std::size_t n) {
    net::async_write(socket_, net::buffer(buffer_.data(), n),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       if (ec) return;
                       self->read();
                     });
  }

  tcp::socket socket_;
  std::array<char, 64 * 1024> buffer_;
};

class Listener {
 public:
  Listener(net::io_context& ioc, const tcp::endpoint& endpoint) : acceptor_(ioc) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket))->start();
      }
      if (acceptor_.is_open()) accept();
    });
  }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--host" && i + 1 < argc) {
      host = argv[++i];
    } else if (arg == "--port" && i + 1 < argc) {
      std::string_view v = argv[++i];
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
      if (ec != std::errc() || end != v.data() + v.size() || port > 65535) {
        std::cerr << "chatdesk-bench-echo: bad port '" << v << "'\n";
        return 2;
      }
    } else {
      std::cerr << "usage: chatdesk-bench-echo --port P [--host 127.0.0.1]\n";
      return 2;
    }
  }
  try {
    net::io_context ioc(1);
    Listener listener(
        ioc, tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    listener.accept();
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
      listener.stop();
      ioc.stop();
    });
    std::cerr << "chatdesk-bench-echo listening on " << host << ":" << listener.port() << "\n";
    ioc.run();
  } catch (const std::exception& e) {
    std::cerr << "chatdesk-bench-echo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
