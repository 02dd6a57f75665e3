// This host's NVIDIA GPUs, and what a GPU instance needs from the host to use one: the device
// node, the driver's control nodes, and the driver's own user-space libraries and tools.
//
// Instances get the host's driver files bound in at start rather than installing a driver in the
// image, so the user-space side (libcuda, libnvidia-ml, nvidia-smi) is always the exact version of
// the loaded kernel module. A mismatch there ("Failed to initialize NVML: Driver/library version
// mismatch") is the most reported GPU failure in LXD's tracker, and an image can never get it
// right for every host.
//
// Discovery reads; it never loads modules or creates nodes (nvidia-modprobe's job on the host).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kumo::host {

struct Gpu {
  // The node is nvidia<minor>: /dev/nvidia<minor> inside an instance, and on the host too except
  // for stand-ins (see `device`).
  int minor = 0;
  std::string uuid;        // "GPU-8f0c…" as nvidia-smi -L shows: stable across reboots
  std::string name;        // "NVIDIA H100 80GB HBM3"
  int64_t memory_mib = 0;  // 0 when unknown: only NVML reports it, procfs does not
  std::string pci_bus_id;  // "0000:00:1e.0" (procfs's form: four-digit domain, lower case)
  std::string device;      // host path of the node, e.g. "/dev/nvidia0"
};

// A host file made visible read-only inside GPU instances, at each of container_paths
// (absolute paths inside the container).
struct DriverFile {
  std::string host_path;
  // The file's own name plus the names of its symlinks beside it on the host (the sonames such as
  // libcuda.so.1 that programs actually load), all under /usr/lib/x86_64-linux-gnu or /usr/bin.
  std::vector<std::string> container_paths;
};

struct GpuInventory {
  // "nvml", "procfs", "stand-in devices (test facility)", or "none": kept with the inventory so
  // an operator can tell why memory_mib is 0 or why no GPU was found.
  std::string source;
  // "535.104.05"; empty when unknown. Driver files are only collected when it is known: a file
  // of any other version is worse than none.
  std::string driver_version;
  std::vector<Gpu> gpus;  // ordered by minor
  // Host paths of those present among nvidiactl, nvidia-uvm, nvidia-uvm-tools and
  // nvidia-modeset: CUDA opens nvidiactl and nvidia-uvm besides the GPU's own node, so every GPU
  // instance needs them.
  std::vector<std::string> control_devices;
  // User-space driver libraries and tools of exactly driver_version.
  std::vector<DriverFile> driver_files;
};

struct GpuDiscoveryOptions {
  std::string dev_dir = "/dev";
  std::string proc_dir = "/proc/driver/nvidia";
  // Empty: /usr/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu/nvidia/current (Debian's
  // packages), /usr/lib64, /usr/lib, /lib/x86_64-linux-gnu; the first that has a file wins.
  std::vector<std::string> lib_dirs;
  std::vector<std::string> bin_dirs;  // empty: /usr/bin, /usr/local/bin, /usr/sbin
  // False in unit tests, which must not depend on whether the build host has a GPU.
  bool use_nvml = true;
  // TEST FACILITY, off by default: a directory of character devices named nvidia0, nvidia1, …
  // (and optionally nvidiactl, nvidia-uvm, …) that are treated as this host's GPUs, so the
  // assignment and passthrough path can be tested on machines without GPUs. When set, nothing
  // else is probed.
  std::string stand_in_dir;
};

// Stand-in devices if configured; else NVML (libnvidia-ml.so.1, when it loads and initialises);
// else /proc/driver/nvidia; else an empty inventory with source "none", which is not an error.
// Errors: only a malformed stand-in directory (InvalidArgument, NotFound).
absl::StatusOr<GpuInventory> DiscoverGpus(const GpuDiscoveryOptions& options);

nlohmann::json ToJson(const Gpu& gpu);
nlohmann::json ToJson(const GpuInventory& inv);
// InvalidArgument on anything ToJson would not have written.
absl::StatusOr<GpuInventory> GpuInventoryFromJson(const nlohmann::json& j);

}  // namespace kumo::host
