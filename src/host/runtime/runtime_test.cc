// One contract for every Runtime: the fake always; liblxc when the test runs as root on a host
// with the default image (scripts/test.sh builds it; CI runs as root).
#include "host/runtime/runtime.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

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

}  // namespace
}  // namespace kumo::host
