// Runs the spot market's rounds on the Clock: every couple of seconds, at once when poked (a
// request, a cancel, an on-demand launch), and exactly when a notice runs out. With a simulated
// clock, Advance steps time to each due moment in turn, so a notice given at T0 is carried out at
// T0 + 120 s however far the operator jumps.
//
// The billing guards (services/guards.h: budgets, kumo:ttl, the daily summary) ride on the same
// runner, because they need the same stepping: after each round when one is due, at least once a
// minute, and at every step of an Advance, so that a budget acts at the second its threshold is
// crossed even when the operator jumps a day ahead.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "services/activity.h"
#include "services/guards.h"
#include "services/spot.h"
#include "store/store.h"

namespace kumo::daemon {

class MarketRunner {
 public:
  // on_change: after a round that changed instances (the reconciler and the metadata service
  // pick the change up).
  MarketRunner(store::Store& store, IdGenerator& ids, const services::InstanceEnv& env,
               const Clock& clock, std::function<void()> on_change);
  ~MarketRunner();

  // The instances' activity, for the idle-stop guard (set before Start).
  void WatchActivity(const services::ActivityMonitor* activity) { activity_ = activity; }

  void Start();
  void Stop();
  void Poke();
  // One round now, serialized with the background rounds.
  absl::StatusOr<services::RoundResult> RunOnce();
  // Moves a simulated clock forward by d, running a round at every due moment on the way and
  // once at the end. persist is called with the clock's new offset before each step's round.
  absl::Status Advance(SimulatedClock& clock, std::chrono::milliseconds d,
                       const std::function<absl::Status(std::chrono::milliseconds)>& persist);

 private:
  absl::StatusOr<services::RoundResult> RoundLocked(bool force_guards = false);
  // Runs the guards, logs and sends their notifications; the next moment they are due (0: none).
  absl::StatusOr<int64_t> GuardsLocked(TimePoint now, bool* instances_changed);
  void QueueWebhook(services::Notification n);
  void SendWebhooks();  // the webhook thread

  store::Store& store_;
  IdGenerator& ids_;
  const services::InstanceEnv& env_;
  const Clock& clock_;
  std::function<void()> on_change_;
  std::mutex round_mu_;  // one round at a time
  std::mutex mu_;
  std::condition_variable cv_;
  bool poked_ = false, stopping_ = false;
  std::thread thread_;
  int64_t last_purge_ms_ = 0;
  int64_t guard_due_ms_ = 0;   // when a guard asked to look again (0: nothing pending)
  int64_t guard_poll_ms_ = 0;  // and at least this often
  const services::ActivityMonitor* activity_ = nullptr;
  std::map<std::string, int64_t> idle_since_;  // guarded by round_mu_
  std::mutex webhook_mu_;
  std::condition_variable webhook_cv_;
  std::deque<services::Notification> webhooks_;  // guarded by webhook_mu_
  bool stopping_webhooks_ = false;
  std::thread webhook_thread_;
  services::MarketCache
      cache_;  // guarded by round_mu_  // price history older than 90 days goes once an hour
};

}  // namespace kumo::daemon
