#include "reconcile/reconciler.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/status_macros.h"
#include "reconcile/firewall_plan.h"
#include "reconcile/storage.h"
#include "services/addresses.h"
#include "services/gpus.h"
#include "services/images.h"
#include "services/instances.h"
#include "services/metering.h"
#include "services/routing.h"
#include "services/security_groups.h"
#include "services/volumes.h"
#include "services/vpcs.h"

namespace kumo::reconcile {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

std::string Hostname(const std::string& private_ip) {
  std::string h = "ip-" + private_ip;
  std::replace(h.begin(), h.end(), '.', '-');
  return h;
}

}  // namespace

host::InstanceSpec SpecOf(const store::Resource& r, const std::vector<store::Resource>& volumes) {
  host::InstanceSpec s;
  s.instance_id = r.id;
  s.rootfs = Str(r, "rootfs");
  s.hostname = Hostname(Str(r, "private_ip"));
  s.vcpus = r.data.value("vcpus", 1);
  s.memory_bytes = r.data.value("memory_mib", int64_t(0)) << 20;
  s.login_user = Str(r, "login_user");
  s.public_key = Str(r, "public_key");
  s.vpc.vpc_id = Str(r, "vpc_id");
  s.vpc.cidr = Str(r, "vpc_cidr");
  s.vpc.subnet_cidrs = r.data.value("vpc_subnets", std::vector<std::string>{});
  s.vpc.dns_domain = services::InternalDomain(r.region);
  s.port.instance_id = r.id;
  s.port.vpc_id = s.vpc.vpc_id;
  s.port.mac = Str(r, "mac");
  s.port.private_ip = Str(r, "private_ip");
  s.port.prefix_len = r.data.value("prefix_len", 20);
  s.port.gateway = Str(r, "gateway");
  s.port.public_ip = Str(r, "public_ip");
  for (const auto& g : services::AssignedGpus(r)) s.gpu_devices.push_back(g.device);
  for (const auto& v : volumes) {
    json a = AttachmentOf(v);
    if (a.is_null() || a.value("instance_id", "") != r.id) continue;
    if (v.data.value("root", false)) {
      s.root_volume_id = v.id;
      s.root_size_bytes = v.data.value("size_gib", int64_t(8)) << 30;
      s.root_snapshot_id = Str(v, "snapshot_id");
    } else if (a.value("state", "") != "detaching") {
      s.volumes.push_back(MountOf(v));
    }
  }
  return s;
}

Reconciler::Reconciler(store::Store& store, host::Host& host, const Clock& clock,
                       ReconcilerOptions options)
    : store_(store), host_(host), clock_(clock), opts_(options) {}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      auto busy = RunOnce();
      if (!busy.ok())
        spdlog::warn("reconcile pass failed: {}", std::string(busy.status().message()));
      std::unique_lock<std::mutex> lock(mu_);
      auto wait = busy.ok() && *busy ? opts_.busy_poll : opts_.idle_poll;
      cv_.wait_for(lock, wait, [this] { return poked_ || stopping_; });
      if (stopping_) return;
      poked_ = false;
    }
  });
}

void Reconciler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reconciler::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

absl::StatusOr<bool> Reconciler::RunOnce() {
  std::vector<store::Resource> all, groups, volumes, snapshots, images, interfaces;
  RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(all, tx.ListAllResources(services::kInstanceType));
    ASSIGN_OR_RETURN(groups, tx.ListAllResources(services::kSecurityGroupType));
    ASSIGN_OR_RETURN(volumes, tx.ListAllResources(services::kVolumeType));
    ASSIGN_OR_RETURN(snapshots, tx.ListAllResources(services::kSnapshotType));
    ASSIGN_OR_RETURN(images, tx.ListAllResources(services::kImageType));
    ASSIGN_OR_RETURN(auto subnets, tx.ListAllResources(services::kSubnetType));
    ASSIGN_OR_RETURN(auto tables, tx.ListAllResources(services::kRouteTableType));
    ASSIGN_OR_RETURN(auto gateways, tx.ListAllResources(services::kInternetGatewayType));
    ASSIGN_OR_RETURN(auto vpcs, tx.ListAllResources(services::kVpcType));
    routed_subnets_ = services::SubnetsWithInternetRoute(subnets, tables, gateways, vpcs);
    ASSIGN_OR_RETURN(interfaces, tx.ListAllResources(services::kNetworkInterfaceType));
    ASSIGN_OR_RETURN(auto eips, tx.ListAllResources(services::kAddressType));
    std::map<std::string, std::string> subnet_of;   // instance or interface id → its subnet
    std::map<std::string, std::string> primary_ip;  // instance id → its primary address
    for (const auto& e : interfaces) subnet_of[e.id] = Str(e, "subnet_id");
    for (const auto& i : all) {
      subnet_of[services::PrimaryInterfaceId(i.id)] = Str(i, "subnet_id");
      primary_ip[i.id] = Str(i, "private_ip");
    }
    extra_addresses_.clear();
    for (const auto& e : eips) {
      std::string instance = Str(e, "instance_id"), iface = Str(e, "network_interface_id");
      auto owner = primary_ip.find(instance);
      if (owner == primary_ip.end() || Str(e, "association_id").empty()) continue;
      // The instance's own address is on its record (public_ip), published with its port.
      if (iface == services::PrimaryInterfaceId(instance) &&
          Str(e, "private_ip") == owner->second) {
        continue;
      }
      extra_addresses_[instance].push_back(
          {iface, Str(e, "private_ip"), Str(e, "public_ip"), subnet_of[iface]});
    }
    live_vpcs_.clear();
    vpc_nets_.clear();
    for (const auto& v : vpcs) {
      live_vpcs_.insert(v.id);
      // The VPC as it is now (instance records keep it as it was at their launch).
      host::VpcNet& net = vpc_nets_[v.id];
      net.vpc_id = v.id;
      std::vector<std::string> blocks = services::VpcCidrs(v);
      net.cidr = blocks[0];
      net.secondary_cidrs.assign(blocks.begin() + 1, blocks.end());
      net.dns_domain = services::InternalDomain(v.region);
    }
    for (const auto& s : subnets) {
      auto it = vpc_nets_.find(s.data.value("vpc_id", ""));
      if (it != vpc_nets_.end()) it->second.subnet_cidrs.push_back(Str(s, "cidr"));
    }
    std::map<std::string, const store::Resource*> subnet_by_id;
    for (const auto& s : subnets) subnet_by_id[s.id] = &s;
    vpc_routes_.clear();
    for (const auto& route : services::SubnetRoutes(subnets, tables, gateways)) {
      const store::Resource* s = subnet_by_id[route.subnet_id];
      std::string port = route.blackhole ? "blackhole" : route.interface_id;
      // A primary interface's port is its instance's.
      if (port.rfind("eni-", 0) == 0 && primary_ip.count("i-" + port.substr(4))) {
        port = "i-" + port.substr(4);
      }
      vpc_routes_[Str(*s, "vpc_id")].push_back({Str(*s, "cidr"), route.destination, port});
    }
    return absl::OkStatus();
  }));
  interfaces_of_.clear();
  interface_secondaries_.clear();
  for (const auto& e : interfaces) {
    json a = e.data.value("attachment", json());
    if (!a.is_object()) continue;
    host::InstancePort p;
    p.instance_id = e.id;
    p.vpc_id = Str(e, "vpc_id");
    p.mac = Str(e, "mac");
    p.private_ip = Str(e, "private_ip");
    p.prefix_len = e.data.value("prefix_len", 24);
    p.gateway = Str(e, "gateway");
    p.device_index = a.value("device_index", 1);
    interfaces_of_[a.value("instance_id", "")].push_back(std::move(p));
    interface_secondaries_[e.id] = e.data.value("secondary_ips", std::vector<std::string>{});
  }
  blocked_vpcs_ = ApplyFirewalls(all, groups, interfaces);  // uses vpc_nets_
  bool busy = !blocked_vpcs_.empty();
  auto note = [&](const absl::StatusOr<bool>& step, const std::string& id) {
    if (!step.ok()) {
      spdlog::warn("{}: {}", id, std::string(step.status().message()));
      busy = true;
      return;
    }
    busy = busy || *step;
  };
  for (const auto& r : all) note(Step(r, volumes), r.id);
  // Ids are unique across accounts (random), so one map serves every tenant.
  std::map<std::string, const store::Resource*> instance_by_id, volume_by_id;
  for (const auto& r : all) instance_by_id[r.id] = &r;
  for (const auto& v : volumes) volume_by_id[v.id] = &v;
  for (const auto& v : volumes) note(StepVolume(v, instance_by_id), v.id);
  for (const auto& sn : snapshots) note(StepSnapshot(sn, volume_by_id, instance_by_id), sn.id);
  std::map<std::string, const store::Resource*> snapshot_by_id;
  for (const auto& sn : snapshots) snapshot_by_id[sn.id] = &sn;
  for (const auto& img : images) note(StepImage(img, snapshot_by_id), img.id);
  if (opts_.observer) opts_.observer(all);
  int64_t now = UnixMillis(clock_.Now());
  if (now - last_gc_ms_ > 10000) {
    last_gc_ms_ = now;
    auto gc = CollectGarbage(all);
    if (!gc.ok()) spdlog::warn("instance garbage collection: {}", std::string(gc.message()));
    gc = CollectStorageGarbage(volumes, snapshots);
    if (!gc.ok()) spdlog::warn("storage garbage collection: {}", std::string(gc.message()));
  }
  return busy;
}

std::set<std::string> Reconciler::ApplyFirewalls(const std::vector<store::Resource>& all,
                                                 const std::vector<store::Resource>& groups,
                                                 const std::vector<store::Resource>& interfaces) {
  std::set<std::string> failed;
  for (auto& [vpc_id, fw] : PlanFirewalls(all, groups, interfaces, &vpc_nets_)) {
    std::set<std::string> ports;
    for (const auto& p : fw.ports) ports.insert(p.instance_id);
    for (host::VpcRoute r : vpc_routes_[vpc_id]) {
      // A route to an instance without a port (stopped, gone) is a blackhole, as on EC2.
      if (!r.target.empty() && !ports.count(r.target)) r.target = "blackhole";
      fw.routes.push_back(std::move(r));
    }
    std::string want = host::ToJson(fw).dump();
    auto it = applied_firewalls_.find(vpc_id);
    if (it != applied_firewalls_.end() && it->second == want) continue;
    if (auto st = host_.ApplyFirewall(fw); !st.ok()) {
      spdlog::warn("firewall of {}: {}", vpc_id, std::string(st.message()));
      applied_firewalls_.erase(vpc_id);
      failed.insert(vpc_id);
      continue;
    }
    applied_firewalls_[vpc_id] = std::move(want);
  }
  return failed;
}

std::vector<host::InstancePort> Reconciler::ExtraAddresses(const store::Resource& r,
                                                           const host::InstanceSpec& spec) {
  std::vector<host::InstancePort> out;
  std::set<std::string> wanted;
  if (auto it = extra_addresses_.find(r.id); it != extra_addresses_.end()) {
    for (const auto& x : it->second) {
      // A copy of the port that holds the address; none: an interface not plugged in yet.
      const host::InstancePort* base = nullptr;
      if (x.interface_id == services::PrimaryInterfaceId(r.id)) base = &spec.port;
      for (const auto& p : spec.interfaces) {
        if (p.instance_id == x.interface_id) base = &p;
      }
      if (!base) continue;
      host::InstancePort p = *base;
      p.private_ip = x.private_ip;
      p.public_ip = routed_subnets_.count(x.subnet_id) ? x.public_ip : "";
      wanted.insert(p.private_ip);
      out.push_back(std::move(p));
    }
  }
  // Every other address of the instance without one: whatever the NAT may still map to it goes
  // (an Elastic IP disassociated while kumod was down).
  auto unmapped = [&](const host::InstancePort& base, const std::string& ip) {
    if (!wanted.insert(ip).second) return;
    host::InstancePort p = base;
    p.private_ip = ip;
    p.public_ip.clear();
    out.push_back(std::move(p));
  };
  for (const auto& ip : r.data.value("secondary_ips", std::vector<std::string>{})) {
    unmapped(spec.port, ip);
  }
  for (const auto& port : spec.interfaces) {
    unmapped(port, port.private_ip);
    if (auto it = interface_secondaries_.find(port.instance_id);
        it != interface_secondaries_.end()) {
      for (const auto& ip : it->second) unmapped(port, ip);
    }
  }
  // Published before but gone since (disassociated, the interface detached): unpublished.
  if (auto it = published_extra_.find(r.id); it != published_extra_.end()) {
    for (host::InstancePort p : it->second) {
      if (wanted.count(p.private_ip)) continue;
      p.public_ip.clear();
      out.push_back(std::move(p));
    }
  }
  return out;
}

absl::Status Reconciler::Update(const store::Resource& seen,
                                const std::function<void(store::Resource&)>& fn) {
  return store_.Write([&](store::Tx& tx) -> absl::Status {
    auto fresh = tx.GetResource(seen.account_id, seen.region, seen.id);
    if (!fresh.ok() || fresh->version != seen.version) return absl::OkStatus();  // next pass
    store::Resource r = std::move(*fresh);
    fn(r);
    if (Str(r, "state") == "stopped" || Str(r, "state") == "terminated") {
      RETURN_IF_ERROR(services::ReleasePublicIp(tx, r));
      RETURN_IF_ERROR(services::ReleaseGpus(tx, r));
    }
    if (Str(r, "state") == "terminated") {
      // In the transaction that records the termination, so a crash cannot leave a volume
      // attached to a terminated instance.
      RETURN_IF_ERROR(services::ReleaseInstanceInterfaces(tx, r, UnixMillis(clock_.Now())));
      RETURN_IF_ERROR(services::ReleaseInstanceVolumes(tx, r.account_id, r.region, r.id,
                                                       UnixMillis(clock_.Now())));
    }
    return services::SaveInstance(tx, r, UnixMillis(clock_.Now()));
  });
}

absl::Status Reconciler::UpdateResource(
    const store::Resource& seen,
    const std::function<absl::Status(store::Tx&, store::Resource&)>& fn) {
  return store_.Write([&](store::Tx& tx) -> absl::Status {
    auto fresh = tx.GetResource(seen.account_id, seen.region, seen.id);
    if (!fresh.ok() || fresh->version != seen.version) return absl::OkStatus();  // next pass
    store::Resource r = std::move(*fresh);
    return fn(tx, r);
  });
}

absl::StatusOr<bool> Reconciler::Step(const store::Resource& r,
                                      const std::vector<store::Resource>& volumes) {
  std::string state = Str(r, "state");
  std::string desired = Str(r, "desired");
  int64_t now = UnixMillis(clock_.Now());
  host::InstanceSpec spec = SpecOf(r, volumes);
  if (auto net = vpc_nets_.find(spec.vpc.vpc_id); net != vpc_nets_.end()) spec.vpc = net->second;
  // A subnet without a route to an attached internet gateway has no public reachability: its
  // instances keep their addresses on record (as on EC2), but nothing is published for them.
  if (!routed_subnets_.count(Str(r, "subnet_id"))) spec.port.public_ip.clear();
  if (auto it = interfaces_of_.find(r.id); it != interfaces_of_.end()) spec.interfaces = it->second;
  spec.extra_addresses = ExtraAddresses(r, spec);
  if (state != "running") {
    // published_extra_ stays until Release or Destroy has unmapped what it lists (an address
    // that went while the instance was stopping is in no record any more).
    published_.erase(r.id);
    interfaces_set_.erase(r.id);
  }
  // A stopped or restarted instance starts its activity afresh.
  if (state != "running" && opts_.activity) opts_.activity->Forget(r.id);

  if (state == "pending" && desired == "running") {
    if (blocked_vpcs_.count(spec.vpc.vpc_id)) return true;
    if (r.data.value("gpus", 0) > 0 && spec.gpu_devices.empty()) {
      // Its GPUs first, in a transaction of their own; it launches on the next pass. None free:
      // it waits (the spot instances the market is reclaiming for it give theirs back).
      RETURN_IF_ERROR(UpdateResource(r, [&](store::Tx& tx, store::Resource& x) -> absl::Status {
        ASSIGN_OR_RETURN(bool assigned, services::AssignGpus(tx, opts_.gpus, x, now));
        return assigned ? services::SaveInstance(tx, x, now) : absl::OkStatus();
      }));
      return true;
    }
    absl::Status launched = CreateLaunchVolumes(r, volumes);
    if (launched.ok()) launched = host_.Launch(spec);
    if (!launched.ok()) {
      int failures = ++launch_failures_[r.id];
      spdlog::warn("launch of {} failed ({}): {}", r.id, failures, std::string(launched.message()));
      if (failures < opts_.max_launch_failures) return true;
      launch_failures_.erase(r.id);
      RETURN_IF_ERROR(Update(r, [&](store::Resource& x) {
        x.data["state"] = "shutting-down";
        x.data["desired"] = "terminated";
        x.data["state_reason"] = {{"code", "Server.InternalError"},
                                  {"message", "Server.InternalError: Internal error on launch"}};
      }));
      return true;
    }
    launch_failures_.erase(r.id);
    published_[r.id] = spec.port.public_ip;
    ASSIGN_OR_RETURN(std::string boot, host_.BootId());
    RETURN_IF_ERROR(Update(r, [&](store::Resource& x) {
      x.data["state"] = "running";
      x.data["boot_id"] = boot;
      x.data["state_reason"] = nullptr;
      x.data["status_ok"] = false;
    }));
    return true;
  }

  if (state == "running") {
    if (r.data.value("reboots_pending", 0) > 0) {
      RETURN_IF_ERROR(host_.Reboot(r.id));
      rebooted_ms_[r.id] = now;
      RETURN_IF_ERROR(Update(r, [&](store::Resource& x) {
        x.data["reboots_pending"] = 0;
        x.data["status_ok"] = false;
      }));
      return true;
    }
    ASSIGN_OR_RETURN(auto actual, host_.State(r.id));
    bool rebooting = now - rebooted_ms_[r.id] < 30000;
    ASSIGN_OR_RETURN(std::string boot, host_.BootId());
    if (actual == host::ContainerState::kAbsent ||
        (actual == host::ContainerState::kStopped && Str(r, "boot_id") != boot)) {
      // Lost with the host (a reboot, a teardown), not shut down from inside: start it again.
      spdlog::info("instance {} is not on the host any more: starting it again", r.id);
      RETURN_IF_ERROR(Update(r, [&](store::Resource& x) {
        x.data["state"] = "pending";
        x.data["status_ok"] = false;
      }));
      return true;
    }
    if ((actual == host::ContainerState::kStopped || actual == host::ContainerState::kAbsent) &&
        !rebooting) {
      // The instance shut itself down (poweroff inside): EC2 stops or terminates it, as its
      // InstanceInitiatedShutdownBehavior says.
      bool terminate = Str(r, "shutdown_behavior") == "terminate";
      RETURN_IF_ERROR(Update(r, [&](store::Resource& x) {
        x.data["state"] = terminate ? "shutting-down" : "stopping";
        x.data["desired"] = terminate ? "terminated" : "stopped";
        x.data["status_ok"] = false;
        x.data["state_reason"] = {
            {"code", "Client.InstanceInitiatedShutdown"},
            {"message", "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}};
      }));
      return true;
    }
    if (actual == host::ContainerState::kRunning) {
      std::string key = spec.port.public_ip;
      for (const auto& p : spec.extra_addresses) {
        if (!p.public_ip.empty()) key += fmt::format(";{}>{}", p.private_ip, p.public_ip);
      }
      auto it = published_.find(r.id);
      if (it == published_.end() || it->second != key) {
        RETURN_IF_ERROR(host_.SetPublicAddress(spec));
        published_[r.id] = key;
        auto& now_published = published_extra_[r.id];
        now_published.clear();
        for (const auto& p : spec.extra_addresses) {
          if (!p.public_ip.empty()) now_published.push_back(p);
        }
      }
      std::string want;
      for (const auto& p : spec.interfaces) {
        want += fmt::format("{} {} {} {};", p.instance_id, p.device_index, p.mac, p.private_ip);
      }
      if (auto set = interfaces_set_.find(r.id);
          set == interfaces_set_.end() || set->second != want) {
        RETURN_IF_ERROR(host_.SetInterfaces(spec));
        interfaces_set_[r.id] = want;
      }
    }
    if (!r.data.value("status_ok", false)) {
      if (actual != host::ContainerState::kRunning) return true;
      ASSIGN_OR_RETURN(bool up, host_.ProbeSsh(spec));
      if (!up) return true;
      RETURN_IF_ERROR(Update(r, [](store::Resource& x) { x.data["status_ok"] = true; }));
      return true;
    }
    rebooted_ms_.erase(r.id);
    SampleActivity(r.id);
    return false;
  }

  if (state == "stopping" || state == "shutting-down") {
    bool terminating = state == "shutting-down";
    ASSIGN_OR_RETURN(auto actual, host_.State(r.id));
    if (actual == host::ContainerState::kRunning || actual == host::ContainerState::kBusy) {
      int64_t requested = r.data.value("stop_requested_ms", int64_t(0));
      if (requested == 0) requested = now;
      auto grace = terminating ? opts_.terminate_grace : opts_.stop_grace;
      if (r.data.value("force_stop", false) || now - requested > grace.count()) {
        RETURN_IF_ERROR(host_.Kill(r.id));
      } else if (now - last_halt_ms_[r.id] >= 1000) {
        // Re-sent every second: a halt signal that lands before systemd handles it is lost.
        last_halt_ms_[r.id] = now;
        RETURN_IF_ERROR(host_.RequestStop(r.id));
      }
      if (!r.data.contains("stop_requested_ms")) {
        RETURN_IF_ERROR(Update(r, [&](store::Resource& x) { x.data["stop_requested_ms"] = now; }));
      }
      return true;
    }
    last_halt_ms_.erase(r.id);
    if (terminating) {
      RETURN_IF_ERROR(host_.Destroy(spec));
      published_extra_.erase(r.id);
      RETURN_IF_ERROR(Update(r, [&](store::Resource& x) {
        x.data["state"] = "terminated";
        x.data["terminated_ms"] = now;
        x.data["status_ok"] = false;
        if (x.data.value("state_reason", json()).is_null()) {
          x.data["state_reason"] = {
              {"code", "Client.UserInitiatedShutdown"},
              {"message", "Client.UserInitiatedShutdown: User initiated shutdown"}};
        }
      }));
    } else {
      RETURN_IF_ERROR(host_.Release(spec));
      published_extra_.erase(r.id);
      RETURN_IF_ERROR(Update(r, [&](store::Resource& x) {
        x.data["state"] = "stopped";
        x.data["status_ok"] = false;
        x.data.erase("stop_requested_ms");
        x.data.erase("force_stop");
      }));
    }
    return true;
  }
  return false;
}

void Reconciler::SampleActivity(const std::string& id) {
  if (!opts_.activity) return;
  // Real time, whatever the Clock says: a CPU rate needs the seconds that really passed.
  int64_t real_ms = UnixMillis(std::chrono::system_clock::now());
  if (!opts_.activity->Due(id, real_ms)) return;
  auto a = host_.Activity(id);
  if (!a.ok()) {
    spdlog::debug("activity of {}: {}", id, std::string(a.status().message()));
    return;
  }
  opts_.activity->Record(id, a->cpu_usec, a->ssh_sessions, real_ms);
}

absl::Status Reconciler::CollectGarbage(const std::vector<store::Resource>& all) {
  int64_t now = UnixMillis(clock_.Now());
  std::map<std::string, const store::Resource*> by_id;
  for (const auto& r : all) by_id[r.id] = &r;
  // Containers no live instance owns (a launch rolled back, a record removed by hand).
  ASSIGN_OR_RETURN(auto on_host, host_.ListInstances());
  for (const auto& id : on_host) {
    auto it = by_id.find(id);
    if (it != by_id.end() && Str(*it->second, "state") != "terminated") continue;
    host::InstanceSpec spec = it != by_id.end() ? SpecOf(*it->second) : host::InstanceSpec{};
    spec.instance_id = id;
    spec.port.instance_id = id;
    spdlog::info("removing orphaned container of {}", id);
    RETURN_IF_ERROR(host_.Destroy(spec));
  }
  // VPCs deleted since their network was set up (DeleteVpc waits for their instances to end).
  ASSIGN_OR_RETURN(auto vpcs_on_host, host_.ListVpcs());
  for (const auto& id : vpcs_on_host) {
    if (live_vpcs_.count(id)) continue;
    spdlog::info("removing the network of deleted {}", id);
    RETURN_IF_ERROR(host_.RemoveVpc(id));
    applied_firewalls_.erase(id);
  }
  // Terminated instances leave every listing after an hour.
  for (const auto& r : all) {
    if (Str(r, "state") != "terminated") continue;
    if (now - r.data.value("terminated_ms", now) < services::kTerminatedVisibleMs) continue;
    RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto tags, tx.ListTags(r.account_id, r.region, r.id));
      for (const auto& t : tags) RETURN_IF_ERROR(tx.DeleteTag(r.account_id, r.region, r.id, t.key));
      return tx.DeleteResource(r.account_id, r.region, r.id);
    }));
  }
  return absl::OkStatus();
}

}  // namespace kumo::reconcile
