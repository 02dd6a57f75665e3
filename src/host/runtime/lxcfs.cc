#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
  mkdir(kLxcfsDir, 0755);
  // Started once per host, at daemon start: not on any request path. It outlives kumod on
  // purpose, since running containers keep using its files.
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
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
