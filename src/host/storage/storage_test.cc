// Real ext4 images on real loop devices: everything that mounts needs root (CI runs as root) and
// is skipped otherwise. Each test works in its own directory under /var/tmp and leaves no mount
// and no loop device behind, even when it fails half-way.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/files.h"
#include "host/storage/disks.h"

namespace kumo::host {
namespace {

constexpr int64_t kMiB = 1 << 20;

#define REQUIRE_ROOT() \
  if (geteuid() != 0) GTEST_SKIP() << "loop mounts need root (CI runs as root)"

// ext4 resizes in the kernel only for CAP_SYS_RESOURCE, which containers often drop.
bool CanResizeInKernel() {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return data[CAP_SYS_RESOURCE / 32].effective & (1u << (CAP_SYS_RESOURCE % 32));
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes bytes of non-zero data in 1 MiB chunks and fsyncs; the errno that stopped it, or 0.
int FillFile(const std::string& path, int64_t bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  std::vector<char> chunk(kMiB, 'x');
  int err = 0;
  for (int64_t done = 0; done < bytes && err == 0; done += kMiB) {
    if (write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) err = errno;
  }
  if (err == 0 && fsync(fd) != 0) err = errno;
  close(fd);
  return err;
}

// e2fsck -fn (read-only) finds nothing to fix; true where e2fsck is missing.
bool Fsck(const std::string& image) {
  if (access("/usr/sbin/e2fsck", X_OK) != 0) return true;
  std::string command = "/usr/sbin/e2fsck -fn '" + image + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

int64_t FsBytes(const std::string& mountpoint) {
  struct statvfs vfs;
  if (statvfs(mountpoint.c_str(), &vfs) != 0) return -1;
  return static_cast<int64_t>(vfs.f_blocks) * vfs.f_frsize;
}

// Loop devices whose backing file is path, by name (sysfs shows the path).
int LoopsFor(const std::string& path) {
  int n = 0;
  for (int i = 0; i < 256; ++i) {
    std::string backing = ReadFile("/sys/block/loop" + std::to_string(i) + "/loop/backing_file");
    if (!backing.empty() && backing.back() == '\n') backing.pop_back();
    n += backing == path;
  }
  return n;
}

struct MountLine {
  std::string mount_point;
  std::string optional;  // propagation fields
};

std::vector<MountLine> MountsUnder(const std::string& dir) {
  std::vector<MountLine> found;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, options, field;
    fields >> id >> parent >> dev >> root >> mount_point >> options;
    MountLine m{mount_point, ""};
    while (fields >> field && field != "-") m.optional += field + " ";
    if (mount_point == dir || mount_point.starts_with(dir + "/")) found.push_back(m);
  }
  return found;
}

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/kumo-storage-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    image_ = dir_ + "/vol.img";
    mnt_ = dir_ + "/mnt";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    // Newest (innermost) first; detaching one can reveal another stacked below it.
    for (int round = 0; round < 8; ++round) {
      auto mounts = MountsUnder(dir_);
      if (mounts.empty()) break;
      for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
        umount2(it->mount_point.c_str(), MNT_DETACH);
      }
    }
    (void)RemoveTree(dir_);
  }

  void Create(const std::string& image, int64_t size = 64 * kMiB) {
    auto status = CreateExt4Image(image, size, 0, 0);
    ASSERT_TRUE(status.ok()) << status;
  }

  void Mount(const std::string& image, const std::string& mountpoint) {
    auto status = MountImage(image, mountpoint);
    ASSERT_TRUE(status.ok()) << status;
  }

  // Autoclear runs when the last user of the filesystem goes; give a detached mount a moment.
  bool LoopGone(const std::string& image) {
    for (int i = 0; i < 100 && LoopsFor(image) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return LoopsFor(image) == 0;
  }

  std::string dir_, image_, mnt_;
};

TEST_F(StorageTest, ArgumentsAndStatNeedNoRoot) {
  EXPECT_EQ(StatImage(dir_ + "/missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CreateExt4Image(image_, 0, 0, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(*IsMountPoint("/proc"));
  EXPECT_FALSE(*IsMountPoint(dir_));
  EXPECT_FALSE(*IsMountPoint(dir_ + "/missing"));
  WriteFile(image_, "");
  ASSERT_EQ(truncate(image_.c_str(), 64 * kMiB), 0);
  auto usage = StatImage(image_);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->size_bytes, 64 * kMiB);
  EXPECT_EQ(usage->allocated_bytes, 0);
  EXPECT_EQ(CopyImage(image_, dir_ + "/copy", 32 * kMiB).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists(dir_ + "/copy"));
  EXPECT_EQ(GrowImage(image_, "", 32 * kMiB).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StorageTest, CreateIsSparseOwnedAndIdempotent) {
  REQUIRE_ROOT();
  WriteFile(image_ + ".tmp", "left by a build that was killed");
  auto status = CreateExt4Image(image_, 64 * kMiB, 1234, 5678);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(Exists(image_ + ".tmp"));
  auto usage = StatImage(image_);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->size_bytes, 64 * kMiB);
  EXPECT_LT(usage->allocated_bytes, 8 * kMiB);

  Mount(image_, mnt_);
  struct stat root;
  ASSERT_EQ(stat(mnt_.c_str(), &root), 0);
  EXPECT_EQ(root.st_uid, 1234u);
  EXPECT_EQ(root.st_gid, 5678u);
  WriteFile(mnt_ + "/hello", "world");
  ASSERT_TRUE(Unmount(mnt_, false).ok());

  // Again: the filesystem, and the file in it, stay.
  status = CreateExt4Image(image_, 64 * kMiB, 1234, 5678);
  ASSERT_TRUE(status.ok()) << status;
  Mount(image_, mnt_);
  EXPECT_EQ(ReadFile(mnt_ + "/hello"), "world");
  ASSERT_TRUE(Unmount(mnt_, false).ok());
  EXPECT_TRUE(LoopGone(image_));
}

TEST_F(StorageTest, MountAndUnmountAreIdempotent) {
  REQUIRE_ROOT();
  Create(image_);
  Create(dir_ + "/other.img");
  Mount(image_, mnt_);
  Mount(image_, mnt_);
  EXPECT_TRUE(*IsMountPoint(mnt_));
  EXPECT_EQ(LoopsFor(image_), 1);
  EXPECT_EQ(MountImage(dir_ + "/other.img", mnt_).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(LoopGone(dir_ + "/other.img"));

  auto status = Unmount(mnt_, false);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(*IsMountPoint(mnt_));
  EXPECT_TRUE(Unmount(mnt_, false).ok());
  EXPECT_TRUE(Unmount(mnt_, true).ok());
  EXPECT_TRUE(Unmount(dir_ + "/missing", false).ok());
  EXPECT_TRUE(LoopGone(image_));
}

TEST_F(StorageTest, AFailedMountLeavesNoLoopDevice) {
  REQUIRE_ROOT();
  WriteFile(image_, "");
  ASSERT_EQ(truncate(image_.c_str(), 64 * kMiB), 0);  // no filesystem in it
  EXPECT_FALSE(MountImage(image_, mnt_).ok());
  EXPECT_FALSE(*IsMountPoint(mnt_));
  EXPECT_TRUE(LoopGone(image_));
}

// A SnapshotImage killed while the volume was frozen leaves it frozen; the next snapshot, mount or
// unmount lifts it. FITHAW answers EINVAL when there is nothing to thaw.
TEST_F(StorageTest, AFreezeLeftByACrashIsLifted) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  auto frozen = [&] {
    int fd = open(mnt_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool was_frozen = ioctl(fd, FITHAW, 0) == 0;
    if (was_frozen) ioctl(fd, FIFREEZE, 0);
    close(fd);
    return was_frozen;
  };
  auto freeze = [&] {
    int fd = open(mnt_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_EQ(ioctl(fd, FIFREEZE, 0), 0);
    close(fd);
  };
  freeze();
  ASSERT_TRUE(frozen());
  Mount(image_, mnt_);
  EXPECT_FALSE(frozen());

  freeze();
  auto allocated = SnapshotImage(image_, mnt_, dir_ + "/snap.img");
  EXPECT_TRUE(allocated.ok()) << allocated.status();
  EXPECT_FALSE(frozen());

  freeze();
  auto status = Unmount(mnt_, false);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(LoopGone(image_));
}

TEST_F(StorageTest, WritingPastTheSizeIsEnospc) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  EXPECT_EQ(FillFile(mnt_ + "/big", 100 * kMiB), ENOSPC);
}

TEST_F(StorageTest, AnImageMountedElsewhereIsInUse) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  auto status = MountImage(image_, dir_ + "/second");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("in use"), std::string::npos) << status;
  EXPECT_FALSE(*IsMountPoint(dir_ + "/second"));
  EXPECT_EQ(LoopsFor(image_), 1);
  // Nor may anything else touch it behind the mount's back.
  EXPECT_EQ(GrowImage(image_, "", 128 * kMiB).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GrowImage(image_, dir_ + "/second", 128 * kMiB).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SnapshotImage(image_, "", dir_ + "/snap").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CopyImage(image_, dir_ + "/copy").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatImage(image_)->size_bytes, 64 * kMiB);
}

TEST_F(StorageTest, BusyUnmountFailsUntilForced) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  int fd = open((mnt_ + "/open").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  auto status = Unmount(mnt_, false);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_NE(status.message().find("busy"), std::string::npos) << status;
  EXPECT_TRUE(*IsMountPoint(mnt_));

  status = Unmount(mnt_, true);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_FALSE(*IsMountPoint(mnt_));
  EXPECT_EQ(write(fd, "still", 5), 5);  // the detached filesystem lives on for its users
  close(fd);
  EXPECT_TRUE(LoopGone(image_));
  Mount(image_, mnt_);  // and is no longer in use once they are gone
  EXPECT_EQ(ReadFile(mnt_ + "/open"), "still");
}

TEST_F(StorageTest, GrowsOnline) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  int64_t before = FsBytes(mnt_);
  EXPECT_LT(before, 100 * kMiB);
  EXPECT_EQ(GrowImage(image_, mnt_, 32 * kMiB).code(), absl::StatusCode::kInvalidArgument);

  auto status = GrowImage(image_, mnt_, 128 * kMiB);
  if (!CanResizeInKernel()) {
    // Refused before anything changed.
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
    EXPECT_EQ(StatImage(image_)->size_bytes, 64 * kMiB);
    EXPECT_EQ(FsBytes(mnt_), before);
    GTEST_SKIP() << "no CAP_SYS_RESOURCE: " << status;
  }
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_GT(FsBytes(mnt_), before + 60 * kMiB);
  EXPECT_EQ(StatImage(image_)->size_bytes, 128 * kMiB);
  EXPECT_EQ(FillFile(mnt_ + "/big", 100 * kMiB), 0);
  status = GrowImage(image_, mnt_, 128 * kMiB);  // again
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(LoopsFor(image_), 1);
}

TEST_F(StorageTest, GrowsOffline) {
  REQUIRE_ROOT();
  Create(image_);
  auto status = GrowImage(image_, "", 128 * kMiB);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(LoopsFor(image_), 0);  // the detached mount is gone as soon as the call returns
  status = GrowImage(image_, mnt_, 128 * kMiB);  // again, with a mountpoint it is not mounted at
  EXPECT_TRUE(status.ok()) << status;
  // A grow killed after extending the file: the same call finishes it.
  ASSERT_EQ(truncate(image_.c_str(), 192 * kMiB), 0);
  status = GrowImage(image_, "", 192 * kMiB);
  ASSERT_TRUE(status.ok()) << status;

  EXPECT_TRUE(Fsck(image_));
  Mount(image_, mnt_);
  EXPECT_GT(FsBytes(mnt_), 175 * kMiB);
  EXPECT_EQ(FillFile(mnt_ + "/big", 100 * kMiB), 0);
}

// What a host crash leaves: the image as it was on disk while mounted, its journal not replayed.
TEST_F(StorageTest, GrowsOfflineAnImageLeftByACrash) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  WriteFile(mnt_ + "/journaled", "replayed");
  sync();
  std::string crashed = dir_ + "/crashed.img";
  std::filesystem::copy_file(image_, crashed);
  auto status = GrowImage(crashed, "", 128 * kMiB);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(Fsck(crashed));
  Mount(crashed, dir_ + "/crashedmnt");
  EXPECT_GT(FsBytes(dir_ + "/crashedmnt"), 115 * kMiB);
  EXPECT_EQ(ReadFile(dir_ + "/crashedmnt/journaled"), "replayed");
}

TEST_F(StorageTest, SnapshotsAMountedVolumeWhileItIsWritten) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  WriteFile(mnt_ + "/before", "snapshot me");  // not synced: the freeze must do it
  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0};
  std::thread writer([&] {
    int fd = open((mnt_ + "/churn").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    std::vector<char> chunk(64 << 10, 'c');
    for (int64_t i = 0; fd >= 0 && !stop; ++i) {
      if (pwrite(fd, chunk.data(), chunk.size(), (i % 256) * chunk.size()) < 0) break;
      if (i % 16 == 0) fdatasync(fd);
      ++writes;
    }
    if (fd >= 0) close(fd);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string snap = dir_ + "/snap.img";
  auto allocated = SnapshotImage(image_, mnt_, snap);
  // Thawed: the writer carries on.
  int64_t after_snapshot = writes;
  for (int i = 0; i < 200 && writes < after_snapshot + 32; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(writes, after_snapshot + 32);
  stop = true;
  writer.join();
  ASSERT_TRUE(allocated.ok()) << allocated.status();
  EXPECT_FALSE(Exists(snap + ".tmp"));
  EXPECT_GT(*allocated, 0);
  EXPECT_LT(*allocated, 64 * kMiB);
  EXPECT_EQ(*allocated, StatImage(snap)->allocated_bytes);
  EXPECT_EQ(*SnapshotImage(image_, mnt_, snap), *allocated);  // again: left alone

  EXPECT_TRUE(Fsck(snap));  // a frozen ext4 has a clean journal: no replay needed
  Mount(snap, dir_ + "/snapmnt");
  EXPECT_EQ(ReadFile(dir_ + "/snapmnt/before"), "snapshot me");
}

TEST_F(StorageTest, CopyImageGrowsTheCopy) {
  REQUIRE_ROOT();
  Create(image_);
  Mount(image_, mnt_);
  WriteFile(mnt_ + "/kept", "copied");
  ASSERT_TRUE(Unmount(mnt_, false).ok());

  std::string copy = dir_ + "/copy.img";
  auto status = CopyImage(image_, copy, 128 * kMiB);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(Exists(copy + ".tmp"));
  EXPECT_EQ(LoopsFor(copy + ".tmp"), 0);
  auto usage = StatImage(copy);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->size_bytes, 128 * kMiB);
  EXPECT_LT(usage->allocated_bytes, 16 * kMiB);
  EXPECT_TRUE(CopyImage(image_, copy, 128 * kMiB).ok());

  Mount(copy, dir_ + "/copymnt");
  EXPECT_GT(FsBytes(dir_ + "/copymnt"), 115 * kMiB);
  EXPECT_EQ(ReadFile(dir_ + "/copymnt/kept"), "copied");

  status = CopyImage(image_, dir_ + "/same.img");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(StatImage(dir_ + "/same.img")->size_bytes, 64 * kMiB);
  EXPECT_LE(StatImage(dir_ + "/same.img")->allocated_bytes,
            StatImage(image_)->allocated_bytes + kMiB);
}

TEST_F(StorageTest, SharedMountPropagatesIntoSlaves) {
  REQUIRE_ROOT();
  Create(image_);
  std::string shared = dir_ + "/shared", view = dir_ + "/view";
  auto status = MakeSharedMount(shared);
  ASSERT_TRUE(status.ok()) << status;
  status = MakeSharedMount(shared);
  ASSERT_TRUE(status.ok()) << status;
  auto mounts = MountsUnder(shared);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_NE(mounts[0].optional.find("shared:"), std::string::npos) << mounts[0].optional;

  // What an instance's container does with it.
  ASSERT_TRUE(MakeDirs(view).ok());
  ASSERT_EQ(mount(shared.c_str(), view.c_str(), nullptr, MS_BIND, nullptr), 0);
  ASSERT_EQ(mount(nullptr, view.c_str(), nullptr, MS_SLAVE, nullptr), 0);
  Mount(image_, shared + "/vol");
  EXPECT_TRUE(*IsMountPoint(view + "/vol"));
  WriteFile(shared + "/vol/seen", "yes");
  EXPECT_EQ(ReadFile(view + "/vol/seen"), "yes");
  status = Unmount(shared + "/vol", false);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(*IsMountPoint(view + "/vol"));
  EXPECT_TRUE(LoopGone(image_));

  // Under a shared parent (the host's / under systemd) the bind would start in the parent's peer
  // group; it gets one of its own.
  status = MakeSharedMount(shared + "/inner");
  ASSERT_TRUE(status.ok()) << status;
  mounts = MountsUnder(shared);
  ASSERT_EQ(mounts.size(), 2u);  // shared and shared/inner
  auto group = [](const MountLine& m) {
    auto at = m.optional.find("shared:");
    return at == std::string::npos ? std::string()
                                   : m.optional.substr(at, m.optional.find(' ', at) - at);
  };
  EXPECT_NE(group(mounts.back()), "");
  EXPECT_NE(group(mounts.back()), group(mounts.front()));

  // A bind over mounts would hide them.
  Mount(image_, dir_ + "/late/vol");
  EXPECT_EQ(MakeSharedMount(dir_ + "/late").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(*IsMountPoint(dir_ + "/late/vol"));
}

}  // namespace
}  // namespace kumo::host
