#include "chatdesk/gateway/auth_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <limits>

#include "chatdesk/gateway/protocol.hpp"

namespace chatdesk::gateway {
namespace json = boost::json;

namespace {

constexpr std::string_view kVersion = "v1";
constexpr std::size_t kMacBytes = 32;  // SHA-256
using Mac = std::array<unsigned char, kMacBytes>;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    const unsigned v = (byte(i) << 16) | (rest == 2 ? byte(i + 1) << 8 : 0u);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (rest == 2) out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

int base64url_value(char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '-') return 62;
  if (ch == '_') return 63;
  return -1;
}

// Strict: no padding, no other characters, and the unused low bits of the last character must be
// zero, so that each byte string has exactly one encoding (no two spellings of one signature).
std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char ch : text) {
    const int v = base64url_value(ch);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

Mac hmac_sha256(std::string_view key, std::string_view data) {
  static constexpr unsigned char kEmpty = 0;
  Mac mac{};
  unsigned int length = 0;
  const auto* key_bytes =
      key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  const auto* data_bytes =
      data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  // The one-shot HMAC() (not the deprecated HMAC_CTX API); it fails only when out of memory.
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, data.size(),
           mac.data(), &length) == nullptr ||
      length != kMacBytes)
    mac.fill(0);
  return mac;
}

// Shop ids as the config loader allows them.
bool is_plain_shop_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
  });
}

std::optional<TokenClaims> parse_payload(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const json::object& object = value.get_object();
  if (object.size() != 4) return std::nullopt;
  const auto* sub = object.if_contains("sub");
  const auto* shop = object.if_contains("shop");
  const auto* role = object.if_contains("role");
  const auto* exp = object.if_contains("exp");
  if (!sub || !shop || !role || !exp) return std::nullopt;
  if (!sub->is_string() || !shop->is_string() || !role->is_string()) return std::nullopt;
  TokenClaims claims;
  claims.sub = std::string(sub->get_string());
  claims.shop = std::string(shop->get_string());
  const auto parsed_role = token_role_from_string(role->get_string());
  if (!parsed_role || !is_valid_client_id(claims.sub) || !is_plain_shop_id(claims.shop))
    return std::nullopt;
  claims.role = *parsed_role;
  if (exp->is_int64()) {
    claims.exp = exp->get_int64();
  } else if (exp->is_uint64() &&
             exp->get_uint64() <=
                 static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    claims.exp = static_cast<std::int64_t>(exp->get_uint64());
  } else {
    return std::nullopt;  // a fraction, a string, or out of range
  }
  return claims;
}

std::string signed_token(std::string_view secret, std::string_view payload_json) {
  std::string token(kVersion);
  token += '.';
  token += base64url_encode(payload_json);
  const Mac mac = hmac_sha256(secret, token);
  token += '.';
  token +=
      base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

}  // namespace

std::string_view to_string(TokenRole role) {
  switch (role) {
    case TokenRole::agent:
      return "agent";
    case TokenRole::lead:
      return "lead";
    case TokenRole::shop:
      return "shop";
  }
  return "agent";
}

std::optional<TokenRole> token_role_from_string(std::string_view text) {
  if (text == "agent") return TokenRole::agent;
  if (text == "lead") return TokenRole::lead;
  if (text == "shop") return TokenRole::shop;
  return std::nullopt;
}

unsigned http_status(AuthError error) {
  switch (error) {
    case AuthError::missing:
    case AuthError::malformed:
    case AuthError::bad_signature:
    case AuthError::expired:
      return 401;
    case AuthError::wrong_shop:
    case AuthError::wrong_role:
    case AuthError::wrong_agent:
      return 403;
  }
  return 401;
}

std::string_view describe(AuthError error) {
  switch (error) {
    case AuthError::missing:
      return "not signed in: a token is required (token parameter or Authorization: Bearer)";
    case AuthError::malformed:
      return "not signed in: the token is malformed";
    case AuthError::bad_signature:
      return "not signed in: the token's signature is not valid";
    case AuthError::expired:
      return "not signed in: the token has expired";
    case AuthError::wrong_shop:
      return "forbidden: the token is for another shop";
    case AuthError::wrong_role:
      return "forbidden: the token is not for this page or API (agent, lead or shop)";
    case AuthError::wrong_agent:
      return "forbidden: the token is for another agent";
  }
  return "not signed in";
}

std::string secret_problem(std::string_view name, const char* value) {
  const std::string var(name);
  if (value == nullptr)
    return "auth.mode is token but the environment variable " + var +
           " (auth.secret_env) is not set; set it to a random secret of at least " +
           std::to_string(kMinSecretBytes) + " bytes, e.g. export " + var +
           "=$(openssl rand -base64 48)";
  if (std::string_view(value).size() < kMinSecretBytes)
    return "the secret in environment variable " + var + " (auth.secret_env) is shorter than " +
           std::to_string(kMinSecretBytes) + " bytes; use a random one, e.g. export " + var +
           "=$(openssl rand -base64 48)";
  return {};
}

std::string mint_token(std::string_view secret, const TokenClaims& claims) {
  json::object payload;
  payload["sub"] = claims.sub;
  payload["shop"] = claims.shop;
  payload["role"] = to_string(claims.role);
  payload["exp"] = claims.exp;
  return signed_token(secret, json::serialize(payload));
}

std::string mint_token_raw(std::string_view secret, std::string_view payload_json) {
  return signed_token(secret, payload_json);
}

VerifyResult verify_token(std::string_view secret, std::string_view token, TimePoint now) {
  if (token.empty()) return AuthError::missing;
  if (token.size() > kMaxTokenBytes) return AuthError::malformed;
  // "v1" "." payload "." signature: exactly three parts.
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return AuthError::malformed;
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    return AuthError::malformed;
  if (token.substr(0, first) != kVersion) return AuthError::malformed;
  const std::string_view payload_b64 = token.substr(first + 1, second - first - 1);
  const std::string_view signature_b64 = token.substr(second + 1);
  if (payload_b64.empty()) return AuthError::malformed;
  const auto payload = base64url_decode(payload_b64);
  const auto signature = base64url_decode(signature_b64);
  if (!payload || !signature || signature->size() != kMacBytes) return AuthError::malformed;

  // The signature first: nothing of an unsigned payload is parsed.
  const Mac expected = hmac_sha256(secret, token.substr(0, second));
  if (CRYPTO_memcmp(expected.data(), signature->data(), kMacBytes) != 0)
    return AuthError::bad_signature;

  auto claims = parse_payload(*payload);
  if (!claims) return AuthError::malformed;
  // Valid while now < exp: at exactly exp it has expired. exp * 1000 cannot overflow for any
  // real time; a far-future exp saturates instead of wrapping.
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000;
  const std::int64_t exp_ms = claims->exp >= kMaxSeconds ? std::numeric_limits<std::int64_t>::max()
                              : claims->exp <= -kMaxSeconds
                                  ? std::numeric_limits<std::int64_t>::min()
                                  : claims->exp * 1000;
  if (to_epoch_ms(now) >= exp_ms) return AuthError::expired;
  return std::move(*claims);
}

std::optional<AuthError> authorize(const TokenClaims& claims, const AccessRequest& request) {
  if (claims.role != request.endpoint) return AuthError::wrong_role;
  if (claims.shop != request.shop) return AuthError::wrong_shop;
  if (request.endpoint == TokenRole::agent && !request.agent.empty() && claims.sub != request.agent)
    return AuthError::wrong_agent;
  return std::nullopt;
}

VerifyResult check_access(std::string_view secret, std::string_view token, TimePoint now,
                          const AccessRequest& request) {
  VerifyResult result = verify_token(secret, token, now);
  if (const auto* claims = std::get_if<TokenClaims>(&result))
    if (auto refused = authorize(*claims, request)) return *refused;
  return result;
}

}  // namespace chatdesk::gateway
