// Runtime on liblxc. liblxc reports failure as a bool and leaves the detail in
// c->error_string; every call here turns that into a Status with the container's name.
#include <fcntl.h>
#include <fmt/format.h>
#include <lxc/lxccontainer.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include "common/files.h"
#include "common/status_macros.h"
#include "host/runtime/runtime.h"

namespace kumo::host {
namespace {

struct ContainerPut {
  void operator()(lxc_container* c) const { lxc_container_put(c); }
};
using Container = std::unique_ptr<lxc_container, ContainerPut>;

constexpr char kCommonConfig[] = "/usr/share/lxc/config/common.conf";
// Unprivileged containers: no device cgroup rules or capability drops (the user namespace is
// the boundary), and a writable /sys.
constexpr char kUsernsConfig[] = "/usr/share/lxc/config/userns.conf";
// common.conf's device allow list (which userns.conf empties): the nodes every system container
// needs (null, zero, full, tty, console, ptmx, random, urandom, pts, fuse), and mknod of any.
constexpr const char* kDefaultDeviceRules[] = {
    "c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 5:0 rwm",
    "c 5:1 rwm", "c 5:2 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 136:* rwm", "c 10:229 rwm"};

using ConfigItems = std::vector<std::pair<std::string, std::string>>;

// lxc.mount.entry is an fstab line: fields split on whitespace, and getmntent's octal escapes
// (\040) are decoded, so neither may appear in a path.
absl::Status CheckMountPath(std::string_view what, std::string_view path) {
  if (path.empty() || path[0] != '/' || path.find_first_of(" \t\n\r\v\f\\") != path.npos) {
    return absl::InvalidArgumentError(fmt::format(
        "{} '{}' must be an absolute path without whitespace or backslashes", what, path));
  }
  return absl::OkStatus();
}

// Device passthrough and read-only host files (a GPU instance's device nodes and driver files).
// Unprivileged containers normally have no device rules: userns.conf clears them, since a
// process in a user namespace cannot make device nodes. A node bound in from the host is
// openable all the same, so once there are any, the device cgroup is put back to
// common.conf's list plus exactly these devices: the instance reaches its own GPUs and no other
// node of the driver's major, however one might come to be visible inside. liblxc applies the
// rules from the monitor, which runs as host root, so they hold in unprivileged containers too.
absl::StatusOr<ConfigItems> PassthroughItems(const ContainerSpec& spec, bool v2) {
  ConfigItems items;
  if (!spec.devices.empty()) {
    std::string key = v2 ? "lxc.cgroup2.devices" : "lxc.cgroup.devices";
    items.emplace_back(key + ".deny", "a");
    for (const char* rule : kDefaultDeviceRules) items.emplace_back(key + ".allow", rule);
    for (const std::string& dev : spec.devices) {
      RETURN_IF_ERROR(CheckMountPath("Device", dev));
      std::string base = dev.substr(dev.rfind('/') + 1);
      struct stat st;
      if (base.empty() || base == "." || base == ".." || stat(dev.c_str(), &st) != 0 ||
          !S_ISCHR(st.st_mode)) {
        return absl::InvalidArgumentError(fmt::format("{} is not a character device", dev));
      }
      items.emplace_back(key + ".allow",
                         fmt::format("c {}:{} rwm", major(st.st_rdev), minor(st.st_rdev)));
      // At /dev/<name> whatever the host path: the test facility's stand-in nodes live outside
      // /dev. Not optional: a GPU instance that cannot have its GPU must fail to start rather
      // than boot without it (the launch is retried, then fails with Server.InternalError).
      items.emplace_back("lxc.mount.entry",
                         fmt::format("{} dev/{} none bind,create=file 0 0", dev, base));
    }
  }
  for (const auto& f : spec.read_only_files) {
    RETURN_IF_ERROR(CheckMountPath("Host file", f.host_path));
    RETURN_IF_ERROR(CheckMountPath("Container path", f.container_path));
    std::string_view rel = std::string_view(f.container_path).substr(1);
    // liblxc resolves the target inside the rootfs; still, no path that climbs out of it.
    if (rel.empty() || rel == ".." || rel.starts_with("../") || rel.ends_with("/..") ||
        rel.find("/../") != rel.npos) {
      return absl::InvalidArgumentError(
          fmt::format("Container path '{}' must name a file", f.container_path));
    }
    struct stat st;
    if (stat(f.host_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(fmt::format("{} is not a regular file", f.host_path));
    }
    // liblxc binds, then remounts the bind read-only.
    items.emplace_back("lxc.mount.entry",
                       fmt::format("{} {} none bind,ro,create=file 0 0", f.host_path, rel));
  }
  return items;
}

class LxcRuntime : public Runtime {
 public:
  explicit LxcRuntime(std::string lxcpath) : lxcpath_(std::move(lxcpath)) {}

  absl::Status Create(const ContainerSpec& spec) override {
    bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 &&
              access("/sys/fs/cgroup/memory", F_OK) != 0;
    ASSIGN_OR_RETURN(ConfigItems passthrough, PassthroughItems(spec, v2));
    RETURN_IF_ERROR(MakeDirs(lxcpath_));
    ASSIGN_OR_RETURN(Container c, Open(spec.name));
    std::string rootfs = fmt::format("overlay:{}:{}", spec.rootfs, spec.upper_dir);
    if (c->is_defined(c.get())) {
      char buf[4096] = {};
      c->get_config_item(c.get(), "lxc.rootfs.path", buf, sizeof buf);
      // liblxc reports the path without its "overlay:" backend prefix.
      if (rootfs != buf && rootfs != std::string("overlay:") + buf) {
        return absl::AlreadyExistsError(
            fmt::format("Container {} exists with rootfs {}", spec.name, buf));
      }
      if (c->is_running(c.get())) return absl::OkStatus();
      // Redefined from scratch: liblxc appends to list-valued keys when set twice.
      std::string config = fmt::format("{}/{}/config", lxcpath_, spec.name);
      if (unlink(config.c_str()) != 0 && errno != ENOENT) {
        return absl::InternalError(fmt::format("Failed to remove {}", config));
      }
      c.reset();
      ASSIGN_OR_RETURN(c, Open(spec.name));
    }
    RETURN_IF_ERROR(MakeDirs(spec.upper_dir + "/etc"));
    // systemd sets the hostname from /etc/hostname, overriding LXC's uts name: write both. The
    // upper dir is the guest's root volume, so a guest-made symlink must not redirect this write
    // onto a host file: no following links at either step.
    {
      int etc =
          open((spec.upper_dir + "/etc").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int fd = etc < 0 ? -1
                       : openat(etc, "hostname",
                                O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
      std::string line = spec.hostname + "\n";
      bool ok = fd >= 0 && write(fd, line.data(), line.size()) == ssize_t(line.size());
      if (ok && spec.id_base > 0) ok = fchown(fd, spec.id_base, spec.id_base) == 0;
      if (fd >= 0) close(fd);
      if (etc >= 0) close(etc);
      if (!ok) {
        return absl::InternalError(fmt::format("Failed to write {}/etc/hostname", spec.upper_dir));
      }
    }
    ConfigItems items = {
        {"lxc.include", kCommonConfig},
        {"lxc.uts.name", spec.hostname},
        {"lxc.rootfs.path", rootfs},
        {"lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed"},
        {"lxc.apparmor.profile", "unconfined"},
        // systemd halts on SIGRTMIN+3; liblxc's default SIGPWR would wait out the timeout.
        {"lxc.signal.halt", "SIGRTMIN+3"},
        {"lxc.log.file", fmt::format("{}/{}/lxc.log", lxcpath_, spec.name)},
        {"lxc.log.level", "WARN"},
        {v2 ? "lxc.cgroup2.cpu.weight" : "lxc.cgroup.cpu.shares",
         std::to_string(v2 ? 100 * spec.vcpus : 1024 * spec.vcpus)},
    };
    if (spec.id_base > 0) {
      std::string map = fmt::format("0 {} {}", spec.id_base, spec.id_count);
      items.insert(items.begin() + 1, {"lxc.include", kUsernsConfig});
      items.emplace_back("lxc.idmap", "u " + map);
      items.emplace_back("lxc.idmap", "g " + map);
    }
    if (spec.net_link.empty()) {
      items.emplace_back("lxc.net.0.type", "empty");
    } else {
      items.insert(items.end(), {{"lxc.net.0.type", "phys"},
                                 {"lxc.net.0.link", spec.net_link},
                                 {"lxc.net.0.name", "eth0"},
                                 {"lxc.net.0.flags", "up"}});
      if (!spec.net_hwaddr.empty()) items.emplace_back("lxc.net.0.hwaddr", spec.net_hwaddr);
      if (!spec.net_ipv4.empty()) items.emplace_back("lxc.net.0.ipv4.address", spec.net_ipv4);
      if (!spec.net_gateway.empty()) {
        items.emplace_back("lxc.net.0.ipv4.gateway", spec.net_gateway);
      }
    }
    if (!spec.volumes_dir.empty()) {
      if (spec.volumes_dir.find_first_of(" \t\n") != std::string::npos) {
        return absl::InvalidArgumentError("The volumes dir must not contain whitespace");
      }
      // The container's copy of the host's shared mount is a slave (its mount namespace belongs
      // to a less privileged user namespace, and liblxc makes / a slave anyway), and so is this
      // bind of it: volumes mounted on the host later appear inside.
      items.emplace_back("lxc.mount.entry",
                         fmt::format("{} mnt none rbind,create=dir 0 0", spec.volumes_dir));
    }
    if (!spec.console_log.empty()) {
      items.emplace_back("lxc.console.logfile", spec.console_log);
      items.emplace_back("lxc.console.size", "1MB");
    }
    if (!spec.cpuset.empty()) {
      items.emplace_back(v2 ? "lxc.cgroup2.cpuset.cpus" : "lxc.cgroup.cpuset.cpus", spec.cpuset);
    }
    if (spec.memory_bytes > 0) {
      items.emplace_back(v2 ? "lxc.cgroup2.memory.max" : "lxc.cgroup.memory.limit_in_bytes",
                         std::to_string(spec.memory_bytes));
    }
    items.insert(items.end(), passthrough.begin(), passthrough.end());
    for (const auto& [k, v] : items) {
      if (!c->set_config_item(c.get(), k.c_str(), v.c_str())) {
        return Error(c, fmt::format("set {}={}", k, v));
      }
    }
    if (!c->save_config(c.get(), nullptr)) return Error(c, "save config");
    return absl::OkStatus();
  }

  absl::Status Start(std::string_view name) override {
    ASSIGN_OR_RETURN(Container c, OpenDefined(name));
    if (c->is_running(c.get())) return absl::OkStatus();
    c->want_daemonize(c.get(), true);
    // The monitor is a fork of the caller: it must not keep the caller's fds (the host agent's
    // socket to kumod, netlink sockets) open for the container's lifetime.
    c->want_close_all_fds(c.get(), true);
    if (!c->start(c.get(), 0, nullptr)) return Error(c, "start");
    if (!c->wait(c.get(), "RUNNING", 30)) return Error(c, "wait for RUNNING");
    return absl::OkStatus();
  }

  absl::Status Stop(std::string_view name, std::chrono::seconds timeout) override {
    ASSIGN_OR_RETURN(Container c, Open(name));
    if (!c->is_defined(c.get()) || !c->is_running(c.get())) return absl::OkStatus();
    // A clean shutdown lets systemd unmount and sync. The halt signal is re-sent every second
    // (liblxc's finest wait): one that lands before systemd has installed its handlers, right
    // after start, is lost. A hung init is killed at the deadline.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (c->is_running(c.get()) && std::chrono::steady_clock::now() < deadline) {
      if (c->shutdown(c.get(), 1)) return absl::OkStatus();
    }
    if (c->is_running(c.get()) && !c->stop(c.get())) return Error(c, "stop");
    return absl::OkStatus();
  }

  absl::Status RequestStop(std::string_view name) override {
    ASSIGN_OR_RETURN(Container c, Open(name));
    if (!c->is_defined(c.get()) || !c->is_running(c.get())) return absl::OkStatus();
    c->shutdown(c.get(), 0);  // 0: signal and return; the result says nothing yet
    return absl::OkStatus();
  }

  absl::Status Kill(std::string_view name) override {
    ASSIGN_OR_RETURN(Container c, Open(name));
    if (!c->is_defined(c.get()) || !c->is_running(c.get())) return absl::OkStatus();
    if (!c->stop(c.get())) return Error(c, "stop");
    return absl::OkStatus();
  }

  absl::Status Reboot(std::string_view name) override {
    ASSIGN_OR_RETURN(Container c, Open(name));
    if (!c->is_defined(c.get()) || !c->is_running(c.get())) return absl::OkStatus();
    if (!c->reboot2(c.get(), 0)) return Error(c, "reboot");
    return absl::OkStatus();
  }

  absl::Status Destroy(std::string_view name) override {
    RETURN_IF_ERROR(Stop(name, std::chrono::seconds(10)));
    ASSIGN_OR_RETURN(Container c, Open(name));
    if (c->is_running(c.get()) && !c->stop(c.get())) return Error(c, "stop before destroy");
    // Not c->destroy(): for an overlay rootfs liblxc would also delete the upper directory,
    // which is the instance's root volume and belongs to storage. The container is only its
    // configuration directory.
    return RemoveTree(fmt::format("{}/{}", lxcpath_, name));
  }

  absl::StatusOr<ContainerState> State(std::string_view name) override {
    ASSIGN_OR_RETURN(Container c, Open(name));
    if (!c->is_defined(c.get())) return ContainerState::kAbsent;
    std::string_view s = c->state(c.get());
    if (s == "RUNNING") return ContainerState::kRunning;
    if (s == "STOPPED") return ContainerState::kStopped;
    return ContainerState::kBusy;
  }

  absl::StatusOr<pid_t> InitPid(std::string_view name) override {
    ASSIGN_OR_RETURN(Container c, OpenDefined(name));
    pid_t pid = c->init_pid(c.get());
    if (pid <= 0)
      return absl::FailedPreconditionError(fmt::format("Container {} is not running", name));
    return pid;
  }

  absl::StatusOr<ExecResult> Exec(std::string_view name,
                                  const std::vector<std::string>& argv) override {
    if (argv.empty()) return absl::InvalidArgumentError("Exec needs a program");
    ASSIGN_OR_RETURN(Container c, OpenDefined(name));
    if (!c->is_running(c.get())) {
      return absl::FailedPreconditionError(fmt::format("Container {} is not running", name));
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
    // Read while the command runs, so output larger than the pipe buffer cannot deadlock it.
    std::string output;
    // A background process the command started may keep the pipe open forever, so the reader
    // polls and gives up two seconds after the command itself has exited.
    std::atomic<bool> exited{false};
    std::thread reader([&] {
      char buf[4096];
      auto give_up = std::chrono::steady_clock::time_point::max();
      for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, 100);
        if (r > 0) {
          ssize_t n = read(fds[0], buf, sizeof buf);
          if (n <= 0) break;
          if (output.size() < kMaxExecOutput) output.append(buf, size_t(n));
          continue;
        }
        if (exited && give_up == std::chrono::steady_clock::time_point::max()) {
          give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        }
        if (std::chrono::steady_clock::now() > give_up) break;
      }
    });
    lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
    opts.stdout_fd = fds[1];
    std::vector<const char*> args;
    for (const auto& a : argv) args.push_back(a.c_str());
    args.push_back(nullptr);
    int status = c->attach_run_wait(c.get(), &opts, args[0], args.data());
    close(fds[1]);
    exited = true;
    reader.join();
    close(fds[0]);
    if (status < 0) return Error(c, "attach to");
    return ExecResult{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                      std::move(output)};
  }

  absl::StatusOr<std::vector<std::string>> List() override {
    if (access(lxcpath_.c_str(), F_OK) != 0) return std::vector<std::string>{};
    char** names = nullptr;
    int n = list_defined_containers(lxcpath_.c_str(), &names, nullptr);
    if (n < 0) return absl::InternalError(fmt::format("Failed to list containers in {}", lxcpath_));
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      out.emplace_back(names[i]);
      free(names[i]);
    }
    free(names);
    return out;
  }

 private:
  absl::StatusOr<Container> Open(std::string_view name) {
    // The name becomes a directory under lxcpath that Destroy removes.
    if (!ValidContainerName(name)) {
      return absl::InvalidArgumentError(fmt::format("Bad container name '{}'", name));
    }
    Container c(lxc_container_new(std::string(name).c_str(), lxcpath_.c_str()));
    if (!c) return absl::InternalError(fmt::format("liblxc cannot open container {}", name));
    return c;
  }
  absl::StatusOr<Container> OpenDefined(std::string_view name) {
    ASSIGN_OR_RETURN(Container c, Open(name));
    if (!c->is_defined(c.get())) return absl::NotFoundError(fmt::format("No container {}", name));
    return c;
  }
  absl::Status Error(const Container& c, std::string_view what) const {
    if (c->error_string) {
      return absl::InternalError(
          fmt::format("Failed to {} container '{}': {}", what, c->name, c->error_string));
    }
    // liblxc keeps the reason in the container's log: its first ERROR line says most.
    std::ifstream log(fmt::format("{}/{}/lxc.log", lxcpath_, c->name));
    std::string line, first_error;
    while (std::getline(log, line)) {
      if (line.find(" ERROR ") != std::string::npos && first_error.empty()) first_error = line;
    }
    if (size_t at = first_error.find(" - "); at != std::string::npos) {
      first_error = first_error.substr(at + 3);
    }
    return absl::InternalError(fmt::format("Failed to {} container '{}': {}", what, c->name,
                                           first_error.empty() ? "see its lxc.log" : first_error));
  }

  std::string lxcpath_;
};

}  // namespace

std::unique_ptr<Runtime> NewLxcRuntime(std::string lxcpath) {
  return std::make_unique<LxcRuntime>(std::move(lxcpath));
}

}  // namespace kumo::host
