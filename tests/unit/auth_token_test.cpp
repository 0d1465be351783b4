// Auth tokens (gateway/include/chatdesk/gateway/auth_token.hpp): minting, verification (form,
// signature, payload, expiry at exp - 1 ms and exp with a ManualClock), the endpoint matrix, the
// start-up secret check, and the refusal counter's fixed label set.

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "chatdesk/config/config.hpp"
#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/auth_token.hpp"
#include "chatdesk/monitor/desk_metrics.hpp"

namespace {

using namespace chatdesk;
using namespace chatdesk::gateway;
using namespace std::chrono_literals;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
const std::string kOtherSecret = "fedcba9876543210fedcba9876543210-other-secret";

// 2023-11-14 22:13:20 UTC: the ManualClock's default start.
constexpr std::int64_t kNowSeconds = 1'700'000'000;
constexpr std::int64_t kExp = kNowSeconds + 3600;

TokenClaims agent_claims(std::string sub = "alice", std::string shop = "demo",
                         TokenRole role = TokenRole::agent, std::int64_t exp = kExp) {
  return TokenClaims{.sub = std::move(sub), .shop = std::move(shop), .role = role, .exp = exp};
}

AuthError error_of(const VerifyResult& result) {
  REQUIRE(std::holds_alternative<AuthError>(result));
  return std::get<AuthError>(result);
}

TokenClaims claims_of(const VerifyResult& result) {
  if (const auto* error = std::get_if<AuthError>(&result)) FAIL("refused: " << to_string(*error));
  return std::get<TokenClaims>(result);
}

// The three dot-separated parts of a token.
struct Parts {
  std::string version, payload, signature;
};
Parts split(const std::string& token) {
  const auto a = token.find('.');
  const auto b = token.find('.', a + 1);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

}  // namespace

TEST_CASE("auth token: mint and verify round trip for agent and lead", "[auth]") {
  ManualClock clock;
  for (TokenRole role : {TokenRole::agent, TokenRole::lead}) {
    INFO(to_string(role));
    const TokenClaims claims = agent_claims("a.b_c:d-1", "night-market", role);
    const std::string token = mint_token(kSecret, claims);
    CHECK(token.starts_with("v1."));
    // base64url without padding: nothing a URL query would need to escape.
    CHECK(token.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
          std::string::npos);
    CHECK(claims_of(verify_token(kSecret, token, clock.now())) == claims);
    // HMAC-SHA256: a 32-byte signature is 43 base64url characters.
    CHECK(split(token).signature.size() == 43);
  }
}

TEST_CASE("auth token: the payload is the documented JSON", "[auth]") {
  // RFC 4648 base64url of {"sub":"alice","shop":"demo","role":"agent","exp":1700003600}.
  const std::string token = mint_token(kSecret, agent_claims());
  CHECK(split(token).payload ==
        "eyJzdWIiOiJhbGljZSIsInNob3AiOiJkZW1vIiwicm9sZSI6ImFnZW50IiwiZXhwIjoxNzAwMDAzNjAwfQ");
  // The same payload signed by hand (mint_token_raw) is the same token.
  CHECK(mint_token_raw(
            kSecret, R"({"sub":"alice","shop":"demo","role":"agent","exp":1700003600})") == token);
}

TEST_CASE("auth token: a known HMAC-SHA256 vector", "[auth]") {
  // The whole construction pinned against an independent computation:
  //   printf 'v1.e30' | openssl dgst -sha256 -mac HMAC -macopt key:Jefe -binary
  //     | basenc --base64url | tr -d '='
  // ("e30" is base64url of "{}"; the signature has a '_', so the URL alphabet is checked).
  CHECK(mint_token_raw("Jefe", "{}") == "v1.e30.Rz0rkTMQV1yp3ZElJZhtKuF5EjM8vm2VM_2VlITaVEo");
}

TEST_CASE("auth token: forged, tampered and foreign tokens are bad_signature", "[auth]") {
  ManualClock clock;
  const std::string token = mint_token(kSecret, agent_claims());
  const Parts parts = split(token);

  SECTION("signed with another secret") {
    CHECK(error_of(verify_token(kOtherSecret, token, clock.now())) == AuthError::bad_signature);
    CHECK(error_of(verify_token(kSecret, mint_token(kOtherSecret, agent_claims()), clock.now())) ==
          AuthError::bad_signature);
  }
  SECTION("signature changed in one character") {
    std::string forged = token;
    forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
    CHECK(error_of(verify_token(kSecret, forged, clock.now())) == AuthError::bad_signature);
  }
  SECTION("payload swapped for another agent's, signature kept") {
    const Parts bob = split(mint_token(kSecret, agent_claims("bob")));
    CHECK(error_of(verify_token(kSecret, "v1." + bob.payload + "." + parts.signature,
                                clock.now())) == AuthError::bad_signature);
  }
  SECTION("payload edited (longer exp), signature kept") {
    const Parts later =
        split(mint_token(kOtherSecret, agent_claims("alice", "demo", TokenRole::agent, kExp * 2)));
    CHECK(error_of(verify_token(kSecret, "v1." + later.payload + "." + parts.signature,
                                clock.now())) == AuthError::bad_signature);
  }
  SECTION("role raised from agent to lead, signature kept") {
    const Parts lead =
        split(mint_token(kOtherSecret, agent_claims("alice", "demo", TokenRole::lead)));
    CHECK(error_of(verify_token(kSecret, "v1." + lead.payload + "." + parts.signature,
                                clock.now())) == AuthError::bad_signature);
  }
  SECTION("an all-zero signature") {
    CHECK(error_of(verify_token(kSecret, "v1." + parts.payload + "." + std::string(42, 'A') + "A",
                                clock.now())) == AuthError::bad_signature);
  }
}

TEST_CASE("auth token: malformed tokens", "[auth]") {
  ManualClock clock;
  const auto now = clock.now();
  const std::string token = mint_token(kSecret, agent_claims());
  const Parts p = split(token);

  CHECK(error_of(verify_token(kSecret, "", now)) == AuthError::missing);

  SECTION("parts") {
    for (const std::string& bad : std::vector<std::string>{
             std::string("v1"), "v1.", "v1..", "." + p.payload + "." + p.signature,
             "v1." + p.payload, "v1." + p.payload + ".", "v1.." + p.signature, token + ".",
             token + ".x", "garbage", "Bearer " + token}) {
      INFO(bad);
      CHECK(error_of(verify_token(kSecret, bad, now)) == AuthError::malformed);
    }
  }
  SECTION("unknown version, even when signed consistently") {
    CHECK(error_of(verify_token(kSecret, "v2." + p.payload + "." + p.signature, now)) ==
          AuthError::malformed);
    CHECK(error_of(verify_token(kSecret, "V1." + p.payload + "." + p.signature, now)) ==
          AuthError::malformed);
  }
  SECTION("bad base64url") {
    for (const std::string& bad : std::vector<std::string>{
             "v1." + p.payload + "=." + p.signature,       // padding
             "v1." + p.payload + "." + p.signature + "=",  // padding
             "v1." + p.payload.substr(0, 10) + "+/" + p.payload.substr(12) + "." + p.signature,
             "v1." + p.payload + "." + p.signature.substr(0, 42),        // 31.5 bytes
             "v1." + p.payload + "." + p.signature.substr(0, 40),        // 30 bytes
             "v1." + p.payload + "." + p.signature + "AAAA",             // 35 bytes
             "v1.AAAAA." + p.signature,                                  // length % 4 == 1
             "v1." + p.payload + "." + p.signature.substr(0, 42) + "B",  // non-zero unused bits
             "v1.e30 ." + p.signature}) {
      INFO(bad);
      CHECK(error_of(verify_token(kSecret, bad, now)) == AuthError::malformed);
    }
  }
  SECTION("validly signed, but the payload is not ours (bad JSON, wrong types, missing keys)") {
    for (const std::string& payload : std::vector<std::string>{
             std::string("not json"),
             "[]",
             "\"alice\"",
             "{}",
             R"({"sub":"alice","shop":"demo","role":"agent"})",
             R"({"sub":"alice","shop":"demo","exp":1700003600})",
             R"({"sub":"alice","role":"agent","exp":1700003600})",
             R"({"shop":"demo","role":"agent","exp":1700003600})",
             R"({"sub":"alice","shop":"demo","role":"agent","exp":1700003600,"admin":true})",
             R"({"sub":"alice","shop":"demo","role":"agent","exp":"1700003600"})",
             R"({"sub":"alice","shop":"demo","role":"agent","exp":1700003600.5})",
             R"({"sub":"alice","shop":"demo","role":"agent","exp":null})",
             R"({"sub":"alice","shop":"demo","role":"agent","exp":18446744073709551615})",
             R"({"sub":42,"shop":"demo","role":"agent","exp":1700003600})",
             R"({"sub":"alice","shop":["demo"],"role":"agent","exp":1700003600})",
             R"({"sub":"alice","shop":"demo","role":"admin","exp":1700003600})",
             R"({"sub":"alice","shop":"demo","role":"Agent","exp":1700003600})",
             R"({"sub":"","shop":"demo","role":"agent","exp":1700003600})",
             R"({"sub":"bad id","shop":"demo","role":"agent","exp":1700003600})",
             R"({"sub":"alice","shop":"","role":"agent","exp":1700003600})",
             R"({"sub":"alice","shop":"de/mo","role":"agent","exp":1700003600})",
             R"({"sub":"alice","sub":"bob","role":"agent","exp":1700003600})",
             "{\"sub\":\"alice\",\"shop\":\"demo\",\"role\":\"agent\",\"exp\":1700003600",
         }) {
      INFO(payload);
      CHECK(error_of(verify_token(kSecret, mint_token_raw(kSecret, payload), now)) ==
            AuthError::malformed);
    }
  }
  SECTION("an over-long token is refused before hashing") {
    CHECK(error_of(verify_token(kSecret, "v1." + std::string(kMaxTokenBytes, 'A') + ".x", now)) ==
          AuthError::malformed);
  }
}

TEST_CASE("auth token: valid until exp - 1 ms, expired at exactly exp", "[auth]") {
  ManualClock clock(from_epoch_ms(kExp * 1000 - 3'600'000));
  const std::string token = mint_token(kSecret, agent_claims());
  CHECK(claims_of(verify_token(kSecret, token, clock.now())).exp == kExp);

  clock.set(from_epoch_ms(kExp * 1000 - 1));
  CHECK(claims_of(verify_token(kSecret, token, clock.now())).sub == "alice");
  clock.advance(1ms);
  CHECK(to_epoch_ms(clock.now()) == kExp * 1000);
  CHECK(error_of(verify_token(kSecret, token, clock.now())) == AuthError::expired);
  clock.advance(24h);
  CHECK(error_of(verify_token(kSecret, token, clock.now())) == AuthError::expired);

  // Signature before expiry: an expired forgery is still a forgery.
  CHECK(error_of(verify_token(kOtherSecret, token, clock.now())) == AuthError::bad_signature);
  // Extreme exp values neither overflow nor wrap.
  CHECK(error_of(verify_token(kSecret,
                              mint_token(kSecret, agent_claims("a", "demo", TokenRole::agent, 0)),
                              clock.now())) == AuthError::expired);
  CHECK(error_of(verify_token(
            kSecret,
            mint_token(kSecret, agent_claims("a", "demo", TokenRole::agent,
                                             std::numeric_limits<std::int64_t>::min())),
            clock.now())) == AuthError::expired);
  CHECK(claims_of(verify_token(
                      kSecret,
                      mint_token(kSecret, agent_claims("a", "demo", TokenRole::agent,
                                                       std::numeric_limits<std::int64_t>::max())),
                      clock.now()))
            .sub == "a");
}

TEST_CASE("auth token: authorize matrix of endpoint, shop and agent", "[auth]") {
  const TokenClaims alice = agent_claims("alice", "demo", TokenRole::agent);
  const TokenClaims lead = agent_claims("lina", "demo", TokenRole::lead);
  using E = AuthError;
  const auto agent_at = [](std::string_view shop, std::string_view agent) {
    return AccessRequest{.endpoint = TokenRole::agent, .shop = shop, .agent = agent};
  };
  const auto lead_at = [](std::string_view shop) {
    return AccessRequest{.endpoint = TokenRole::lead, .shop = shop, .agent = {}};
  };

  CHECK_FALSE(authorize(alice, agent_at("demo", "alice")));
  CHECK_FALSE(authorize(alice, agent_at("demo", "")));  // the id comes from the token
  CHECK(authorize(alice, agent_at("tea", "alice")) == E::wrong_shop);
  CHECK(authorize(alice, agent_at("demo", "bob")) == E::wrong_agent);
  CHECK(authorize(alice, agent_at("demo", "Alice")) == E::wrong_agent);
  CHECK(authorize(alice, lead_at("demo")) == E::wrong_role);

  CHECK_FALSE(authorize(lead, lead_at("demo")));
  CHECK(authorize(lead, lead_at("tea")) == E::wrong_shop);
  CHECK(authorize(lead, agent_at("demo", "lina")) == E::wrong_role);
  CHECK(authorize(lead, agent_at("demo", "")) == E::wrong_role);

  // Role is checked first, then shop, then agent.
  CHECK(authorize(lead, agent_at("tea", "bob")) == E::wrong_role);
  CHECK(authorize(alice, agent_at("tea", "bob")) == E::wrong_shop);

  // check_access: verification errors come before authorization.
  ManualClock clock;
  const std::string token = mint_token(kSecret, alice);
  CHECK(claims_of(check_access(kSecret, token, clock.now(), agent_at("demo", "alice"))) == alice);
  CHECK(error_of(check_access(kSecret, token, clock.now(), agent_at("tea", "alice"))) ==
        E::wrong_shop);
  CHECK(error_of(check_access(kOtherSecret, token, clock.now(), agent_at("tea", "alice"))) ==
        E::bad_signature);
  CHECK(error_of(check_access(kSecret, "", clock.now(), agent_at("demo", "alice"))) == E::missing);
  clock.set(from_epoch_ms(kExp * 1000));
  CHECK(error_of(check_access(kSecret, token, clock.now(), agent_at("tea", "bob"))) == E::expired);
}

TEST_CASE("auth token: 401 for who-are-you, 403 for not-this, and a message for each", "[auth]") {
  for (std::size_t i = 0; i < kAuthErrorCount; ++i) {
    const auto error = static_cast<AuthError>(i);
    INFO(to_string(error));
    const bool unauthenticated = error == AuthError::missing || error == AuthError::malformed ||
                                 error == AuthError::bad_signature || error == AuthError::expired;
    CHECK(http_status(error) == (unauthenticated ? 401u : 403u));
    CHECK_FALSE(describe(error).empty());
  }
}

TEST_CASE("auth token: the secret must be set and at least 32 bytes", "[auth]") {
  const std::string unset = secret_problem("CHATDESK_AUTH_SECRET", nullptr);
  CHECK_THAT(unset, Catch::Contains("CHATDESK_AUTH_SECRET") && Catch::Contains("not set"));
  const std::string short_secret(kMinSecretBytes - 1, 's');
  const std::string too_short = secret_problem("MY_SECRET", short_secret.c_str());
  CHECK_THAT(too_short, Catch::Contains("MY_SECRET") && Catch::Contains("shorter than 32 bytes"));
  CHECK(too_short.find(short_secret) == std::string::npos);  // the value is never repeated
  CHECK_THAT(secret_problem("X", ""), Catch::Contains("shorter"));
  CHECK(secret_problem("X", std::string(kMinSecretBytes, 's').c_str()).empty());
}

TEST_CASE("auth token: refusals are counted under a fixed reason label set", "[auth][metrics]") {
  config::Config config;
  config::ShopConfig shop;
  shop.id = "demo";
  config.shops.push_back(shop);
  monitor::DeskMetrics metrics(config);
  const std::string before = monitor::serialize(metrics.registry());
  for (std::size_t i = 0; i < kAuthErrorCount; ++i) {
    const std::string reason(to_string(static_cast<AuthError>(i)));
    INFO(reason);
    CHECK(before.find("chatdesk_auth_refusals_total{reason=\"" + reason + "\"} 0\n") !=
          std::string::npos);
  }
  metrics.auth_refusal(static_cast<std::size_t>(AuthError::expired)).Increment();
  metrics.auth_refusal(static_cast<std::size_t>(AuthError::expired)).Increment();
  metrics.auth_refusal(static_cast<std::size_t>(AuthError::wrong_agent)).Increment();
  const std::string after = monitor::serialize(metrics.registry());
  CHECK(after.find("chatdesk_auth_refusals_total{reason=\"expired\"} 2\n") != std::string::npos);
  CHECK(after.find("chatdesk_auth_refusals_total{reason=\"wrong_agent\"} 1\n") !=
        std::string::npos);
  CHECK(after.find("chatdesk_auth_refusals_total{reason=\"missing\"} 0\n") != std::string::npos);
  // Seven series, no more: the label set does not grow with what clients send.
  std::size_t series = 0;
  for (auto at = after.find("\nchatdesk_auth_refusals_total{"); at != std::string::npos;
       at = after.find("\nchatdesk_auth_refusals_total{", at + 1))
    ++series;
  CHECK(series == kAuthErrorCount);
}
