#include "http_session.hpp"

#include <algorithm>
#include <boost/beast/websocket.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include "chatdesk/gateway/protocol.hpp"
#include "chatdesk/gateway/report.hpp"
#include "order_intake.hpp"
#include "report_service.hpp"
#include "static_files.hpp"
#include "upgrade_auth.hpp"
#include "websocket_session.hpp"

namespace chatdesk::gateway {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace urls = boost::urls;

namespace {

constexpr std::uint64_t kMaxBodyBytes = 16 * 1024;

http::response<http::string_body> text_response(
    const http::request<http::string_body>& req, http::status status, std::string body,
    std::string_view content_type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "chatdesk");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string param(const urls::url_view& url, std::string_view key) {
  auto params = url.params();
  auto it = params.find(key);
  if (it == params.end() || !(*it).has_value) return {};
  return std::string((*it).value);
}

}  // namespace

HttpSession::HttpSession(boost::asio::ip::tcp::socket&& socket,
                         std::shared_ptr<Gateway::State> state)
    : stream_(std::move(socket)), state_(std::move(state)) {}

void HttpSession::run() {
  do_read();
}

void HttpSession::do_read() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(state_->config.limits.max_header_bytes));
  parser_->body_limit(kMaxBodyBytes);
  // A client gets limits.handshake_timeout to send its request.
  stream_.expires_after(state_->config.limits.handshake_timeout);
  // Read the next request.
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream) {
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  if (ec) {
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      Request dummy;
      dummy.version(11);
      auto res = text_response(dummy, http::status::request_header_fields_too_large,
                               "request too large\n");
      res.keep_alive(false);
      respond(std::move(res));
    }
    return;
  }
  handle(parser_->release());
}

void HttpSession::handle(Request&& req) {
  if (websocket::is_upgrade(req)) return upgrade(std::move(req));
  if (req.method() == http::verb::post) return post(std::move(req));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text_response(req, http::status::method_not_allowed, "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return respond(std::move(res));
  }
  auto parsed = urls::parse_origin_form(req.target());
  if (!parsed)
    return respond(text_response(req, http::status::bad_request, "bad request target\n"));
  std::string path = std::string(parsed->path());

  auto serve_file = [&](std::string_view name) {
    auto file = read_static_file(state_->web_root, name);
    if (!file) return respond(text_response(req, http::status::not_found, "not found\n"));
    auto res = text_response(req, http::status::ok, std::move(file->body), file->content_type);
    res.set(http::field::cache_control, "no-cache");
    respond(std::move(res));
  };

  if (path == "/healthz") {
    // Ready once the desk is loaded from its store (docs/storage.md, "Recovery"); until then
    // chats are refused, so a balancer or a test waiting for 200 waits for that.
    if (!state_->desk_loaded())
      return respond(
          text_response(req, http::status::service_unavailable, "loading the desk from redis\n"));
    return respond(text_response(req, http::status::ok, "ok\n"));
  }
  if (path == "/auth/check") {
    auto answer = check_auth(*state_, req, *parsed);
    return respond(text_response(req, static_cast<http::status>(answer.status), answer.body));
  }
  if (path == "/metrics")
    return respond(text_response(req, http::status::ok, state_->render_metrics(),
                                 "text/plain; version=0.0.4; charset=utf-8"));
  if (path.starts_with("/api/reports/")) return reports_api(std::move(req), *parsed);
  if (path == "/" || path == "/agent") return serve_file("agent.html");
  if (path == "/chat") return serve_file("chat.html");
  if (path == "/lead") return serve_file("lead.html");
  if (path.starts_with("/static/")) return serve_file(std::string_view(path).substr(8));
  respond(text_response(req, http::status::not_found, "not found\n"));
}

void HttpSession::post(Request&& req) {
  auto parsed = urls::parse_origin_form(req.target());
  if (!parsed || parsed->path() != "/api/orders") {
    auto res = text_response(req, http::status::method_not_allowed, "method not allowed\n");
    res.set(http::field::allow, "GET, HEAD");
    return respond(std::move(res));
  }
  const auto answer = [&](http::status status, std::string body) {
    return respond(text_response(req, status, std::move(body), "application/json"));
  };
  const auto error = [&](http::status status, std::string_view message) {
    return answer(status, boost::json::serialize(boost::json::object{{"error", message}}));
  };
  const std::string shop = param(*parsed, "shop");
  if (shop.empty()) return error(http::status::bad_request, "missing shop");
  if (!state_->desk.has_shop(shop)) return error(http::status::not_found, "unknown shop");
  if (auto refused = authorize_api_request(*state_, req, *parsed, shop, TokenRole::shop))
    return error(static_cast<http::status>(http_status(*refused)), describe(*refused));
  if (!state_->store)
    return error(http::status::service_unavailable,
                 "orders need storage.enabled (they are stored with the shop's records)");
  std::string why;
  const auto order = parse_order(req.body(), state_->clock.now(), why);
  if (!order) return error(http::status::bad_request, why);
  // Stored by one script in the shop's slot; answered once Redis has.
  submit_order(*state_->redis, state_->config, shop, *order,
               [self = shared_from_this(), req = std::move(req)](OrderAnswer a) {
                 self->respond(text_response(req, static_cast<http::status>(a.status),
                                             std::move(a.body), "application/json"));
               });
}

void HttpSession::reports_api(Request&& req, const urls::url_view& url) {
  const std::string path(url.path());
  const bool csv = path == "/api/reports/ranking.csv";
  if (!csv && path != "/api/reports/summary")
    return respond(text_response(req, http::status::not_found, "no such report\n"));
  const std::string shop = param(url, "shop");
  if (shop.empty()) return respond(text_response(req, http::status::bad_request, "missing shop\n"));
  if (!state_->desk.has_shop(shop))
    return respond(text_response(req, http::status::not_found, "unknown shop\n"));
  if (auto refused = authorize_api_request(*state_, req, url, shop, TokenRole::lead))
    return respond(text_response(req, static_cast<http::status>(http_status(*refused)),
                                 std::string(describe(*refused)) + "\n"));
  std::string error;
  auto range = reports::parse_range(param(url, "month"), param(url, "from"), param(url, "to"),
                                    param(url, "bucket"), error);
  if (!range) return respond(text_response(req, http::status::bad_request, error + "\n"));
  const std::string variant = param(url, "variant");
  if (!variant.empty() && variant != "all" && variant != "marketplace")
    return respond(
        text_response(req, http::status::bad_request, "variant must be all or marketplace\n"));
  if (!state_->reports)
    return respond(text_response(req, http::status::service_unavailable,
                                 "reports need storage.enabled (they read the stored records)\n"));
  ReportQuery query{shop,
                    range->first,
                    range->last,
                    range->bucket,
                    variant == "marketplace",
                    csv ? ReportQuery::Format::ranking_csv : ReportQuery::Format::json};
  const std::string filename = "ranking-" + shop + "-" + date::format("%F", range->first) + ".csv";
  // Read and computed on the reports thread; answered here once it is done.
  state_->reports->submit(std::move(query), [self = shared_from_this(), req = std::move(req),
                                             filename](ReportAnswer a) {
    auto res =
        text_response(req, static_cast<http::status>(a.status), std::move(a.body), a.content_type);
    if (a.status == 200 && a.content_type.starts_with("text/csv"))
      res.set(http::field::content_disposition, "attachment; filename=\"" + filename + "\"");
    self->respond(std::move(res));
  });
}

void HttpSession::upgrade(Request&& req) {
  // A browser always sends Origin; a page from a foreign site must not reach the desk with the
  // visitor's network position. No Origin header: not a browser, nothing to check.
  const auto& allowed = state_->config.allowed_origins;
  if (auto origin = req.find(http::field::origin);
      origin != req.end() && !allowed.empty() &&
      std::find(allowed.begin(), allowed.end(), origin->value()) == allowed.end()) {
    auto res = text_response(req, http::status::forbidden, "origin not allowed\n");
    res.keep_alive(false);
    return respond(std::move(res));
  }
  auto parsed = urls::parse_origin_form(req.target());
  if (!parsed)
    return respond(text_response(req, http::status::bad_request, "bad request target\n"));
  std::string path = std::string(parsed->path());
  Peer peer;
  if (path == "/ws/customer") {
    peer.kind = PeerKind::customer;
    peer.id = param(*parsed, "customer");
    peer.resume = param(*parsed, "resume");
  } else if (path == "/ws/agent") {
    peer.kind = PeerKind::agent;
    peer.id = param(*parsed, "agent");
    // In token mode an agent may leave out `agent`: authorize_upgrade takes it from the token.
    const bool from_token = peer.id.empty() && state_->config.auth.mode == config::AuthMode::token;
    if (!from_token && !is_valid_client_id(peer.id))
      return respond(text_response(req, http::status::bad_request,
                                   "agent must be 1-64 characters of [A-Za-z0-9_.:-]\n"));
  } else if (path == "/ws/lead") {
    peer.kind = PeerKind::lead;
  } else if (path == "/ws/echo" && state_->config.diagnostics.echo) {
    // Diagnostics (docs/conformance.md): no shop, no token, never reaches the desk.
    peer.kind = PeerKind::echo;
    return open_websocket(std::move(req), std::move(peer));
  } else {
    return respond(text_response(req, http::status::not_found, "no such WebSocket endpoint\n"));
  }
  peer.shop = param(*parsed, "shop");
  if (peer.shop.empty())
    return respond(text_response(req, http::status::bad_request, "missing shop\n"));
  if (!state_->desk.has_shop(peer.shop))
    return respond(text_response(req, http::status::not_found, "unknown shop\n"));
  // auth.mode token: agents and leads show a token before anything reaches the desk.
  if (auto refused = authorize_upgrade(*state_, req, *parsed, peer)) {
    auto res = text_response(req, static_cast<http::status>(http_status(*refused)),
                             std::string(describe(*refused)) + "\n");
    if (res.result() == http::status::unauthorized)
      res.set(http::field::www_authenticate, "Bearer realm=\"chatdesk\"");
    res.keep_alive(false);
    return respond(std::move(res));
  }
  open_websocket(std::move(req), std::move(peer));
}

void HttpSession::open_websocket(Request&& req, Peer peer) {
  if (state_->stopping)
    return respond(text_response(req, http::status::service_unavailable, "stopping\n"));
  // Without its store the desk cannot keep a new conversation or console (docs/storage.md): the
  // client's reconnect loop comes back when Redis does.
  if ((peer.kind == PeerKind::customer || peer.kind == PeerKind::agent) &&
      !state_->store_available()) {
    auto res = text_response(req, http::status::service_unavailable,
                             "the desk cannot store conversations right now; try again shortly\n");
    res.set(http::field::retry_after, "1");
    return respond(std::move(res));
  }
  // Several nodes (docs/scaling.md): while the shop's desk moves between nodes it has none.
  if (peer.kind != PeerKind::echo && !state_->shop_reachable(peer.shop)) {
    auto res = text_response(req, http::status::service_unavailable,
                             "the shop's desk is moving to another node; try again shortly\n");
    res.set(http::field::retry_after, "1");
    return respond(std::move(res));
  }
  beast::error_code ec;
  const auto remote = stream_.socket().remote_endpoint(ec);
  if (ec) return;  // the peer is gone already
  if (!state_->acquire_connection(remote.address())) {
    auto res = text_response(req, http::status::too_many_requests,
                             "too many connections from this address\n");
    res.keep_alive(false);
    return respond(std::move(res));
  }
  ConnectionSlot slot(state_, remote.address());
  // The WebSocket stream sets its own timeouts.
  stream_.expires_never();
  std::make_shared<WebSocketSession>(std::move(stream_), state_, std::move(peer), std::move(slot))
      ->run(std::move(req));
}

void HttpSession::respond(Response&& response) {
  if (response.result_int() >= 400) state_->metrics.http_error(response.result_int()).Increment();
  bool keep_alive = response.keep_alive();
  response_ = std::make_shared<Response>(std::move(response));
  // Write the response, then read the next request or close.
  http::async_write(
      stream_, *response_,
      beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), keep_alive));
}

void HttpSession::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  response_.reset();
  if (ec) return;
  if (!keep_alive) {
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  do_read();
}

}  // namespace chatdesk::gateway
