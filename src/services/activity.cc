#include "services/activity.h"

#include <algorithm>

namespace kumo::services {

bool ActivityMonitor::Due(const std::string& id, int64_t real_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(id);
  return it == states_.end() || real_ms - it->second.at_ms >= kIntervalMs;
}

void ActivityMonitor::Record(const std::string& id, int64_t cpu_usec, int ssh, int64_t real_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = states_.try_emplace(id);
  State& s = it->second;
  if (!fresh && real_ms > s.at_ms && cpu_usec >= s.cpu_usec) {
    double used_ms = double(cpu_usec - s.cpu_usec) / 1000.0;
    s.current = InstanceActivity{100.0 * used_ms / double(real_ms - s.at_ms), ssh, real_ms};
  } else if (!fresh) {
    s.current.reset();  // the counter went back: a restarted container, no rate yet
  }
  s.cpu_usec = cpu_usec;
  s.at_ms = real_ms;
}

std::optional<InstanceActivity> ActivityMonitor::Get(const std::string& id, int64_t real_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(id);
  if (it == states_.end() || !it->second.current) return std::nullopt;
  if (real_ms - it->second.current->sampled_ms > kStaleMs) return std::nullopt;
  return it->second.current;
}

void ActivityMonitor::Forget(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  states_.erase(id);
}

std::map<std::string, InstanceActivity> ActivityMonitor::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, InstanceActivity> out;
  for (const auto& [id, s] : states_) {
    if (s.current) out[id] = *s.current;
  }
  return out;
}

}  // namespace kumo::services
