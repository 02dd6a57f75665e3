// The reconciler: makes the host match the store's desired state, and records in the store what
// actually happened (pending → running, stopping → stopped, shutting-down → terminated, status
// checks). Every host call is idempotent and keyed by the instance id, and every store update is
// conditional on the version it read, so a crash or a concurrent API change at any point is
// simply finished on the next pass.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "host/agent/host.h"
#include "host/gpu/gpu.h"
#include "services/activity.h"
#include "store/store.h"

namespace kumo::reconcile {

struct ReconcilerOptions {
  // How long init gets to halt before the container is killed.
  std::chrono::milliseconds stop_grace{30000};
  std::chrono::milliseconds terminate_grace{5000};
  // Poll intervals: while something is in transition, and otherwise (to notice instances that
  // shut themselves down).
  std::chrono::milliseconds busy_poll{100};
  std::chrono::milliseconds idle_poll{2000};
  int max_launch_failures = 3;
  // Called after every pass with every instance the pass read (the metadata service indexes
  // them); on the reconciler's thread.
  std::function<void(const std::vector<store::Resource>&)> observer;
  // Where running instances' CPU use and SSH sessions go (the idle-stop guard); null: not sampled.
  services::ActivityMonitor* activity = nullptr;
  // The host's GPUs, assigned to pending GPU instances before they launch (services/gpus.h).
  std::vector<host::Gpu> gpus;
};

// The host's view of an instance; volumes: every volume (of any instance), of which the ones
// attached to this instance are mounted at launch.
host::InstanceSpec SpecOf(const store::Resource& instance,
                          const std::vector<store::Resource>& volumes = {});

class Reconciler {
 public:
  Reconciler(store::Store& store, host::Host& host, const Clock& clock,
             ReconcilerOptions options = {});
  ~Reconciler();

  void Start();
  void Stop();
  // Something changed: run a pass now.
  void Poke();
  // One pass over every instance; true when something is still in transition.
  absl::StatusOr<bool> RunOnce();

 private:
  absl::StatusOr<bool> Step(const store::Resource& r, const std::vector<store::Resource>& volumes);
  // Volumes and snapshots, after the instances they depend on; true while in transition.
  absl::StatusOr<bool> StepVolume(const store::Resource& v,
                                  const std::map<std::string, const store::Resource*>& instances);
  absl::StatusOr<bool> StepSnapshot(const store::Resource& s,
                                    const std::map<std::string, const store::Resource*>& volumes,
                                    const std::map<std::string, const store::Resource*>& instances);
  // Pending images become available once their snapshots complete (failed if one fails).
  absl::StatusOr<bool> StepImage(const store::Resource& image,
                                 const std::map<std::string, const store::Resource*>& snapshots);
  // The data volumes RunInstances created with the instance, before it launches.
  absl::Status CreateLaunchVolumes(const store::Resource& instance,
                                   const std::vector<store::Resource>& volumes);
  // Applies fn to any resource if it is still at the version we acted on; fn may also write
  // other records in the same transaction.
  absl::Status UpdateResource(const store::Resource& seen,
                              const std::function<absl::Status(store::Tx&, store::Resource&)>& fn);
  absl::Status CollectStorageGarbage(const std::vector<store::Resource>& volumes,
                                     const std::vector<store::Resource>& snapshots);
  // Applies fn to the instance if it is still at the version we acted on.
  absl::Status Update(const store::Resource& seen, const std::function<void(store::Resource&)>& fn);
  absl::Status CollectGarbage(const std::vector<store::Resource>& all);
  // Records a running instance's activity when its last sample is old enough.
  void SampleActivity(const std::string& id);
  // Applies each VPC's firewall that changed since it was last applied; returns the VPCs whose
  // firewall could not be applied (their instances do not launch: a port without its firewall
  // is dropped anyway).
  std::set<std::string> ApplyFirewalls(const std::vector<store::Resource>& all,
                                       const std::vector<store::Resource>& groups,
                                       const std::vector<store::Resource>& interfaces);

  store::Store& store_;
  host::Host& host_;
  const Clock& clock_;
  ReconcilerOptions opts_;
  std::map<std::string, int> launch_failures_;
  std::map<std::string, int64_t> last_halt_ms_;
  std::map<std::string, int64_t> rebooted_ms_;
  // volume id → when a busy detach or a deferred grow was last reported
  std::map<std::string, int64_t> busy_detach_ms_;
  std::map<std::string, std::string> applied_firewalls_;  // VPC id → the firewall's JSON
  // Running instance id → the public address last published for it ("" none): a change (an
  // Elastic IP moved, a route to the internet gateway added or removed) is published.
  std::map<std::string, std::string> published_;
  // An Elastic IP on another private address of an instance (a secondary one, an attached
  // interface's), this pass: instance id → them; and those last published for it.
  struct ExtraAddress {
    std::string interface_id, private_ip, public_ip, subnet_id;
  };
  std::map<std::string, std::vector<ExtraAddress>> extra_addresses_;
  std::map<std::string, std::vector<host::InstancePort>> published_extra_;
  std::vector<host::InstancePort> ExtraAddresses(const store::Resource& r,
                                                 const host::InstanceSpec& spec);
  // Subnets with a route to an attached internet gateway, this pass: only their instances'
  // public addresses are published.
  std::set<std::string> routed_subnets_;
  std::set<std::string> live_vpcs_;               // every VPC in the store, this pass
  std::map<std::string, host::VpcNet> vpc_nets_;  // and each as it is now
  // Instance id → its attached interfaces this pass, and what was last set on the host.
  std::map<std::string, std::vector<host::InstancePort>> interfaces_of_;
  std::map<std::string, std::vector<std::string>> interface_secondaries_;  // interface id → ips
  std::map<std::string, std::string> interfaces_set_;
  std::set<std::string> blocked_vpcs_;
  // VPC id → its subnets' routes the bridge carries out (VpcFirewall.routes), targets named by
  // the port they would go to (an instance's id for its primary interface, else the
  // interface's), "" (the router) or "blackhole".
  std::map<std::string, std::vector<host::VpcRoute>> vpc_routes_;
  int64_t last_gc_ms_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool poked_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kumo::reconcile
