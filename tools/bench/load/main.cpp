// chatdesk-bench-load: the benchmarks' load generator (docs/benchmarks.md). Drives the chatdesk
// gateway, the Node ws baseline or the raw TCP echo server with customer–agent pairs and prints
// one JSON line of results.

#include <boost/asio/io_context.hpp>
#include <iostream>
#include <string_view>
#include <vector>

#include "options.hpp"
#include "runner.hpp"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (auto a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << chatdesk::bench::kUsage;
      return 0;
    }
  }
  chatdesk::bench::Options options;
  std::string error;
  if (!chatdesk::bench::parse_options(args, options, error)) {
    std::cerr << "chatdesk-bench-load: " << error << "\n" << chatdesk::bench::kUsage;
    return 2;
  }
  try {
    boost::asio::io_context ioc(1);
    chatdesk::bench::Runner runner(ioc, std::move(options));
    return runner.run();
  } catch (const std::exception& e) {
    std::cerr << "chatdesk-bench-load: " << e.what() << "\n";
    return 1;
  }
}
