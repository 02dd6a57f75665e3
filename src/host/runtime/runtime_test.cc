// One contract for every Runtime: the fake always; liblxc when the test runs as root on a host
// with the default image (scripts/test.sh builds it; CI runs as root).
#include "host/runtime/runtime.h"

#include <dirent.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

namespace kumo::host {
namespace {

std::string ImageRootfs() {
  const char* dir = std::getenv("KUMO_IMAGE_DIR");
  return std::string(dir && *dir ? dir : "/var/lib/kumo/images") + "/debian-12/rootfs";
}

int OverlayMounts() {
  std::ifstream in("/proc/mounts");
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(" overlay ") != std::string::npos;
  return n;
}

class RuntimeContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kumo-runtime-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (GetParam() == "lxc") {
      if (geteuid() != 0) GTEST_SKIP() << "liblxc tests need root (CI runs as root)";
      struct stat st;
      if (stat(ImageRootfs().c_str(), &st) != 0) {
        GTEST_SKIP() << "no default image at " << ImageRootfs() << " (scripts/build-image.sh)";
      }
      auto lxcfs = EnsureLxcfs();
      ASSERT_TRUE(lxcfs.ok()) << lxcfs;
      runtime_ = NewLxcRuntime(dir_ + "/lxc");
    } else {
      runtime_ = NewFakeRuntime();
    }
    spec_.name = "kumotest-" + std::to_string(getpid());
    spec_.rootfs = ImageRootfs();
    spec_.upper_dir = dir_ + "/upper";
    spec_.hostname = "ip-172-31-3-7";
    spec_.vcpus = 1;
    spec_.cpuset = "0";
    spec_.memory_bytes = 512ll << 20;
    overlays_before_ = OverlayMounts();
  }
  void TearDown() override {
    // Clean up even when an assertion failed half-way.
    if (runtime_) (void)runtime_->Destroy(spec_.name);
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }

  std::string dir_;
  std::unique_ptr<Runtime> runtime_;
  ContainerSpec spec_;
  int overlays_before_ = 0;
};

TEST_P(RuntimeContract, LifecycleIsIdempotentAndLeavesNothing) {
  EXPECT_EQ(*runtime_->State(spec_.name), ContainerState::kAbsent);
  auto created = runtime_->Create(spec_);
  ASSERT_TRUE(created.ok()) << created;
  created = runtime_->Create(spec_);  // again: same spec is fine
  ASSERT_TRUE(created.ok()) << created;
  ContainerSpec other = spec_;
  other.rootfs = "/elsewhere";
  EXPECT_FALSE(runtime_->Create(other).ok());
  EXPECT_EQ(*runtime_->State(spec_.name), ContainerState::kStopped);
  EXPECT_EQ(*runtime_->List(), std::vector<std::string>{spec_.name});

  auto started = runtime_->Start(spec_.name);
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(runtime_->Start(spec_.name).ok());
  EXPECT_EQ(*runtime_->State(spec_.name), ContainerState::kRunning);
  auto pid = runtime_->InitPid(spec_.name);
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_GT(*pid, 0);
  if (GetParam() == "lxc") {
    // A real system container: systemd is init, and the hostname is the instance's.
    char exe[256] = {};
    ASSERT_GT(readlink(("/proc/" + std::to_string(*pid) + "/exe").c_str(), exe, sizeof exe - 1), 0);
    EXPECT_TRUE(std::string(exe).ends_with("/systemd")) << exe;
    std::ifstream host("/proc/" + std::to_string(*pid) + "/root/etc/hostname");
    std::string hostname;
    host >> hostname;
    EXPECT_EQ(hostname, spec_.hostname);
    // Inside, the instance looks its size: lxcfs answers from its cgroup.
    auto mem = runtime_->Exec(spec_.name, {"/usr/bin/grep", "MemTotal", "/proc/meminfo"});
    ASSERT_TRUE(mem.ok()) << mem.status();
    EXPECT_EQ(mem->exit_code, 0);
    EXPECT_NE(mem->output.find(std::to_string(spec_.memory_bytes >> 10) + " kB"), std::string::npos)
        << mem->output;
    auto nproc = runtime_->Exec(spec_.name, {"/usr/bin/nproc"});
    ASSERT_TRUE(nproc.ok()) << nproc.status();
    EXPECT_EQ(nproc->output, "1\n");
    EXPECT_EQ(runtime_->Exec(spec_.name, {"/bin/false"})->exit_code, 1);
  }

  auto stopped = runtime_->Stop(spec_.name, std::chrono::seconds(20));
  ASSERT_TRUE(stopped.ok()) << stopped;
  ASSERT_TRUE(runtime_->Stop(spec_.name, std::chrono::seconds(20)).ok());
  EXPECT_EQ(*runtime_->State(spec_.name), ContainerState::kStopped);
  EXPECT_FALSE(runtime_->InitPid(spec_.name).ok());

  ASSERT_TRUE(runtime_->Destroy(spec_.name).ok());
  ASSERT_TRUE(runtime_->Destroy(spec_.name).ok());
  EXPECT_EQ(*runtime_->State(spec_.name), ContainerState::kAbsent);
  EXPECT_TRUE(runtime_->List()->empty());
  if (GetParam() == "lxc") {
    EXPECT_EQ(OverlayMounts(), overlays_before_);
    struct stat st;
    // The writable layer is the root volume's, not the container's: it survives.
    EXPECT_EQ(stat((spec_.upper_dir + "/etc/hostname").c_str(), &st), 0);
  }
}

TEST_P(RuntimeContract, NamesThatWouldEscapeTheirDirectoryAreRefused) {
  for (const char* bad : {"..", ".", ".hidden", "a/b", "", "x y"}) {
    ContainerSpec s = spec_;
    s.name = bad;
    EXPECT_FALSE(runtime_->Create(s).ok()) << bad;
    EXPECT_FALSE(runtime_->Destroy(bad).ok()) << bad;
  }
  struct stat st;
  EXPECT_EQ(stat(dir_.c_str(), &st), 0);  // the parent of lxcpath is still there
}

TEST_P(RuntimeContract, StartingWhatDoesNotExistIsNotFound) {
  EXPECT_FALSE(runtime_->Start("kumotest-missing").ok());
  EXPECT_TRUE(runtime_->Destroy("kumotest-missing").ok());
}

INSTANTIATE_TEST_SUITE_P(Runtimes, RuntimeContract, ::testing::Values("fake", "lxc"));

TEST(LxcPassthrough, PathsThatCannotBeMountEntriesAreRefused) {
  // Checked before liblxc is touched, so this runs without root.
  char tmpl[] = "/tmp/kumo-runtime-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::ofstream(dir + "/file") << "x";
  auto runtime = NewLxcRuntime(dir + "/lxc");
  ContainerSpec base;
  base.name = "kumotest-paths-" + std::to_string(getpid());
  base.rootfs = ImageRootfs();
  base.upper_dir = dir + "/upper";
  base.hostname = "ip-172-31-3-7";
  auto refused = [&](ContainerSpec s) {
    absl::Status st = runtime->Create(s);
    return st.code() == absl::StatusCode::kInvalidArgument;
  };
  for (const std::string& bad :
       std::vector<std::string>{dir + "/a b", "relative/nvidia0", dir + "/file", dir + "/missing",
                                dir + "/", dir + "/x\\040y", "/dev/nvidia0\n"}) {
    ContainerSpec s = base;
    s.devices = {bad};
    EXPECT_TRUE(refused(s)) << bad;
  }
  for (auto [host, inside] :
       std::vector<std::pair<std::string, std::string>>{{dir + "/file", "usr/bin/x"},
                                                        {dir + "/file", "/usr/bin/a b"},
                                                        {dir + "/file", "/"},
                                                        {dir + "/file", "/../etc/x"},
                                                        {dir + "/file", "/usr/../../etc/x"},
                                                        {dir + "/file", "/usr/bin/.."},
                                                        {dir + "/fi le", "/usr/bin/x"},
                                                        {dir + "/missing", "/usr/bin/x"},
                                                        {dir, "/usr/bin/x"}}) {
    ContainerSpec s = base;
    s.read_only_files = {{host, inside}};
    EXPECT_TRUE(refused(s)) << host << " -> " << inside;
  }
  struct stat st;
  EXPECT_NE(stat((dir + "/lxc").c_str(), &st), 0);  // refused before anything was made
  (void)std::system(("rm -rf '" + dir + "'").c_str());
}

// The shifted copy of the default image that the host agent keeps for unprivileged instances
// (host/agent/idmap.h), with its id base; none when no instance has been launched here yet.
std::pair<std::string, uint32_t> ShiftedImage() {
  const std::string shifted = "/var/lib/kumo/shifted";
  DIR* d = opendir(shifted.c_str());
  if (!d) return {"", 0};
  std::pair<std::string, uint32_t> found = {"", 0};
  while (struct dirent* e = readdir(d)) {
    std::string dir = shifted + "/" + e->d_name;
    std::ifstream source(dir + "/source");
    std::string rootfs;
    uint32_t base = 0;
    if (source >> rootfs >> base && rootfs == ImageRootfs() && base > 0) {
      found = {dir + "/rootfs", base};
      break;
    }
  }
  closedir(d);
  return found;
}

bool NvidiaDriverLoaded() {
  std::ifstream in("/proc/devices");
  for (std::string line; std::getline(in, line);) {
    if (line.find("nvidia") != std::string::npos || line.starts_with("195 ")) return true;
  }
  return false;
}

// A GPU instance's view, with stand-in GPUs: character nodes on the NVIDIA major (195) that no
// driver owns here. Privileged and unprivileged (the agent's default) containers.
class DevicePassthrough : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "liblxc tests need root (CI runs as root)";
    struct stat st;
    if (stat(ImageRootfs().c_str(), &st) != 0) {
      GTEST_SKIP() << "no default image at " << ImageRootfs() << " (scripts/build-image.sh)";
    }
    unprivileged_ = GetParam();
    spec_.rootfs = ImageRootfs();
    if (unprivileged_) {
      std::tie(spec_.rootfs, spec_.id_base) = ShiftedImage();
      if (spec_.id_base == 0) GTEST_SKIP() << "no shifted copy of the image in /var/lib/kumo";
    }
    char tmpl[] = "/tmp/kumo-gpu-runtime-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // The unprivileged container's root (a host id in the subordinate range) mounts the binds
    // and the overlay, so it must be able to reach them.
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
    auto lxcfs = EnsureLxcfs();
    ASSERT_TRUE(lxcfs.ok()) << lxcfs;
    runtime_ = NewLxcRuntime(dir_ + "/lxc");
    spec_.name = fmt::format("kumotest-gpu-{}-{}", unprivileged_ ? "u" : "p", getpid());
    spec_.upper_dir = dir_ + "/upper";
    spec_.hostname = "ip-172-31-3-8";
    spec_.memory_bytes = 512ll << 20;
    if (unprivileged_) {
      for (const char* sub : {"/upper", "/upper/etc", "/work"}) {
        std::string path = dir_ + sub;
        ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << path;
        ASSERT_EQ(chown(path.c_str(), spec_.id_base, spec_.id_base), 0) << path;
      }
    }
    for (int minor : {200, 201}) {
      std::string node = fmt::format("{}/nvidia{}", dir_, minor);
      ASSERT_EQ(mknod(node.c_str(), S_IFCHR | 0666, makedev(195, minor)), 0) << node;
      ASSERT_EQ(chmod(node.c_str(), 0666), 0);  // whatever the umask: like the driver's nodes
    }
    std::ofstream(dir_ + "/fake-smi") << "#!/bin/sh\necho stand-in smi\n";
    // Writable by anyone, so only the read-only mount can refuse the container's write.
    ASSERT_EQ(chmod((dir_ + "/fake-smi").c_str(), 0777), 0);
    spec_.devices = {dir_ + "/nvidia200"};
    spec_.read_only_files = {{dir_ + "/fake-smi", "/usr/bin/nvidia-smi-standin"}};
  }
  void TearDown() override {
    if (runtime_) (void)runtime_->Destroy(spec_.name);
    if (!dir_.empty()) (void)std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  Runtime::ExecResult Sh(const std::string& script) {
    auto r = runtime_->Exec(spec_.name, {"/bin/sh", "-c", "exec 2>&1; " + script});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Runtime::ExecResult{-1, ""};
  }

  bool unprivileged_ = false;
  std::string dir_;
  std::unique_ptr<Runtime> runtime_;
  ContainerSpec spec_;
};

TEST_P(DevicePassthrough, OnlyTheAssignedDeviceIsReachable) {
  auto created = runtime_->Create(spec_);
  ASSERT_TRUE(created.ok()) << created;
  auto started = runtime_->Start(spec_.name);
  ASSERT_TRUE(started.ok()) << started;

  auto ls = Sh("ls /dev/nvidia*");
  EXPECT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_EQ(ls.output, "/dev/nvidia200\n");
  EXPECT_EQ(Sh("test -c /dev/nvidia200").exit_code, 0);
  EXPECT_NE(Sh("test -e /dev/nvidia201").exit_code, 0);
  // The cgroup lets the open through (it would be "Operation not permitted"), and with no driver
  // on major 195 the kernel answers ENXIO.
  auto open = Sh("head -c1 /dev/nvidia200");
  EXPECT_NE(open.exit_code, 0);
  if (!NvidiaDriverLoaded()) {
    EXPECT_NE(open.output.find("No such device or address"), std::string::npos) << open.output;
  }
  if (!unprivileged_) {
    // A node the container makes itself for another minor stays shut (mknod is allowed, "m").
    auto other = Sh("mknod /root/n201 c 195 201 && head -c1 /root/n201");
    EXPECT_NE(other.exit_code, 0);
    EXPECT_NE(other.output.find("Operation not permitted"), std::string::npos) << other.output;
  }

  // The driver file: readable, runnable, not writable.
  auto smi = Sh("/usr/bin/nvidia-smi-standin");
  EXPECT_EQ(smi.exit_code, 0) << smi.output;
  EXPECT_EQ(smi.output, "stand-in smi\n");
  auto write = Sh("echo x >> /usr/bin/nvidia-smi-standin");
  EXPECT_NE(write.exit_code, 0);
  EXPECT_NE(write.output.find("Read-only file system"), std::string::npos) << write.output;
  std::ifstream host_copy(dir_ + "/fake-smi");
  std::stringstream content;
  content << host_copy.rdbuf();
  EXPECT_EQ(content.str(), "#!/bin/sh\necho stand-in smi\n");

  // With the device cgroup in force, the nodes every system needs still work: null, zero,
  // urandom, and a pseudo-terminal (ptmx and /dev/pts, which `script` opens).
  auto basics =
      Sh("echo x > /dev/null && head -c4 /dev/zero | wc -c && head -c4 /dev/urandom | wc -c && "
         "script -qec 'tty' /dev/null");
  EXPECT_EQ(basics.exit_code, 0) << basics.output;
  EXPECT_NE(basics.output.find("/dev/pts/"), std::string::npos) << basics.output;

  // The host's view of the rules (cgroup v1): the default list plus the one device.
  auto pid = runtime_->InitPid(spec_.name);
  ASSERT_TRUE(pid.ok()) << pid.status();
  std::ifstream cgroups(fmt::format("/proc/{}/cgroup", *pid));
  for (std::string line; std::getline(cgroups, line);) {
    size_t at = line.find(":devices:");
    if (at == std::string::npos) continue;
    std::ifstream list("/sys/fs/cgroup/devices" + line.substr(at + 9) + "/devices.list");
    std::stringstream rules;
    rules << list.rdbuf();
    EXPECT_NE(rules.str().find("c 195:200 rwm"), std::string::npos) << rules.str();
    EXPECT_EQ(rules.str().find("c 195:201"), std::string::npos) << rules.str();
    EXPECT_EQ(rules.str().find("a *:* rwm"), std::string::npos) << rules.str();
  }
}

INSTANTIATE_TEST_SUITE_P(Containers, DevicePassthrough, ::testing::Bool(), [](const auto& info) {
  return info.param ? "Unprivileged" : "Privileged";
});

}  // namespace
}  // namespace kumo::host
