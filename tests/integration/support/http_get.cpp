// Test support: http_request and http_get (gateway_process.hpp). Beast's HTTP is compiled here
// once.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>

#include "support/gateway_process.hpp"

namespace chatdesk::test {

HttpAnswer http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.socket().connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return {};
  stream.expires_after(std::chrono::seconds(5));  // a gateway that hangs fails the test, not CI
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() || req.method() == http::verb::post) {
    req.body() = body;
    req.prepare_payload();
  }
  http::write(stream, req, ec);
  if (ec) return {};
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return {};
  HttpAnswer answer;
  answer.status = static_cast<int>(res.result_int());
  answer.body = res.body();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    answer.headers[name] = std::string(field.value());
  }
  return answer;
}

std::pair<int, std::string> http_get(int port, const std::string& target) {
  auto answer = http_request(port, "GET", target);
  return {answer.status, std::move(answer.body)};
}

}  // namespace chatdesk::test
