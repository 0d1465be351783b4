#pragma once
// One HTTP connection: serves the consoles, /healthz and /metrics, and hands WebSocket upgrades
// on /ws/customer and /ws/agent to a WebSocketSession (Beast chat-multi's http_session).
// Not thread-safe: used on the gateway's one thread.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/url_view.hpp>
#include <memory>
#include <optional>

#include "gateway_state.hpp"

namespace chatdesk::gateway {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<Gateway::State> state);
  void run();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);
  void handle(Request&& request);
  void upgrade(Request&& request);
  // POST /api/orders (docs/reports.md, "Orders"); any other POST is 405.
  void post(Request&& request);
  // GET /api/reports/summary and /api/reports/ranking.csv (docs/reports.md).
  void reports_api(Request&& request, const boost::urls::url_view& url);
  // The checks every WebSocket endpoint shares (stopping, connections per address), then the
  // session.
  void open_websocket(Request&& request, Peer peer);
  void respond(Response&& response);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<Gateway::State> state_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<Response> response_;  // kept alive while it is written
};

}  // namespace chatdesk::gateway
