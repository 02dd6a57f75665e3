// What instances are doing right now, for the idle-stop guard (issue 7): CPU use and open SSH
// sessions, sampled from the host by the reconciler and read by the guards. Kept in memory only:
// after a restart every instance counts as busy until it has been sampled twice, so a crash can
// delay an idle stop by the sampling interval, never hasten one.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace kumo::services {

struct InstanceActivity {
  double cpu_percent = 0;  // of one CPU, since the previous sample
  int ssh_sessions = 0;    // established TCP connections to port 22 inside
  int64_t sampled_ms = 0;  // real time
};

class ActivityMonitor {
 public:
  // Samples are taken at most this often per instance, and ignored when older than kStaleMs.
  static constexpr int64_t kIntervalMs = 3000;
  static constexpr int64_t kStaleMs = 60000;

  bool Due(const std::string& instance_id, int64_t real_ms) const;
  // The instance's cumulative CPU time and its SSH sessions at real_ms.
  void Record(const std::string& instance_id, int64_t cpu_usec, int ssh_sessions, int64_t real_ms);
  // The latest activity, once two samples give a CPU rate and while it is fresh.
  std::optional<InstanceActivity> Get(const std::string& instance_id, int64_t real_ms) const;
  void Forget(const std::string& instance_id);
  std::map<std::string, InstanceActivity> All() const;

 private:
  struct State {
    int64_t cpu_usec = 0;
    int64_t at_ms = 0;
    std::optional<InstanceActivity> current;
  };
  mutable std::mutex mu_;
  std::map<std::string, State> states_;
};

}  // namespace kumo::services
