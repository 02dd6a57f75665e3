#include "daemon/market_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace kumo::daemon {

namespace {
constexpr std::chrono::milliseconds kIdlePeriod{2000};
}

MarketRunner::MarketRunner(store::Store& store, IdGenerator& ids, const services::InstanceEnv& env,
                           const Clock& clock, std::function<void()> on_change)
    : store_(store), ids_(ids), env_(env), clock_(clock), on_change_(std::move(on_change)) {}

namespace {
constexpr int64_t kKeepChanges = 200000;
}  // namespace

MarketRunner::~MarketRunner() { Stop(); }

absl::StatusOr<services::RoundResult> MarketRunner::RoundLocked() {
  services::RoundResult result;
  TimePoint now = clock_.Now();
  absl::Status st = store_.Write([&](store::Tx& tx) -> absl::Status {
    auto r = services::RunMarketRound(tx, ids_, env_, now, &cache_);
    if (!r.ok()) return r.status();
    result = *r;
    if (UnixMillis(now) - last_purge_ms_ >= 3600 * 1000) {
      auto purged = services::PurgePriceHistory(tx, now);
      if (!purged.ok()) return purged.status();
      // The market reads the change feed every round; an hour of it is far more than it needs,
      // and a reader that fell behind the pruning lists everything once.
      if (auto st = tx.PruneChanges(kKeepChanges); !st.ok()) return st;
      last_purge_ms_ = UnixMillis(now);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) {
    cache_ = {};  // it may hold changes the failed transaction rolled back
    return st;
  }
  if (result.instances_changed || result.interrupted > 0) {
    if (on_change_) on_change_();
  }
  return result;
}

absl::StatusOr<services::RoundResult> MarketRunner::RunOnce() {
  std::lock_guard<std::mutex> lock(round_mu_);
  return RoundLocked();
}

absl::Status MarketRunner::Advance(
    SimulatedClock& clock, std::chrono::milliseconds d,
    const std::function<absl::Status(std::chrono::milliseconds)>& persist) {
  std::lock_guard<std::mutex> lock(round_mu_);
  int64_t target = UnixMillis(clock.Now()) + d.count();
  for (;;) {
    auto r = RoundLocked();
    if (!r.ok()) return r.status();
    int64_t now = UnixMillis(clock.Now());
    if (now >= target) return absl::OkStatus();
    int64_t next = r->next_due_ms != 0 && r->next_due_ms <= target ? r->next_due_ms : target;
    clock.Advance(std::chrono::milliseconds(std::max<int64_t>(0, next - now)));
    if (auto st = persist(clock.offset()); !st.ok()) return st;
  }
}

void MarketRunner::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      auto r = RunOnce();
      auto wait = kIdlePeriod;
      if (!r.ok()) {
        spdlog::warn("spot market round failed: {}", std::string(r.status().message()));
      } else if (r->next_due_ms != 0) {
        auto until = std::chrono::milliseconds(r->next_due_ms - UnixMillis(clock_.Now()));
        wait = std::clamp(until, std::chrono::milliseconds(0), kIdlePeriod);
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, wait, [this] { return poked_ || stopping_; });
      if (stopping_) return;
      poked_ = false;
    }
  });
}

void MarketRunner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MarketRunner::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

}  // namespace kumo::daemon
