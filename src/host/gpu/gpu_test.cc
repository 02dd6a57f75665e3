// Discovery against fake /proc/driver/nvidia, /dev and driver directories; the stand-in tests
// make real character devices and so run only as root.
#include "host/gpu/gpu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace kumo::host {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using ::testing::UnorderedElementsAre;
using namespace std::string_literals;

constexpr char kVersion[] =
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
    "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";

std::string Information(const std::string& model, const std::string& uuid, const std::string& bus,
                        int minor) {
  return "Model: \t\t " + model +
         "\n"
         "IRQ:   \t\t 0\n"
         "GPU UUID: \t " +
         uuid +
         "\n"
         "Video BIOS: \t 96.00.74.00.01\n"
         "Bus Type: \t PCIe\n"
         "DMA Size: \t 52 bits\n"
         "DMA Mask: \t 0xfffffffffffff\n"
         "Bus Location: \t " +
         bus +
         "\n"
         "Device Minor: \t " +
         std::to_string(minor) +
         "\n"
         "GPU Excluded:\t No\n";
}

class GpuDiscovery : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kumo-gpu-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    opts_.proc_dir = dir_ + "/proc";
    opts_.dev_dir = dir_ + "/dev";
    opts_.lib_dirs = {dir_ + "/lib", dir_ + "/lib2"};
    opts_.bin_dirs = {dir_ + "/bin", dir_ + "/bin2"};
    opts_.use_nvml = false;
    for (const char* d : {"proc/gpus", "dev", "lib", "lib2", "bin", "bin2", "opt"}) {
      std::filesystem::create_directories(dir_ + "/" + d);
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& text, mode_t mode = 0644) {
    std::string path = dir_ + "/" + rel;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
  }
  void Link(const std::string& target, const std::string& rel) {
    std::filesystem::create_symlink(target, dir_ + "/" + rel);
  }
  // Two H100s (minors 0 and 1, listed out of order), a third whose node is missing, and a GPU
  // directory holding garbage.
  void FakeDriver() {
    Write("proc/version", kVersion);
    Write("proc/gpus/0000:00:1f.0/information",
          Information("NVIDIA H100 80GB HBM3", "GPU-11111111-2222-3333-4444-555555555555",
                      "0000:00:1f.0", 1));
    Write("proc/gpus/0000:00:1e.0/information",
          Information("NVIDIA H100 80GB HBM3", "GPU-8f0c5d3e-2b7a-4c51-9a0e-6d2f1b3c4a5e",
                      "0000:00:1e.0", 0));
    Write("proc/gpus/0000:00:20.0/information",
          Information("NVIDIA H100 80GB HBM3", "GPU-99999999-2222-3333-4444-555555555555",
                      "0000:00:20.0", 2));
    Write("proc/gpus/0000:00:21.0/information",
          "\x01\xff:\n::::\nDevice Minor:\nDevice Minor: 99999999999\n\0zz"s);
    for (const char* node : {"nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"}) {
      Write(std::string("dev/") + node, "");
    }
  }

  std::string dir_;
  GpuDiscoveryOptions opts_;
};

TEST_F(GpuDiscovery, ProcfsGivesTheGpusWithNodesOrderedByMinor) {
  FakeDriver();
  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->source, "procfs");
  EXPECT_EQ(inv->driver_version, "535.104.05");
  ASSERT_EQ(inv->gpus.size(), 2u);  // minor 2 has no node; the garbage entry has no minor
  EXPECT_EQ(inv->gpus[0].minor, 0);
  EXPECT_EQ(inv->gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(inv->gpus[0].uuid, "GPU-8f0c5d3e-2b7a-4c51-9a0e-6d2f1b3c4a5e");
  EXPECT_EQ(inv->gpus[0].pci_bus_id, "0000:00:1e.0");
  EXPECT_EQ(inv->gpus[0].device, dir_ + "/dev/nvidia0");
  EXPECT_EQ(inv->gpus[0].memory_mib, 0);  // procfs does not say
  EXPECT_EQ(inv->gpus[1].minor, 1);
  EXPECT_EQ(inv->gpus[1].device, dir_ + "/dev/nvidia1");
  EXPECT_THAT(inv->control_devices, ElementsAre(dir_ + "/dev/nvidiactl", dir_ + "/dev/nvidia-uvm"));
}

TEST_F(GpuDiscovery, DriverFilesAreTheLoadedVersionWithTheirSonames) {
  FakeDriver();
  Write("lib/libcuda.so.535.104.05", "cuda");
  Link("libcuda.so.535.104.05", "lib/libcuda.so.1");
  Link("libcuda.so.1", "lib/libcuda.so");
  Write("lib2/libcuda.so.535.104.05", "shadowed by the first directory");
  // Another driver's NVML, left over from an upgrade: never bound in.
  Write("lib/libnvidia-ml.so.530.30.02", "old nvml");
  Link("libnvidia-ml.so.530.30.02", "lib/libnvidia-ml.so.1");
  Write("lib2/libnvidia-nvvm.so.535.104.05", "nvvm");
  Link("libnvidia-nvvm.so.535.104.05", "lib2/libnvidia-nvvm.so.4");
  Write("bin/nvidia-smi", "#!/bin/sh\n", 0755);
  Write("bin/nvidia-debugdump", "not executable", 0644);
  Write("opt/nvidia-debugdump", "#!/bin/sh\n", 0755);
  Link(dir_ + "/opt/nvidia-debugdump", "bin2/nvidia-debugdump");

  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  ASSERT_EQ(inv->driver_files.size(), 4u) << ToJson(*inv).dump(2);
  EXPECT_EQ(inv->driver_files[0].host_path, dir_ + "/lib/libcuda.so.535.104.05");
  EXPECT_THAT(inv->driver_files[0].container_paths,
              UnorderedElementsAre("/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05",
                                   "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
                                   "/usr/lib/x86_64-linux-gnu/libcuda.so"));
  EXPECT_EQ(inv->driver_files[0].container_paths[0],
            "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05");
  EXPECT_EQ(inv->driver_files[1].host_path, dir_ + "/lib2/libnvidia-nvvm.so.535.104.05");
  EXPECT_THAT(inv->driver_files[1].container_paths,
              ElementsAre("/usr/lib/x86_64-linux-gnu/libnvidia-nvvm.so.535.104.05",
                          "/usr/lib/x86_64-linux-gnu/libnvidia-nvvm.so.4"));
  EXPECT_EQ(inv->driver_files[2].host_path, dir_ + "/bin/nvidia-smi");
  EXPECT_THAT(inv->driver_files[2].container_paths, ElementsAre("/usr/bin/nvidia-smi"));
  // The symlink is resolved: the bind source is the real file.
  EXPECT_EQ(inv->driver_files[3].host_path, dir_ + "/opt/nvidia-debugdump");
  EXPECT_THAT(inv->driver_files[3].container_paths, ElementsAre("/usr/bin/nvidia-debugdump"));
}

TEST_F(GpuDiscovery, OpenKernelModuleVersionLineIsUnderstood) {
  FakeDriver();
  Write("proc/version",
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  Release Build  "
        "(dvs-builder@U16-I3-B03-4-3)  Tue Mar  5 22:15:33 UTC 2024\n");
  Write("lib/libcuda.so.535.104.05", "the old driver's");
  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->driver_version, "550.54.15");
  EXPECT_TRUE(inv->driver_files.empty());
}

TEST_F(GpuDiscovery, UnknownDriverVersionMeansNoDriverFiles) {
  FakeDriver();
  Write("proc/version", "NVRM version: something ../../etc/passwd\n");
  Write("lib/libcuda.so.535.104.05", "cuda");
  Write("bin/nvidia-smi", "#!/bin/sh\n", 0755);
  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->gpus.size(), 2u);
  EXPECT_EQ(inv->driver_version, "");
  EXPECT_TRUE(inv->driver_files.empty());
}

TEST_F(GpuDiscovery, GarbageInformationFilesAreSkipped) {
  Write("proc/version", std::string(200000, 'x'));
  std::string garbage;
  for (int i = 0; i < 5000; ++i) garbage += char((i * 7919) % 256);
  Write("proc/gpus/a/information", garbage);
  Write("proc/gpus/b/information", "Device Minor: -1\n");
  Write("proc/gpus/c/information", "Device Minor: 0x1\nModel: \n");
  Write("proc/gpus/d/information", ":\n:\n\n\n");
  Write("dev/nvidia0", "");
  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->source, "none");
  EXPECT_TRUE(inv->gpus.empty());
}

TEST_F(GpuDiscovery, NoDriverIsAnEmptyInventory) {
  Write("dev/nvidia0", "");  // a node alone is not a GPU
  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->source, "none");
  EXPECT_TRUE(inv->gpus.empty());
  EXPECT_TRUE(inv->control_devices.empty());
  EXPECT_TRUE(inv->driver_files.empty());
}

TEST_F(GpuDiscovery, JsonRoundTrip) {
  FakeDriver();
  Write("lib/libcuda.so.535.104.05", "cuda");
  Link("libcuda.so.535.104.05", "lib/libcuda.so.1");
  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  inv->gpus[1].memory_mib = 81559;
  nlohmann::json j = ToJson(*inv);
  auto back = GpuInventoryFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ToJson(*back), j);
  EXPECT_EQ(back->gpus[1].memory_mib, 81559);
  EXPECT_EQ(back->driver_files.at(0).container_paths.size(), 2u);

  EXPECT_EQ(j["gpus"][0]["pci_bus_id"], "0000:00:1e.0");
  EXPECT_FALSE(GpuInventoryFromJson(nlohmann::json::array()).ok());
  EXPECT_FALSE(GpuInventoryFromJson({{"gpus", nlohmann::json::array()}}).ok());  // no source
  EXPECT_FALSE(GpuInventoryFromJson({{"source", "nvml"}, {"gpus", "x"}}).ok());
  EXPECT_FALSE(GpuInventoryFromJson({{"source", "nvml"}, {"gpus", {{{"minor", -1}}}}}).ok());
  EXPECT_FALSE(GpuInventoryFromJson({{"source", "nvml"}, {"gpus", {{{"minor", "0"}}}}}).ok());
  EXPECT_FALSE(GpuInventoryFromJson({{"source", "nvml"}, {"gpus", {1}}}).ok());
  auto minimal = GpuInventoryFromJson({{"source", "none"}});
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  EXPECT_TRUE(minimal->gpus.empty());
}

// Stand-in devices: character nodes on major 195 that no driver owns here.
class StandInGpus : public GpuDiscovery {
 protected:
  void SetUp() override {
    GpuDiscovery::SetUp();
    if (geteuid() != 0) GTEST_SKIP() << "making character devices needs root (CI runs as root)";
    std::filesystem::create_directories(dir_ + "/standin");
    opts_.stand_in_dir = dir_ + "/standin";
  }
  void Node(const std::string& name, int minor) {
    std::string path = opts_.stand_in_dir + "/" + name;
    ASSERT_EQ(mknod(path.c_str(), S_IFCHR | 0666, makedev(195, minor)), 0) << path;
  }
};

TEST_F(StandInGpus, CharacterDevicesBecomeGpus) {
  FakeDriver();  // ignored: with stand-ins configured nothing else is probed
  Node("nvidia3", 203);
  Node("nvidia0", 200);
  Node("nvidiactl", 255);
  Write("standin/nvidia-fake", "");  // not nvidia<digits>: ignored
  Write("standin/README", "");
  auto inv = DiscoverGpus(opts_);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->source, "stand-in devices (test facility)");
  EXPECT_EQ(inv->driver_version, "");
  EXPECT_TRUE(inv->driver_files.empty());
  ASSERT_EQ(inv->gpus.size(), 2u);
  EXPECT_EQ(inv->gpus[0].minor, 0);
  EXPECT_EQ(inv->gpus[0].device, opts_.stand_in_dir + "/nvidia0");
  EXPECT_EQ(inv->gpus[0].name, "Kumo stand-in GPU (test facility)");
  EXPECT_EQ(inv->gpus[0].memory_mib, 16384);
  EXPECT_EQ(inv->gpus[0].pci_bus_id, "0000:00:00.0");
  EXPECT_THAT(inv->gpus[0].uuid,
              MatchesRegex("GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"));
  EXPECT_EQ(inv->gpus[1].minor, 3);
  EXPECT_EQ(inv->gpus[1].pci_bus_id, "0000:00:00.3");
  EXPECT_NE(inv->gpus[0].uuid, inv->gpus[1].uuid);
  EXPECT_THAT(inv->control_devices, ElementsAre(opts_.stand_in_dir + "/nvidiactl"));

  // The UUID is the node's: the same on every discovery.
  auto again = DiscoverGpus(opts_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ToJson(*again), ToJson(*inv));
}

TEST_F(StandInGpus, AFileThatIsNotADeviceIsRefused) {
  Node("nvidia0", 200);
  Write("standin/nvidia1", "");
  auto inv = DiscoverGpus(opts_);
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument) << inv.status();
  EXPECT_NE(inv.status().message().find("nvidia1 is not a character device"), std::string::npos)
      << inv.status();
}

TEST_F(StandInGpus, AMissingDirectoryIsAnError) {
  opts_.stand_in_dir = dir_ + "/nowhere";
  EXPECT_EQ(DiscoverGpus(opts_).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kumo::host
