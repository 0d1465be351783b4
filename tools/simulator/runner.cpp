#include "runner.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <csignal>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

namespace chatdesk::sim {
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kSummaryEvery{10'000};
constexpr milliseconds kConnectCheck{10'000};  // no connection by then: give up
constexpr milliseconds kWindDownPoll{50};
constexpr int kCustomersGonePolls = 40;  // 2 s for customers to close before agents go
constexpr int kAgentsLeavePolls = 40;    // 2 s more for agents to hand back and go away
constexpr int kWindDownPolls = 120;      // 6 s in all, then whatever is left is cut
// One agent per shop hands its shift over once, in runs of at least this much simulated time.
constexpr double kHandoverMinSimulatedSeconds = 120;
// In runs without an end, it does so after this much simulated time.
constexpr double kHandoverUnboundedSimulatedSeconds = 600;

std::uint64_t initial_seed(const Options& o) {
  if (o.seed_given) return o.seed;
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

}  // namespace

Runner::Runner(Options options)
    : options_(std::move(options)),
      rng_(initial_seed(options_)),
      profile_(options_.profile, options_.ignore_share),
      ctx_(ioc_, options_, profile_, phrases_, stats_, rng_, target_),
      summary_(ioc_.get_executor()),
      deadline_(ioc_.get_executor()),
      connect_check_(ioc_.get_executor()),
      wind_down_(ioc_.get_executor()),
      signals_(ioc_, SIGINT, SIGTERM) {
  if (!options_.seed_given) options_.seed = rng_();  // printed, so a run can be repeated
  rng_.seed(options_.seed);
}

bool Runner::resolve() {
  boost::asio::ip::tcp::resolver resolver(ioc_);
  boost::system::error_code ec;
  auto results = resolver.resolve(options_.url.host, options_.url.port, ec);
  if (ec || results.empty()) {
    std::cerr << "chatdesk-simulator: cannot resolve '" << options_.url.host
              << "': " << (ec ? ec.message() : "no addresses") << std::endl;
    return false;
  }
  for (const auto& r : results) {
    auto endpoint = r.endpoint();
    if (!options_.allow_remote && !endpoint.address().is_loopback()) {
      std::cerr << "chatdesk-simulator: refusing to connect to " << endpoint.address().to_string()
                << " (" << options_.url.host
                << "): not a loopback address; pass --allow-remote to simulate traffic against "
                   "another host"
                << std::endl;
      return false;
    }
    target_.endpoints.push_back(endpoint);
  }
  target_.host_header = options_.url.host_header;
  return true;
}

int Runner::run() {
  {
    std::ostringstream o;
    o << "sim start url=" << options_.url_text << " shops=";
    for (std::size_t i = 0; i < options_.shops.size(); ++i)
      o << (i ? "," : "") << options_.shops[i];
    o << " agents=" << options_.agents << " customers_per_minute=" << options_.customers_per_minute
      << " speed=" << options_.speed << " profile=" << to_string(options_.profile)
      << " ignore_share=" << profile_.ignore_share()
      << " duration=" << options_.duration.count() / 1000.0 << "s"
      << " max_connections=" << options_.max_connections << " seed=" << options_.seed;
    std::cout << o.str() << std::endl;
  }
  if (!resolve()) return 1;
  start();
  ioc_.run();
  print_summary("final");
  std::cout << stats_.verdict();
  if (!stop_reason_.empty()) std::cout << " (stopped: " << stop_reason_ << ")";
  std::cout << std::endl;
  if (stats_.connects_ok == 0) {
    std::cerr << "chatdesk-simulator: no connection to " << options_.url_text << " ever succeeded"
              << std::endl;
    return 1;
  }
  return 0;
}

void Runner::start() {
  signals_.async_wait([this](boost::system::error_code ec, int signal) {
    if (ec) return;
    stop(signal == SIGINT ? "SIGINT" : "SIGTERM");
    // A second signal: stop at once.
    signals_.async_wait([this](boost::system::error_code ec2, int) {
      if (!ec2) ioc_.stop();
    });
  });

  ctx_.on_unknown_shop = [this](const std::string& shop) {
    if (!unknown_shops_.insert(shop).second) return;
    ctx_.log("runner", "the gateway does not know shop '" + shop + "': no customers for it");
    for (std::size_t i = 0; i < options_.shops.size(); ++i)
      if (options_.shops[i] == shop) arrivals_[i]->cancel();
  };

  // One agent of each shop hands its shift over halfway through a long run.
  std::optional<milliseconds> handover_after;
  const double simulated_run =
      static_cast<double>(options_.duration.count()) / 1000.0 * options_.speed;
  if (options_.duration.count() == 0)
    handover_after = ctx_.real_seconds(kHandoverUnboundedSimulatedSeconds);
  else if (simulated_run >= kHandoverMinSimulatedSeconds)
    handover_after = options_.duration / 2;
  if (options_.agents < 2) handover_after.reset();  // nobody to hand over to

  for (const auto& shop : options_.shops) {
    for (int n = 1; n <= options_.agents; ++n) {
      auto agent = std::make_shared<Agent>(ctx_, shop, n, n == 1 ? handover_after : std::nullopt);
      agents_.push_back(agent);
      agent->start();
    }
  }
  for (std::size_t i = 0; i < options_.shops.size(); ++i) {
    arrivals_.push_back(std::make_unique<Alarm>(ioc_.get_executor()));
    schedule_arrival(i);
  }

  summary_.set(kSummaryEvery, [this] { print_summary("now"); });
  if (options_.duration.count() > 0)
    deadline_.set(options_.duration, [this] { stop("duration reached"); });
  connect_check_.set(
      std::min(kConnectCheck, options_.duration.count() > 0 ? options_.duration : kConnectCheck),
      [this] {
        if (stats_.connects_ok == 0) stop("no connection to " + options_.url_text + " succeeded");
      });
}

void Runner::schedule_arrival(std::size_t shop) {
  if (options_.customers_per_minute <= 0) return;
  // Poisson arrivals: exponential gaps at the rate per simulated second.
  std::exponential_distribution<double> gap(options_.customers_per_minute / 60.0);
  arrivals_[shop]->set(ctx_.real_seconds(gap(rng_)), [this, shop] { arrive(shop); });
}

void Runner::arrive(std::size_t shop) {
  if (ctx_.stopping || unknown_shops_.contains(options_.shops[shop])) return;
  if (stats_.live_connections >= options_.max_connections) {
    ++stats_.customers_capped;
  } else {
    std::uint64_t number = ++next_customer_;
    auto customer = std::make_shared<Customer>(ctx_, options_.shops[shop], number,
                                               [this](std::uint64_t n) { customers_.erase(n); });
    customers_.emplace(number, customer);
    customer->start();
  }
  schedule_arrival(shop);
}

void Runner::print_summary(std::string_view label) {
  std::cout << stats_.summary_line(label, ctx_.elapsed(), static_cast<long>(agents_.size()))
            << std::endl;
  if (label == "now") summary_.set(kSummaryEvery, [this] { print_summary("now"); });
}

void Runner::leave_in_turn(std::vector<std::shared_ptr<Agent>> line, std::size_t next) {
  if (next >= line.size()) {
    --shops_leaving_;
    return;
  }
  auto agent = line[next];
  agent->leave_desk(
      [this, line = std::move(line), next]() mutable { leave_in_turn(std::move(line), next + 1); });
}

long Runner::agent_connections() const {
  long n = 0;
  for (const auto& a : agents_)
    if (a->connected()) ++n;
  return n;
}

void Runner::stop(const std::string& why) {
  if (ctx_.stopping) return;
  ctx_.stopping = true;
  stop_reason_ = why;
  ctx_.log("runner", "stopping (" + why + "): customers close their chats, then agents leave");
  deadline_.cancel();
  connect_check_.cancel();
  for (auto& a : arrivals_) a->cancel();
  // Copy: a stopping customer removes itself from the map (later, but be safe).
  std::vector<std::shared_ptr<Customer>> customers;
  for (auto& [n, c] : customers_) customers.push_back(c);
  for (auto& c : customers) c->stop();
  wind_down(0);
}

void Runner::wind_down(int polls) {
  const long customer_connections = stats_.live_connections - agent_connections();
  if (!agents_leaving_ && (customer_connections <= 0 || polls >= kCustomersGonePolls)) {
    agents_leaving_ = true;
    // Per shop, one agent after the other hands back what it still has and goes away; the last
    // one's handover leaves nobody to take it, so nothing is left on a disconnecting agent.
    for (const auto& shop : options_.shops) {
      std::vector<std::shared_ptr<Agent>> line;
      for (auto& a : agents_)
        if (a->shop() == shop) line.push_back(a);
      ++shops_leaving_;
      leave_in_turn(std::move(line), 0);
    }
  }
  if (!agents_stopped_ && agents_leaving_ &&
      (shops_leaving_ == 0 || polls >= kCustomersGonePolls + kAgentsLeavePolls)) {
    agents_stopped_ = true;
    for (auto& a : agents_) a->stop();
  }
  if ((agents_stopped_ && stats_.live_connections <= 0) || polls >= kWindDownPolls) {
    summary_.cancel();
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    ioc_.stop();
    return;
  }
  wind_down_.set(kWindDownPoll, [this, polls] { wind_down(polls + 1); });
}

}  // namespace chatdesk::sim
