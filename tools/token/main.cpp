// chatdesk-token: prints one signed token for an agent or a team lead of one shop (auth.mode:
// token; docs/security.md, "Authentication"). The secret comes from the environment variable the
// config's auth.secret_env names, never from a flag: flags show in `ps` and in shell history.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>

#include "chatdesk/config/config_loader.hpp"
#include "chatdesk/gateway/auth_token.hpp"
#include "chatdesk/gateway/protocol.hpp"

namespace {

using chatdesk::Duration;
using chatdesk::config::AuthMode;
using chatdesk::gateway::TokenClaims;
using chatdesk::gateway::TokenRole;

constexpr Duration kDefaultTtl{8 * 3'600'000};

void usage(std::ostream& out) {
  out << "usage: chatdesk-token --config FILE --shop S --agent A --role agent|lead|shop [--ttl "
         "8h]\n"
         "  Prints a token for agent (or team lead) A of shop S, signed with the secret in the\n"
         "  environment variable named by the config's auth.secret_env (default\n"
         "  CHATDESK_AUTH_SECRET). There is no flag for the secret.\n"
         "  --config FILE  the gateway's configuration (default: config/chatdesk.yaml)\n"
         "  --shop S       a shop of FILE\n"
         "  --agent A      agent id (1-64 of A-Z a-z 0-9 _ . : -); for --role lead, the lead's "
         "id;\n"
         "                 for --role shop, a name for the shop's system (e.g. erp)\n"
         "  --role R       agent: opens /ws/agent as A; lead: opens /ws/lead and the reports of "
         "S;\n"
         "                 shop: lets S's own system post orders (POST /api/orders)\n"
         "  --ttl D        lifetime, e.g. 30m, 8h (default 8h, or auth.max_ttl when shorter;\n"
         "                 at most auth.max_ttl)\n";
}

int refuse(const std::string& message) {
  std::cerr << "chatdesk-token: " << message << "\n";
  return 2;
}

std::string utc_time(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "config/chatdesk.yaml";
  std::string shop;
  std::string agent;
  std::string role_text;
  std::optional<std::string> ttl_text;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      return 0;
    } else if (arg == "--config" && has_value) {
      config_path = argv[++i];
    } else if (arg == "--shop" && has_value) {
      shop = argv[++i];
    } else if (arg == "--agent" && has_value) {
      agent = argv[++i];
    } else if (arg == "--role" && has_value) {
      role_text = argv[++i];
    } else if (arg == "--ttl" && has_value) {
      ttl_text = argv[++i];
    } else {
      std::cerr << "chatdesk-token: unknown or incomplete argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (shop.empty() || agent.empty() || role_text.empty()) {
    std::cerr << "chatdesk-token: --shop, --agent and --role are required\n";
    usage(std::cerr);
    return 2;
  }

  chatdesk::config::Config config;
  try {
    config = chatdesk::config::load_config(config_path);
  } catch (const std::exception& e) {
    return refuse(e.what());
  }
  const auto role = chatdesk::gateway::token_role_from_string(role_text);
  if (!role) return refuse("--role must be agent, lead or shop, got '" + role_text + "'");
  if (!config.find_shop(shop))
    return refuse("unknown shop '" + shop + "' (not in " + config_path + ")");
  if (!chatdesk::gateway::is_valid_client_id(agent))
    return refuse("invalid agent id '" + agent + "' (use 1-64 of A-Z a-z 0-9 _ . : -)");

  const Duration max_ttl = config.auth.max_ttl;
  Duration ttl = std::min(kDefaultTtl, max_ttl);
  if (ttl_text) {
    try {
      ttl = chatdesk::config::parse_duration(*ttl_text);
    } catch (const std::exception& e) {
      return refuse(std::string("--ttl: ") + e.what());
    }
    if (ttl < Duration{1'000}) return refuse("--ttl must be at least 1s");
    if (ttl > max_ttl)
      return refuse("--ttl " + *ttl_text + " is longer than auth.max_ttl (" +
                    std::to_string(max_ttl.count() / 1000) + "s) in " + config_path);
  }

  const std::string& variable = config.auth.secret_env;
  const char* secret = std::getenv(variable.c_str());
  if (auto problem = chatdesk::gateway::secret_problem(variable, secret); !problem.empty())
    return refuse(problem);
  if (config.auth.mode != AuthMode::token)
    std::cerr << "chatdesk-token: warning: auth.mode is open in " << config_path
              << ": the gateway does not check tokens until it is set to token\n";

  const chatdesk::SystemClock clock;
  // Rounded down to whole seconds, so that the lifetime never exceeds what was asked for.
  const std::int64_t exp = (chatdesk::to_epoch_ms(clock.now()) + ttl.count()) / 1000;
  const TokenClaims claims{.sub = agent, .shop = shop, .role = *role, .exp = exp};
  std::cout << chatdesk::gateway::mint_token(secret, claims) << "\n";
  std::cerr << "chatdesk-token: " << role_text << " '" << agent << "' of shop '" << shop
            << "', valid until " << utc_time(exp) << ". Open "
            << (*role == TokenRole::agent  ? "/agent?shop=" + shop + "&agent=" + agent
                : *role == TokenRole::lead ? "/lead?shop=" + shop
                                           : "POST /api/orders?shop=" + shop)
            << "&token=<token>\n";
  return 0;
}
