// GPU discovery from files: stand-in devices, /proc/driver/nvidia, /dev, and the driver's files
// in the library and binary directories. NVML (nvml.cc) is tried before procfs when enabled.
#include <dirent.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/hash.h"
#include "host/gpu/gpu.h"
#include "host/gpu/nvml.h"

namespace kumo::host {
namespace {

using gpu_internal::NormalizePciBusId;
using json = nlohmann::json;

constexpr char kStandInSource[] = "stand-in devices (test facility)";
constexpr char kStandInName[] = "Kumo stand-in GPU (test facility)";
constexpr int64_t kStandInMemoryMib = 16384;
// The driver's minors for its GPUs are 0..253 (254 is nvidia-modeset, 255 nvidiactl).
constexpr int kMaxMinor = 255;

constexpr const char* kControlDevices[] = {"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools",
                                           "nvidia-modeset"};
// lib<X>.so.<driver version>: the driver's user-space half, the libraries that must match the
// kernel module. CUDA runtimes and cuDNN are the application's and stay in the image.
constexpr const char* kDriverLibraries[] = {"nvidia-ml",
                                            "cuda",
                                            "nvidia-ptxjitcompiler",
                                            "nvidia-nvvm",
                                            "nvidia-gpucomp",
                                            "nvidia-allocator",
                                            "nvidia-cfg",
                                            "cudadebugger",
                                            "nvidia-opencl",
                                            "nvidia-fatbinaryloader"};
constexpr const char* kDriverTools[] = {"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced",
                                        "nvidia-cuda-mps-control", "nvidia-cuda-mps-server"};
constexpr char kContainerLibDir[] = "/usr/lib/x86_64-linux-gnu";
constexpr char kContainerBinDir[] = "/usr/bin";

// What procfs files may hold is bounded; anything bigger is not the driver's.
constexpr size_t kMaxProcFile = 64 << 10;

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxProcFile, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  return text;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (struct dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool IsCharDevice(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

std::optional<std::string> RealPath(const std::string& path) {
  char* p = realpath(path.c_str(), nullptr);
  if (!p) return std::nullopt;
  std::string out = p;
  free(p);
  return out;
}

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<int> ParseMinor(std::string_view s) {
  int v = 0;
  if (s.empty() || s.size() > 3 || !std::isdigit(static_cast<unsigned char>(s.front()))) {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > kMaxMinor) return std::nullopt;
  return v;
}

// "535.104.05": digits and dots only, so it is safe inside a file name.
bool LooksLikeVersion(std::string_view s) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front())) ||
      !std::isdigit(static_cast<unsigned char>(s.back())) || s.find('.') == s.npos) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '.' || std::isdigit(static_cast<unsigned char>(c));
  });
}

// The first line of /proc/driver/nvidia/version is "NVRM version: NVIDIA UNIX x86_64 Kernel
// Module  535.104.05  Sat Aug 19 …" (or "… Open Kernel Module for x86_64  535.104.05 …"): the
// first token that is a dotted number.
std::string ParseDriverVersion(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  if (!line.starts_with("NVRM version:")) return "";
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (std::string_view token = line.substr(i, j - i); LooksLikeVersion(token)) {
      return std::string(token);
    }
    i = j;
  }
  return "";
}

// /proc/driver/nvidia/gpus/<bus id>/information: "Key: \t value" lines ("Model:", "GPU UUID:",
// "Device Minor:", "Bus Location:", …). Anything else in the file is ignored.
std::map<std::string, std::string, std::less<>> ParseInformation(std::string_view text) {
  std::map<std::string, std::string, std::less<>> fields;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == text.npos ? std::string_view() : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == line.npos) continue;
    fields.emplace(std::string(Trim(line.substr(0, colon))),
                   std::string(Trim(line.substr(colon + 1))));
  }
  return fields;
}

std::string StandInUuid(const std::string& node) {
  std::string hex = HexEncode(Sha256(RealPath(node).value_or(node)));
  return fmt::format("GPU-{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20, 12));
}

absl::StatusOr<GpuInventory> DiscoverStandIns(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(fmt::format("The stand-in GPU directory {} does not exist", dir));
  }
  GpuInventory inv;
  inv.source = kStandInSource;
  auto not_a_device = [&](const std::string& path) {
    return absl::InvalidArgumentError(fmt::format(
        "{} is not a character device: stand-in GPUs are nodes made with mknod (c 195 N)", path));
  };
  for (const std::string& name : ListDir(dir)) {
    std::string path = dir + "/" + name;
    if (std::find(std::begin(kControlDevices), std::end(kControlDevices), name) !=
        std::end(kControlDevices)) {
      if (!IsCharDevice(path)) return not_a_device(path);
      continue;  // listed below, in kControlDevices' order
    }
    if (!name.starts_with("nvidia")) continue;
    std::string_view digits = std::string_view(name).substr(6);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      continue;
    }
    std::optional<int> minor = ParseMinor(digits);
    if (!minor) {
      return absl::InvalidArgumentError(
          fmt::format("Stand-in GPU {}: the number must be 0..{}", path, kMaxMinor));
    }
    if (!IsCharDevice(path)) return not_a_device(path);
    Gpu g;
    g.minor = *minor;
    g.uuid = StandInUuid(path);
    g.name = kStandInName;
    g.memory_mib = kStandInMemoryMib;
    // A valid PCI address (device 0..31, function 0..7) that is unique per minor.
    g.pci_bus_id = fmt::format("0000:00:{:02x}.{:x}", *minor >> 3, *minor & 7);
    g.device = path;
    inv.gpus.push_back(std::move(g));
  }
  for (const char* name : kControlDevices) {
    if (std::string path = dir + "/" + name; Exists(path)) inv.control_devices.push_back(path);
  }
  std::sort(inv.gpus.begin(), inv.gpus.end(),
            [](const Gpu& a, const Gpu& b) { return a.minor < b.minor; });
  return inv;
}

std::optional<GpuInventory> DiscoverFromProcfs(const GpuDiscoveryOptions& options) {
  std::string gpus_dir = options.proc_dir + "/gpus";
  std::vector<std::string> entries = ListDir(gpus_dir);
  if (entries.empty()) return std::nullopt;
  GpuInventory inv;
  inv.source = "procfs";
  if (auto version = ReadSmallFile(options.proc_dir + "/version")) {
    inv.driver_version = ParseDriverVersion(*version);
  }
  for (const std::string& entry : entries) {
    std::string path = gpus_dir + "/" + entry + "/information";
    std::optional<std::string> text = ReadSmallFile(path);
    if (!text) continue;
    auto fields = ParseInformation(*text);
    auto field = [&](std::string_view key) -> std::string {
      auto it = fields.find(key);
      return it == fields.end() ? "" : it->second;
    };
    std::optional<int> minor = ParseMinor(field("Device Minor"));
    if (!minor) {
      spdlog::warn("GPU {}: no usable 'Device Minor' in {}; skipping it", entry, path);
      continue;
    }
    if (field("GPU Excluded") == "Yes") {
      spdlog::warn("GPU {} is excluded from use by the driver (NVreg_ExcludedGpus); skipping it",
                   entry);
      continue;
    }
    Gpu g;
    g.minor = *minor;
    g.name = field("Model");
    g.uuid = field("GPU UUID");
    std::string bus = field("Bus Location");
    g.pci_bus_id = NormalizePciBusId(bus.empty() ? entry : bus);
    inv.gpus.push_back(std::move(g));
  }
  return inv;
}

// Fills in each GPU's node and drops those whose node is missing (the driver creates nodes only
// when nvidia-modprobe or nvidia-persistenced has run): an instance could not use them.
void AttachNodes(const std::string& dev_dir, GpuInventory& inv) {
  std::vector<Gpu> kept;
  for (Gpu& g : inv.gpus) {
    g.device = fmt::format("{}/nvidia{}", dev_dir, g.minor);
    if (!Exists(g.device)) {
      spdlog::warn("GPU {} ({}) has no device node {}; skipping it (run nvidia-modprobe -c {})",
                   g.pci_bus_id, g.uuid, g.device, g.minor);
      continue;
    }
    if (std::any_of(kept.begin(), kept.end(), [&](const Gpu& k) { return k.minor == g.minor; })) {
      spdlog::warn("GPU {} repeats minor {}; skipping it", g.pci_bus_id, g.minor);
      continue;
    }
    kept.push_back(std::move(g));
  }
  std::sort(kept.begin(), kept.end(), [](const Gpu& a, const Gpu& b) { return a.minor < b.minor; });
  inv.gpus = std::move(kept);
  for (const char* name : kControlDevices) {
    if (std::string path = dev_dir + "/" + name; Exists(path)) inv.control_devices.push_back(path);
  }
}

// Host symlinks in dir, with what each resolves to. Read once per directory: the system library
// directory holds thousands of entries.
using Links = std::vector<std::pair<std::string, std::string>>;
const Links& LinksIn(const std::string& dir, std::map<std::string, Links>& cache) {
  auto [it, inserted] = cache.try_emplace(dir);
  if (!inserted) return it->second;
  for (const std::string& name : ListDir(dir)) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    if (auto target = RealPath(path)) it->second.emplace_back(name, *target);
  }
  return it->second;
}

std::vector<DriverFile> FindDriverFiles(const std::string& version,
                                        const std::vector<std::string>& lib_dirs,
                                        const std::vector<std::string>& bin_dirs) {
  std::vector<DriverFile> files;
  std::map<std::string, Links> links;
  for (const char* lib : kDriverLibraries) {
    std::string base = fmt::format("lib{}.so.{}", lib, version);
    for (const std::string& dir : lib_dirs) {
      std::string path = dir + "/" + base;
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      std::optional<std::string> real = RealPath(path);
      if (!real) continue;
      DriverFile f{*real, {fmt::format("{}/{}", kContainerLibDir, base)}};
      for (const auto& [name, target] : LinksIn(dir, links)) {
        if (target == *real && name != base) {
          f.container_paths.push_back(fmt::format("{}/{}", kContainerLibDir, name));
        }
      }
      files.push_back(std::move(f));
      break;
    }
  }
  for (const char* tool : kDriverTools) {
    for (const std::string& dir : bin_dirs) {
      std::string path = dir + "/" + tool;
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) continue;
      if (std::optional<std::string> real = RealPath(path)) {
        files.push_back({*real, {fmt::format("{}/{}", kContainerBinDir, tool)}});
        break;
      }
    }
  }
  return files;
}

}  // namespace

absl::StatusOr<GpuInventory> DiscoverGpus(const GpuDiscoveryOptions& options) {
  if (!options.stand_in_dir.empty()) return DiscoverStandIns(options.stand_in_dir);
  std::optional<GpuInventory> inv;
  if (options.use_nvml) {
    inv = gpu_internal::ProbeNvml();
    if (inv && inv->gpus.empty()) inv.reset();  // procfs may still see what NVML could not open
  }
  if (!inv) inv = DiscoverFromProcfs(options);
  if (inv) AttachNodes(options.dev_dir, *inv);
  if (!inv || inv->gpus.empty()) {
    if (inv) spdlog::warn("The NVIDIA driver is loaded but no GPU is usable");
    GpuInventory none;
    none.source = "none";
    return none;
  }
  if (!LooksLikeVersion(inv->driver_version)) {
    if (!inv->driver_version.empty()) {
      spdlog::warn("Unrecognised NVIDIA driver version '{}'", inv->driver_version);
    }
    inv->driver_version.clear();
    return *inv;
  }
  std::vector<std::string> lib_dirs = options.lib_dirs;
  if (lib_dirs.empty()) {
    lib_dirs = {"/usr/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu/nvidia/current",
                "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu"};
  }
  std::vector<std::string> bin_dirs = options.bin_dirs;
  if (bin_dirs.empty()) bin_dirs = {"/usr/bin", "/usr/local/bin", "/usr/sbin"};
  inv->driver_files = FindDriverFiles(inv->driver_version, lib_dirs, bin_dirs);
  return *inv;
}

json ToJson(const Gpu& gpu) {
  return {{"minor", gpu.minor},
          {"uuid", gpu.uuid},
          {"name", gpu.name},
          {"memory_mib", gpu.memory_mib},
          {"pci_bus_id", gpu.pci_bus_id},
          {"device", gpu.device}};
}

json ToJson(const GpuInventory& inv) {
  json gpus = json::array();
  for (const Gpu& g : inv.gpus) gpus.push_back(ToJson(g));
  json files = json::array();
  for (const DriverFile& f : inv.driver_files) {
    files.push_back({{"host_path", f.host_path}, {"container_paths", f.container_paths}});
  }
  return {{"source", inv.source},
          {"driver_version", inv.driver_version},
          {"gpus", std::move(gpus)},
          {"control_devices", inv.control_devices},
          {"driver_files", std::move(files)}};
}

absl::StatusOr<GpuInventory> GpuInventoryFromJson(const json& j) {
  // A missing list is an empty one; anything else in its place is an error.
  static const json kEmpty = json::array();
  auto list = [](const json& parent, const char* key) -> const json* {
    if (!parent.contains(key)) return &kEmpty;
    const json& a = parent.at(key);
    return a.is_array() ? &a : nullptr;
  };
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(fmt::format("GPU inventory: {}", what));
  };
  if (!j.is_object()) return bad("not a JSON object");
  GpuInventory inv;
  try {
    inv.source = j.at("source").get<std::string>();
    inv.driver_version = j.value("driver_version", "");
    const json* gpus = list(j, "gpus");
    const json* controls = list(j, "control_devices");
    const json* files = list(j, "driver_files");
    if (!gpus || !controls || !files)
      return bad("gpus, control_devices and driver_files are lists");
    for (const json& g : *gpus) {
      Gpu gpu;
      gpu.minor = g.at("minor").get<int>();
      gpu.uuid = g.value("uuid", "");
      gpu.name = g.value("name", "");
      gpu.memory_mib = g.value("memory_mib", int64_t(0));
      gpu.pci_bus_id = g.value("pci_bus_id", "");
      gpu.device = g.at("device").get<std::string>();
      if (gpu.minor < 0 || gpu.minor > kMaxMinor || gpu.memory_mib < 0 || gpu.device.empty()) {
        return bad(fmt::format("bad GPU entry {}", g.dump()));
      }
      inv.gpus.push_back(std::move(gpu));
    }
    for (const json& d : *controls) inv.control_devices.push_back(d.get<std::string>());
    for (const json& f : *files) {
      DriverFile file;
      file.host_path = f.at("host_path").get<std::string>();
      const json* paths = list(f, "container_paths");
      if (!paths) return bad("container_paths is a list");
      for (const json& p : *paths) file.container_paths.push_back(p.get<std::string>());
      inv.driver_files.push_back(std::move(file));
    }
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  return inv;
}

}  // namespace kumo::host
