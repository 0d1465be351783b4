#pragma once
// Token auth at the gateway's edge (auth.mode: token; docs/security.md, "Authentication"): the
// secret from the environment at start, where a request carries its token, and the check of a
// WebSocket upgrade before it reaches the desk. A thin adapter around the pure auth_token.hpp.
// Stateless functions; the ones taking the state run on the gateway's one thread.

#include <boost/beast/http.hpp>
#include <boost/url/url_view.hpp>
#include <optional>
#include <string>

#include "chatdesk/config/config.hpp"
#include "chatdesk/gateway/auth_token.hpp"
#include "gateway_state.hpp"

namespace chatdesk::gateway {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// In token mode, the secret from the environment variable auth.secret_env. Throws
// std::runtime_error (start-up) with a message naming the variable, never its value, when it is
// not set or shorter than kMinSecretBytes. Empty in open mode (nothing is read).
std::string load_auth_secret(const config::AuthConfig& auth);

// The token a request carries: the `token` query parameter (browsers cannot set headers on a
// WebSocket), else the `Authorization: Bearer <token>` header. Empty when there is neither. An
// Authorization header with another scheme is returned whole, so it fails as malformed.
std::string request_token(const HttpRequest& request, const boost::urls::url_view& url);

// Whether the upgrade of `peer` may go on. Open mode and customers: always (nullopt). Agents and
// leads in token mode: the token must open the endpoint, shop and agent id; a refusal is counted
// in chatdesk_auth_refusals_total{reason}. An agent that gave no `agent` parameter gets the
// token's id in peer.id.
std::optional<AuthError> authorize_upgrade(Gateway::State& state, const HttpRequest& request,
                                           const boost::urls::url_view& url, Peer& peer);

// Whether an API request may go on for `shop`: in token mode, a token of `role` for that shop
// (lead: the reports; shop: the shop's system posting orders); in open mode, always. A refusal is
// counted as for an upgrade.
std::optional<AuthError> authorize_api_request(Gateway::State& state, const HttpRequest& request,
                                               const boost::urls::url_view& url,
                                               std::string_view shop, TokenRole role);

// GET /auth/check?role=agent|lead&shop=S[&agent=A] with the token as for an upgrade: the status
// and body the consoles use to tell "refused" from "unreachable" (a browser cannot read a refused
// upgrade's status). 200 when the token would be let in (always in open mode), 401/403 as the
// upgrade would get, 400 for a bad role or missing shop. Not counted in the refusal metric: the
// upgrade it explains was counted already.
struct AuthCheckAnswer {
  unsigned status = 200;
  std::string body;
};
AuthCheckAnswer check_auth(const Gateway::State& state, const HttpRequest& request,
                           const boost::urls::url_view& url);

}  // namespace chatdesk::gateway
