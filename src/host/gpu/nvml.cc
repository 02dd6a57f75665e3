// NVML through dlopen: kumod and the host agent run on hosts without NVIDIA's driver too, and no
// NVIDIA headers are installed at build time, so the few entry points used are declared here.
#include "host/gpu/nvml.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstddef>
#include <memory>

namespace kumo::host::gpu_internal {
namespace {

// Declared as in nvml.h of NVML API version 12 (CUDA 12). The _v2/_v3 suffixes are NVIDIA's ABI
// versions: a published symbol's signature and struct layout never change, which is what makes
// declaring them here safe.
using nvmlReturn_t = int;  // an enum in nvml.h; NVML_SUCCESS is 0
constexpr nvmlReturn_t kNvmlSuccess = 0;
using nvmlDevice_t = struct nvmlDevice_st*;

struct nvmlMemory_t {
  unsigned long long total;  // bytes
  unsigned long long free;
  unsigned long long used;
};

// nvmlDeviceGetPciInfo_v3's struct: the 16-byte legacy id comes first, the full one last.
struct nvmlPciInfo_t {
  char busIdLegacy[16];  // NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];  // NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE: "00000000:3B:00.0"
};
static_assert(offsetof(nvmlPciInfo_t, domain) == 16);
static_assert(offsetof(nvmlPciInfo_t, busId) == 36);
static_assert(sizeof(nvmlPciInfo_t) == 68);

constexpr unsigned kDriverVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
constexpr unsigned kNameBufferSize = 96;           // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kUuidBufferSize = 96;           // NVML_DEVICE_UUID_V2_BUFFER_SIZE

struct Nvml {
  nvmlReturn_t (*Init)();
  nvmlReturn_t (*Shutdown)();
  nvmlReturn_t (*SystemGetDriverVersion)(char*, unsigned);
  nvmlReturn_t (*DeviceGetCount)(unsigned*);
  nvmlReturn_t (*DeviceGetHandleByIndex)(unsigned, nvmlDevice_t*);
  nvmlReturn_t (*DeviceGetName)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*DeviceGetUUID)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*DeviceGetMinorNumber)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*DeviceGetMemoryInfo)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*DeviceGetPciInfo)(nvmlDevice_t, nvmlPciInfo_t*);
};

template <typename F>
bool Bind(void* lib, const char* symbol, F*& f) {
  f = reinterpret_cast<F*>(dlsym(lib, symbol));
  if (!f) spdlog::warn("NVML lacks {}; using /proc/driver/nvidia instead", symbol);
  return f != nullptr;
}

struct LibraryCloser {
  void operator()(void* lib) const { dlclose(lib); }
};

}  // namespace

std::string NormalizePciBusId(std::string_view id) {
  std::string out;
  for (char ch : id) {
    out += char(std::tolower(static_cast<unsigned char>(ch)));
  }
  // NVML's eight-digit domain: the top four digits are zero on every x86 host.
  if (size_t colon = out.find(':'); colon == 8 && out.starts_with("0000")) out.erase(0, 4);
  return out;
}

std::optional<GpuInventory> ProbeNvml() {
  std::unique_ptr<void, LibraryCloser> lib(dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL));
  if (!lib) return std::nullopt;  // no driver installed: the ordinary case on most hosts
  Nvml n;
  void* l = lib.get();
  if (!Bind(l, "nvmlInit_v2", n.Init) || !Bind(l, "nvmlShutdown", n.Shutdown) ||
      !Bind(l, "nvmlSystemGetDriverVersion", n.SystemGetDriverVersion) ||
      !Bind(l, "nvmlDeviceGetCount_v2", n.DeviceGetCount) ||
      !Bind(l, "nvmlDeviceGetHandleByIndex_v2", n.DeviceGetHandleByIndex) ||
      !Bind(l, "nvmlDeviceGetName", n.DeviceGetName) ||
      !Bind(l, "nvmlDeviceGetUUID", n.DeviceGetUUID) ||
      !Bind(l, "nvmlDeviceGetMinorNumber", n.DeviceGetMinorNumber) ||
      !Bind(l, "nvmlDeviceGetMemoryInfo", n.DeviceGetMemoryInfo) ||
      !Bind(l, "nvmlDeviceGetPciInfo_v3", n.DeviceGetPciInfo)) {
    return std::nullopt;
  }
  if (nvmlReturn_t r = n.Init(); r != kNvmlSuccess) {
    spdlog::warn("nvmlInit_v2 failed ({}); using /proc/driver/nvidia instead", r);
    return std::nullopt;
  }
  GpuInventory inv;
  inv.source = "nvml";
  char version[kDriverVersionBufferSize] = {};
  if (n.SystemGetDriverVersion(version, sizeof version) == kNvmlSuccess) {
    inv.driver_version = version;
  }
  unsigned count = 0;
  if (n.DeviceGetCount(&count) != kNvmlSuccess) count = 0;
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = nullptr;
    unsigned minor = 0;
    if (n.DeviceGetHandleByIndex(i, &dev) != kNvmlSuccess ||
        n.DeviceGetMinorNumber(dev, &minor) != kNvmlSuccess) {
      // A GPU the driver lists but cannot open (fallen off the bus, excluded): not assignable.
      spdlog::warn("NVML cannot open GPU index {}; skipping it", i);
      continue;
    }
    Gpu g;
    g.minor = int(minor);
    char name[kNameBufferSize] = {};
    if (n.DeviceGetName(dev, name, sizeof name) == kNvmlSuccess) g.name = name;
    char uuid[kUuidBufferSize] = {};
    if (n.DeviceGetUUID(dev, uuid, sizeof uuid) == kNvmlSuccess) g.uuid = uuid;
    nvmlMemory_t mem = {};
    if (n.DeviceGetMemoryInfo(dev, &mem) == kNvmlSuccess) g.memory_mib = int64_t(mem.total >> 20);
    nvmlPciInfo_t pci = {};
    if (n.DeviceGetPciInfo(dev, &pci) == kNvmlSuccess) {
      pci.busId[sizeof pci.busId - 1] = '\0';
      g.pci_bus_id = NormalizePciBusId(pci.busId);
    }
    inv.gpus.push_back(std::move(g));
  }
  n.Shutdown();
  return inv;
}

}  // namespace kumo::host::gpu_internal
