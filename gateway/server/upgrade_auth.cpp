#include "upgrade_auth.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "chatdesk/monitor/desk_metrics.hpp"

namespace chatdesk::gateway {
namespace http = boost::beast::http;
namespace urls = boost::urls;

namespace {

// The metric's reason labels are the AuthError names, in the same order.
constexpr bool refusal_reasons_match() {
  if (monitor::kAuthRefusalReasons.size() != kAuthErrorCount) return false;
  for (std::size_t i = 0; i < kAuthErrorCount; ++i)
    if (to_string(static_cast<AuthError>(i)) != monitor::kAuthRefusalReasons[i]) return false;
  return true;
}
static_assert(refusal_reasons_match(),
              "AuthError changed: update kAuthRefusalReasons and dashboards/exported_metrics.txt");

std::string param(const urls::url_view& url, std::string_view key) {
  auto params = url.params();
  auto it = params.find(key);
  if (it == params.end() || !(*it).has_value) return {};
  return std::string((*it).value);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? char(ch - 'A' + 'a') : ch; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool token_mode(const config::Config& config) {
  return config.auth.mode == config::AuthMode::token;
}

}  // namespace

std::string load_auth_secret(const config::AuthConfig& auth) {
  if (auth.mode != config::AuthMode::token) return {};
  const char* value = std::getenv(auth.secret_env.c_str());
  if (auto problem = secret_problem(auth.secret_env, value); !problem.empty())
    throw std::runtime_error(problem);
  return value;
}

std::string request_token(const HttpRequest& request, const urls::url_view& url) {
  if (std::string token = param(url, "token"); !token.empty()) return token;
  auto header = request.find(http::field::authorization);
  if (header == request.end()) return {};
  std::string_view value = header->value();
  constexpr std::string_view kScheme = "bearer";
  if (value.size() > kScheme.size() && iequals(value.substr(0, kScheme.size()), kScheme) &&
      value[kScheme.size()] == ' ') {
    value.remove_prefix(kScheme.size());
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  }
  return std::string(value);
}

std::optional<AuthError> authorize_upgrade(Gateway::State& state, const HttpRequest& request,
                                           const urls::url_view& url, Peer& peer) {
  if (!token_mode(state.config) || peer.kind == PeerKind::customer) return std::nullopt;
  const AccessRequest wanted{
      .endpoint = peer.kind == PeerKind::lead ? TokenRole::lead : TokenRole::agent,
      .shop = peer.shop,
      .agent = peer.kind == PeerKind::agent ? std::string_view(peer.id) : std::string_view(),
  };
  VerifyResult result =
      check_access(state.auth_secret, request_token(request, url), state.clock.now(), wanted);
  if (const auto* refused = std::get_if<AuthError>(&result)) {
    state.metrics.auth_refusal(static_cast<std::size_t>(*refused)).Increment();
    return *refused;
  }
  if (peer.kind == PeerKind::agent && peer.id.empty())
    peer.id = std::move(std::get<TokenClaims>(result).sub);
  return std::nullopt;
}

std::optional<AuthError> authorize_api_request(Gateway::State& state, const HttpRequest& request,
                                               const urls::url_view& url, std::string_view shop,
                                               TokenRole role) {
  if (!token_mode(state.config)) return std::nullopt;
  VerifyResult result =
      check_access(state.auth_secret, request_token(request, url), state.clock.now(),
                   AccessRequest{.endpoint = role, .shop = shop, .agent = {}});
  if (const auto* refused = std::get_if<AuthError>(&result)) {
    state.metrics.auth_refusal(static_cast<std::size_t>(*refused)).Increment();
    return *refused;
  }
  return std::nullopt;
}

AuthCheckAnswer check_auth(const Gateway::State& state, const HttpRequest& request,
                           const urls::url_view& url) {
  const auto role = token_role_from_string(param(url, "role"));
  if (!role) return {400, "role must be agent, lead or shop\n"};
  const std::string shop = param(url, "shop");
  if (shop.empty()) return {400, "missing shop\n"};
  if (!state.desk.has_shop(shop)) return {404, "unknown shop\n"};
  if (!token_mode(state.config)) return {200, "ok: auth.mode is open\n"};
  const std::string agent = *role == TokenRole::agent ? param(url, "agent") : std::string();
  VerifyResult result =
      check_access(state.auth_secret, request_token(request, url), state.clock.now(),
                   AccessRequest{.endpoint = *role, .shop = shop, .agent = agent});
  if (const auto* refused = std::get_if<AuthError>(&result))
    return {http_status(*refused), std::string(describe(*refused)) + "\n"};
  return {200, "ok\n"};
}

}  // namespace chatdesk::gateway
