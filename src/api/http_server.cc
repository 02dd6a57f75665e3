#include "api/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/errors.h"
#include "common/errors.h"

namespace kumo::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& ioc, Handler h, HttpLimits l)
      : ioc(ioc), acceptor(asio::make_strand(ioc)), handler(std::move(h)), limits(l) {}

  void Accept();

  asio::io_context& ioc;
  tcp::acceptor acceptor;
  Handler handler;
  HttpLimits limits;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpServer::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    beast::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      auto a = peer.address();
      // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d.
      if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
      }
      remote_ = a.to_string();
    }
  }

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(uint32_t(server_->limits.header_bytes));
    parser_->body_limit(server_->limits.body_bytes);
    stream_.expires_after(std::chrono::seconds(first_ ? server_->limits.read_timeout_s
                                                      : server_->limits.idle_timeout_s));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      // Malformed or oversize: answer once in EC2's shape, then drop the connection, since the
      // rest of the byte stream cannot be trusted to frame a next request.
      bool too_big = ec == http::error::body_limit || ec == http::error::header_limit ||
                     ec == http::error::buffer_overflow;
      absl::Status st = Ec2Error(absl::StatusCode::kInvalidArgument,
                                 too_big ? "RequestEntityTooLarge" : "MalformedHTTPRequest",
                                 too_big ? "The request is larger than this endpoint accepts"
                                         : fmt::format("Malformed HTTP request: {}", ec.message()));
      ErrorResponse e = RenderError(st, "00000000-0000-0000-0000-000000000000");
      return Send(too_big ? 413 : 400, std::move(e.body), "text/xml;charset=UTF-8", false, 11);
    }
    first_ = false;
    auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    size_t q = target.find('?');
    if (req.method() == http::verb::get && target.substr(0, q) == "/healthz") {
      return Send(200, "ok\n", "text/plain", req.keep_alive(), req.version());
    }
    auth::HttpRequestView view;
    view.method = std::string_view(req.method_string().data(), req.method_string().size());
    view.path = target.substr(0, q);
    view.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    for (const auto& field : req) {
      view.headers.emplace_back(
          std::string_view(field.name_string().data(), field.name_string().size()),
          std::string_view(field.value().data(), field.value().size()));
    }
    view.body = req.body();
    view.remote_address = remote_;
    HttpResponse r = server_->handler(view);
    Send(r.status, std::move(r.body), r.content_type, req.keep_alive(), req.version(), r.request_id,
         r.headers, req.method() == http::verb::head);
  }

  // head: the answer to a HEAD request, sent with the headers (Content-Length included) of the
  // body it would have had, but without the body.
  void Send(int status, std::string body, std::string_view content_type, bool keep_alive,
            unsigned version, std::string_view request_id = {},
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            bool head = false) {
    auto res =
        std::make_shared<http::response<http::string_body>>(http::int_to_status(status), version);
    res->set(http::field::server, "kumo");
    res->set(http::field::content_type,
             beast::string_view(content_type.data(), content_type.size()));
    if (!request_id.empty()) {
      res->set("x-amzn-requestid", beast::string_view(request_id.data(), request_id.size()));
    }
    for (const auto& [name, value] : headers) {
      res->set(beast::string_view(name.data(), name.size()),
               beast::string_view(value.data(), value.size()));
    }
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    if (head) res->body().clear();
    stream_.expires_after(std::chrono::seconds(server_->limits.read_timeout_s));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !res->keep_alive()) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpServer::Impl> server_;
  std::string remote_;
  bool first_ = true;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) {
                            return;
                          }
                          if (!ec) {
                            std::make_shared<Session>(std::move(socket), self)->Run();
                          } else {
                            spdlog::warn("accept failed: {}", ec.message());
                          }
                          self->Accept();
                        });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Listen(asio::io_context& ioc,
                                                               const std::string& host, int port,
                                                               Handler handler, HttpLimits limits) {
  auto impl = std::make_shared<Impl>(ioc, std::move(handler), limits);
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("Bad listen address '{}'", host));
  tcp::endpoint ep(address, uint16_t(port));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        fmt::format("Failed to listen on {}:{}: {}", host, port, ec.message()));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::Start() {
  asio::dispatch(impl_->acceptor.get_executor(), [impl = impl_] { impl->Accept(); });
}

void HttpServer::Stop() {
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

}  // namespace kumo::api
