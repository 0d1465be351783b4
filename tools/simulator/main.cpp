// chatdesk-simulator: simulated agents and customers for a running chatdesk gateway
// (docs/simulator.md).

#include <exception>
#include <iostream>

#include "options.hpp"
#include "runner.hpp"

int main(int argc, char** argv) {
  auto parsed = chatdesk::sim::parse_options(argc, argv);
  if (!parsed.options) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << std::endl;
    return parsed.exit_code;
  }
  try {
    chatdesk::sim::Runner runner(std::move(*parsed.options));
    return runner.run();
  } catch (const std::exception& e) {
    std::cerr << "chatdesk-simulator: " << e.what() << std::endl;
    return 1;
  }
}
