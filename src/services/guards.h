// The guards against the forgotten instance (issue 7), run on the Clock by the daemon's runner:
// budgets that act when the month's spend crosses their thresholds, the `kumo:ttl` maximum
// lifetime tag, and a daily "still running" summary per account. Each round is one store
// transaction; what it did is recorded there (and logged), and the notifications it returns are
// sent after the commit.
//
// Records:
//   "budget" (tenant, region ""; name "monthly"): {"limit_micros", "alerts": [percent…],
//       "action": "stop-instances"|"terminate-spot"|"notify-only", "webhook" (URL or ""),
//       "fired": {"YYYY-MM": [{"percent", "at_ms", "spent_micros", "action", "instances"}]}}
//   "billing-state" (operator, region ""; name "daily-summary"): {"day": "YYYY-MM-DD"}
//   "idle-policy" (tenant, region ""; name "account"): {"minutes", "cpu_below"}; an instance's
//       `kumo:idle-stop` tag ("30m", "30m,5%", "off") overrides it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "services/activity.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kBudgetType = "budget";
inline constexpr std::string_view kTtlTag = "kumo:ttl";
inline constexpr std::string_view kIdleTag = "kumo:idle-stop";
inline constexpr std::string_view kIdlePolicyType = "idle-policy";

// Something to tell a person: always logged; POSTed as JSON to url when there is one.
struct Notification {
  std::string account_id;
  std::string url;
  std::string message;
  nlohmann::json body;
};

struct GuardResult {
  int64_t next_due_ms = 0;  // when a guard must look again (a TTL, a threshold's ETA); 0: none
  bool instances_changed = false;
  std::vector<Notification> notifications;
  std::vector<std::string> warnings;  // for the log: what a guard could not do
};

// What the idle-stop guard needs besides the store: the instances' activity (in memory, see
// activity.h) and when each was first seen idle (the runner keeps it between rounds).
struct IdleWatch {
  const ActivityMonitor* activity = nullptr;
  int64_t real_ms = 0;
  std::map<std::string, int64_t>* idle_since = nullptr;  // instance id → clock ms
};

absl::StatusOr<GuardResult> RunGuards(store::Tx& tx, TimePoint now, const IdleWatch& idle = {});

// "8h", "30m", "2d", "90s", "1h30m" or plain seconds; false when it is none of these or not
// positive.
bool ParseDuration(const std::string& text, int64_t* ms);

// KumoBilling.SetBudget: {"MonthlyLimit": "20", "Alerts": [80, 100], "Action": …, "Webhook"}.
absl::StatusOr<nlohmann::json> SetBudget(store::Tx& tx, const store::Account& account,
                                         const Caller& caller, const nlohmann::json& input);
// KumoBilling.GetBudget: {"Budget": {…, "Spent", "Percent", "Actions": [this month's]}} or null.
absl::StatusOr<nlohmann::json> GetBudget(store::Tx& tx, const store::Account& account,
                                         const Caller& caller, const nlohmann::json& input);
// KumoBilling.SetIdlePolicy: {"Minutes": 30, "CpuBelow": 5}; GetIdlePolicy; DeleteIdlePolicy.
absl::StatusOr<nlohmann::json> SetIdlePolicy(store::Tx& tx, const store::Account& account,
                                             const Caller& caller, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> GetIdlePolicy(store::Tx& tx, const store::Account& account,
                                             const Caller& caller, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteIdlePolicy(store::Tx& tx, const store::Account& account,
                                                const Caller& caller, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteBudget(store::Tx& tx, const store::Account& account,
                                            const Caller& caller, const nlohmann::json& input);

}  // namespace kumo::services
