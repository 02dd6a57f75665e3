#include "daemon/daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/admin_api.h"
#include "api/console_site.h"
#include "api/ec2_api.h"
#include "api/http_server.h"
#include "api/json_api.h"
#include "common/encoding.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/identity.h"
#include "crypto/secretbox.h"
#include "daemon/admin_ops.h"
#include "daemon/market_runner.h"
#include "host/agent/host.h"
#include "host/agent/idmap.h"
#include "host/gpu/gpu.h"
#include "host/imds/server.h"
#include "reconcile/reconciler.h"
#include "services/accounts.h"
#include "services/gpus.h"
#include "services/images.h"
#include "services/instance_types.h"
#include "services/metering.h"
#include "services/regions.h"
#include "services/spot.h"
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

namespace {

absl::StatusOr<std::string> ReadDaemonId(const std::string& data_dir) {
  std::ifstream in(DataDir::DaemonId(data_dir));
  std::string id;
  if (!(in >> id) || id.size() != 6 ||
      id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::FailedPreconditionError(
        fmt::format("{} is missing or not 6 hex digits", DataDir::DaemonId(data_dir)));
  }
  return id;
}

std::string PoolClaims(const Options& opts) { return opts.pool_dir; }

// Next to each pool claim (a file named after the pool, holding the daemon id) the daemon leaves
// "<id>.owner" naming its data dir. A claim whose data dir is gone, or belongs to another daemon
// now, was never given back (a data dir deleted without `kumod --teardown`): it is freed here.
void FreeAbandonedPools(const std::string& pool_dir) {
  DIR* d = opendir(pool_dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) names.emplace_back(e->d_name);
  closedir(d);
  std::set<std::string> abandoned;
  for (const auto& name : names) {
    if (name.size() != 12 || name.substr(6) != ".owner") continue;
    std::string id = name.substr(0, 6);
    std::ifstream in(pool_dir + "/" + name);
    std::string data_dir, current;
    std::getline(in, data_dir);
    std::ifstream(DataDir::DaemonId(data_dir)) >> current;
    if (!data_dir.empty() && current == id) continue;
    abandoned.insert(id);
    unlink((pool_dir + "/" + name).c_str());
  }
  for (const auto& name : names) {
    if (name.empty() || name[0] == '.' || name.find('_') == std::string::npos) continue;
    std::string owner;
    std::ifstream(pool_dir + "/" + name) >> owner;
    if (abandoned.count(owner)) unlink((pool_dir + "/" + name).c_str());
  }
}

host::GpuInventory FindGpus(const std::string& stand_in_dir) {
  host::GpuDiscoveryOptions g;
  g.stand_in_dir = stand_in_dir;
  auto found = host::DiscoverGpus(g);
  if (!found.ok()) {
    spdlog::warn("GPUs: {}; instances get none", std::string(found.status().message()));
    return {};
  }
  return *std::move(found);
}

}  // namespace

std::string FindGpusJson(const std::string& test_stand_in_dir) {
  return host::ToJson(FindGpus(test_stand_in_dir)).dump(2);
}

namespace {

std::unique_ptr<host::Host> NewHostFor(const HostOptions& o) {
  host::LocalHostOptions lo{o.daemon_id, o.host_dir};
  lo.id_base = host::RootSubordinateRange().base;
  lo.gpu = FindGpus(o.test_stand_in_gpus);
  host::NetworkOptions no{o.daemon_id, o.public_cidr, o.host_dir + "/net"};
  return host::NewLocalHost(lo, host::NewLxcRuntime(o.host_dir + "/lxc"), host::NewLinuxNetwork(no),
                            host::NewLoopDisks());
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : "kumod";
}

// The console that scripts/build.sh builds and installs beside the binaries:
// <bindir>/../share/kumo/console, so build/bin/kumod finds build/share/kumo/console and
// /usr/local/bin/kumod finds /usr/local/share/kumo/console.
api::ConsoleSite LoadConsole(const Options& opts, const std::vector<std::string>& regions) {
  std::string dir = opts.console_dir;
  if (dir.empty()) {
    dir = (std::filesystem::path(SelfExe()).parent_path() / ".." / "share" / "kumo" / "console")
              .lexically_normal()
              .string();
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(dir + "/index.html", ec)) {
    spdlog::warn("console: not built (no {}/index.html); /console/ will say so", dir);
    return api::ConsoleSite();
  }
  auto site = api::ConsoleSite::Load(dir, regions);
  if (!site.ok()) {
    spdlog::warn("console: {}; /console/ will say it is not built",
                 std::string(site.status().message()));
    return api::ConsoleSite();
  }
  spdlog::info("console: {} files from {}", site->file_count(), dir);
  return *std::move(site);
}

}  // namespace

// install-host.sh sets these persistently; a host that skipped it still gets instances that
// boot (systemd in the ~20th container otherwise fails with "Too many open files").
void RaiseHostLimits() {
  for (const auto& [path, want] : {std::pair{"/proc/sys/fs/inotify/max_user_instances", 1048576L},
                                   std::pair{"/proc/sys/fs/inotify/max_user_watches", 1048576L}}) {
    long have = 0;
    std::ifstream(path) >> have;
    if (have >= want) continue;
    std::ofstream out(path);
    out << want << "\n";
    if (!out.flush()) spdlog::warn("cannot raise {} (is {})", path, have);
  }
}

int RunHostAgent(int fd, const HostOptions& options) {
  RaiseHostLimits();
  if (auto st = host::EnsureLxcfs(); !st.ok()) {
    spdlog::warn("lxcfs: {} (instances will see the host's memory and cores)",
                 std::string(st.message()));
  }
  auto host = NewHostFor(options);
  return host::ServeHostAgent(fd, *host);
}

absl::Status Teardown(const Options& opts) {
  ASSIGN_OR_RETURN(std::string id, ReadDaemonId(opts.data_dir));
  std::string host_dir = opts.host_root + "/" + id;
  // The pool this daemon claimed (a file named after it, holding the daemon id) goes back to
  // the host once its addresses are gone.
  std::string public_cidr = opts.public_cidr;
  std::vector<std::string> claims;
  if (DIR* d = opendir(PoolClaims(opts).c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      std::ifstream in(PoolClaims(opts) + "/" + name);
      std::string owner;
      if (name[0] == '.' || !(in >> owner) || owner != id) continue;
      claims.push_back(PoolClaims(opts) + "/" + name);
      if (public_cidr.empty() && name.find('_') != std::string::npos) {
        public_cidr = name.substr(0, name.find('_')) + "/" + name.substr(name.find('_') + 1);
      }
    }
    closedir(d);
  }
  if (public_cidr.empty()) public_cidr = "100.64.0.0/24";  // nothing was ever published
  auto host = NewHostFor({id, host_dir, public_cidr});
  RETURN_IF_ERROR(host->Teardown());
  for (const auto& c : claims) unlink(c.c_str());
  unlink(fmt::format("{}/{}.owner", PoolClaims(opts), id).c_str());
  spdlog::info("removed the host state of daemon {}", id);
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
  // Signatures are checked against real time whatever the market's clock says.
  SystemClock system_clock;
  std::unique_ptr<SimulatedClock> simulated;
  if (opts.simulated_clock) {
    int64_t offset_ms = 0;
    std::ifstream(DataDir::ClockOffset(opts.data_dir)) >> offset_ms;
    simulated = std::make_unique<SimulatedClock>(std::chrono::milliseconds(offset_ms));
    spdlog::info("simulated clock: {}", FormatIso8601(simulated->Now()));
  }
  const Clock& clock = simulated ? static_cast<const Clock&>(*simulated) : system_clock;
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
  std::unique_ptr<api::AdminApi> admin;
  std::unique_ptr<api::JsonApi> json_api;
  // Read once, before the first request: a const site that every I/O thread shares.
  const api::ConsoleSite console = LoadConsole(opts, regions);
  std::string host_source;  // set below, before the server starts, once the pool is known
  ASSIGN_OR_RETURN(auto server, api::HttpServer::Listen(
                                    ioc, opts.listen_host, opts.listen_port,
                                    [&](const auth::HttpRequestView& r) {
                                      // Before the EC2 API, which takes a GET on any
                                      // path.
                                      if (r.path == api::kConsoleMyIpPath) {
                                        return api::MyIpResponse(r.remote_address, host_source);
                                      }
                                      if (auto resp = console.Handle(r)) return *std::move(resp);
                                      if (r.path.rfind(api::kAdminPrefix, 0) == 0) {
                                        return admin->Handle(r);
                                      }
                                      if (api::JsonApi::Accepts(r)) {
                                        return json_api->Handle(r);
                                      }
                                      return api->Handle(r);
                                    }));
  if (opts.listen_port == 0) {
    endpoint_host = fmt::format("{}:{}", opts.listen_host, server->port());
  }
  region_set = std::make_unique<services::Regions>(regions, endpoint_host);
  services::DefaultNetwork network(*store, *region_set, ids);
  services::ImageStore images(opts.image_dir);
  spdlog::info("image store {}: {} image(s)", opts.image_dir, images.List().size());

  ASSIGN_OR_RETURN(std::string daemon_id, ReadDaemonId(opts.data_dir));
  HostOptions host_opts{daemon_id, opts.host_root + "/" + daemon_id, opts.public_cidr};
  if (host_opts.public_cidr.empty()) {
    FreeAbandonedPools(PoolClaims(opts));
    auto pool = host::ClaimPublicPool(PoolClaims(opts), daemon_id);
    if (pool.ok()) {
      host_opts.public_cidr = *pool;
      char real[PATH_MAX];
      std::string data_dir = realpath(opts.data_dir.c_str(), real) ? real : opts.data_dir;
      (void)WriteFileAtomic(fmt::format("{}/{}.owner", PoolClaims(opts), daemon_id),
                            data_dir + "\n");
    } else {
      spdlog::warn("no public address pool ({}): instances cannot launch",
                   std::string(pool.status().message()));
    }
  }
  host_source = api::HostSourceOf(host_opts.public_cidr);
  host_opts.test_stand_in_gpus = opts.test_stand_in_gpus;
  // Before the server's threads start: NVML is loaded and unloaded here.
  const host::GpuInventory gpus = FindGpus(opts.test_stand_in_gpus);
  if (!gpus.gpus.empty()) {
    spdlog::info("GPUs ({}{}): {} × {}", gpus.source,
                 gpus.driver_version.empty() ? "" : ", driver " + gpus.driver_version,
                 gpus.gpus.size(), gpus.gpus.front().name);
    catalog->UseHostGpus(gpus.gpus.front().name, gpus.gpus.front().memory_mib);
  }
  services::InstanceEnv instance_env;
  instance_env.gpus = gpus.gpus;
  instance_env.catalog = catalog.get();
  instance_env.images = &images;
  instance_env.public_cidr = host_opts.public_cidr;
  instance_env.host_cpus =
      opts.host_cpus > 0 ? opts.host_cpus : int(std::max(1u, std::thread::hardware_concurrency()));
  instance_env.host_memory_mib =
      opts.host_memory_mib > 0
          ? opts.host_memory_mib
          : int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGESIZE)) / (1 << 20);
  auto host = host::NewAgentClient(
      SelfExe(), {"--data-dir", opts.data_dir, "--daemon-id", host_opts.daemon_id, "--host-dir",
                  host_opts.host_dir, "--public-cidr", host_opts.public_cidr,
                  "--test-stand-in-gpus", host_opts.test_stand_in_gpus});
  // The metadata service: identity documents signed with each region's key (kept in the data
  // dir, so its certificate survives restarts); IMDSv2 tokens MACed with a key derived from the
  // data dir's secret, so tokens handed out before a restart stay valid after it.
  std::vector<crypto::IdentitySigner> signers;
  for (const auto& region : regions) {
    ASSIGN_OR_RETURN(auto signer, crypto::IdentitySigner::LoadOrCreate(opts.data_dir, region));
    signers.push_back(std::move(signer));
  }
  std::string secret;
  {
    std::ifstream in(DataDir::SecretKey(opts.data_dir), std::ios::binary);
    secret.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (secret.empty()) return absl::FailedPreconditionError("The data dir has no secret key");
  std::string token_key = HmacSha256(secret, "kumo imds token key");
  std::vector<std::unique_ptr<imds::MetadataService>> metadata;
  std::map<std::string, const imds::MetadataService*> metadata_by_region;
  for (const auto& signer : signers) {
    metadata.push_back(std::make_unique<imds::MetadataService>(clock, token_key, &signer));
    metadata_by_region[signer.region()] = metadata.back().get();
  }
  imds::Server imds_server(ioc, *store, metadata_by_region, [id = daemon_id](const std::string& v) {
    return host::VpcNamespacePath(id, v);
  });
  services::ActivityMonitor activity;
  reconcile::ReconcilerOptions reconcile_opts;
  reconcile_opts.activity = &activity;
  reconcile_opts.gpus = gpus.gpus;
  reconcile_opts.observer = [&imds_server](const std::vector<store::Resource>& all) {
    imds_server.Sync(all);
  };
  reconcile::Reconciler reconciler(*store, *host, clock, reconcile_opts);
  spdlog::info("daemon {}: host state in {}, public addresses from {}", daemon_id,
               host_opts.host_dir, host_opts.public_cidr);

  RETURN_IF_ERROR(store->Write([&](store::Tx& tx) {
    ASSIGN_OR_RETURN(int orphans, services::RepairGpuClaims(tx, gpus.gpus));
    if (orphans > 0) spdlog::warn("GPUs: released {} claim(s) no instance held", orphans);
    RETURN_IF_ERROR(services::EnsureSpotPools(tx, instance_env, *region_set, clock.Now()));
    RETURN_IF_ERROR(services::MigrateLegacyMeterEvents(tx));
    RETURN_IF_ERROR(services::EnsureLedgerBaseline(tx, UnixMillis(clock.Now())));
    return services::SyncOnDemandPrices(tx, *catalog, *region_set, UnixMillis(clock.Now()));
  }));
  MarketRunner market(*store, ids, instance_env, clock, [&reconciler] { reconciler.Poke(); });
  market.WatchActivity(&activity);
  api::Deps deps{store.get(),
                 &accounts,
                 region_set.get(),
                 &ids,
                 &clock,
                 &api::Ec2Model::Embedded(),
                 &network,
                 catalog.get(),
                 &images,
                 &instance_env,
                 host.get(),
                 [&reconciler, &market] {
                   reconciler.Poke();
                   market.Poke();
                 }};
  deps.auth_clock = &system_clock;
  api = std::make_unique<api::Ec2Api>(deps);
  json_api = std::make_unique<api::JsonApi>(deps, api::BillingOperations(*store, *catalog));
  {
    nlohmann::json op;
    std::ifstream(DataDir::OperatorCredentials(opts.data_dir)) >> op;
    AdminContext actx{
        store.get(),     &instance_env, region_set.get(), &clock,
        simulated.get(), &market,       opts.data_dir,    [&reconciler] { reconciler.Poke(); }};
    actx.activity = &activity;
    actx.gpus = &gpus;
    api::AdminDeps adeps{op.value("AccessKeyId", ""), op.value("SecretAccessKey", ""),
                         &system_clock, &ids, AdminOperations(actx)};
    admin = std::make_unique<api::AdminApi>(std::move(adeps));
  }

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
  reconciler.Start();
  market.Start();
  spdlog::info("kumod serving http://{} (regions: {}), data in {}", endpoint_host,
               fmt::join(regions, ", "), opts.data_dir);

  int threads =
      opts.threads > 0 ? opts.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  market.Stop();
  reconciler.Stop();
  imds_server.Stop();
  spdlog::info("kumod stopped");
  return absl::OkStatus();
}

}  // namespace kumo::daemon
