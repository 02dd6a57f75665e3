// Internal to kumo_gpu: the NVML probe, kept apart from the file-based discovery so the latter
// stays testable without a driver.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "host/gpu/gpu.h"

namespace kumo::host::gpu_internal {

// What NVML reports (source "nvml", driver_version, and gpus without `device`, which the caller
// fills and checks); nullopt when libnvidia-ml.so.1 does not load or nvmlInit_v2 fails (no driver
// loaded, or a library of another version than the kernel module).
std::optional<GpuInventory> ProbeNvml();

// "00000000:3B:00.0" (NVML) and "0000:3b:00.0" (procfs) both become "0000:3b:00.0", so an
// inventory reads the same whichever source produced it.
std::string NormalizePciBusId(std::string_view id);

}  // namespace kumo::host::gpu_internal
