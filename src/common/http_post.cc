#include "common/http_post.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kumo {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string HostOf(const std::string& endpoint) {
  std::string rest = endpoint.rfind("http://", 0) == 0 ? endpoint.substr(7) : endpoint;
  return rest.substr(0, rest.find('/'));
}

absl::StatusOr<HttpReply> HttpPost(const std::string& endpoint, const std::string& target,
                                   const std::string& body,
                                   std::vector<std::pair<std::string, std::string>> headers,
                                   std::chrono::seconds timeout) {
  std::string host = HostOf(endpoint);
  size_t colon = host.rfind(':');
  std::string name = colon == std::string::npos ? host : host.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : host.substr(colon + 1);
  // Asynchronous operations under one deadline: Beast's stream timeouts do not apply to
  // blocking calls, and a webhook that accepts and never answers must not hold kumod.
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, host);
    for (const auto& [k, v] : headers) {
      if (!beast::iequals(k, "host")) req.set(k, v);
    }
    req.body() = body;
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    beast::error_code failure;
    bool done = false;
    resolver.async_resolve(name, port, [&](beast::error_code ec, tcp::resolver::results_type r) {
      if (ec) {
        failure = ec;
        return;
      }
      stream.expires_after(timeout);
      stream.async_connect(r, [&](beast::error_code ec, const tcp::endpoint&) {
        if (ec) {
          failure = ec;
          return;
        }
        http::async_write(stream, req, [&](beast::error_code ec, size_t) {
          if (ec) {
            failure = ec;
            return;
          }
          http::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) {
            failure = ec;
            done = !ec;
          });
        });
      });
    });
    ioc.run_for(timeout);
    if (!done) {
      return absl::UnavailableError(
          fmt::format("Cannot reach {}: {}", endpoint, failure ? failure.message() : "timed out"));
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return HttpReply{int(res.result_int()), res.body()};
  } catch (const std::exception& e) {
    return absl::UnavailableError("Cannot reach " + endpoint + ": " + e.what());
  }
}

}  // namespace kumo
