#include "host/agent/idmap.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/status_macros.h"

extern char** environ;

namespace kumo::host {
namespace {

IdRange FirstRootRange(const std::string& path) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::stringstream ss(line);
    std::string user, base, count;
    if (!std::getline(ss, user, ':') || user != "root") continue;
    if (!std::getline(ss, base, ':') || !std::getline(ss, count)) continue;
    try {
      return IdRange{uint32_t(std::stoul(base)), uint32_t(std::stoul(count))};
    } catch (...) {
      return {};
    }
  }
  return {};
}

// nftw has no user pointer: the walk is single-threaded (the host agent), so a file-scope
// pointer is enough.
const IdRange* g_range = nullptr;
int g_errno = 0;

int ShiftOne(const char* path, const struct stat* st, int, struct FTW*) {
  const IdRange& r = *g_range;
  uid_t uid = st->st_uid < r.count ? st->st_uid + r.base : st->st_uid;
  gid_t gid = st->st_gid < r.count ? st->st_gid + r.base : st->st_gid;
  if (uid == st->st_uid && gid == st->st_gid) return 0;
  bool link = S_ISLNK(st->st_mode);
  // chown clears set-id bits and file capabilities: put both back.
  char caps[256];
  ssize_t ncaps = link ? -1 : lgetxattr(path, "security.capability", caps, sizeof caps);
  if (lchown(path, uid, gid) != 0) {
    g_errno = errno;
    return 1;
  }
  if (!link) {
    if (chmod(path, st->st_mode & 07777) != 0 ||
        (ncaps > 0 && lsetxattr(path, "security.capability", caps, size_t(ncaps), 0) != 0)) {
      g_errno = errno;
      return 1;
    }
  }
  return 0;
}

absl::Status CopyTree(const std::string& from, const std::string& to) {
  std::vector<std::string> args = {"cp", "-a", "--reflink=auto", "--", from + "/.", to};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "cp", nullptr, nullptr, argv.data(), environ) != 0) {
    return absl::InternalError("Cannot run cp");
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(fmt::format("Copying {} to {} failed", from, to));
  }
  return absl::OkStatus();
}

}  // namespace

IdRange RootSubordinateRange(const std::string& subuid, const std::string& subgid) {
  IdRange u = FirstRootRange(subuid), g = FirstRootRange(subgid);
  if (u.base == 0 || u.base != g.base || u.count < 65536 || g.count < 65536) return {};
  return IdRange{u.base, 65536};
}

absl::Status ShiftOwners(const std::string& path, const IdRange& range) {
  g_range = &range;
  g_errno = 0;
  int rc = nftw(path.c_str(), ShiftOne, 64, FTW_PHYS);
  g_range = nullptr;
  if (rc != 0) {
    return absl::InternalError(fmt::format("Shifting owners under {} failed: {}", path,
                                           strerror(g_errno ? g_errno : errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ShiftedRootfs(const std::string& rootfs, const IdRange& range,
                                          const std::string& shifted_dir) {
  // Named by the image's path, its directory's identity and the range, so a rebuilt image (a new
  // directory, at a new path or the same one) gets a new copy.
  struct stat st = {};
  if (stat(rootfs.c_str(), &st) != 0)
    return absl::NotFoundError(fmt::format("No image at {}", rootfs));
  std::string key = HexEncode(Sha256(fmt::format("{}\n{}\n{}.{}", rootfs, range.base,
                                                 uint64_t(st.st_ino), int64_t(st.st_mtime))))
                        .substr(0, 16);
  std::string dir = fmt::format("{}/{}", shifted_dir, key);
  std::string done = dir + "/rootfs";
  if (access(done.c_str(), F_OK) == 0) return done;
  RETURN_IF_ERROR(MakeDirs(shifted_dir));
  std::string tmpl = fmt::format("{}/.tmp-{}-XXXXXX", shifted_dir, key);
  if (!mkdtemp(tmpl.data())) return absl::InternalError("mkdtemp failed");
  std::string tmp = tmpl;
  chmod(tmp.c_str(), 0755);
  auto fail = [&](absl::Status s) {
    (void)RemoveTree(tmp);
    return s;
  };
  if (auto s = MakeDirs(tmp + "/rootfs"); !s.ok()) return fail(s);
  if (auto s = CopyTree(rootfs, tmp + "/rootfs"); !s.ok()) return fail(s);
  if (auto s = ShiftOwners(tmp + "/rootfs", range); !s.ok()) return fail(s);
  std::ofstream(tmp + "/source") << rootfs << "\n" << range.base << "\n";
  if (rename(tmp.c_str(), dir.c_str()) != 0) {
    (void)RemoveTree(tmp);
    if (access(done.c_str(), F_OK) == 0) return done;  // another daemon won the race
    return absl::InternalError(fmt::format("Cannot publish the shifted image {}", dir));
  }
  return done;
}

}  // namespace kumo::host
