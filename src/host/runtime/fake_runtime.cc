#include <fmt/format.h>

#include <cctype>
#include <map>
#include <mutex>

#include "host/runtime/runtime.h"

namespace kumo::host {

std::string_view ContainerStateName(ContainerState s) {
  switch (s) {
    case ContainerState::kAbsent:
      return "absent";
    case ContainerState::kStopped:
      return "stopped";
    case ContainerState::kRunning:
      return "running";
    case ContainerState::kBusy:
      return "busy";
  }
  return "?";
}

bool ValidContainerName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.') return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

namespace {

class FakeRuntime : public Runtime {
 public:
  absl::Status Create(const ContainerSpec& spec) override {
    if (!ValidContainerName(spec.name)) {
      return absl::InvalidArgumentError(fmt::format("Bad container name '{}'", spec.name));
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = containers_.find(spec.name);
    if (it != containers_.end()) {
      if (it->second.spec.rootfs != spec.rootfs) {
        return absl::AlreadyExistsError(
            fmt::format("Container {} exists with another root filesystem", spec.name));
      }
      if (it->second.state != ContainerState::kRunning) it->second.spec = spec;
      return absl::OkStatus();
    }
    containers_[spec.name] = {spec, ContainerState::kStopped, 0};
    return absl::OkStatus();
  }
  absl::Status Start(std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = Find(name);
    if (!c) return absl::NotFoundError(fmt::format("No container {}", name));
    if (c->state != ContainerState::kRunning) {
      c->state = ContainerState::kRunning;
      c->pid = next_pid_++;
    }
    return absl::OkStatus();
  }
  absl::Status Stop(std::string_view name, std::chrono::seconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = Find(name);
    if (!c) return absl::NotFoundError(fmt::format("No container {}", name));
    c->state = ContainerState::kStopped;
    c->pid = 0;
    return absl::OkStatus();
  }
  // The fake's init obeys at once.
  absl::Status RequestStop(std::string_view name) override { return StopIfThere(name); }
  absl::Status Kill(std::string_view name) override { return StopIfThere(name); }
  absl::Status Reboot(std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = Find(name);
    if (c && c->state == ContainerState::kRunning) c->pid = next_pid_++;
    return absl::OkStatus();
  }
  absl::Status Destroy(std::string_view name) override {
    if (!ValidContainerName(name)) {
      return absl::InvalidArgumentError(fmt::format("Bad container name '{}'", name));
    }
    std::lock_guard<std::mutex> lock(mu_);
    containers_.erase(std::string(name));
    return absl::OkStatus();
  }
  absl::StatusOr<ContainerState> State(std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = Find(name);
    return c ? c->state : ContainerState::kAbsent;
  }
  absl::StatusOr<pid_t> InitPid(std::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = Find(name);
    if (!c || c->state != ContainerState::kRunning) {
      return absl::FailedPreconditionError(fmt::format("Container {} is not running", name));
    }
    return c->pid;
  }
  absl::StatusOr<ExecResult> Exec(std::string_view name,
                                  const std::vector<std::string>& argv) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = Find(name);
    if (!c || c->state != ContainerState::kRunning) {
      return absl::FailedPreconditionError(fmt::format("Container {} is not running", name));
    }
    // The fake runs nothing; it answers like `true`.
    return ExecResult{0, ""};
  }
  absl::StatusOr<std::vector<std::string>> List() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [name, c] : containers_) out.push_back(name);
    return out;
  }

 private:
  absl::Status StopIfThere(std::string_view name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto* c = Find(name);
    if (c) {
      c->state = ContainerState::kStopped;
      c->pid = 0;
    }
    return absl::OkStatus();
  }
  struct Container {
    ContainerSpec spec;
    ContainerState state;
    pid_t pid;
  };
  Container* Find(std::string_view name) {
    auto it = containers_.find(std::string(name));
    return it == containers_.end() ? nullptr : &it->second;
  }
  std::mutex mu_;
  std::map<std::string, Container> containers_;
  pid_t next_pid_ = 1000;
};

}  // namespace

std::unique_ptr<Runtime> NewFakeRuntime() { return std::make_unique<FakeRuntime>(); }

}  // namespace kumo::host
