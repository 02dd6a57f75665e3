#include "host/imds/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/unicast.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <set>
#include <thread>

#include "common/ipv4.h"
#include "host/network/network.h"
#include "services/addresses.h"

namespace kumo::imds {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr int kDefaultTtl = 64;

// A listening socket on the metadata address, created inside the namespace at ns_path by a
// thread of its own. IP_FREEBIND: the address may not be on the namespace's loopback yet (the
// host agent adds it when it sets the VPC up); packets reach the socket once it is.
absl::StatusOr<int> ListenIn(const std::string& ns_path) {
  absl::StatusOr<int> out = absl::InternalError("unreached");
  std::thread t([&] {
    int ns = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      out = absl::NotFoundError(fmt::format("No namespace at {}", ns_path));
      return;
    }
    int joined = setns(ns, CLONE_NEWNET);
    close(ns);
    if (joined != 0) {
      out = absl::InternalError(fmt::format("setns {}: {}", ns_path, strerror(errno)));
      return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(host::kMetadataPort);
    inet_pton(AF_INET, host::kMetadataIp, &sa.sin_addr);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        listen(fd, 128) != 0) {
      out =
          absl::InternalError(fmt::format("metadata listener in {}: {}", ns_path, strerror(errno)));
      if (fd >= 0) close(fd);
      return;
    }
    out = fd;
  });
  t.join();
  return out;
}

std::optional<ino_t> Inode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

}  // namespace

struct Server::Listener : std::enable_shared_from_this<Server::Listener> {
  Listener(Server& s, std::string vpc, ino_t ns_inode)
      : server(s), vpc_id(std::move(vpc)), inode(ns_inode), acceptor(asio::make_strand(s.ioc_)) {}

  void Accept();
  void Close() {
    asio::post(acceptor.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor.close(ec);
    });
  }

  Server& server;
  std::string vpc_id;
  ino_t inode;
  tcp::acceptor acceptor;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Server::Listener> listener, uint32_t mark)
      : stream_(std::move(socket)), listener_(std::move(listener)), mark_(mark) {}

  void Read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(4 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

 private:
  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::eof &&
          ec != beast::error::timeout && ec != asio::error::operation_aborted &&
          ec != asio::error::connection_reset) {
        Send(Plain(http::status::bad_request, "Bad Request"), false);
        return;
      }
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    const auto& req = parser_->get();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    Response out = listener_->server.Serve(listener_->vpc_id, mark_, r);
    http::response<http::string_body> res{http::status(out.status), req.version()};
    res.set(http::field::server, "EC2ws");
    res.set(http::field::content_type, out.content_type);
    for (const auto& [k, v] : out.headers) res.set(k, v);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(out.body);
    res.prepare_payload();
    bool head = req.method() == http::verb::head;
    if (head) res.body().clear();
    // The IMDSv2 hop limit: a token response dies after hop_limit routers, so a container or
    // proxy behind the instance cannot fetch one unless the owner raised the limit.
    int ttl = out.ip_ttl > 0 ? out.ip_ttl : kDefaultTtl;
    beast::error_code ignored;
    stream_.socket().set_option(asio::ip::unicast::hops(ttl), ignored);
    Send(std::move(res), req.keep_alive(), head);
  }

  static http::response<http::string_body> Plain(http::status status, std::string body) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::server, "EC2ws");
    res.set(http::field::content_type, "text/plain");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  void Send(http::response<http::string_body> res, bool keep_alive, bool head = false) {
    auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
    auto self = shared_from_this();
    auto done = [self, sp, keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->Read();
    };
    if (head) {
      // HEAD: the headers of the GET, without its body.
      auto sr = std::make_shared<http::response_serializer<http::string_body>>(*sp);
      http::async_write_header(stream_, *sr,
                               [sr, done](beast::error_code ec, size_t n) { done(ec, n); });
    } else {
      http::async_write(stream_, *sp, done);
    }
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Server::Listener> listener_;
  uint32_t mark_;
};

}  // namespace

void Server::Listener::Accept() {
  acceptor.async_accept(asio::make_strand(server.ioc_), [self = shared_from_this()](
                                                            beast::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec) {
      uint32_t mark = 0;
      socklen_t len = sizeof mark;
      if (getsockopt(s.native_handle(), SOL_SOCKET, SO_MARK, &mark, &len) != 0) mark = 0;
      std::make_shared<Session>(std::move(s), self, mark)->Read();
    }
    self->Accept();
  });
}

Server::Server(asio::io_context& ioc, store::Store& store,
               std::map<std::string, const MetadataService*> services,
               std::function<std::string(const std::string&)> ns_path)
    : ioc_(ioc), store_(store), services_(std::move(services)), ns_path_(std::move(ns_path)) {}

Server::~Server() { Stop(); }

void Server::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [vpc, l] : listeners_) l->Close();
  listeners_.clear();
}

std::vector<std::string> Server::ServedVpcs() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [vpc, l] : listeners_) out.push_back(vpc);
  return out;
}

void Server::Sync(const std::vector<store::Resource>& instances) {
  std::map<std::pair<std::string, uint32_t>, Key> index;
  std::set<std::string> vpcs;
  for (const auto& r : instances) {
    std::string state = r.data.value("state", "");
    if (state == "terminated" || state == "stopped") continue;
    auto ip = ParseIpv4(r.data.value("private_ip", ""));
    std::string vpc = r.data.value("vpc_id", "");
    if (!ip.ok() || vpc.empty()) continue;
    index[{vpc, *ip}] = Key{r.account_id, r.region, r.id};
    vpcs.insert(vpc);
  }
  std::map<std::string, std::shared_ptr<Listener>> keep;
  std::vector<std::shared_ptr<Listener>> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    index_ = std::move(index);
    for (auto& [vpc, l] : listeners_) {
      std::optional<ino_t> inode = Inode(ns_path_(vpc));
      if (vpcs.count(vpc) && inode == l->inode) {
        keep[vpc] = l;
      } else {
        drop.push_back(l);
      }
    }
  }
  for (auto& l : drop) l->Close();
  for (const std::string& vpc : vpcs) {
    if (keep.count(vpc)) continue;
    std::string path = ns_path_(vpc);
    std::optional<ino_t> inode = Inode(path);
    if (!inode) continue;  // the host agent has not set the VPC up yet: next pass
    auto fd = ListenIn(path);
    if (!fd.ok()) {
      spdlog::warn("metadata service for {}: {}", vpc, std::string(fd.status().message()));
      continue;
    }
    auto l = std::make_shared<Listener>(*this, vpc, *inode);
    beast::error_code ec;
    l->acceptor.assign(tcp::v4(), *fd, ec);
    if (ec) {
      close(*fd);
      spdlog::warn("metadata service for {}: {}", vpc, ec.message());
      continue;
    }
    asio::post(l->acceptor.get_executor(), [l] { l->Accept(); });
    keep[vpc] = l;
  }
  std::lock_guard<std::mutex> lock(mu_);
  listeners_ = std::move(keep);
}

bool Server::Find(const std::string& vpc_id, uint32_t ip, Key* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find({vpc_id, ip});
  if (it == index_.end()) return false;
  *out = it->second;
  return true;
}

Response Server::Serve(const std::string& vpc_id, uint32_t mark, const Request& req) {
  Key key;
  // Mark 0: not from an instance's port (the uplink, the namespace itself).
  if (mark == 0 || !Find(vpc_id, mark, &key)) {
    return Response{403, "text/plain", "Forbidden", {}, 0};
  }
  std::optional<store::Resource> instance;
  std::vector<store::Tag> tags;
  NetworkRows network;
  auto st = store_.Read([&](store::Tx& tx) -> absl::Status {
    auto r = tx.GetResource(key.account_id, key.region, key.instance_id);
    if (!r.ok()) return r.status();
    auto t = tx.ListTags(key.account_id, key.region, key.instance_id);
    if (!t.ok()) return t.status();
    auto interfaces = tx.ListResources(key.account_id, key.region, services::kNetworkInterfaceType);
    if (!interfaces.ok()) return interfaces.status();
    auto addresses = tx.ListResources(key.account_id, key.region, services::kAddressType);
    if (!addresses.ok()) return addresses.status();
    auto vpc = tx.GetResource(key.account_id, key.region, r->data.value("vpc_id", ""));
    if (vpc.ok()) {
      network.vpc = std::move(*vpc);
    } else if (!absl::IsNotFound(vpc.status())) {
      return vpc.status();
    }
    network.interfaces = std::move(*interfaces);
    network.addresses = std::move(*addresses);
    instance = std::move(*r);
    tags = std::move(*t);
    return absl::OkStatus();
  });
  if (!st.ok() || !instance) {
    if (!absl::IsNotFound(st)) spdlog::warn("metadata service: {}", std::string(st.message()));
    return Response{absl::IsNotFound(st) ? 403 : 500,
                    "text/plain",
                    absl::IsNotFound(st) ? "Forbidden" : "Internal Server Error",
                    {},
                    0};
  }
  auto service = services_.find(instance->region);
  if (service == services_.end()) return Response{500, "text/plain", "No such region", {}, 0};
  try {
    return service->second->Handle(ViewOf(*instance, tags, network), req);
  } catch (const std::exception& e) {
    // A hand-edited or future record with a field of another type must not take kumod down.
    spdlog::warn("metadata service for {}: {}", key.instance_id, e.what());
    return Response{500, "text/plain", "Internal Server Error", {}, 0};
  }
}

}  // namespace kumo::imds
