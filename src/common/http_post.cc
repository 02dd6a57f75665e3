#include "common/http_post.h"

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
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(name, port));
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, host);
    for (const auto& [k, v] : headers) {
      if (!beast::iequals(k, "host")) req.set(k, v);
    }
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return HttpReply{int(res.result_int()), res.body()};
  } catch (const std::exception& e) {
    return absl::UnavailableError("Cannot reach " + endpoint + ": " + e.what());
  }
}

}  // namespace kumo
