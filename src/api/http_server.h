// HTTP/1.1 transport for the API on Boost.Beast: keep-alive, size limits and timeouts, so a
// malformed, oversize or stalled client gets a clean error or a closed connection and the daemon
// keeps serving everyone else.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "api/ec2_api.h"
#include "auth/sigv4.h"

namespace kumo::api {

struct HttpLimits {
  size_t header_bytes = 16 * 1024;
  size_t body_bytes = 2 * 1024 * 1024;
  int read_timeout_s = 30;   // for a request that has started arriving
  int idle_timeout_s = 120;  // between requests on a kept-alive connection
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const auth::HttpRequestView&)>;

  // Binds and listens on host:port (port 0 picks a free one).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Listen(boost::asio::io_context& ioc,
                                                            const std::string& host, int port,
                                                            Handler handler,
                                                            HttpLimits limits = {});
  ~HttpServer();
  int port() const;
  void Start();  // begins accepting on the io_context
  void Stop();   // closes the listener; open connections finish their current request

  struct Impl;  // public so the connection code in http_server.cc can name it

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace kumo::api
