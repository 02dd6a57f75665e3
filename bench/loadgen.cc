// A keep-alive HTTP load generator for the EC2 endpoint that signs every request with SigV4, as
// a real client does. Closed loop (--rate 0: as fast as the server answers) measures throughput;
// open loop (--rate N req/s) measures latency at a given load, timed from each request's
// scheduled start so a stalled server cannot hide its queueing (no coordinated omission).
//
// Prints one JSON object: {"requests", "errors", "seconds", "rps", "p50_ms", "p90_ms", "p99_ms",
// "max_ms"}.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "auth/sigv4.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

struct Config {
  std::string host = "127.0.0.1";
  std::string port = "8787";
  std::string body = "Action=DescribeRegions&Version=2016-11-15";
  std::string access_key, secret, region = "eu-west-1";
  int connections = 8;
  double seconds = 5;
  double rate = 0;  // 0 = closed loop
};

struct Stats {
  std::vector<double> latencies_ms;
  uint64_t errors = 0;
};

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(asio::io_context& ioc, const Config& cfg, const kumo::auth::Signer& signer, Stats& stats,
       Clock::time_point end, double interval_s, Clock::time_point first)
      : stream_(ioc),
        timer_(ioc),
        cfg_(cfg),
        signer_(signer),
        stats_(stats),
        end_(end),
        interval_(interval_s),
        next_(first) {}

  void Start(const asio::ip::tcp::resolver::results_type& eps) {
    eps_ = eps;
    Connect([self = shared_from_this()] { self->Schedule(); });
  }

 private:
  template <typename F>
  void Connect(F then) {
    stream_.expires_at(end_ + std::chrono::seconds(2));
    stream_.async_connect(eps_, [self = shared_from_this(), then](beast::error_code ec, auto) {
      if (ec) {
        ++self->stats_.errors;
        return;
      }
      then();
    });
  }

  void Schedule() {
    if (interval_ <= 0) {
      scheduled_ = Clock::now();
      return Send();
    }
    scheduled_ = next_;
    next_ += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_));
    timer_.expires_at(scheduled_);
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Send(); });
  }

  void Send() {
    if (Clock::now() >= end_) return;
    req_ = {};
    req_.method(http::verb::post);
    req_.target("/");
    req_.version(11);
    std::string host = cfg_.host + ":" + cfg_.port;
    req_.set(http::field::host, host);
    req_.set(http::field::content_type, "application/x-www-form-urlencoded; charset=utf-8");
    auto headers = signer_.SignPostForm(host, cfg_.body, std::chrono::system_clock::now());
    for (const auto& [k, v] : headers) {
      if (k != "Host" && k != "host" && k != "Content-Type" && k != "content-type") req_.set(k, v);
    }
    req_.body() = cfg_.body;
    req_.prepare_payload();
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        ++self->stats_.errors;
        return;
      }
      self->res_ = {};
      http::async_read(self->stream_, self->buf_, self->res_,
                       [self](beast::error_code ec, size_t) { self->OnResponse(ec); });
    });
  }

  void OnResponse(beast::error_code ec) {
    if (ec) {
      ++stats_.errors;
      return;
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - scheduled_).count();
    if (res_.result_int() == 200) {
      stats_.latencies_ms.push_back(ms);
    } else {
      ++stats_.errors;
      if (stats_.errors == 1) std::cerr << "first error: " << res_.body().substr(0, 300) << "\n";
    }
    if (!res_.keep_alive()) {
      // Peers without keep-alive (moto_server's Werkzeug) pay for a new connection each time.
      beast::error_code ignored;
      stream_.socket().close(ignored);
      buf_.clear();
      return Connect([self = shared_from_this()] { self->Schedule(); });
    }
    Schedule();
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  const Config& cfg_;
  const kumo::auth::Signer& signer_;
  Stats& stats_;
  Clock::time_point end_;
  double interval_;
  asio::ip::tcp::resolver::results_type eps_;
  Clock::time_point next_, scheduled_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  beast::flat_buffer buf_;
};

int main(int argc, char** argv) {
  CLI::App app{"Signed keep-alive load generator for an EC2 endpoint"};
  Config cfg;
  app.add_option("--host", cfg.host);
  app.add_option("--port", cfg.port)->required();
  app.add_option("--body", cfg.body, "Form body (Action=…)");
  app.add_option("--access-key", cfg.access_key)->required();
  app.add_option("--secret", cfg.secret)->required();
  app.add_option("--region", cfg.region);
  app.add_option("--connections", cfg.connections);
  app.add_option("--seconds", cfg.seconds);
  app.add_option("--rate", cfg.rate, "Total requests per second (0: closed loop)");
  CLI11_PARSE(app, argc, argv);

  asio::io_context ioc;
  kumo::auth::Signer signer(cfg.access_key, cfg.secret, cfg.region, "ec2");
  Stats stats;
  auto eps = asio::ip::tcp::resolver(ioc).resolve(cfg.host, cfg.port);
  auto start = Clock::now();
  auto end = start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(cfg.seconds));
  double interval = cfg.rate > 0 ? cfg.connections / cfg.rate : 0;
  for (int i = 0; i < cfg.connections; ++i) {
    // Spread the open-loop schedules evenly across connections.
    auto first = start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(interval * i / cfg.connections));
    std::make_shared<Conn>(ioc, cfg, signer, stats, end, interval, first)->Start(eps);
  }
  ioc.run();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  auto& l = stats.latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) {
    return l.empty() ? 0.0 : l[std::min(l.size() - 1, size_t(p * l.size()))];
  };
  nlohmann::json out = {{"requests", l.size()}, {"errors", stats.errors},
                        {"seconds", secs},      {"rps", l.size() / secs},
                        {"p50_ms", pct(0.50)},  {"p90_ms", pct(0.90)},
                        {"p99_ms", pct(0.99)},  {"max_ms", l.empty() ? 0.0 : l.back()}};
  std::cout << out.dump() << std::endl;
  return stats.errors > 0 && l.empty() ? 1 : 0;
}
