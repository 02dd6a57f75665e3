// LocalHost: the Host seam on this machine. Runs inside the host agent (single-threaded).
//
//   HOST_DIR/                  /var/lib/kumo/<daemon id> (never under the data dir)
//     lxc/<container>/         liblxc's definitions (config, lxc.log)
//     instances/<id>/upper     the instance's root volume (overlay upper layer)
//     instances/<id>/seeded    present once the volume has its first-boot files
//     instances/<id>/console.log
//     net/                     the network's state (dnsmasq)
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/files.h"
#include "common/ipv4.h"
#include "common/status_macros.h"
#include "host/agent/host.h"
#include "host/agent/idmap.h"
#include "host/agent/seed.h"

namespace kumo::host {
namespace {

constexpr size_t kConsoleTail = 64 * 1024;

// The VPC's resolver: its base address + 2, as on EC2.
std::string DnsServer(const std::string& cidr) {
  auto c = ParseCidr(cidr);
  return c.ok() ? FormatIpv4(c->base + 2) : "";
}

class LocalHost : public Host {
 public:
  LocalHost(const LocalHostOptions& o, std::unique_ptr<Runtime> rt, std::unique_ptr<Network> net)
      : opts_(o), prefix_("k" + o.daemon_id + "-"), rt_(std::move(rt)), net_(std::move(net)) {
    cores_ = int(std::max(1u, std::thread::hardware_concurrency()));
    load_.assign(size_t(cores_), 0);
  }

  absl::Status Launch(const InstanceSpec& spec) override {
    std::string name = Name(spec.instance_id);
    if (!ValidContainerName(name)) return absl::InvalidArgumentError("Bad instance id");
    ASSIGN_OR_RETURN(auto state, rt_->State(name));
    RETURN_IF_ERROR(EnsureNetwork(spec.vpc));
    if (state == ContainerState::kRunning) return net_->Publish(spec.port);

    std::string dir = InstanceDir(spec.instance_id);
    std::string rootfs = spec.rootfs;
    IdRange range{opts_.id_base, 65536};
    if (range.base) {
      ASSIGN_OR_RETURN(rootfs, ShiftedRootfs(spec.rootfs, range, opts_.shifted_dir));
    }
    if (access((dir + "/seeded").c_str(), F_OK) != 0) {
      // A crash half-way through seeding leaves a partial layer: start it over.
      RETURN_IF_ERROR(RemoveTree(dir + "/upper"));
      RETURN_IF_ERROR(
          SeedRootVolume({rootfs, dir + "/upper", spec.hostname, spec.login_user, spec.public_key,
                          DnsServer(spec.vpc.cidr), spec.vpc.dns_domain, range.base}));
      int fd = open((dir + "/seeded").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return absl::InternalError("Cannot mark the root volume seeded");
      fsync(fd);
      close(fd);
    }
    if (range.base) {
      // liblxc makes the overlay's work dir as the container's root, which cannot write here.
      RETURN_IF_ERROR(MakeDirs(dir + "/work"));
      if (chown((dir + "/work").c_str(), range.base, range.base) != 0) {
        return absl::InternalError("Cannot hand the overlay work dir to the container");
      }
    }
    ASSIGN_OR_RETURN(std::string link, net_->EnsurePort(spec.port));
    RETURN_IF_ERROR(net_->Publish(spec.port));

    ContainerSpec c;
    c.name = name;
    c.rootfs = rootfs;
    c.id_base = range.base;
    c.id_count = range.count;
    c.upper_dir = dir + "/upper";
    c.hostname = spec.hostname;
    c.vcpus = spec.vcpus;
    c.cpuset = PickCpus(spec.instance_id, spec.vcpus);
    c.memory_bytes = spec.memory_bytes;
    c.net_link = link;
    c.net_hwaddr = spec.port.mac;
    c.net_ipv4 = fmt::format("{}/{}", spec.port.private_ip, spec.port.prefix_len);
    c.net_gateway = spec.port.gateway;
    c.console_log = dir + "/console.log";
    RETURN_IF_ERROR(rt_->Create(c));
    return rt_->Start(name);
  }

  absl::Status RequestStop(std::string_view id) override { return rt_->RequestStop(Name(id)); }
  absl::Status Kill(std::string_view id) override { return rt_->Kill(Name(id)); }
  absl::Status Reboot(std::string_view id) override { return rt_->Reboot(Name(id)); }
  absl::StatusOr<ContainerState> State(std::string_view id) override {
    return rt_->State(Name(id));
  }

  absl::Status Release(const InstanceSpec& spec) override {
    load_by_instance_.erase(spec.instance_id);
    return net_->RemovePort(spec.port);
  }

  absl::Status Destroy(const InstanceSpec& spec) override {
    RETURN_IF_ERROR(rt_->Kill(Name(spec.instance_id)));
    RETURN_IF_ERROR(rt_->Destroy(Name(spec.instance_id)));
    RETURN_IF_ERROR(Release(spec));
    return RemoveTree(InstanceDir(spec.instance_id));
  }

  absl::Status ApplyFirewall(const VpcFirewall& fw) override {
    RETURN_IF_ERROR(EnsureNetwork(fw.vpc));
    return net_->ApplyFirewall(fw);
  }

  // From inside the instance's own network namespace, as EC2's reachability check is not
  // subject to the instance's security groups.
  absl::StatusOr<bool> ProbeSsh(const InstanceSpec& spec) override {
    ASSIGN_OR_RETURN(pid_t pid, rt_->InitPid(Name(spec.instance_id)));
    return net_->ProbeLocalTcp(fmt::format("/proc/{}/ns/net", pid), 22,
                               std::chrono::milliseconds(300));
  }

  absl::StatusOr<std::string> ConsoleOutput(std::string_view id) override {
    std::ifstream in(InstanceDir(id) + "/console.log", std::ios::binary);
    if (!in) return std::string();
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    std::streamoff from = size > std::streamoff(kConsoleTail) ? size - kConsoleTail : 0;
    in.seekg(from);
    std::string out(size_t(size - from), '\0');
    in.read(out.data(), std::streamsize(out.size()));
    return out;
  }

  absl::StatusOr<std::vector<std::string>> ListInstances() override {
    ASSIGN_OR_RETURN(auto names, rt_->List());
    std::vector<std::string> ids;
    for (auto& n : names) {
      if (n.rfind(prefix_, 0) == 0) ids.push_back(n.substr(prefix_.size()));
    }
    return ids;
  }

  absl::StatusOr<std::string> BootId() override {
    std::ifstream in(opts_.boot_id_path);
    std::string id;
    if (!(in >> id)) return absl::InternalError("Cannot read the host's boot id");
    return id;
  }

  absl::Status Teardown() override {
    ASSIGN_OR_RETURN(auto names, rt_->List());
    for (auto& n : names) {
      if (n.rfind(prefix_, 0) != 0) continue;
      RETURN_IF_ERROR(rt_->Kill(n));
      RETURN_IF_ERROR(rt_->Destroy(n));
    }
    RETURN_IF_ERROR(net_->Teardown());
    ensured_vpcs_.clear();
    host_ready_ = false;
    return RemoveTree(opts_.host_dir);
  }

 private:
  std::string Name(std::string_view id) const { return prefix_ + std::string(id); }
  std::string InstanceDir(std::string_view id) const {
    return fmt::format("{}/instances/{}", opts_.host_dir, id);
  }

  absl::Status EnsureNetwork(const VpcNet& vpc) {
    if (!host_ready_) {
      RETURN_IF_ERROR(net_->EnsureHost());
      host_ready_ = true;
    }
    // Once per VPC per agent: EnsureVpc checks a namespace, links and a dnsmasq, which is more
    // than a launch should pay every time.
    if (!ensured_vpcs_.count(vpc.vpc_id)) {
      RETURN_IF_ERROR(net_->EnsureVpc(vpc));
      ensured_vpcs_.insert(vpc.vpc_id);
    }
    return absl::OkStatus();
  }

  // Spreads instances over the host's cores: each takes its vCPUs (at most every core) from the
  // least loaded ones, so nproc inside shows the type's vCPUs.
  std::string PickCpus(const std::string& id, int vcpus) {
    if (auto it = load_by_instance_.find(id); it != load_by_instance_.end()) {
      for (int c : it->second) --load_[size_t(c)];
    }
    int n = std::clamp(vcpus, 1, cores_);
    std::vector<int> order(static_cast<size_t>(cores_));
    for (int i = 0; i < cores_; ++i) order[size_t(i)] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return load_[size_t(a)] < load_[size_t(b)]; });
    order.resize(size_t(n));
    std::sort(order.begin(), order.end());
    for (int c : order) ++load_[size_t(c)];
    load_by_instance_[id] = order;
    return fmt::format("{}", fmt::join(order, ","));
  }

  LocalHostOptions opts_;
  std::string prefix_;
  std::unique_ptr<Runtime> rt_;
  std::unique_ptr<Network> net_;
  bool host_ready_ = false;
  std::set<std::string> ensured_vpcs_;
  int cores_ = 1;
  std::vector<int> load_;
  std::map<std::string, std::vector<int>> load_by_instance_;
};

}  // namespace

std::unique_ptr<Host> NewLocalHost(const LocalHostOptions& options, std::unique_ptr<Runtime> rt,
                                   std::unique_ptr<Network> net) {
  return std::make_unique<LocalHost>(options, std::move(rt), std::move(net));
}

}  // namespace kumo::host
