// The Host seam: everything the control plane asks of the machine an instance runs on. The
// reconciler drives it from the store's desired state, so every call is idempotent and keyed by
// the instance id.
//
// Two implementations: LocalHost does the work (liblxc runtime + Linux network + instance storage
// under a host directory), and AgentClient forwards each call to a single-threaded host agent
// process (kumod's own binary, `kumod --host-agent`) that runs a LocalHost. The agent exists
// because liblxc forks and does real work in the child, which is unsafe in kumod's threaded
// server; it is also the seam along which a control plane and remote host agents split later.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "host/gpu/gpu.h"
#include "host/network/network.h"
#include "host/runtime/runtime.h"
#include "host/storage/volumes.h"
#include "nlohmann/json.hpp"

namespace kumo::host {

// A data volume attached to an instance: mounted inside it at /mnt/<name>.
struct VolumeMount {
  std::string volume_id;
  std::string name;  // "sdf" for /dev/sdf
};

struct InstanceSpec {
  std::string instance_id;
  std::string rootfs;  // the image's root filesystem
  std::string hostname;
  int vcpus = 1;
  int64_t memory_bytes = 0;
  std::string login_user;  // gets public_key in ~/.ssh/authorized_keys
  std::string public_key;  // OpenSSH line; empty: none
  VpcNet vpc;
  InstancePort port;
  // Network interfaces attached to it besides the primary one (device index ≥ 1).
  std::vector<InstancePort> interfaces;
  // Its other private addresses with an Elastic IP (secondary ones, attached interfaces'), each
  // as a copy of the port holding it with private_ip and public_ip set; an empty public_ip: an
  // address to unpublish (its Elastic IP went).
  std::vector<InstancePort> extra_addresses;
  // The root volume holds the overlay's upper layer; its size is what the instance can write.
  // Empty: the layer is a plain directory (no size limit).
  std::string root_volume_id;
  int64_t root_size_bytes = 0;
  // A custom image's root: the root volume starts as a copy of this snapshot (its upper layer).
  std::string root_snapshot_id;
  std::vector<VolumeMount> volumes;  // attached data volumes
  // Host paths of the GPU nodes assigned to it (/dev/nvidiaN); the host adds the driver's
  // control nodes and user-space files (host/gpu).
  std::vector<std::string> gpu_devices;
};

// A volume as the host stores it: an ext4 filesystem in a sparse file.
struct VolumeSpec {
  std::string volume_id;
  int64_t size_bytes = 0;
  std::string snapshot_id;  // created from this snapshot; empty: a fresh filesystem
  // Where it is attached, so that a grow or a snapshot reaches its mounted filesystem: the
  // instance, and the mount name ("" for the root volume).
  std::string instance_id;
  std::string mount_name;
};

nlohmann::json ToJson(const InstanceSpec& spec);
absl::StatusOr<InstanceSpec> InstanceSpecFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const VpcFirewall& fw);
nlohmann::json ToJson(const VolumeMount& mount);
absl::StatusOr<VolumeMount> VolumeMountFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const VolumeSpec& volume);
absl::StatusOr<VolumeSpec> VolumeSpecFromJson(const nlohmann::json& j);
absl::StatusOr<VpcFirewall> VpcFirewallFromJson(const nlohmann::json& j);

// What an instance is doing, for the idle-stop guard.
struct HostActivity {
  int64_t cpu_usec = 0;  // CPU time its container has used since it started
  int ssh_sessions = 0;  // established TCP connections to port 22 inside it
};

class Host {
 public:
  virtual ~Host() = default;
  // Storage (first time: the overlay's upper layer seeded with the hostname, login key, host
  // keys, resolver), network (VPC, port, public address), container definition, start.
  // Returns once init runs.
  virtual absl::Status Launch(const InstanceSpec& spec) = 0;
  // Asks init to halt and returns; poll State. Kill ends it now.
  virtual absl::Status RequestStop(std::string_view instance_id) = 0;
  virtual absl::Status Kill(std::string_view instance_id) = 0;
  virtual absl::Status Reboot(std::string_view instance_id) = 0;
  virtual absl::StatusOr<ContainerState> State(std::string_view instance_id) = 0;
  // For a stopped instance: its port and public address go (EC2 releases the public address
  // on stop); its storage stays.
  virtual absl::Status Release(const InstanceSpec& spec) = 0;
  // A running instance's public address becomes spec.port.public_ip: published, or unmapped
  // when empty (an Elastic IP moved away, a route to the internet gone); so do those of
  // spec.extra_addresses. Idempotent.
  virtual absl::Status SetPublicAddress(const InstanceSpec& spec) = 0;
  // A running instance's attached interfaces become spec.interfaces (Network::SetInterfaces).
  virtual absl::Status SetInterfaces(const InstanceSpec& spec) = 0;
  // Everything: container, port, address, storage. For terminate.
  virtual absl::Status Destroy(const InstanceSpec& spec) = 0;
  // Sets the VPC up if needed and replaces its firewall (see Network::ApplyFirewall). Called
  // before an instance of the VPC launches, and whenever its groups or members change.
  virtual absl::Status ApplyFirewall(const VpcFirewall& fw) = 0;
  // Whether sshd accepts TCP connections, tried from inside the instance's VPC.
  virtual absl::StatusOr<bool> ProbeSsh(const InstanceSpec& spec) = 0;
  // A running instance's CPU time and SSH sessions, from its cgroup and network namespace.
  virtual absl::StatusOr<HostActivity> Activity(std::string_view instance_id) = 0;
  // The tail of the console (at most 64 KiB).
  virtual absl::StatusOr<std::string> ConsoleOutput(std::string_view instance_id) = 0;
  // VPCs set up on this host, and the removal of one no instance uses any more (DeleteVpc).
  virtual absl::StatusOr<std::vector<std::string>> ListVpcs() = 0;
  virtual absl::Status RemoveVpc(std::string_view vpc_id) = 0;
  // Instance ids that have a container on this host.
  virtual absl::StatusOr<std::vector<std::string>> ListInstances() = 0;
  // Changes when the host reboots: an instance that stopped with the host is started again,
  // one that shut itself down is not.
  virtual absl::StatusOr<std::string> BootId() = 0;
  // Removes everything of this daemon from the host (containers, network, storage).
  virtual absl::Status Teardown() = 0;

  // Volumes (idempotent): formats (or copies from its snapshot) a volume's file; removes it.
  virtual absl::Status CreateVolume(const VolumeSpec& volume) = 0;
  virtual absl::Status DeleteVolume(std::string_view volume_id) = 0;
  // Mounts a volume inside a running instance at /mnt/<name>; an instance that is not running
  // mounts its volumes when it launches (InstanceSpec::volumes).
  virtual absl::Status AttachVolume(std::string_view instance_id, const VolumeMount& mount) = 0;
  // Unmounts it; FailedPrecondition while something inside still uses it, unless force.
  virtual absl::Status DetachVolume(std::string_view instance_id, const VolumeMount& mount,
                                    bool force) = 0;
  // Grows the file and its filesystem, online when mounted.
  virtual absl::Status GrowVolume(const VolumeSpec& volume) = 0;
  // A consistent copy (the mounted filesystem is frozen meanwhile) into the snapshot store;
  // returns the bytes it occupies. Idempotent: an existing snapshot is kept.
  virtual absl::StatusOr<int64_t> SnapshotVolume(const VolumeSpec& volume,
                                                 std::string_view snapshot_id) = 0;
  virtual absl::Status CopySnapshot(std::string_view source_id, std::string_view snapshot_id) = 0;
  virtual absl::Status DeleteSnapshot(std::string_view snapshot_id) = 0;
  // Snapshot and volume ids stored on this host (for garbage collection).
  virtual absl::StatusOr<std::vector<std::string>> ListSnapshots() = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListVolumes() = 0;
};

struct LocalHostOptions {
  std::string daemon_id;  // 6 hex digits
  std::string host_dir;   // e.g. /var/lib/kumo/<daemon id>: lxc/, instances/, net/
  // Unprivileged instances map container root to id_base.. (0: privileged), with images'
  // shifted copies kept host-wide in shifted_dir (see idmap.h).
  uint32_t id_base = 0;
  std::string shifted_dir = "/var/lib/kumo/shifted";
  // Where the host's boot id is read (a file of the test's in unit tests).
  std::string boot_id_path = "/proc/sys/kernel/random/boot_id";
  // The GPU driver's control nodes and user-space files, given to every GPU instance.
  GpuInventory gpu;
};

std::unique_ptr<Host> NewLocalHost(const LocalHostOptions& options, std::unique_ptr<Runtime> rt,
                                   std::unique_ptr<Network> net, std::unique_ptr<Disks> disks);

// The agent: serves requests on fd (a SOCK_SEQPACKET socket) until it closes. Returns when
// the peer goes away.
int ServeHostAgent(int fd, Host& host);
// Starts `exe --host-agent FD …args` and returns a Host that talks to it; a dead agent is
// restarted on the next call.
std::unique_ptr<Host> NewAgentClient(std::string exe, std::vector<std::string> args);

}  // namespace kumo::host
