// The Runtime seam: system containers on this host, by name. The reconciler (instances issue)
// drives it from the store's desired state, so every call is idempotent: creating what exists
// with the same spec, starting what runs, stopping what is stopped, destroying what is gone all
// succeed.
//
// Threading: implementations may fork (liblxc does real work after fork()); call them from a
// single-threaded helper process, not from kumod's I/O threads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace kumo::host {

struct ContainerSpec {
  std::string name;          // host-side name, prefixed with the daemon id
  std::string rootfs;        // the read-only image root filesystem (overlay lower layer)
  std::string upper_dir;     // this container's writable layer (overlay upper)
  std::string hostname;      // e.g. "ip-172-31-3-7"
  int vcpus = 1;             // cpu shares scale with it
  std::string cpuset;        // e.g. "0-1"; empty: no pinning
  int64_t memory_bytes = 0;  // 0: no limit
  // The network: a host interface liblxc moves in as eth0 and addresses before init runs.
  // Empty net_link: loopback only.
  std::string net_link;
  std::string net_hwaddr;   // "02:…"
  std::string net_ipv4;     // "172.31.3.7/20"
  std::string net_gateway;  // "172.31.0.1"
  std::string console_log;  // where the console's output is kept; empty: not kept
  // A host directory bound at /mnt inside (recursively, receiving the host's later mounts below
  // it); empty: none. No whitespace (it goes into an lxc.mount.entry line).
  std::string volumes_dir;
  // Unprivileged: container uids/gids 0..id_count-1 are host ids id_base.. (rootfs and upper
  // dir must be owned accordingly). id_base 0: a privileged container.
  uint32_t id_base = 0;
  uint32_t id_count = 65536;
  // Character devices bound in at /dev/<basename> and allowed (rwm) in the device cgroup — a
  // GPU instance's /dev/nvidiaN and the driver's control nodes. Host paths; no whitespace. Empty:
  // the container's device rules are exactly liblxc's defaults.
  std::vector<std::string> devices;
  // Host files bound read-only into the container (the GPU driver's user-space libraries and
  // tools); created as empty files in the container's layer when absent.
  struct ReadOnlyFile {
    std::string host_path;
    std::string container_path;  // absolute, inside the container; no whitespace, no ".."
  };
  std::vector<ReadOnlyFile> read_only_files;
};

// Names become directories that Destroy removes: 1-64 of [A-Za-z0-9_.-], not starting with '.'.
bool ValidContainerName(std::string_view name);

enum class ContainerState { kAbsent, kStopped, kRunning, kBusy };
std::string_view ContainerStateName(ContainerState s);

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Defines the container; redefines a stopped one whose spec changed (a new instance type, a
  // new network port). A running one is left as it is.
  virtual absl::Status Create(const ContainerSpec& spec) = 0;
  // Boots init (systemd) in the background; returns once the container is RUNNING.
  virtual absl::Status Start(std::string_view name) = 0;
  // Asks init to shut down cleanly, then kills after timeout.
  virtual absl::Status Stop(std::string_view name, std::chrono::seconds timeout) = 0;
  // Asks init to shut down and returns at once (callers poll State); no-op unless running.
  virtual absl::Status RequestStop(std::string_view name) = 0;
  // Kills the container now; no-op unless running.
  virtual absl::Status Kill(std::string_view name) = 0;
  // Asks init to reboot; no-op unless running.
  virtual absl::Status Reboot(std::string_view name) = 0;
  // Stops if needed and removes the container and its configuration (not the upper dir, which
  // belongs to storage).
  virtual absl::Status Destroy(std::string_view name) = 0;
  virtual absl::StatusOr<ContainerState> State(std::string_view name) = 0;
  // Init's pid as the host sees it (for entering the container's namespaces).
  virtual absl::StatusOr<pid_t> InitPid(std::string_view name) = 0;
  virtual absl::StatusOr<std::vector<std::string>> List() = 0;

  struct ExecResult {
    int exit_code = 0;
    std::string output;  // stdout, at most kMaxExecOutput bytes
  };
  static constexpr size_t kMaxExecOutput = 1 << 20;
  // Runs argv inside the running container (all its namespaces and cgroups) and waits.
  virtual absl::StatusOr<ExecResult> Exec(std::string_view name,
                                          const std::vector<std::string>& argv) = 0;
};

// lxcfs gives containers their own /proc/meminfo, /proc/cpuinfo, … from their cgroups, so
// `free` and `nproc` inside an instance show its type. Starts lxcfs on /var/lib/lxcfs unless it
// already serves there; liblxc's common.conf.d hook then mounts it into every container.
absl::Status EnsureLxcfs();

// liblxc, with containers defined under lxcpath (a host directory per daemon).
std::unique_ptr<Runtime> NewLxcRuntime(std::string lxcpath);
// In memory, for unit tests of what drives the runtime.
std::unique_ptr<Runtime> NewFakeRuntime();

}  // namespace kumo::host
