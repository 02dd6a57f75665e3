#include "host/storage/disks.h"

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "common/files.h"
#include "common/status_macros.h"

// Not in the uapi headers this host builds against (linux/ext4.h is newer).
#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

namespace kumo::host {
namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::Status Errno(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

absl::StatusOr<Fd> Open(const std::string& path, int flags, mode_t mode = 0) {
  Fd fd(open(path.c_str(), flags | O_CLOEXEC, mode));
  if (!fd.ok()) return Errno(fmt::format("open {}", path));
  return fd;
}

absl::StatusOr<struct stat> Stat(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Errno(fmt::format("stat {}", path));
  return st;
}

absl::StatusOr<struct stat> StatRegular(const std::string& path) {
  ASSIGN_OR_RETURN(struct stat st, Stat(path));
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(fmt::format("{} is not a regular file", path));
  }
  return st;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A leftover from a crashed build is never worth keeping: the build starts over.
absl::StatusOr<Fd> CreateTemp(const std::string& tmp) {
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) return Errno(fmt::format("unlink {}", tmp));
  return Open(tmp, O_RDWR | O_CREAT | O_EXCL, 0600);
}

// fsync the data, rename over path, fsync the directory: after this, a crash keeps the new file.
absl::Status Commit(const Fd& fd, const std::string& tmp, const std::string& path) {
  if (fsync(fd.get()) != 0) return Errno(fmt::format("fsync {}", tmp));
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno(fmt::format("rename to {}", path));
  ASSIGN_OR_RETURN(Fd dir, Open(DirOf(path), O_RDONLY | O_DIRECTORY));
  if (fsync(dir.get()) != 0) return Errno(fmt::format("fsync {}", DirOf(path)));
  return absl::OkStatus();
}

// --- e2fsprogs ----------------------------------------------------------------------------

// Runs e2fsprogs' program (mkfs.ext4, resize2fs) with args, its output captured for the error.
absl::Status RunE2fsprogs(const std::string& program, const std::vector<std::string>& args) {
  std::string path;
  for (const char* dir : {"/usr/sbin/", "/sbin/"}) {
    if (access((dir + program).c_str(), X_OK) == 0) {
      path = dir + program;
      break;
    }
  }
  if (path.empty()) return absl::FailedPreconditionError(program + " not found (e2fsprogs)");
  std::vector<char*> argv{const_cast<char*>(program.c_str())};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // The agent's environment is not e2fsprogs' business (MKE2FS_CONFIG and friends change what it
  // builds); C locale so the error we pass on reads the same in every log.
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char lc_env[] = "LC_ALL=C";
  char* envp[] = {path_env, lc_env, nullptr};

  ASSIGN_OR_RETURN(Fd devnull, Open("/dev/null", O_RDONLY));
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Errno("pipe2");
  Fd out_read(pipe_fds[0]), out_write(pipe_fds[1]);
  pid_t pid = fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here on. A signal mask the agent blocks (for signalfd)
    // would otherwise make the child unkillable.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(devnull.get(), 0);
    dup2(out_write.get(), 1);
    dup2(out_write.get(), 2);
    close_range(3, ~0U, 0);
    execve(path.c_str(), argv.data(), envp);
    _exit(127);
  }
  out_write.Reset();
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = read(out_read.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < 8192) output.append(buf, n);
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return Errno("waitpid " + program);
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return absl::OkStatus();
  while (!output.empty() && isspace(static_cast<unsigned char>(output.back()))) output.pop_back();
  return absl::InternalError(
      fmt::format("{} {} failed ({} {}): {}", program, fmt::join(args, " "),
                  WIFEXITED(wstatus) ? "exit" : "signal",
                  WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), output));
}

bool CanResizeInKernel() {
  // ext4 lets only CAP_SYS_RESOURCE resize, online or not; containers (Docker's default set)
  // often drop it while keeping CAP_SYS_ADMIN for mounts.
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return data[CAP_SYS_RESOURCE / 32].effective & (1u << (CAP_SYS_RESOURCE % 32));
}

// --- ext4 superblock ------------------------------------------------------------------------

struct Ext4Geometry {
  uint64_t block_size = 0;
  uint64_t blocks = 0;
  bool needs_recovery = false;  // the journal holds transactions not yet in place
  bool has_errors = false;      // the kernel found corruption while it was mounted
};

// Read from the image itself, so an offline grow that is already done costs no mount.
absl::StatusOr<Ext4Geometry> ReadGeometry(const Fd& image, const std::string& name) {
  unsigned char sb[1024];
  ssize_t n = pread(image.get(), sb, sizeof(sb), 1024);
  if (n < 0) return Errno(fmt::format("read superblock of {}", name));
  auto le16 = [&](size_t off) {
    uint16_t v;
    memcpy(&v, sb + off, sizeof(v));
    return le16toh(v);
  };
  auto le32 = [&](size_t off) {
    uint32_t v;
    memcpy(&v, sb + off, sizeof(v));
    return le32toh(v);
  };
  if (n != sizeof(sb) || le16(0x38) != 0xEF53) {
    return absl::FailedPreconditionError(fmt::format("{} holds no ext4 filesystem", name));
  }
  Ext4Geometry g;
  g.block_size = uint64_t{1024} << le32(0x18);
  g.blocks = le32(0x4);
  constexpr uint32_t kIncompatRecover = 0x4, kIncompat64Bit = 0x80;
  constexpr uint16_t kStateErrors = 0x2;
  if (le32(0x60) & kIncompat64Bit) g.blocks |= uint64_t{le32(0x150)} << 32;
  g.needs_recovery = le32(0x60) & kIncompatRecover;
  g.has_errors = le16(0x3a) & kStateErrors;
  return g;
}

// --- loop devices ---------------------------------------------------------------------------

// loop_info64 carries the backing file's device in the kernel's encoding, not glibc's.
bool SameFile(const loop_info64& info, const struct stat& st) {
  unsigned dev_major = (info.lo_device & 0xfff00) >> 8;
  unsigned dev_minor = (info.lo_device & 0xff) | ((info.lo_device >> 12) & 0xfff00);
  return info.lo_inode == st.st_ino && dev_major == major(st.st_dev) &&
         dev_minor == minor(st.st_dev);
}

// Whether loop device name ("loop3") is bound to the file st describes.
absl::StatusOr<bool> LoopBacks(const std::string& name, const struct stat& st) {
  Fd loop(open(("/dev/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!loop.ok()) {
    if (errno == ENOENT || errno == ENXIO) return false;  // gone meanwhile
    return Errno(fmt::format("open /dev/{}", name));
  }
  loop_info64 info{};
  if (ioctl(loop.get(), LOOP_GET_STATUS64, &info) != 0) {
    if (errno == ENXIO) return false;  // unbound
    return Errno(fmt::format("LOOP_GET_STATUS64 on /dev/{}", name));
  }
  return SameFile(info, st);
}

// The loop devices bound to the file st describes.
absl::StatusOr<std::vector<std::string>> LoopsBacking(const struct stat& st) {
  std::vector<std::string> found;
  DIR* dir = opendir("/sys/block");
  if (!dir) return Errno("opendir /sys/block");
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    // loop/ exists only while the device is bound: unbound ones cost no open.
    if (name.starts_with("loop") && Exists("/sys/block/" + name + "/loop")) names.push_back(name);
  }
  closedir(dir);
  for (const auto& name : names) {
    ASSIGN_OR_RETURN(bool backs, LoopBacks(name, st));
    if (backs) found.push_back(name);
  }
  return found;
}

// A filesystem (in any mount namespace, attached or not) holds its device exclusively, so an
// exclusive open is the one test that sees every mount.
absl::StatusOr<bool> LoopHeld(const std::string& name) {
  Fd loop(open(("/dev/" + name).c_str(), O_RDONLY | O_EXCL | O_CLOEXEC));
  if (loop.ok()) return false;
  if (errno == EBUSY) return true;
  if (errno == ENOENT || errno == ENXIO) return false;
  return Errno(fmt::format("open /dev/{}", name));
}

absl::Status CheckNotInUse(const std::string& image, const struct stat& st) {
  ASSIGN_OR_RETURN(auto loops, LoopsBacking(st));
  for (const auto& name : loops) {
    ASSIGN_OR_RETURN(bool held, LoopHeld(name));
    if (held) {
      return absl::FailedPreconditionError(
          fmt::format("{} is in use: mounted from /dev/{}", image, name));
    }
  }
  return absl::OkStatus();
}

// The loop device name of block device dev, or nullopt when dev is not a bound loop device.
std::optional<std::string> LoopNameOf(dev_t dev) {
  std::string sys = fmt::format("/sys/dev/block/{}:{}", major(dev), minor(dev));
  if (!Exists(sys + "/loop")) return std::nullopt;
  char target[PATH_MAX];
  ssize_t n = readlink(sys.c_str(), target, sizeof(target) - 1);
  if (n <= 0) return std::nullopt;
  std::string link(target, n);
  return link.substr(link.rfind('/') + 1);
}

// The loop device under mountpoint's filesystem when that is a mount of image, else nullopt (an
// empty mountpoint included).
absl::StatusOr<std::optional<std::string>> MountedLoopOf(const std::string& mountpoint,
                                                         const struct stat& image_st) {
  if (mountpoint.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(bool mounted, IsMountPoint(mountpoint));
  if (!mounted) return std::nullopt;
  ASSIGN_OR_RETURN(struct stat mount_st, Stat(mountpoint));
  auto loop = LoopNameOf(mount_st.st_dev);
  if (!loop) return std::nullopt;
  ASSIGN_OR_RETURN(bool backs, LoopBacks(*loop, image_st));
  if (!backs) return std::nullopt;
  return loop;
}

struct AttachedLoop {
  std::string device;  // /dev/loopN
  Fd fd;               // the device stays bound while this is open or the fs is mounted
};

// Binds a free loop device to image with autoclear: the device unbinds itself when its last
// opener (us, then the filesystem) goes, so neither a failed mount nor a crash leaks it.
absl::StatusOr<AttachedLoop> AttachLoop(const Fd& image, const std::string& name) {
  ASSIGN_OR_RETURN(Fd control, Open("/dev/loop-control", O_RDWR));
  // Another process (udisks, losetup, a second agent) can take the device GET_FREE handed us
  // before we configure it; the kernel then says EBUSY and we ask again.
  for (int attempt = 0; attempt < 32; ++attempt) {
    int index = ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (index < 0) return Errno("LOOP_CTL_GET_FREE");
    AttachedLoop loop;
    loop.device = fmt::format("/dev/loop{}", index);
    ASSIGN_OR_RETURN(loop.fd, Open(loop.device, O_RDWR));
    loop_config config{};
    config.fd = image.get();
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    // Only for people reading losetup -l; we compare by device and inode.
    snprintf(reinterpret_cast<char*>(config.info.lo_file_name), LO_NAME_SIZE, "%s", name.c_str());
    if (ioctl(loop.fd.get(), LOOP_CONFIGURE, &config) == 0) return loop;
    if (errno != EBUSY) return Errno(fmt::format("LOOP_CONFIGURE {} on {}", name, loop.device));
  }
  return absl::UnavailableError(fmt::format("no free loop device for {}", name));
}

// --- copying --------------------------------------------------------------------------------

// copy_file_range refuses some pairs of filesystems (EXDEV since 5.19 across different ones);
// plain reads and writes always work.
absl::Status CopyRangeSlow(int in, int out, int64_t off, int64_t end) {
  std::vector<char> buf(1 << 20);
  while (off < end) {
    ssize_t n = pread(in, buf.data(), std::min<int64_t>(buf.size(), end - off), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read");
    if (n == 0) return absl::DataLossError("source shrank while being copied");
    for (ssize_t done = 0; done < n;) {
      ssize_t w = pwrite(out, buf.data() + done, n - done, off + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Errno("write");
      done += w;
    }
    off += n;
  }
  return absl::OkStatus();
}

// Copies the data extents of in's first size bytes into out (already that size), leaving holes.
absl::Status CopySparse(int in, int out, int64_t size) {
  bool fast = true;
  for (off_t off = 0; off < size;) {
    off_t data = lseek(in, off, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // only a hole is left
    if (data < 0) return Errno("lseek SEEK_DATA");
    if (data >= size) break;
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0) return Errno("lseek SEEK_HOLE");
    hole = std::min<off_t>(hole, size);
    loff_t in_off = data, out_off = data;
    while (fast && in_off < hole) {
      ssize_t n = copy_file_range(in, &in_off, out, &out_off, hole - in_off, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
        fast = false;
        break;
      }
      if (n < 0) return Errno("copy_file_range");
      if (n == 0) return absl::DataLossError("source shrank while being copied");
    }
    if (in_off < hole) RETURN_IF_ERROR(CopyRangeSlow(in, out, in_off, hole));
    off = hole;
  }
  return absl::OkStatus();
}

// --- resizing -------------------------------------------------------------------------------

// A mount of an image that is in no mount namespace (fsopen/fsmount), so nothing can see or
// propagate it, and that dissolves when its fds close, SIGKILL included, taking the autoclear loop
// device with it.
struct DetachedMount {
  AttachedLoop loop;
  Fd context;
  Fd mount;
};

absl::StatusOr<DetachedMount> MountDetached(const Fd& image, const std::string& name) {
  DetachedMount m;
  ASSIGN_OR_RETURN(m.loop, AttachLoop(image, name));
  m.context = Fd(fsopen("ext4", FSOPEN_CLOEXEC));
  if (!m.context.ok()) return Errno("fsopen ext4");
  auto fs_error = [&](const char* what) {
    int saved = errno;
    // The kernel leaves the reason in the context's log ("e ext4: ...").
    std::string log;
    char buf[512];
    ssize_t n;
    while ((n = read(m.context.get(), buf, sizeof(buf))) > 0) {
      if (!log.empty()) log += "; ";
      log.append(buf, n);
    }
    return absl::ErrnoToStatus(saved, fmt::format("{} {} on {}{}{}", what, name, m.loop.device,
                                                  log.empty() ? "" : ": ", log));
  };
  if (fsconfig(m.context.get(), FSCONFIG_SET_STRING, "source", m.loop.device.c_str(), 0) != 0) {
    return fs_error("fsconfig source");
  }
  if (fsconfig(m.context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return fs_error("mount ext4");
  }
  m.mount = Fd(fsmount(m.context.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
  if (!m.mount.ok()) return fs_error("fsmount");
  return m;
}

// Grows the filesystem in an unmounted image to blocks. The kernel's resize is journaled, so a
// crash leaves the old or the new filesystem; mounting also replays a journal left by a crash.
absl::Status ResizeOffline(const Fd& image, const std::string& name, const Ext4Geometry& geometry,
                           uint64_t blocks) {
  if (geometry.has_errors) {
    return absl::FailedPreconditionError(
        fmt::format("{} has filesystem errors; e2fsck it before growing", name));
  }
  if (CanResizeInKernel()) {
    ASSIGN_OR_RETURN(DetachedMount mount, MountDetached(image, name));
    Fd root(openat(mount.mount.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.ok()) return Errno(fmt::format("open root of {}", name));
    if (ioctl(root.get(), EXT4_IOC_RESIZE_FS, &blocks) != 0) {
      return Errno(fmt::format("EXT4_IOC_RESIZE_FS {} to {} blocks", name, blocks));
    }
    return absl::OkStatus();
  }
  // Without CAP_SYS_RESOURCE only resize2fs can, and it is not journaled: a crash midway can
  // damage the filesystem. It also resizes under a journal still waiting to be replayed (whose
  // replay would then undo part of the resize), so a mount and unmount replays it first.
  if (geometry.needs_recovery) RETURN_IF_ERROR(MountDetached(image, name).status());
  // -f: it would otherwise insist on an e2fsck since the last mount, which we do not run.
  return RunE2fsprogs("resize2fs", {"-f", name, std::to_string(blocks)});
}

// Extends image (open read-write) to size and its filesystem to fill it, offline. A crash between
// the two steps leaves a file larger than its filesystem, which the next call completes.
absl::Status GrowOffline(const Fd& image, const std::string& name, int64_t size) {
  struct stat st;
  if (fstat(image.get(), &st) != 0) return Errno(fmt::format("stat {}", name));
  ASSIGN_OR_RETURN(Ext4Geometry geometry, ReadGeometry(image, name));
  if (st.st_size < size) {
    if (ftruncate(image.get(), size) != 0) return Errno(fmt::format("truncate {}", name));
    if (fsync(image.get()) != 0) return Errno(fmt::format("fsync {}", name));
  }
  uint64_t blocks = static_cast<uint64_t>(size) / geometry.block_size;
  if (geometry.blocks >= blocks) return absl::OkStatus();
  return ResizeOffline(image, name, geometry, blocks);
}

// --- mountinfo ------------------------------------------------------------------------------

struct MountEntry {
  int id = 0;
  int parent = 0;
  std::string mount_point;
  int peer_group = 0;  // "shared:N"; 0 when not shared
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

absl::StatusOr<std::vector<MountEntry>> ReadMountInfo() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return absl::InternalError("cannot read /proc/self/mountinfo");
  std::vector<MountEntry> entries;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    MountEntry entry;
    std::string dev, root, options, field;
    fields >> entry.id >> entry.parent >> dev >> root >> entry.mount_point >> options;
    entry.mount_point = Unescape(entry.mount_point);
    while (fields >> field && field != "-") {
      if (field.starts_with("shared:")) entry.peer_group = std::atoi(field.c_str() + 7);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (!realpath(path.c_str(), resolved)) return Errno(fmt::format("realpath {}", path));
  return std::string(resolved);
}

// Thaws the filesystem under path if it is frozen. The freeze of a SnapshotImage that was killed
// midway outlives the agent and would block every writer in the instance forever; the agent is
// single-threaded, so no snapshot of its own can be running when this is called.
void Thaw(const std::string& path) {
  Fd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.ok()) (void)ioctl(dir.get(), FITHAW, 0);  // EINVAL when not frozen
}

}  // namespace

absl::Status CreateExt4Image(const std::string& path, int64_t size_bytes, uint32_t root_uid,
                             uint32_t root_gid) {
  if (size_bytes <= 0) {
    return absl::InvalidArgumentError(fmt::format("bad image size {}", size_bytes));
  }
  if (Exists(path)) return absl::OkStatus();
  std::string tmp = path + ".tmp";
  ASSIGN_OR_RETURN(Fd fd, CreateTemp(tmp));
  if (ftruncate(fd.get(), size_bytes) != 0) return Errno(fmt::format("truncate {}", tmp));
  // -b 4096: mke2fs picks 1 KiB blocks for small filesystems, which a volume keeps however large
  // it grows later. -m 0: the whole volume is the user's. Lazy init leaves the inode tables and
  // journal unwritten (holes read as zeros), so a terabyte volume formats in milliseconds and
  // costs a few MB until used.
  RETURN_IF_ERROR(RunE2fsprogs(
      "mkfs.ext4",
      {"-q", "-F", "-b", "4096", "-m", "0", "-E",
       fmt::format("lazy_itable_init=1,lazy_journal_init=1,root_owner={}:{}", root_uid, root_gid),
       tmp}));
  return Commit(fd, tmp, path);
}

absl::Status CopyImage(const std::string& src, const std::string& dst, int64_t size_bytes) {
  if (Exists(dst)) return absl::OkStatus();
  ASSIGN_OR_RETURN(Fd in, Open(src, O_RDONLY));
  struct stat st;
  if (fstat(in.get(), &st) != 0) return Errno(fmt::format("stat {}", src));
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(fmt::format("{} is not a regular file", src));
  }
  if (size_bytes != 0 && size_bytes < st.st_size) {
    return absl::InvalidArgumentError(fmt::format(
        "cannot copy {} ({} bytes) into a smaller {} bytes", src, st.st_size, size_bytes));
  }
  // A mounted source changes under the copy; SnapshotImage freezes it first.
  RETURN_IF_ERROR(CheckNotInUse(src, st));
  std::string tmp = dst + ".tmp";
  ASSIGN_OR_RETURN(Fd out, CreateTemp(tmp));
  if (ftruncate(out.get(), st.st_size) != 0) return Errno(fmt::format("truncate {}", tmp));
  RETURN_IF_ERROR(CopySparse(in.get(), out.get(), st.st_size));
  if (size_bytes > st.st_size) RETURN_IF_ERROR(GrowOffline(out, tmp, size_bytes));
  return Commit(out, tmp, dst);
}

absl::StatusOr<bool> IsMountPoint(const std::string& path) {
  struct statx stx;
  if (statx(AT_FDCWD, path.c_str(), 0, STATX_TYPE, &stx) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return Errno(fmt::format("statx {}", path));
  }
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
    return absl::FailedPreconditionError("statx lacks STATX_ATTR_MOUNT_ROOT (needs Linux 5.8)");
  }
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

absl::Status MountImage(const std::string& image, const std::string& mountpoint) {
  ASSIGN_OR_RETURN(struct stat image_st, StatRegular(image));
  RETURN_IF_ERROR(MakeDirs(mountpoint));
  ASSIGN_OR_RETURN(bool mounted, IsMountPoint(mountpoint));
  if (mounted) {
    ASSIGN_OR_RETURN(auto loop, MountedLoopOf(mountpoint, image_st));
    if (!loop) {
      return absl::FailedPreconditionError(
          fmt::format("something other than {} is mounted at {}", image, mountpoint));
    }
    Thaw(mountpoint);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckNotInUse(image, image_st));
  ASSIGN_OR_RETURN(Fd image_fd, Open(image, O_RDWR));
  ASSIGN_OR_RETURN(AttachedLoop loop, AttachLoop(image_fd, image));
  if (mount(loop.device.c_str(), mountpoint.c_str(), "ext4", MS_NOSUID | MS_NODEV,
            "errors=remount-ro") != 0) {
    return Errno(fmt::format("mount {} ({}) at {}", image, loop.device, mountpoint));
  }
  return absl::OkStatus();
}

absl::Status Unmount(const std::string& mountpoint, bool force) {
  // Bounded: each round removes one mount stacked at mountpoint.
  for (int round = 0; round < 16; ++round) {
    ASSIGN_OR_RETURN(bool mounted, IsMountPoint(mountpoint));
    if (!mounted) return absl::OkStatus();
    Thaw(mountpoint);
    if (umount2(mountpoint.c_str(), force ? MNT_DETACH : 0) != 0) {
      if (errno == EINVAL) continue;  // no longer a mount point
      if (errno == EBUSY) {
        return absl::FailedPreconditionError(
            fmt::format("volume at {} is busy: files are open or processes use it", mountpoint));
      }
      return Errno(fmt::format("umount {}", mountpoint));
    }
  }
  return absl::InternalError(fmt::format("{} stays a mount point after unmounting", mountpoint));
}

absl::Status GrowImage(const std::string& image, const std::string& mountpoint,
                       int64_t new_size_bytes) {
  ASSIGN_OR_RETURN(struct stat st, StatRegular(image));
  if (new_size_bytes < st.st_size) {
    return absl::InvalidArgumentError(
        fmt::format("cannot shrink {} from {} to {} bytes", image, st.st_size, new_size_bytes));
  }
  ASSIGN_OR_RETURN(auto loop, MountedLoopOf(mountpoint, st));
  ASSIGN_OR_RETURN(Fd fd, Open(image, O_RDWR));
  if (!loop) {
    RETURN_IF_ERROR(CheckNotInUse(image, st));
    return GrowOffline(fd, image, new_size_bytes);
  }
  if (!CanResizeInKernel()) {
    return absl::PermissionDeniedError(
        fmt::format("growing {} while mounted needs CAP_SYS_RESOURCE, which kumo lacks", image));
  }
  // Online: the file, then the loop device's idea of its size, then the filesystem. Each step is
  // a no-op when already done, so a retry after a crash finishes the job.
  ASSIGN_OR_RETURN(Ext4Geometry geometry, ReadGeometry(fd, image));
  if (ftruncate(fd.get(), new_size_bytes) != 0) return Errno(fmt::format("truncate {}", image));
  if (fsync(fd.get()) != 0) return Errno(fmt::format("fsync {}", image));
  ASSIGN_OR_RETURN(Fd loop_fd, Open("/dev/" + *loop, O_RDONLY));
  if (ioctl(loop_fd.get(), LOOP_SET_CAPACITY, 0) != 0) {
    return Errno(fmt::format("LOOP_SET_CAPACITY on /dev/{}", *loop));
  }
  ASSIGN_OR_RETURN(Fd root, Open(mountpoint, O_RDONLY | O_DIRECTORY));
  uint64_t blocks = static_cast<uint64_t>(new_size_bytes) / geometry.block_size;
  if (ioctl(root.get(), EXT4_IOC_RESIZE_FS, &blocks) != 0) {
    return Errno(fmt::format("EXT4_IOC_RESIZE_FS {} to {} blocks", mountpoint, blocks));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SnapshotImage(const std::string& image, const std::string& mountpoint,
                                      const std::string& dst) {
  if (!Exists(dst)) {
    ASSIGN_OR_RETURN(struct stat st, StatRegular(image));
    ASSIGN_OR_RETURN(auto loop, MountedLoopOf(mountpoint, st));
    if (!loop) RETURN_IF_ERROR(CheckNotInUse(image, st));
    ASSIGN_OR_RETURN(Fd in, Open(image, O_RDONLY));
    std::string tmp = dst + ".tmp";
    ASSIGN_OR_RETURN(Fd out, CreateTemp(tmp));
    if (ftruncate(out.get(), st.st_size) != 0) return Errno(fmt::format("truncate {}", tmp));
    {
      Fd frozen;
      if (loop) {
        // FIFREEZE writes everything back through the loop device into the image's page cache
        // and stops new writes; ext4 also marks its journal clean, so the copy mounts without a
        // replay. EBUSY: still frozen by a snapshot that was killed, which is as good.
        ASSIGN_OR_RETURN(frozen, Open(mountpoint, O_RDONLY | O_DIRECTORY));
        if (ioctl(frozen.get(), FIFREEZE, 0) != 0 && errno != EBUSY) {
          return Errno(fmt::format("FIFREEZE {}", mountpoint));
        }
      }
      // Thawed when this scope ends, however it ends; the writers in the instance wait until then.
      struct Thawer {
        const Fd& fd;
        ~Thawer() {
          if (fd.ok()) (void)ioctl(fd.get(), FITHAW, 0);
        }
      } thawer{frozen};
      RETURN_IF_ERROR(CopySparse(in.get(), out.get(), st.st_size));
    }
    // The fsync (the slow part) is after the thaw: the instance need not wait for our disk.
    RETURN_IF_ERROR(Commit(out, tmp, dst));
  }
  ASSIGN_OR_RETURN(ImageUsage usage, StatImage(dst));
  return usage.allocated_bytes;
}

absl::Status MakeSharedMount(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir));
  ASSIGN_OR_RETURN(std::string path, RealPath(dir));
  ASSIGN_OR_RETURN(bool mounted, IsMountPoint(path));
  ASSIGN_OR_RETURN(auto entries, ReadMountInfo());
  if (!mounted) {
    for (const auto& entry : entries) {
      if (entry.mount_point.starts_with(path + "/")) {
        return absl::FailedPreconditionError(
            fmt::format("{} is mounted under {}, which a bind of {} would hide", entry.mount_point,
                        path, path));
      }
    }
    if (mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return Errno(fmt::format("bind mount {}", path));
    }
    ASSIGN_OR_RETURN(entries, ReadMountInfo());
  }
  // The bind starts in the peer group of the mount it was taken from (the host's /, shared under
  // systemd). Mounts under it would then propagate to every peer, including the directory beneath
  // the bind itself, multiplying with each volume; private then shared gives it a group of its own.
  const MountEntry* self = nullptr;
  for (const auto& entry : entries) {
    if (entry.mount_point == path) self = &entry;  // the last one is on top
  }
  if (!self) return absl::InternalError(fmt::format("{} missing from mountinfo", path));
  int parent_group = 0;
  for (const auto& entry : entries) {
    if (entry.id == self->parent) parent_group = entry.peer_group;
  }
  if (self->peer_group != 0 && self->peer_group != parent_group) return absl::OkStatus();
  if (self->peer_group != 0 && mount(nullptr, path.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
    return Errno(fmt::format("make {} private", path));
  }
  if (mount(nullptr, path.c_str(), nullptr, MS_SHARED, nullptr) != 0) {
    return Errno(fmt::format("make {} shared", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageUsage> StatImage(const std::string& image) {
  ASSIGN_OR_RETURN(struct stat st, StatRegular(image));
  return ImageUsage{.size_bytes = st.st_size, .allocated_bytes = int64_t{st.st_blocks} * 512};
}

}  // namespace kumo::host
