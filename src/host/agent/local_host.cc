// LocalHost: the Host seam on this machine. Runs inside the host agent (single-threaded).
//
//   HOST_DIR/                  /var/lib/kumo/<daemon id> (never under the data dir)
//     lxc/<container>/         liblxc's definitions (config, lxc.log)
//     volumes/<vol-id>.img     every volume: an ext4 filesystem in a sparse file
//     snapshots/<snap-id>.img  hole-preserving copies of volumes
//     instances/<id>/root/     the root volume, mounted while the instance runs; it holds
//       upper/ work/           the overlay's upper layer (all the instance writes) and work dir
//       seeded                 present once the layer has its first-boot files
//     instances/<id>/mnt/      a shared mount, bound at /mnt inside the instance (slave): data
//       <name>/                volumes mounted here appear there, also while it runs
//     instances/<id>/console.log
//     net/                     the network's state (dnsmasq)
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/ipv4.h"
#include "common/status_macros.h"
#include "host/agent/host.h"
#include "host/agent/idmap.h"
#include "host/agent/seed.h"
#include "host/storage/volumes.h"

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
  LocalHost(const LocalHostOptions& o, std::unique_ptr<Runtime> rt, std::unique_ptr<Network> net,
            std::unique_ptr<Disks> disks)
      : opts_(o),
        prefix_("k" + o.daemon_id + "-"),
        rt_(std::move(rt)),
        net_(std::move(net)),
        disks_(std::move(disks)) {
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
    // The layer lives on the root volume, whose size is what the instance can write (ENOSPC
    // inside, never the host's disk filling up).
    std::string layer = dir;
    if (!spec.root_volume_id.empty()) {
      layer = dir + "/root";
      RETURN_IF_ERROR(MakeDirs(opts_.host_dir + "/volumes"));
      RETURN_IF_ERROR(
          CreateVolume({spec.root_volume_id, spec.root_size_bytes, spec.root_snapshot_id, "", ""}));
      RETURN_IF_ERROR(disks_->Mount(VolumePath(spec.root_volume_id), layer));
    }
    RETURN_IF_ERROR(KeepLayerDirs(layer));
    ASSIGN_OR_RETURN(bool seeded, SeededFor(layer, spec.instance_id));
    if (!seeded) {
      // First boot, a crash part-way through seeding, or a custom image's layer (seeded for the
      // instance it was made from): seeding overwrites what it writes, so it simply runs again.
      RETURN_IF_ERROR(
          SeedRootVolume({rootfs, layer + "/upper", spec.hostname, spec.login_user, spec.public_key,
                          DnsServer(spec.vpc.cidr), spec.vpc.dns_domain, range.base}));
      RETURN_IF_ERROR(MarkSeeded(layer, spec.instance_id));
    }
    if (range.base) {
      // liblxc makes the overlay's work dir as the container's root, which cannot write here.
      RETURN_IF_ERROR(MakeDirs(layer + "/work"));
      if (chown((layer + "/work").c_str(), range.base, range.base) != 0) {
        return absl::InternalError("Cannot hand the overlay work dir to the container");
      }
    }
    // Data volumes: mounted under a shared mount that the container binds at /mnt, so the ones
    // attached later (AttachVolume) propagate into the running instance too.
    std::string mnt = dir + "/mnt";
    RETURN_IF_ERROR(MakeDirs(mnt));
    if (chown(mnt.c_str(), range.base, range.base) != 0) {
      return absl::InternalError("Cannot hand the volumes' mount dir to the container");
    }
    RETURN_IF_ERROR(disks_->MakeShared(mnt));
    for (const auto& v : spec.volumes) {
      if (!ValidMountName(v.name)) return absl::InvalidArgumentError("Bad volume mount name");
      RETURN_IF_ERROR(disks_->Mount(VolumePath(v.volume_id), mnt + "/" + v.name));
    }
    ASSIGN_OR_RETURN(std::string link, net_->EnsurePort(spec.port));
    RETURN_IF_ERROR(net_->Publish(spec.port));

    ContainerSpec c;
    c.name = name;
    c.rootfs = rootfs;
    c.id_base = range.base;
    c.id_count = range.count;
    c.upper_dir = layer + "/upper";
    c.volumes_dir = mnt;
    c.hostname = spec.hostname;
    c.vcpus = spec.vcpus;
    c.cpuset = PickCpus(spec.instance_id, spec.vcpus);
    c.memory_bytes = spec.memory_bytes;
    c.net_link = link;
    c.net_hwaddr = spec.port.mac;
    c.net_ipv4 = fmt::format("{}/{}", spec.port.private_ip, spec.port.prefix_len);
    c.net_gateway = spec.port.gateway;
    c.console_log = dir + "/console.log";
    if (!spec.gpu_devices.empty()) {
      // The assigned GPUs and the driver's control nodes, nothing else; the host's own driver
      // files, so that user space always matches the kernel module.
      c.devices = spec.gpu_devices;
      for (const auto& d : opts_.gpu.control_devices) c.devices.push_back(d);
      for (const auto& f : opts_.gpu.driver_files) {
        for (const auto& at : f.container_paths) c.read_only_files.push_back({f.host_path, at});
      }
    }
    RETURN_IF_ERROR(rt_->Create(c));
    return rt_->Start(name);
  }

  absl::Status RequestStop(std::string_view id) override { return rt_->RequestStop(Name(id)); }
  absl::Status Kill(std::string_view id) override { return rt_->Kill(Name(id)); }
  absl::Status Reboot(std::string_view id) override { return rt_->Reboot(Name(id)); }
  absl::StatusOr<ContainerState> State(std::string_view id) override {
    return rt_->State(Name(id));
  }

  // The container has stopped, so nothing uses its volumes: they are unmounted, leaving their
  // files consistent for snapshots, detaching and attaching elsewhere.
  absl::Status Release(const InstanceSpec& spec) override {
    load_by_instance_.erase(spec.instance_id);
    RETURN_IF_ERROR(net_->RemovePort(spec.port));
    // Attached interfaces went with the container's namespace; a half-made pair's VPC end too.
    for (const auto& p : spec.interfaces) RETURN_IF_ERROR(net_->RemovePort(p));
    for (const auto& p : spec.extra_addresses) RETURN_IF_ERROR(net_->Unpublish(p));
    return disks_->UnmountAll(InstanceDir(spec.instance_id));
  }

  absl::StatusOr<std::vector<std::string>> ListVpcs() override { return net_->ListVpcs(); }
  absl::Status RemoveVpc(std::string_view vpc_id) override {
    ensured_vpcs_.erase(std::string(vpc_id));
    return net_->RemoveVpc(vpc_id);
  }

  absl::Status SetInterfaces(const InstanceSpec& spec) override {
    ASSIGN_OR_RETURN(pid_t pid, rt_->InitPid(Name(spec.instance_id)));
    return net_->SetInterfaces(fmt::format("/proc/{}/ns/net", pid), spec.interfaces);
  }

  absl::Status SetPublicAddress(const InstanceSpec& spec) override {
    RETURN_IF_ERROR(spec.port.public_ip.empty() ? net_->Unpublish(spec.port)
                                                : net_->Publish(spec.port));
    for (const auto& p : spec.extra_addresses) {
      RETURN_IF_ERROR(p.public_ip.empty() ? net_->Unpublish(p) : net_->Publish(p));
    }
    return absl::OkStatus();
  }

  absl::Status Destroy(const InstanceSpec& spec) override {
    RETURN_IF_ERROR(rt_->Kill(Name(spec.instance_id)));
    RETURN_IF_ERROR(rt_->Destroy(Name(spec.instance_id)));
    RETURN_IF_ERROR(Release(spec));
    // The volumes' files stay: they go when their records say so (DeleteOnTermination).
    return RemoveTree(InstanceDir(spec.instance_id));
  }

  absl::Status CreateVolume(const VolumeSpec& v) override {
    if (!ValidId(v.volume_id)) return absl::InvalidArgumentError("Bad volume id");
    RETURN_IF_ERROR(MakeDirs(opts_.host_dir + "/volumes"));
    if (v.snapshot_id.empty())
      return disks_->Create(VolumePath(v.volume_id), v.size_bytes, opts_.id_base);
    if (!ValidId(v.snapshot_id)) return absl::InvalidArgumentError("Bad snapshot id");
    return disks_->Copy(SnapshotPath(v.snapshot_id), VolumePath(v.volume_id), v.size_bytes);
  }

  absl::Status DeleteVolume(std::string_view id) override {
    if (!ValidId(id)) return absl::InvalidArgumentError("Bad volume id");
    return RemoveFiles(VolumePath(id));
  }

  absl::Status AttachVolume(std::string_view id, const VolumeMount& m) override {
    if (!ValidMountName(m.name)) return absl::InvalidArgumentError("Bad volume mount name");
    ASSIGN_OR_RETURN(auto state, rt_->State(Name(id)));
    if (state != ContainerState::kRunning) return absl::OkStatus();  // mounted at launch
    return disks_->Mount(VolumePath(m.volume_id), InstanceDir(id) + "/mnt/" + m.name);
  }

  absl::Status DetachVolume(std::string_view id, const VolumeMount& m, bool force) override {
    if (!ValidMountName(m.name)) return absl::InvalidArgumentError("Bad volume mount name");
    std::string point = InstanceDir(id) + "/mnt/" + m.name;
    RETURN_IF_ERROR(disks_->Unmount(point, force));
    rmdir(point.c_str());  // the empty mount point; it may be gone already
    return absl::OkStatus();
  }

  absl::Status GrowVolume(const VolumeSpec& v) override {
    if (!ValidId(v.volume_id)) return absl::InvalidArgumentError("Bad volume id");
    return disks_->Grow(VolumePath(v.volume_id), MountPointOf(v), v.size_bytes);
  }

  absl::StatusOr<int64_t> SnapshotVolume(const VolumeSpec& v, std::string_view snap) override {
    if (!ValidId(v.volume_id) || !ValidId(snap)) return absl::InvalidArgumentError("Bad id");
    RETURN_IF_ERROR(MakeDirs(opts_.host_dir + "/snapshots"));
    return disks_->Snapshot(VolumePath(v.volume_id), MountPointOf(v), SnapshotPath(snap));
  }

  absl::Status CopySnapshot(std::string_view source, std::string_view snap) override {
    if (!ValidId(source) || !ValidId(snap)) return absl::InvalidArgumentError("Bad id");
    return disks_->Copy(SnapshotPath(source), SnapshotPath(snap), 0);
  }

  absl::Status DeleteSnapshot(std::string_view snap) override {
    if (!ValidId(snap)) return absl::InvalidArgumentError("Bad snapshot id");
    return RemoveFiles(SnapshotPath(snap));
  }

  absl::StatusOr<std::vector<std::string>> ListSnapshots() override {
    return ImagesIn(opts_.host_dir + "/snapshots");
  }
  absl::StatusOr<std::vector<std::string>> ListVolumes() override {
    return ImagesIn(opts_.host_dir + "/volumes");
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

  absl::StatusOr<HostActivity> Activity(std::string_view id) override {
    ASSIGN_OR_RETURN(pid_t pid, rt_->InitPid(Name(id)));
    HostActivity a;
    // The container's own cgroup, not init's: "…/lxc.payload.<name>/init.scope" names init's;
    // everything inside is below lxc.payload.<name>. cgroup v1 (a "cpuacct" line, usage in ns)
    // or v2 (the "0::" line, cpu.stat's usage_usec).
    std::ifstream cg(fmt::format("/proc/{}/cgroup", pid));
    std::string line, v1, v2;
    while (std::getline(cg, line)) {
      size_t first = line.find(':'), second = line.find(':', first + 1);
      if (first == std::string::npos || second == std::string::npos) continue;
      std::string controllers = line.substr(first + 1, second - first - 1);
      std::string path = line.substr(second + 1);
      size_t payload = path.find("/lxc.payload.");
      if (payload == std::string::npos) continue;
      path = path.substr(0, path.find('/', payload + 1));
      if (controllers.empty()) v2 = path;
      for (std::string_view c : {"cpuacct", "cpu,cpuacct"}) {
        if (controllers == c) v1 = "/sys/fs/cgroup/" + controllers + path;
      }
    }
    bool found = false;
    if (!v1.empty()) {
      std::ifstream usage(v1 + "/cpuacct.usage");
      int64_t ns = 0;
      if (usage >> ns) {
        a.cpu_usec = ns / 1000;
        found = true;
      }
    }
    if (!found && !v2.empty()) {
      for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
        std::ifstream stat(root + v2 + "/cpu.stat");
        std::string key;
        int64_t value = 0;
        while (!found && stat >> key >> value) {
          if (key == "usage_usec") {
            a.cpu_usec = value;
            found = true;
          }
        }
        if (found) break;
      }
    }
    if (!found) return absl::UnavailableError(fmt::format("No CPU accounting for {}", id));
    // /proc/PID/net/tcp{,6} are the instance's network namespace: "sl local rem st …", the
    // local address as HEX:PORT and st 01 for ESTABLISHED.
    for (const char* table : {"tcp", "tcp6"}) {
      std::ifstream tcp(fmt::format("/proc/{}/net/{}", pid, table));
      std::getline(tcp, line);  // header
      while (std::getline(tcp, line)) {
        std::istringstream fields(line);
        std::string sl, local, remote, st;
        if (!(fields >> sl >> local >> remote >> st)) continue;
        if (st == "01" && local.size() > 5 && local.substr(local.size() - 5) == ":0016") {
          ++a.ssh_sessions;
        }
      }
    }
    return a;
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
    RETURN_IF_ERROR(disks_->UnmountAll(opts_.host_dir));
    return RemoveTree(opts_.host_dir);
  }

 private:
  std::string Name(std::string_view id) const { return prefix_ + std::string(id); }
  std::string InstanceDir(std::string_view id) const {
    return fmt::format("{}/instances/{}", opts_.host_dir, id);
  }
  std::string VolumePath(std::string_view id) const {
    return fmt::format("{}/volumes/{}.img", opts_.host_dir, id);
  }
  std::string SnapshotPath(std::string_view id) const {
    return fmt::format("{}/snapshots/{}.img", opts_.host_dir, id);
  }
  // Where an attached volume is mounted while its instance runs; empty when detached.
  std::string MountPointOf(const VolumeSpec& v) const {
    if (v.instance_id.empty() || !ValidId(v.instance_id)) return "";
    if (v.mount_name.empty()) return InstanceDir(v.instance_id) + "/root";
    if (!ValidMountName(v.mount_name)) return "";
    return InstanceDir(v.instance_id) + "/mnt/" + v.mount_name;
  }
  // Ids become file names: EC2's shape only ("vol-", "snap-", "i-" and hex).
  static bool ValidId(std::string_view id) {
    size_t dash = id.find('-');
    if (dash == std::string_view::npos || dash == 0 || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
  }
  static bool ValidMountName(std::string_view name) {
    return !name.empty() && name.size() <= 16 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    });
  }
  // A root volume's top level (upper/, work/, seeded) is written only by us, but a custom image's
  // comes from a snapshot: anything there that is not what we made goes, so that no symlink can
  // lead our writes (or the overlay) out of the volume.
  static absl::Status KeepLayerDirs(const std::string& layer) {
    for (const char* name : {"upper", "work"}) {
      std::string path = layer + "/" + name;
      struct stat st;
      if (lstat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
      if (unlink(path.c_str()) != 0) {
        return absl::InternalError(fmt::format("Cannot remove {}: {}", path, strerror(errno)));
      }
    }
    return absl::OkStatus();
  }
  // The marker names the instance the layer was seeded for. An empty one was written by an
  // older Kumo, which seeded each layer once: it is this instance's.
  static absl::StatusOr<bool> SeededFor(const std::string& layer, const std::string& id) {
    int fd = open((layer + "/seeded").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[80];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0) return false;
    std::string who(buf, size_t(n));
    if (who.empty()) {
      RETURN_IF_ERROR(MarkSeeded(layer, id));
      return true;
    }
    return who == id;
  }
  static absl::Status MarkSeeded(const std::string& layer, const std::string& id) {
    std::string tmp = layer + "/seeded.tmp";
    unlink(tmp.c_str());
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError("Cannot mark the root volume seeded");
    bool ok = write(fd, id.data(), id.size()) == ssize_t(id.size()) && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp.c_str(), (layer + "/seeded").c_str()) != 0) {
      return absl::InternalError("Cannot mark the root volume seeded");
    }
    return absl::OkStatus();
  }
  static absl::Status RemoveFiles(const std::string& path) {
    for (const auto& p : {path, path + ".tmp"}) {
      if (unlink(p.c_str()) != 0 && errno != ENOENT) {
        return absl::InternalError(fmt::format("Cannot remove {}", p));
      }
    }
    return absl::OkStatus();
  }
  static absl::StatusOr<std::vector<std::string>> ImagesIn(const std::string& dir) {
    std::vector<std::string> ids;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.size() > 4 && name.substr(name.size() - 4) == ".img") {
        ids.push_back(name.substr(0, name.size() - 4));
      }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  absl::Status EnsureNetwork(const VpcNet& vpc) {
    if (!host_ready_) {
      RETURN_IF_ERROR(net_->EnsureHost());
      host_ready_ = true;
    }
    // Once per VPC per agent, and again when a subnet appears: EnsureVpc checks a namespace,
    // links and a dnsmasq, which is more than a launch should pay every time. Instance records
    // carry the VPC's subnets as they were at launch, so an older record may lack a newer
    // subnet: the bridge gets the union, never fewer routers than a running instance uses.
    // Secondary blocks are remembered beside the subnets, marked "+".
    std::vector<std::string> wanted = vpc.subnet_cidrs;
    for (const auto& b : vpc.secondary_cidrs) wanted.push_back("+" + b);
    auto it = ensured_vpcs_.find(vpc.vpc_id);
    if (it != ensured_vpcs_.end() &&
        std::all_of(wanted.begin(), wanted.end(),
                    [&](const std::string& s) { return it->second.count(s) > 0; })) {
      return absl::OkStatus();
    }
    std::set<std::string> subnets(wanted.begin(), wanted.end());
    if (it != ensured_vpcs_.end()) subnets.insert(it->second.begin(), it->second.end());
    VpcNet merged = vpc;
    merged.subnet_cidrs.clear();
    merged.secondary_cidrs.clear();
    for (const auto& s : subnets) {
      if (s[0] == '+') {
        merged.secondary_cidrs.push_back(s.substr(1));
      } else {
        merged.subnet_cidrs.push_back(s);
      }
    }
    RETURN_IF_ERROR(net_->EnsureVpc(merged));
    ensured_vpcs_[vpc.vpc_id] = std::move(subnets);
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
  std::unique_ptr<Disks> disks_;
  bool host_ready_ = false;
  std::map<std::string, std::set<std::string>> ensured_vpcs_;  // VPC id → subnet CIDRs
  int cores_ = 1;
  std::vector<int> load_;
  std::map<std::string, std::vector<int>> load_by_instance_;
};

}  // namespace

std::unique_ptr<Host> NewLocalHost(const LocalHostOptions& options, std::unique_ptr<Runtime> rt,
                                   std::unique_ptr<Network> net, std::unique_ptr<Disks> disks) {
  return std::make_unique<LocalHost>(options, std::move(rt), std::move(net), std::move(disks));
}

}  // namespace kumo::host
