// chatdesk-gateway: serves the chat desk on one port. See README.md and docs/configuration.md.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#include "chatdesk/config/config_loader.hpp"
#include "chatdesk/gateway/gateway.hpp"

namespace {

void usage(std::ostream& out) {
  out << "usage: chatdesk-gateway [--config FILE] [--check-config]\n"
         "  --config FILE    configuration (default: config/chatdesk.yaml)\n"
         "  --check-config   validate FILE and exit: 0 when valid, 2 with the error\n"
         "  --list-shops     print the ids of FILE's shops, one a line, and exit\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "config/chatdesk.yaml";
  bool check_only = false;
  bool list_shops = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--list-shops") {
      list_shops = true;
    } else if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "chatdesk-gateway: unknown argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }

  chatdesk::config::Config config;
  try {
    config = chatdesk::config::load_config(config_path);
  } catch (const std::exception& e) {
    std::cerr << "chatdesk-gateway: " << e.what() << "\n";
    return 2;
  }
  if (list_shops) {
    for (const auto& shop : config.shops) std::cout << shop.id << "\n";
    return 0;
  }
  if (check_only) {
    std::cout << config_path << ": ok (" << config.shops.size() << " shop"
              << (config.shops.size() == 1 ? "" : "s") << ")\n";
    return 0;
  }

  try {
    boost::asio::io_context ioc(1);
    chatdesk::SystemClock clock;
    chatdesk::gateway::Gateway gateway(ioc, config, clock);
    gateway.start();

    std::string base = "http://" + config.listen.address + ":" + std::to_string(gateway.port());
    std::cerr << "chatdesk-gateway listening on " << base << "\n"
              << "  agent console:  " << base << "/\n";
    for (const auto& shop : config.shops)
      std::cerr << "  customer chat:  " << base << "/chat?shop=" << shop.id << "  (" << shop.name
                << ")\n";
    std::cerr << "  metrics:        " << base << "/metrics\n";
    if (config.auth.mode == chatdesk::config::AuthMode::open)
      std::cerr << "WARNING: auth.mode is 'open': NO AUTHENTICATION. Anyone who reaches this port "
                   "can sign in as any agent and watch any shop's lead page. Use it for local "
                   "development only; set auth.mode: token for anything else (docs/security.md).\n";
    else
      std::cerr << "auth.mode is 'token': agents and leads need a token (secret from $"
                << config.auth.secret_env << "; mint links with chatdesk-token, max_ttl "
                << config.auth.max_ttl.count() / 1000 << "s)\n";
    if (!config.redis.enabled)
      std::cerr
          << "note: redis.enabled is false: violations are counted but not written to Redis\n";

    // SIGTERM/SIGINT: stop accepting, say 1001 going away, then leave as soon as every WebSocket
    // has closed (idle keep-alive HTTP connections are not waited for), or 10 s after the signal
    // at most; then ~Gateway flushes violations to Redis for up to 5 s more (with redis.spool_dir,
    // what Redis does not take is kept on disk instead: docs/operations.md).
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    boost::asio::steady_timer drain(ioc);
    std::chrono::steady_clock::time_point give_up{};
    std::function<void()> wait_drained = [&] {
      if (gateway.drained() || std::chrono::steady_clock::now() >= give_up) return ioc.stop();
      drain.expires_after(std::chrono::milliseconds(20));
      drain.async_wait([&](boost::system::error_code e) {
        if (!e) wait_drained();
      });
    };
    signals.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      std::cerr << "chatdesk-gateway: stopping\n";
      give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      gateway.stop();
      wait_drained();
    });
    ioc.run();
    std::cerr << "chatdesk-gateway: stopped\n";
  } catch (const std::exception& e) {
    std::cerr << "chatdesk-gateway: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
