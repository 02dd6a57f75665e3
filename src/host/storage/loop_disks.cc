// Disks on loop-mounted ext4 images (disks.h).
#include <fmt/format.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/status_macros.h"
#include "host/storage/disks.h"
#include "host/storage/volumes.h"

namespace kumo::host {
namespace {

// Mount points in /proc/self/mountinfo escape space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out.push_back(char(v));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

class LoopDisks : public Disks {
 public:
  // A launch creates its root volume, and no program may run on the launch path: each (size,
  // owner) is formatted once, into a template beside the volumes, and volumes are hole-preserving
  // copies of it (bench/storage_bench.cc: 11 ms against 29 ms for mkfs.ext4 on 8 GiB). The
  // copies share the template's filesystem UUID, which ext4 does not mind for loop mounts.
  absl::Status Create(const std::string& image, int64_t size, uint32_t owner) override {
    if (access(image.c_str(), F_OK) == 0) return absl::OkStatus();
    std::string dir = std::filesystem::path(image).parent_path().string();
    std::string templ = fmt::format("{}/.ext4-{}-{}.tmpl", dir, size, owner);
    RETURN_IF_ERROR(CreateExt4Image(templ, size, owner, owner));
    return CopyImage(templ, image);
  }
  absl::Status Copy(const std::string& src, const std::string& dst, int64_t size) override {
    return CopyImage(src, dst, size);
  }
  absl::Status Mount(const std::string& image, const std::string& mountpoint) override {
    return MountImage(image, mountpoint);
  }
  absl::Status Unmount(const std::string& mountpoint, bool force) override {
    return host::Unmount(mountpoint, force);
  }
  absl::Status UnmountAll(const std::string& dir) override {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    std::vector<std::string> below;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string id, parent, dev, root, point;
      fields >> id >> parent >> dev >> root >> point;
      point = Unescape(point);
      if (point == dir || point.rfind(dir + "/", 0) == 0) below.push_back(point);
    }
    // Deepest first; a path mounted several times is detached as often.
    std::sort(below.begin(), below.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& p : below) {
      if (umount2(p.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
        return absl::InternalError(fmt::format("Cannot unmount {}: {}", p, strerror(errno)));
      }
    }
    return absl::OkStatus();
  }
  absl::Status Grow(const std::string& image, const std::string& mountpoint,
                    int64_t size) override {
    return GrowImage(image, mountpoint, size);
  }
  absl::StatusOr<int64_t> Snapshot(const std::string& image, const std::string& mountpoint,
                                   const std::string& dst) override {
    return SnapshotImage(image, mountpoint, dst);
  }
  absl::Status MakeShared(const std::string& dir) override { return MakeSharedMount(dir); }
};

}  // namespace

std::unique_ptr<Disks> NewLoopDisks() { return std::make_unique<LoopDisks>(); }

}  // namespace kumo::host
