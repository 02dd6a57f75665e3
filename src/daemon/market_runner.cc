#include "daemon/market_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/http_post.h"
#include "common/status_macros.h"
#include "services/guards.h"

namespace kumo::daemon {

namespace {
constexpr std::chrono::milliseconds kIdlePeriod{2000};
}

MarketRunner::MarketRunner(store::Store& store, IdGenerator& ids, const services::InstanceEnv& env,
                           const Clock& clock, std::function<void()> on_change)
    : store_(store), ids_(ids), env_(env), clock_(clock), on_change_(std::move(on_change)) {}

namespace {
constexpr int64_t kKeepChanges = 200000;
constexpr int64_t kGuardPollMs = 60 * 1000;
constexpr std::chrono::seconds kWebhookTimeout{2};
constexpr size_t kMaxQueuedWebhooks = 1000;

// POSTs to an http:// URL; failures are logged, never retried (the log has every message).
void PostWebhook(const services::Notification& n) {
  std::string rest = n.url.substr(7);  // after "http://"
  size_t slash = rest.find('/');
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto reply = HttpPost("http://" + rest.substr(0, slash), target, n.body.dump(),
                        {{"Content-Type", "application/json"}}, kWebhookTimeout);
  if (!reply.ok()) {
    spdlog::warn("webhook {} of account {}: {}", n.url, n.account_id,
                 std::string(reply.status().message()));
  } else if (reply->status / 100 != 2) {
    spdlog::warn("webhook {} of account {}: HTTP {}", n.url, n.account_id, reply->status);
  }
}
}  // namespace

MarketRunner::~MarketRunner() { Stop(); }

absl::StatusOr<int64_t> MarketRunner::GuardsLocked(TimePoint now, bool* instances_changed) {
  services::GuardResult result;
  RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> absl::Status {
    services::IdleWatch idle{activity_, UnixMillis(std::chrono::system_clock::now()), &idle_since_};
    ASSIGN_OR_RETURN(result, services::RunGuards(tx, now, idle));
    return absl::OkStatus();
  }));
  for (const auto& w : result.warnings) spdlog::warn("{}", w);
  for (auto& n : result.notifications) {
    spdlog::info("{}", n.message);
    if (!n.url.empty()) QueueWebhook(std::move(n));
  }
  *instances_changed = result.instances_changed;
  return result.next_due_ms;
}

absl::StatusOr<services::RoundResult> MarketRunner::RoundLocked(bool force_guards) {
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
  int64_t now_ms = UnixMillis(now);
  bool guarded_changes = false;
  if (force_guards || now_ms >= guard_poll_ms_ || (guard_due_ms_ != 0 && now_ms >= guard_due_ms_)) {
    auto due = GuardsLocked(now, &guarded_changes);
    if (!due.ok()) {
      spdlog::warn("billing guards failed: {}", std::string(due.status().message()));
      guard_due_ms_ = 0;
    } else {
      guard_due_ms_ = *due;
    }
    guard_poll_ms_ = now_ms + kGuardPollMs;
  }
  if (guard_due_ms_ != 0 && (result.next_due_ms == 0 || guard_due_ms_ < result.next_due_ms)) {
    result.next_due_ms = guard_due_ms_;
  }
  if (result.instances_changed || result.interrupted > 0 || guarded_changes) {
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
    auto r = RoundLocked(/*force_guards=*/true);
    if (!r.ok()) return r.status();
    int64_t now = UnixMillis(clock.Now());
    if (now >= target) return absl::OkStatus();
    int64_t next = r->next_due_ms != 0 && r->next_due_ms <= target ? r->next_due_ms : target;
    clock.Advance(std::chrono::milliseconds(std::max<int64_t>(0, next - now)));
    if (auto st = persist(clock.offset()); !st.ok()) return st;
  }
}

void MarketRunner::Start() {
  // Webhooks go out from their own thread, never while a round holds its lock.
  webhook_thread_ = std::thread([this] { SendWebhooks(); });
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
  {
    std::lock_guard<std::mutex> lock(webhook_mu_);
    stopping_webhooks_ = true;
  }
  webhook_cv_.notify_all();
  if (webhook_thread_.joinable()) webhook_thread_.join();
}

void MarketRunner::QueueWebhook(services::Notification n) {
  std::lock_guard<std::mutex> lock(webhook_mu_);
  if (webhooks_.size() >= kMaxQueuedWebhooks) {
    spdlog::warn("webhook queue full: dropping the notification for {} (it is in the log)",
                 webhooks_.front().account_id);
    webhooks_.pop_front();
  }
  webhooks_.push_back(std::move(n));
  webhook_cv_.notify_one();
}

void MarketRunner::SendWebhooks() {
  for (;;) {
    services::Notification n;
    {
      std::unique_lock<std::mutex> lock(webhook_mu_);
      webhook_cv_.wait(lock, [this] { return stopping_webhooks_ || !webhooks_.empty(); });
      if (stopping_webhooks_) return;
      n = std::move(webhooks_.front());
      webhooks_.pop_front();
    }
    PostWebhook(n);
  }
}

void MarketRunner::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

}  // namespace kumo::daemon
