// Token auth (auth.mode: token; docs/security.md, "Authentication") against the real gateway:
// refusals (401/403) before the WebSocket opens and their counter on /metrics, the token in the
// query or the Authorization header, customers still anonymous, the start-up check of the secret,
// /auth/check, and chatdesk-token minting a token the gateway accepts.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "chatdesk/config/time.hpp"
#include "chatdesk/gateway/auth_token.hpp"
#include "support/gateway_process.hpp"
#include "support/ws_client.hpp"

using chatdesk::gateway::mint_token;
using chatdesk::gateway::TokenClaims;
using chatdesk::gateway::TokenRole;
using chatdesk::test::GatewayProcess;
using chatdesk::test::metric;
using chatdesk::test::WsClient;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string kShops =
    "  - {id: tea, name: \"Tea house\"}\n"
    "  - {id: shoes, name: \"Shoe shop\"}\n";
const std::string kSecretEnv = "CHATDESK_TEST_AUTH_SECRET";
const std::string kSecret = "integration-test-secret-0123456789-abcdefghijklmnop";
const std::string kTokenAuth =
    "redis: {enabled: false}\n"
    "auth: {mode: token, secret_env: " +
    kSecretEnv + ", max_ttl: 12h}\n";

GatewayProcess token_gateway() {
  return GatewayProcess(kShops, kTokenAuth, {kSecretEnv + "=" + kSecret});
}

std::int64_t now_seconds() {
  return chatdesk::to_epoch_ms(chatdesk::SystemClock().now()) / 1000;
}

// A token signed with `secret`, valid for `ttl` from now (negative: already expired).
std::string token(const std::string& sub, const std::string& shop, TokenRole role,
                  std::chrono::seconds ttl = 1h, const std::string& secret = kSecret) {
  return mint_token(
      secret,
      TokenClaims{.sub = sub, .shop = shop, .role = role, .exp = now_seconds() + ttl.count()});
}
std::string agent_token(const std::string& sub, const std::string& shop = "tea") {
  return token(sub, shop, TokenRole::agent);
}
std::string lead_token(const std::string& sub, const std::string& shop = "tea") {
  return token(sub, shop, TokenRole::lead);
}

struct Answer {
  int status = 0;  // 0: no answer
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// A WebSocket upgrade request to `target` with extra `headers`, and the full HTTP answer.
Answer upgrade(int port, const std::string& target,
               const std::vector<std::pair<http::field, std::string>>& headers = {}) {
  std::vector<std::pair<std::string, std::string>> all{
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"}};
  for (const auto& [name, value] : headers)
    all.emplace_back(std::string(http::to_string(name)), value);
  auto a = chatdesk::test::http_request(port, "GET", target, {}, all);
  return {a.status, std::move(a.body), std::move(a.headers)};
}

double refusals(int port, const std::string& reason) {
  return metric(port, "chatdesk_auth_refusals_total{reason=\"" + reason + "\"}");
}

// Checks a refusal: status, the reason in the body, Connection: close, and nothing of the token.
void check_refused(const Answer& answer, int status, const std::string& says) {
  INFO("body: " << answer.body);
  CHECK(answer.status == status);
  CHECK(answer.body.find(says) != std::string::npos);
  CHECK(answer.headers.count("connection") == 1);
  if (answer.headers.count("connection")) CHECK(answer.headers.at("connection") == "close");
  CHECK(answer.headers.count("sec-websocket-accept") == 0);
  if (status == 401) CHECK(answer.headers.count("www-authenticate") == 1);
  CHECK(answer.body.find("v1.") == std::string::npos);
}

struct RunResult {
  int exit_status = -1;  // -1: killed at the deadline
  std::string out;
  std::string err;
};

// Runs `bin` with `args` and the test's environment changed by `env` (child_environment), waits
// at most 20 s.
RunResult run(const std::string& bin, const std::vector<std::string>& args,
              const std::vector<std::string>& env) {
  const auto stamp = std::to_string(::getpid()) + "-" +
                     std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const auto dir = std::filesystem::temp_directory_path();
  const auto out_path = (dir / ("chatdesk-auth-out-" + stamp)).string();
  const auto err_path = (dir / ("chatdesk-auth-err-" + stamp)).string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> argv_storage{bin};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = chatdesk::test::child_environment(env);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  RunResult result;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  const auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  std::error_code ignored;
  std::filesystem::remove(out_path, ignored);
  std::filesystem::remove(err_path, ignored);
  return result;
}

// A config file of its own (removed at the end) for chatdesk-token and start-up checks.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    path_ =
        (std::filesystem::temp_directory_path() /
         ("chatdesk-auth-" + std::to_string(::getpid()) + "-" +
          std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".yaml"))
            .string();
    std::ofstream(path_) << text;
  }
  ~ConfigFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string token_config(int port = 8080) {
  return "listen: {address: 127.0.0.1, port: " + std::to_string(port) + "}\n" + kTokenAuth +
         "shops:\n" + kShops;
}

}  // namespace

TEST_CASE("token mode: no, malformed, forged or expired tokens get 401 before the WebSocket") {
  auto gw = token_gateway();
  const int port = gw.port();

  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice"), 401, "token is required");
  check_refused(upgrade(port, "/ws/lead?shop=tea"), 401, "token is required");
  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice&token="), 401, "token is required");
  check_refused(upgrade(port, "/ws/agent?shop=tea"), 401, "token is required");

  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice&token=v1.abc"), 401, "malformed");
  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice",
                        {{http::field::authorization, "Basic YWxpY2U6cHc="}}),
                401, "malformed");

  const std::string forged =
      token("alice", "tea", TokenRole::agent, 1h, "another-secret-that-is-long-enough-0123456789");
  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice&token=" + forged), 401, "signature");
  const std::string expired = token("alice", "tea", TokenRole::agent, -1s);
  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice&token=" + expired), 401, "expired");
  check_refused(upgrade(port, "/ws/lead?shop=tea",
                        {{http::field::authorization,
                          "Bearer " + token("lina", "tea", TokenRole::lead, -1s)}}),
                401, "expired");
  CHECK_THROWS(WsClient(port, "/ws/agent?shop=tea&agent=alice&token=" + expired));

  // Nothing reached the desk: no agent connected, none on the roster.
  CHECK(metric(port, "chatdesk_connections{kind=\"agent\"}") == 0);
  CHECK(metric(port, "chatdesk_connections{kind=\"lead\"}") == 0);
  CHECK(metric(port, "chatdesk_agents{shop=\"tea\",state=\"away\"}") == 0);
  CHECK(refusals(port, "missing") == 4);
  CHECK(refusals(port, "malformed") == 2);
  CHECK(refusals(port, "bad_signature") == 1);
  CHECK(refusals(port, "expired") == 3);
  CHECK(refusals(port, "wrong_shop") == 0);
  // No token, shop or agent id in the metric labels.
  const auto scrape = chatdesk::test::http_get(port, "/metrics").second;
  CHECK(scrape.find("v1.") == std::string::npos);
}

TEST_CASE("token mode: a valid token for another shop, role or agent gets 403") {
  auto gw = token_gateway();
  const int port = gw.port();

  check_refused(
      upgrade(port, "/ws/agent?shop=tea&agent=alice&token=" + agent_token("alice", "shoes")), 403,
      "another shop");
  check_refused(upgrade(port, "/ws/lead?shop=tea&token=" + lead_token("lina", "shoes")), 403,
                "another shop");
  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=lina&token=" + lead_token("lina")), 403,
                "not for this page");
  check_refused(upgrade(port, "/ws/lead?shop=tea&token=" + agent_token("alice")), 403,
                "not for this page");
  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice&token=" + agent_token("bob")), 403,
                "another agent");
  // The header does not lift any of these.
  check_refused(upgrade(port, "/ws/agent?shop=tea&agent=alice",
                        {{http::field::authorization, "Bearer " + agent_token("bob")}}),
                403, "another agent");

  CHECK(metric(port, "chatdesk_connections{kind=\"agent\"}") == 0);
  CHECK(refusals(port, "wrong_shop") == 2);
  CHECK(refusals(port, "wrong_role") == 2);
  CHECK(refusals(port, "wrong_agent") == 2);
  CHECK(refusals(port, "missing") == 0);
}

TEST_CASE("token mode: a valid token signs the agent in, and it serves an anonymous customer") {
  auto gw = token_gateway();
  const int port = gw.port();

  WsClient alice(port, "/ws/agent?shop=tea&agent=alice&token=" + agent_token("alice"));
  CHECK(alice.handshake_status() == 101);
  auto welcome = alice.expect("welcome");
  CHECK(welcome["agent"].as_string() == "alice");
  alice.send({{"type", "status"}, {"state", "available"}});
  REQUIRE(alice.expect("status")["state"].as_string() == "available");

  // Customers need no token in token mode.
  WsClient customer(port, "/ws/customer?shop=tea");
  const auto conversation = std::string(customer.expect("welcome")["conversation"].as_string());
  CHECK(alice.expect("assigned")["conversation"].as_string() == conversation);
  customer.send({{"type", "message"}, {"text", "您好，有绿茶吗？"}, {"client_msg_id", "m1"}});
  customer.expect("ack");
  auto message = alice.expect("message");
  CHECK(message["text"].as_string() == "您好，有绿茶吗？");
  CHECK(message["conversation"].as_string() == conversation);

  // Without `agent` the id comes from the token.
  WsClient bob(port, "/ws/agent?shop=tea&token=" + agent_token("bob"));
  CHECK(bob.expect("welcome")["agent"].as_string() == "bob");

  // A lead token opens the lead page of its shop.
  WsClient lead(port, "/ws/lead?shop=tea&token=" + lead_token("lina"));
  CHECK(lead.expect("welcome")["shop"].as_string() == "tea");

  CHECK(metric(port, "chatdesk_connections{kind=\"agent\"}") == 2);
  CHECK(metric(port, "chatdesk_connections{kind=\"customer\"}") == 1);
  for (const char* reason : {"missing", "malformed", "bad_signature", "expired", "wrong_shop",
                             "wrong_role", "wrong_agent"})
    CHECK(refusals(port, reason) == 0);
}

TEST_CASE("token mode: the token may come in an Authorization: Bearer header") {
  auto gw = token_gateway();
  boost::asio::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws(ioc);
  beast::get_lowest_layer(ws).connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(gw.port())});
  beast::get_lowest_layer(ws).expires_after(5s);
  const std::string bearer = "Bearer " + agent_token("carol");
  ws.set_option(beast::websocket::stream_base::decorator(
      [&](beast::websocket::request_type& req) { req.set(http::field::authorization, bearer); }));
  beast::websocket::response_type response;
  ws.handshake(response, "127.0.0.1", "/ws/agent?shop=tea&agent=carol");
  CHECK(response.result_int() == 101);
  beast::flat_buffer buffer;
  ws.read(buffer);
  auto welcome = json::parse(beast::buffers_to_string(buffer.data())).as_object();
  CHECK(welcome["type"].as_string() == "welcome");
  CHECK(welcome["agent"].as_string() == "carol");
  ws.close(beast::websocket::close_code::normal);
}

TEST_CASE("token mode: the gateway does not start without a secret of at least 32 bytes") {
  ConfigFile config(token_config(chatdesk::test::free_loopback_port()));

  auto missing = run(CHATDESK_GATEWAY_BIN, {"--config", config.path()}, {kSecretEnv});
  CHECK(missing.exit_status != 0);
  CHECK(missing.exit_status != -1);
  INFO(missing.err);
  CHECK(missing.err.find(kSecretEnv) != std::string::npos);
  CHECK(missing.err.find("not set") != std::string::npos);

  const std::string short_secret = "only-31-bytes-long-secret-12345";
  REQUIRE(short_secret.size() == 31);
  auto too_short =
      run(CHATDESK_GATEWAY_BIN, {"--config", config.path()}, {kSecretEnv + "=" + short_secret});
  CHECK(too_short.exit_status != 0);
  CHECK(too_short.exit_status != -1);
  INFO(too_short.err);
  CHECK(too_short.err.find(kSecretEnv) != std::string::npos);
  CHECK(too_short.err.find("shorter than 32 bytes") != std::string::npos);
  CHECK(too_short.err.find(short_secret) == std::string::npos);

  // --check-config checks the file only, so it works where the secret is not deployed.
  auto check =
      run(CHATDESK_GATEWAY_BIN, {"--config", config.path(), "--check-config"}, {kSecretEnv});
  CHECK(check.exit_status == 0);
}

TEST_CASE("open mode: no token is needed, and the gateway says so loudly at start") {
  GatewayProcess gw(kShops);
  WsClient alice(gw.port(), "/ws/agent?shop=tea&agent=alice");
  alice.expect("welcome");
  WsClient lead(gw.port(), "/ws/lead?shop=tea");
  lead.expect("welcome");
  CHECK(gw.log().find("WARNING: auth.mode is 'open': NO AUTHENTICATION") != std::string::npos);
  CHECK(chatdesk::test::http_get(gw.port(), "/auth/check?role=agent&shop=tea&agent=alice").first ==
        200);
  CHECK(refusals(gw.port(), "missing") == 0);

  auto token_gw = token_gateway();
  CHECK(token_gw.log().find("auth.mode is 'token'") != std::string::npos);
  CHECK(token_gw.log().find("NO AUTHENTICATION") == std::string::npos);
  CHECK(token_gw.log().find(kSecret) == std::string::npos);
}

TEST_CASE("token mode: /auth/check explains a refusal to the consoles without counting it") {
  auto gw = token_gateway();
  const int port = gw.port();
  const auto check = [&](const std::string& query) {
    return chatdesk::test::http_get(port, "/auth/check?" + query);
  };
  CHECK(check("role=agent&shop=tea&agent=alice&token=" + agent_token("alice")).first == 200);
  CHECK(check("role=agent&shop=tea&token=" + agent_token("alice")).first == 200);
  CHECK(check("role=lead&shop=tea&token=" + lead_token("lina")).first == 200);
  const auto missing = check("role=agent&shop=tea&agent=alice");
  CHECK(missing.first == 401);
  CHECK(missing.second.find("token is required") != std::string::npos);
  const auto expired = check("role=agent&shop=tea&agent=alice&token=" +
                             token("alice", "tea", TokenRole::agent, -1s));
  CHECK(expired.first == 401);
  CHECK(expired.second.find("expired") != std::string::npos);
  CHECK(check("role=agent&shop=tea&agent=bob&token=" + agent_token("alice")).first == 403);
  CHECK(check("role=lead&shop=tea&token=" + agent_token("alice")).first == 403);
  CHECK(check("role=admin&shop=tea").first == 400);
  CHECK(check("role=agent").first == 400);
  CHECK(check("role=agent&shop=nope").first == 404);
  CHECK(refusals(port, "missing") == 0);
  CHECK(refusals(port, "expired") == 0);
  CHECK(refusals(port, "wrong_agent") == 0);
}

TEST_CASE("chatdesk-token mints a token the gateway accepts and refuses bad requests") {
  auto gw = token_gateway();
  ConfigFile config(token_config(gw.port()));
  const std::string bin = CHATDESK_TOKEN_BIN;
  const std::vector<std::string> with_secret{kSecretEnv + "=" + kSecret};
  const auto mint = [&](std::vector<std::string> args, const std::vector<std::string>& env) {
    args.insert(args.begin(), {"--config", config.path()});
    return run(bin, args, env);
  };

  auto minted =
      mint({"--shop", "tea", "--agent", "dora", "--role", "agent", "--ttl", "30m"}, with_secret);
  INFO(minted.err);
  REQUIRE(minted.exit_status == 0);
  REQUIRE(minted.out.size() > 4);
  REQUIRE(minted.out.back() == '\n');
  const std::string agent = minted.out.substr(0, minted.out.size() - 1);
  CHECK(agent.find('\n') == std::string::npos);        // one token, one line
  CHECK(minted.err.find(agent) == std::string::npos);  // the token only on stdout
  WsClient dora(gw.port(), "/ws/agent?shop=tea&agent=dora&token=" + agent);
  CHECK(dora.expect("welcome")["agent"].as_string() == "dora");
  // Its lifetime is the --ttl asked for, in whole seconds (rounded down).
  auto verified = chatdesk::gateway::verify_token(kSecret, agent, chatdesk::SystemClock().now());
  REQUIRE(std::holds_alternative<TokenClaims>(verified));
  const auto exp = std::get<TokenClaims>(verified).exp;
  CHECK(exp <= now_seconds() + 30 * 60);
  CHECK(exp >= now_seconds() + 30 * 60 - 30);

  auto lead = mint({"--shop", "tea", "--agent", "lina", "--role", "lead"}, with_secret);
  REQUIRE(lead.exit_status == 0);
  WsClient lead_page(gw.port(),
                     "/ws/lead?shop=tea&token=" + lead.out.substr(0, lead.out.size() - 1));
  lead_page.expect("welcome");

  struct Refusal {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string says;
  };
  const std::vector<Refusal> refused{
      {{"--shop", "nope", "--agent", "dora", "--role", "agent"},
       with_secret,
       "unknown shop 'nope'"},
      {{"--shop", "tea", "--agent", "bad id", "--role", "agent"}, with_secret, "invalid agent id"},
      {{"--shop", "tea", "--agent", "dora", "--role", "admin"}, with_secret, "--role must be"},
      {{"--shop", "tea", "--agent", "dora", "--role", "agent", "--ttl", "13h"},
       with_secret,
       "longer than auth.max_ttl"},
      {{"--shop", "tea", "--agent", "dora", "--role", "agent", "--ttl", "1d"},
       with_secret,
       "--ttl"},
      {{"--shop", "tea", "--agent", "dora", "--role", "agent"}, {kSecretEnv}, kSecretEnv},
      {{"--shop", "tea", "--agent", "dora", "--role", "agent"},
       {kSecretEnv + "=short"},
       "shorter than 32 bytes"},
      {{"--shop", "tea", "--agent", "dora", "--role", "agent", "--secret", kSecret},
       with_secret,
       "unknown or incomplete argument '--secret'"},
      {{"--shop", "tea", "--role", "agent"}, with_secret, "required"},
  };
  for (const auto& r : refused) {
    auto result = mint(r.args, r.env);
    INFO(r.says << "\n" << result.err);
    CHECK(result.exit_status == 2);
    CHECK(result.out.empty());
    CHECK(result.err.find(r.says) != std::string::npos);
  }
}
