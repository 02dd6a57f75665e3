#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "host/runtime/runtime.h"

namespace kumo::host {
namespace {

constexpr char kLxcfsDir[] = "/var/lib/lxcfs";

bool Serving() {
  struct stat st;
  return stat((std::string(kLxcfsDir) + "/proc/meminfo").c_str(), &st) == 0;
}

}  // namespace

absl::Status EnsureLxcfs() {
  if (Serving()) return absl::OkStatus();
  if (access("/usr/bin/lxcfs", X_OK) != 0) {
    return absl::FailedPreconditionError("lxcfs is not installed (scripts/deps.sh installs it)");
  }
  // A FUSE mount whose lxcfs died (killed with its session, OOM) answers ENOTCONN forever and
  // makes a new lxcfs refuse the mountpoint. Containers still holding it are already broken, so
  // detaching it costs nothing.
  struct stat st;
  if (stat(kLxcfsDir, &st) != 0 && errno == ENOTCONN) umount2(kLxcfsDir, MNT_DETACH);
  mkdir(kLxcfsDir, 0755);
  // Started once per host, at daemon start: not on any request path. It outlives kumod on
  // purpose, since running containers keep using its files.
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    // Nothing of kumod's may outlive it in lxcfs: not its sockets and database (close_range), not
    // the pipe a caller reads kumod's output from (which would then never see EOF).
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    close_range(3, ~0U, 0);
    execl("/usr/bin/lxcfs", "lxcfs", kLxcfsDir, static_cast<char*>(nullptr));
    _exit(127);
  }
  waitpid(pid, nullptr, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Serving()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError(fmt::format("lxcfs did not come up on {}", kLxcfsDir));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::OkStatus();
}

}  // namespace kumo::host
