#pragma once
// Signed access tokens for agents and team leads (auth.mode: token; docs/security.md,
// "Authentication"). Pure: no sockets, no environment, no clock of its own (the caller passes
// `now`), so every rule is tested with a ManualClock. Stateless functions; thread-safe.
//
//   token   = "v1." + base64url(payload) + "." + base64url(HMAC-SHA256(secret, "v1." +
//   payload_b64)) payload = {"sub":"<agent id>","shop":"<shop
//   id>","role":"agent"|"lead"|"shop","exp":<unix seconds>}
//
// base64url without padding (RFC 4648 §5). The signature covers the version and the payload exactly
// as sent, and is compared in constant time.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "chatdesk/config/time.hpp"

namespace chatdesk::gateway {

// What a token opens: /ws/agent, /ws/lead (and the lead's reports), or the shop system's API
// (POST /api/orders).
enum class TokenRole { agent, lead, shop };
std::string_view to_string(TokenRole role);
std::optional<TokenRole> token_role_from_string(std::string_view text);

struct TokenClaims {
  std::string sub;   // the agent id; for a lead, the lead's own id (same rules as agent ids)
  std::string shop;  // the one shop the token opens
  TokenRole role = TokenRole::agent;
  std::int64_t exp = 0;  // unix seconds; the token is valid while now < exp
  friend bool operator==(const TokenClaims&, const TokenClaims&) = default;
};

// Why a token was refused. The first four are "who are you?" (HTTP 401), the rest "not this"
// (HTTP 403). The names are the `reason` label of chatdesk_auth_refusals_total.
enum class AuthError {
  missing,        // no token at all
  malformed,      // not a v1 token: parts, base64url, JSON, field types, unknown version
  bad_signature,  // signed with another secret, or changed after signing
  expired,        // now >= exp
  wrong_shop,     // valid, but for another shop
  wrong_role,     // valid, but a lead token on /ws/agent or an agent token on /ws/lead
  wrong_agent,    // valid agent token, but for another agent id than the one asked for
};
inline constexpr std::size_t kAuthErrorCount = static_cast<std::size_t>(AuthError::wrong_agent) + 1;

constexpr std::string_view to_string(AuthError error) {
  switch (error) {
    case AuthError::missing:
      return "missing";
    case AuthError::malformed:
      return "malformed";
    case AuthError::bad_signature:
      return "bad_signature";
    case AuthError::expired:
      return "expired";
    case AuthError::wrong_shop:
      return "wrong_shop";
    case AuthError::wrong_role:
      return "wrong_role";
    case AuthError::wrong_agent:
      return "wrong_agent";
  }
  return "malformed";
}

// 401 Unauthorized (missing, malformed, bad_signature, expired) or 403 Forbidden (the rest).
unsigned http_status(AuthError error);
// One short line for the refusal's plain-text body; names the reason, never the token.
std::string_view describe(AuthError error);

// A shorter secret is refused at start: HMAC-SHA256 wants at least its 32-byte output size.
inline constexpr std::size_t kMinSecretBytes = 32;
// Longer "tokens" are refused as malformed before any decoding or hashing.
inline constexpr std::size_t kMaxTokenBytes = 2048;

// Empty when `value` (the content of environment variable `name`, null when it is not set) is
// usable as a secret; otherwise a message for the operator that names the variable, never the
// value.
std::string secret_problem(std::string_view name, const char* value);

// The signed token for `claims`. The caller checks the claims (chatdesk-token does: known shop,
// valid agent id, ttl within auth.max_ttl); `secret` should pass secret_problem().
std::string mint_token(std::string_view secret, const TokenClaims& claims);
// A token around any payload text, signed like mint_token: for tests of payloads mint_token
// cannot produce (bad JSON, wrong types). Not used by the gateway.
std::string mint_token_raw(std::string_view secret, std::string_view payload_json);

using VerifyResult = std::variant<TokenClaims, AuthError>;

// Checks form, signature (before the payload is parsed), payload and expiry, in that order:
// missing, malformed, bad_signature, malformed, expired. The payload must be an object with
// exactly sub (a valid agent id), shop (non-empty), role ("agent" or "lead") and exp (an integer).
VerifyResult verify_token(std::string_view secret, std::string_view token, TimePoint now);

// What the connection asks for: the endpoint's role, the `shop` query parameter and, on
// /ws/agent, the `agent` query parameter (empty: taken from the token).
struct AccessRequest {
  TokenRole endpoint = TokenRole::agent;
  std::string_view shop;
  std::string_view agent;
};

// Whether verified `claims` open `request`: role, then shop, then (agents) the agent id.
// nullopt: allowed.
std::optional<AuthError> authorize(const TokenClaims& claims, const AccessRequest& request);

// verify_token and authorize in one: the claims when the token opens `request`.
VerifyResult check_access(std::string_view secret, std::string_view token, TimePoint now,
                          const AccessRequest& request);

}  // namespace chatdesk::gateway
