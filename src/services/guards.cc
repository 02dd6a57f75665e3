#include "services/guards.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/time/time.h"
#include "billing/ledger.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "services/billing.h"
#include "services/instances.h"
#include "services/spot.h"

namespace kumo::services {

using billing::Micros;
using nlohmann::json;

namespace {

constexpr std::string_view kBudgetName = "monthly";
// Longer than any sensible lifetime, and far from overflowing milliseconds.
constexpr int64_t kMaxDurationS = int64_t(10) * 366 * 86400;
constexpr std::string_view kStateType = "billing-state";

std::string Day(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}
std::string Month(int64_t ms) { return Day(ms).substr(0, 7); }

bool Live(const store::Resource& i) {
  std::string s = i.data.value("state", "");
  return s == "pending" || s == "running";
}
bool IsSpot(const store::Resource& i) { return i.data.value("instance_lifecycle", "") == "spot"; }

void Earliest(int64_t* due, int64_t at) {
  if (at > 0 && (*due == 0 || at < *due)) *due = at;
}

absl::StatusOr<billing::Bill> BillNow(store::Tx& tx, const std::string& account_id,
                                      int64_t now_ms) {
  ASSIGN_OR_RETURN(store::Account account, tx.GetAccount(account_id));
  return AccountBill(tx, account, now_ms, now_ms);
}

// Stops (On-Demand) or terminates (spot, which EC2 cannot stop unless persistent) one instance
// as its owner would; false when it was not live any more.
absl::StatusOr<bool> Halt(store::Tx& tx, const store::Resource& i, bool terminate, TimePoint now,
                          const std::string& why, GuardResult* out) {
  Caller caller{i.account_id, i.region, why, now};
  json input = {{"InstanceIds", {i.id}}};
  auto r = terminate ? TerminateInstances(tx, caller, input) : StopInstances(tx, caller, input);
  if (!r.ok()) {
    // Termination protection or a state the action refuses: checked before anything is written,
    // so the guard says so and moves on. Anything else fails the round (nothing is committed).
    std::string code = Ec2CodeOf(r.status());
    if (code != "OperationNotPermitted" && code != "IncorrectInstanceState" &&
        code != "UnsupportedOperation") {
      return r.status();
    }
    out->warnings.push_back(
        fmt::format("{}: cannot halt {}: {}", why, i.id, std::string(r.status().message())));
    return false;
  }
  return true;
}

json Usd(Micros m) { return billing::FormatUsd(m); }

// Tells the account (log, and the webhook of its budget when it has one) what a guard did.
void Notify(GuardResult* out, const std::map<std::string, std::string>& webhooks,
            const std::string& account, std::string message, json body) {
  auto hook = webhooks.find(account);
  body["account"] = account;
  out->notifications.push_back(
      {account, hook == webhooks.end() ? "" : hook->second, std::move(message), std::move(body)});
}

absl::Status Budgets(store::Tx& tx, const std::vector<store::Resource>& instances, TimePoint now,
                     GuardResult* out) {
  int64_t now_ms = UnixMillis(now);
  ASSIGN_OR_RETURN(auto budgets, tx.ListAllResources(kBudgetType));
  for (auto& b : budgets) {
    Micros limit = b.data.value("limit_micros", Micros(0));
    if (limit <= 0) continue;
    ASSIGN_OR_RETURN(billing::Bill bill, BillNow(tx, b.account_id, now_ms));
    std::string month = Month(now_ms);
    json& fired = b.data["fired"][month];
    if (!fired.is_array()) fired = json::array();
    auto done = [&](int percent) {
      return std::any_of(fired.begin(), fired.end(),
                         [&](const json& f) { return f.value("percent", -1) == percent; });
    };
    std::vector<int> alerts = b.data.value("alerts", std::vector<int>{100});
    std::sort(alerts.begin(), alerts.end());
    bool changed = false;
    std::string action = b.data.value("action", "notify-only");
    for (int percent : alerts) {
      if (done(percent)) continue;
      Micros threshold = Micros((__int128)limit * percent / 100);
      if (bill.total < threshold) {
        // When the spend will reach it at today's rate: look again then (or at next month).
        Micros hourly = 0;
        for (const auto& r : bill.running) hourly += r.hourly;
        if (hourly > 0) {
          Earliest(
              &out->next_due_ms,
              now_ms + int64_t((__int128)(threshold - bill.total) * billing::kHourMs / hourly) + 1);
        }
        break;
      }
      json halted = json::array();
      if (action != "notify-only") {
        bool spot_action = action == "terminate-spot";
        for (const auto& i : instances) {
          if (i.account_id != b.account_id || !Live(i) || IsSpot(i) != spot_action) continue;
          ASSIGN_OR_RETURN(bool did, Halt(tx, i, spot_action, now, "budget", out));
          if (did) halted.push_back(i.id);
        }
        if (!halted.empty()) out->instances_changed = true;
      }
      std::string message = fmt::format(
          "budget: account {} has spent ${} this month, {}% of its ${} budget; {}", b.account_id,
          billing::FormatUsd(bill.total), percent, billing::FormatUsd(limit),
          action == "notify-only" ? std::string("notified only")
          : halted.empty()        ? fmt::format("{}: nothing to halt", action)
                                  : fmt::format("{}: {}", action, halted.dump()));
      fired.push_back({{"percent", percent},
                       {"at_ms", now_ms},
                       {"spent_micros", bill.total},
                       {"action", action},
                       {"instances", halted},
                       {"message", message}});
      out->notifications.push_back({b.account_id,
                                    b.data.value("webhook", ""),
                                    message,
                                    {{"kind", "budget"},
                                     {"account", b.account_id},
                                     {"month", month},
                                     {"percent", percent},
                                     {"spent", Usd(bill.total)},
                                     {"limit", Usd(limit)},
                                     {"action", action},
                                     {"instances", halted}}});
      changed = true;
    }
    Earliest(&out->next_due_ms, billing::NextMonthStartMs(now_ms));
    if (changed) RETURN_IF_ERROR(tx.UpdateResource(b));
  }
  return absl::OkStatus();
}

// Instances whose `kumo:ttl` has run out since their launch or last start are stopped (spot:
// terminated).
absl::Status Ttls(store::Tx& tx, const std::vector<store::Resource>& instances, TimePoint now,
                  GuardResult* out, const std::map<std::string, std::string>& webhooks) {
  int64_t now_ms = UnixMillis(now);
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> ttl_by_group;
  for (const auto& i : instances) {
    if (!Live(i)) continue;
    auto key = std::make_pair(i.account_id, i.region);
    if (!ttl_by_group.count(key)) {
      auto& ttls = ttl_by_group[key];
      ASSIGN_OR_RETURN(auto tags, tx.ListTags(i.account_id, i.region, ""));
      for (const auto& t : tags) {
        if (t.key == kTtlTag) ttls[t.resource_id] = t.value;
      }
    }
    auto& ttls = ttl_by_group[key];
    auto it = ttls.find(i.id);
    int64_t ttl = 0;
    if (it == ttls.end() || !ParseDuration(it->second, &ttl)) continue;
    int64_t expires = i.data.value("launch_ms", int64_t(0)) + ttl;
    if (expires > now_ms) {
      Earliest(&out->next_due_ms, expires);
      continue;
    }
    ASSIGN_OR_RETURN(bool did, Halt(tx, i, IsSpot(i), now, "ttl", out));
    if (!did) continue;
    out->instances_changed = true;
    std::string message =
        fmt::format("ttl: {} of account {} reached its {}={} and was {}", i.id, i.account_id,
                    kTtlTag, it->second, IsSpot(i) ? "terminated" : "stopped");
    Notify(out, webhooks, i.account_id, std::move(message),
           {{"kind", "ttl"},
            {"instance", i.id},
            {"ttl", it->second},
            {"action", IsSpot(i) ? "terminated" : "stopped"}});
  }
  return absl::OkStatus();
}

// Parses a `kumo:idle-stop` tag: "30m" or "30m,5%"; false for "off" or nonsense (then the
// account's policy does not apply either: the tag is the instance's own word).
bool ParseIdleTag(const std::string& value, int64_t* ms, double* cpu_below) {
  std::string duration = value, cpu;
  if (size_t comma = value.find(','); comma != std::string::npos) {
    duration = value.substr(0, comma);
    cpu = value.substr(comma + 1);
    if (!cpu.empty() && cpu.back() == '%') cpu.pop_back();
  }
  if (!ParseDuration(duration, ms)) return false;
  if (!cpu.empty()) {
    char* end = nullptr;
    double v = std::strtod(cpu.c_str(), &end);
    if (end == cpu.c_str() || *end != '\0' || !(v > 0) || v > 100) return false;
    *cpu_below = v;
  }
  return true;
}

// Instances idle for their policy's minutes (no SSH session, CPU below the threshold) are
// stopped (spot: terminated). Idleness is first seen at a round; its minutes count from there.
absl::Status IdleStops(store::Tx& tx, const std::vector<store::Resource>& instances, TimePoint now,
                       const IdleWatch& watch, GuardResult* out,
                       const std::map<std::string, std::string>& webhooks) {
  if (!watch.activity || !watch.idle_since) return absl::OkStatus();
  int64_t now_ms = UnixMillis(now);
  std::map<std::string, std::optional<std::pair<int64_t, double>>> account_policy;
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::string>> tags_of;
  std::set<std::string> watched;
  for (const auto& i : instances) {
    if (i.data.value("state", "") != "running") continue;
    if (!account_policy.count(i.account_id)) {
      ASSIGN_OR_RETURN(auto p, tx.FindResourceByName(i.account_id, "", kIdlePolicyType, "account"));
      auto& slot = account_policy[i.account_id];
      if (p) {
        slot = std::make_pair(p->data.value("minutes", int64_t(0)) * 60 * 1000,
                              p->data.value("cpu_below", 5.0));
      }
    }
    auto key = std::make_pair(i.account_id, i.region);
    if (!tags_of.count(key)) {
      auto& m = tags_of[key];
      ASSIGN_OR_RETURN(auto tags, tx.ListTags(i.account_id, i.region, ""));
      for (const auto& t : tags) {
        if (t.key == kIdleTag) m[t.resource_id] = t.value;
      }
    }
    int64_t idle_ms = 0;
    double cpu_below = 5.0;
    std::string rule;
    if (auto tag = tags_of[key].find(i.id); tag != tags_of[key].end()) {
      if (!ParseIdleTag(tag->second, &idle_ms, &cpu_below)) continue;
      rule = fmt::format("{}={}", kIdleTag, tag->second);
    } else if (const auto& p = account_policy[i.account_id]; p && p->first > 0) {
      idle_ms = p->first;
      cpu_below = p->second;
      rule = fmt::format("the account's idle-stop policy ({} min, CPU below {}%)", idle_ms / 60000,
                         cpu_below);
    } else {
      continue;
    }
    watched.insert(i.id);
    auto activity = watch.activity->Get(i.id, watch.real_ms);
    bool idle = activity && activity->ssh_sessions == 0 && activity->cpu_percent < cpu_below;
    if (!idle) {
      watch.idle_since->erase(i.id);  // busy, or not known yet: never stop on a guess
      continue;
    }
    int64_t since = watch.idle_since->try_emplace(i.id, now_ms).first->second;
    if (now_ms - since < idle_ms) {
      Earliest(&out->next_due_ms, since + idle_ms);
      continue;
    }
    ASSIGN_OR_RETURN(bool did, Halt(tx, i, IsSpot(i), now, "idle-stop", out));
    if (!did) continue;
    watch.idle_since->erase(i.id);
    out->instances_changed = true;
    std::string message = fmt::format(
        "idle-stop: {} of account {} had no SSH session and {:.1f}% CPU for {} min ({}) and was "
        "{}",
        i.id, i.account_id, activity->cpu_percent, (now_ms - since) / 60000, rule,
        IsSpot(i) ? "terminated" : "stopped");
    Notify(out, webhooks, i.account_id, std::move(message),
           {{"kind", "idle-stop"},
            {"instance", i.id},
            {"idle_minutes", (now_ms - since) / 60000},
            {"action", IsSpot(i) ? "terminated" : "stopped"}});
  }
  // Forget what is no longer watched (stopped, untagged), so a later idle period starts afresh.
  for (auto it = watch.idle_since->begin(); it != watch.idle_since->end();) {
    it = watched.count(it->first) ? std::next(it) : watch.idle_since->erase(it);
  }
  return absl::OkStatus();
}

// Once a UTC day: every account with instances still running gets one line.
absl::Status DailySummary(store::Tx& tx, const std::vector<store::Resource>& instances,
                          TimePoint now, GuardResult* out,
                          const std::map<std::string, std::string>& webhooks) {
  int64_t now_ms = UnixMillis(now);
  std::string today = Day(now_ms);
  ASSIGN_OR_RETURN(auto state,
                   tx.FindResourceByName(kBillingOwner, "", kStateType, "daily-summary"));
  Earliest(&out->next_due_ms, (now_ms / billing::kDayMs + 1) * billing::kDayMs);
  if (state && state->data.value("day", "") == today) return absl::OkStatus();
  std::map<std::string, int> accounts;
  for (const auto& i : instances) {
    if (i.data.value("state", "") == "running") ++accounts[i.account_id];
  }
  for (const auto& [account, count] : accounts) {
    ASSIGN_OR_RETURN(billing::Bill bill, BillNow(tx, account, now_ms));
    json running = json::array();
    std::string list;
    for (const auto& r : bill.running) {
      double hours = double(now_ms - r.since_ms) / billing::kHourMs;
      list += fmt::format(" {} {} {:.1f} h ${};", r.instance_id, r.instance_type, hours,
                          billing::FormatUsd(r.cost_so_far));
      running.push_back({{"instance", r.instance_id},
                         {"type", r.instance_type},
                         {"hours", hours},
                         {"cost_so_far", Usd(r.cost_so_far)}});
    }
    std::string message =
        fmt::format("still running: account {}: {} instance(s),{} month to date ${}", account,
                    count, list, billing::FormatUsd(bill.total));
    Notify(out, webhooks, account, std::move(message),
           {{"kind", "still-running"},
            {"day", today},
            {"running", running},
            {"month_to_date", Usd(bill.total)}});
  }
  if (state) {
    state->data["day"] = today;
    return tx.UpdateResource(*state);
  }
  return tx.InsertResource({"bs-daily-summary",
                            std::string(kBillingOwner),
                            "",
                            std::string(kStateType),
                            "daily-summary",
                            {{"day", today}},
                            0,
                            now_ms});
}

}  // namespace

bool ParseDuration(const std::string& text, int64_t* ms) {
  if (text.empty()) return false;
  int64_t total = 0, number = 0;
  bool digits = false, unit_seen = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (number > 1'000'000'000) return false;
      number = number * 10 + (c - '0');
      digits = true;
      continue;
    }
    int64_t unit = c == 's' ? 1 : c == 'm' ? 60 : c == 'h' ? 3600 : c == 'd' ? 86400 : 0;
    if (unit == 0 || !digits) return false;
    total += number * unit;
    if (total > kMaxDurationS) return false;
    number = 0;
    digits = false;
    unit_seen = true;
  }
  if (digits) {
    if (unit_seen) return false;  // "1h30": a number without its unit
    total += number;
    if (total > kMaxDurationS) return false;
  }
  if (total <= 0) return false;
  *ms = total * 1000;
  return true;
}

absl::StatusOr<GuardResult> RunGuards(store::Tx& tx, TimePoint now, const IdleWatch& idle) {
  GuardResult out;
  ASSIGN_OR_RETURN(auto instances, tx.ListAllResources(kInstanceType));
  std::map<std::string, std::string> webhooks;
  ASSIGN_OR_RETURN(auto budgets, tx.ListAllResources(kBudgetType));
  for (const auto& b : budgets) webhooks[b.account_id] = b.data.value("webhook", "");
  RETURN_IF_ERROR(Budgets(tx, instances, now, &out));
  if (out.instances_changed) {
    ASSIGN_OR_RETURN(instances, tx.ListAllResources(kInstanceType));
  }
  RETURN_IF_ERROR(Ttls(tx, instances, now, &out, webhooks));
  RETURN_IF_ERROR(IdleStops(tx, instances, now, idle, &out, webhooks));
  RETURN_IF_ERROR(DailySummary(tx, instances, now, &out, webhooks));
  return out;
}

absl::StatusOr<json> SetBudget(store::Tx& tx, const store::Account& account, const Caller& caller,
                               const json& input) {
  Micros limit = 0;
  if (!input.contains("MonthlyLimit") || !input["MonthlyLimit"].is_string() ||
      !ParsePrice(input["MonthlyLimit"].get<std::string>(), &limit) || limit <= 0) {
    return InvalidParameterValue("MonthlyLimit must be a positive USD amount, e.g. \"20\"");
  }
  std::vector<int> alerts;
  for (const auto& a : input.value("Alerts", json::array({100}))) {
    if (!a.is_number_integer() || a.get<int>() < 1 || a.get<int>() > 1000) {
      return InvalidParameterValue("Alerts are whole percentages from 1 to 1000");
    }
    alerts.push_back(a.get<int>());
  }
  if (alerts.empty() || alerts.size() > 10) {
    return InvalidParameterValue("A budget has from 1 to 10 alerts");
  }
  std::sort(alerts.begin(), alerts.end());
  alerts.erase(std::unique(alerts.begin(), alerts.end()), alerts.end());
  std::string action = input.value("Action", "notify-only");
  if (action != "stop-instances" && action != "terminate-spot" && action != "notify-only") {
    return InvalidParameterValue("Action must be stop-instances, terminate-spot or notify-only");
  }
  std::string webhook = input.value("Webhook", "");
  if (!webhook.empty() && (webhook.rfind("http://", 0) != 0 || webhook.size() > 1024)) {
    return InvalidParameterValue("Webhook must be an http:// URL (https is not supported yet)");
  }
  json data = {{"limit_micros", limit},
               {"alerts", alerts},
               {"action", action},
               {"webhook", webhook},
               {"fired", json::object()}};
  ASSIGN_OR_RETURN(auto existing, tx.FindResourceByName(account.id, "", kBudgetType, kBudgetName));
  int64_t now_ms = UnixMillis(caller.now);
  if (existing) {
    // Earlier months' actions stay on record; this month's thresholds count again from the new
    // terms (raising a budget lets instances run again).
    json fired = existing->data.value("fired", json::object());
    fired.erase(Month(now_ms));
    data["fired"] = fired;
    existing->data = data;
    RETURN_IF_ERROR(tx.UpdateResource(*existing));
  } else {
    RETURN_IF_ERROR(
        tx.InsertResource({"budget-" + account.id, account.id, "", std::string(kBudgetType),
                           std::string(kBudgetName), data, 0, now_ms}));
  }
  return GetBudget(tx, account, caller, json::object());
}

absl::StatusOr<json> GetBudget(store::Tx& tx, const store::Account& account, const Caller& caller,
                               const json& input) {
  ASSIGN_OR_RETURN(auto b, tx.FindResourceByName(account.id, "", kBudgetType, kBudgetName));
  if (!b) return json{{"Budget", nullptr}};
  int64_t now_ms = UnixMillis(caller.now);
  ASSIGN_OR_RETURN(billing::Bill bill, BillNow(tx, account.id, now_ms));
  Micros limit = b->data.value("limit_micros", Micros(1));
  json actions = json::array();
  json fired = b->data.value("fired", json::object()).value(Month(now_ms), json::array());
  for (const auto& f : fired) {
    actions.push_back(
        {{"Percent", f.value("percent", 0)},
         {"At", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(f.value("at_ms", 0L)),
                                 absl::UTCTimeZone())},
         {"Spent", billing::FormatUsd(f.value("spent_micros", Micros(0)))},
         {"Action", f.value("action", "")},
         {"Instances", f.value("instances", json::array())},
         {"Message", f.value("message", "")}});
  }
  return json{{"Budget",
               {{"MonthlyLimit", billing::FormatUsd(limit)},
                {"Alerts", b->data.value("alerts", json::array())},
                {"Action", b->data.value("action", "")},
                {"Webhook", b->data.value("webhook", "")},
                {"Spent", billing::FormatUsd(bill.total)},
                {"Percent", fmt::format("{:.1f}", 100.0 * double(bill.total) / double(limit))},
                {"Actions", actions}}}};
}

absl::StatusOr<json> SetIdlePolicy(store::Tx& tx, const store::Account& account,
                                   const Caller& caller, const json& input) {
  json minutes = input.value("Minutes", json());
  if (!minutes.is_number_integer() || minutes.get<int64_t>() < 1 ||
      minutes.get<int64_t>() > 7 * 24 * 60) {
    return InvalidParameterValue("Minutes must be a whole number from 1 to 10080");
  }
  json cpu = input.value("CpuBelow", json(5.0));
  if (!cpu.is_number() || !(cpu.get<double>() > 0) || cpu.get<double>() > 100) {
    return InvalidParameterValue("CpuBelow must be a percentage above 0, at most 100");
  }
  json data = {{"minutes", minutes}, {"cpu_below", cpu.get<double>()}};
  ASSIGN_OR_RETURN(auto existing,
                   tx.FindResourceByName(account.id, "", kIdlePolicyType, "account"));
  if (existing) {
    existing->data = data;
    RETURN_IF_ERROR(tx.UpdateResource(*existing));
  } else {
    RETURN_IF_ERROR(
        tx.InsertResource({"idle-" + account.id, account.id, "", std::string(kIdlePolicyType),
                           "account", data, 0, UnixMillis(caller.now)}));
  }
  return GetIdlePolicy(tx, account, caller, json::object());
}

absl::StatusOr<json> GetIdlePolicy(store::Tx& tx, const store::Account& account,
                                   const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto p, tx.FindResourceByName(account.id, "", kIdlePolicyType, "account"));
  if (!p) return json{{"IdlePolicy", nullptr}};
  return json{
      {"IdlePolicy",
       {{"Minutes", p->data.value("minutes", 0)}, {"CpuBelow", p->data.value("cpu_below", 5.0)}}}};
}

absl::StatusOr<json> DeleteIdlePolicy(store::Tx& tx, const store::Account& account,
                                      const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto p, tx.FindResourceByName(account.id, "", kIdlePolicyType, "account"));
  if (p) RETURN_IF_ERROR(tx.DeleteResource(account.id, "", p->id));
  return json{{"Deleted", p.has_value()}};
}

absl::StatusOr<json> DeleteBudget(store::Tx& tx, const store::Account& account,
                                  const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto b, tx.FindResourceByName(account.id, "", kBudgetType, kBudgetName));
  if (b) RETURN_IF_ERROR(tx.DeleteResource(account.id, "", b->id));
  return json{{"Deleted", b.has_value()}};
}

}  // namespace kumo::services
