#include "daemon/daemon.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/ec2_api.h"
#include "api/http_server.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/secretbox.h"
#include "services/accounts.h"
#include "services/images.h"
#include "services/instance_types.h"
#include "services/regions.h"
#include "services/vpcs.h"
#include "store/sqlite_store.h"

namespace kumo::daemon {

absl::Status ParseListen(const std::string& listen, Options* options) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(fmt::format("--listen wants HOST:PORT, got '{}'", listen));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) port = -1;
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(fmt::format("Bad port in --listen '{}'", listen));
  }
  options->listen_host = host;
  options->listen_port = port;
  return absl::OkStatus();
}

absl::Status Run(const Options& opts) {
  if (opts.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is required");
  RETURN_IF_ERROR(PrepareDataDir(opts.data_dir));
  ASSIGN_OR_RETURN(auto box, crypto::SecretBox::FromKeyFile(DataDir::SecretKey(opts.data_dir)));
  ASSIGN_OR_RETURN(auto store, store::OpenSqliteStore(DataDir::Database(opts.data_dir)));

  std::vector<std::string> regions =
      opts.regions.empty() ? std::vector<std::string>{"eu-west-1"} : opts.regions;
  ASSIGN_OR_RETURN(auto catalog,
                   services::InstanceTypeCatalog::Load(DataDir::InstanceTypes(opts.data_dir)));
  SystemClock clock;
  RandomIdGenerator ids;
  services::Accounts accounts(*store, box, ids, clock);
  std::string endpoint_host =
      fmt::format("{}:{}",
                  opts.listen_host.find(':') != std::string::npos ? "[" + opts.listen_host + "]"
                                                                  : opts.listen_host,
                  opts.listen_port);

  boost::asio::io_context ioc;
  // The endpoint reported in DescribeRegions is known only once the port is bound.
  std::unique_ptr<services::Regions> region_set;
  std::unique_ptr<api::Ec2Api> api;
  ASSIGN_OR_RETURN(auto server, api::HttpServer::Listen(ioc, opts.listen_host, opts.listen_port,
                                                        [&](const auth::HttpRequestView& r) {
                                                          return api->Handle(r);
                                                        }));
  if (opts.listen_port == 0) {
    endpoint_host = fmt::format("{}:{}", opts.listen_host, server->port());
  }
  region_set = std::make_unique<services::Regions>(regions, endpoint_host);
  services::DefaultNetwork network(*store, *region_set, ids);
  services::ImageStore images(opts.image_dir);
  spdlog::info("image store {}: {} image(s)", opts.image_dir, images.List().size());
  api = std::make_unique<api::Ec2Api>(api::Deps{store.get(), &accounts, region_set.get(), &ids,
                                                &clock, &api::Ec2Model::Embedded(), &network,
                                                catalog.get(), &images});

  nlohmann::json info = {
      {"endpoint", "http://" + endpoint_host}, {"regions", regions}, {"pid", getpid()}};
  RETURN_IF_ERROR(WriteFileAtomic(DataDir::RuntimeInfo(opts.data_dir), info.dump(2) + "\n"));

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    spdlog::info("signal {} received, stopping", sig);
    server->Stop();
    ioc.stop();
  });
  server->Start();
  spdlog::info("kumod serving http://{} (regions: {}), data in {}", endpoint_host,
               fmt::join(regions, ", "), opts.data_dir);

  int threads =
      opts.threads > 0 ? opts.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  spdlog::info("kumod stopped");
  return absl::OkStatus();
}

}  // namespace kumo::daemon
