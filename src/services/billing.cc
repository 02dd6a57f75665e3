#include "services/billing.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "services/guards.h"
#include "services/metering.h"

namespace kumo::services {

using billing::Bill;
using billing::BillLine;
using billing::ExactCost;
using billing::Market;
using billing::Micros;
using nlohmann::json;

namespace {

constexpr std::string_view kEc2Service = "Amazon Elastic Compute Cloud - Compute";

absl::Status Validation(std::string message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "ValidationException", message);
}

std::string Iso(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}
std::string Day(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}
std::string Hours(int64_t ms) {
  int64_t micro_hours = (ms * 10 + 18) / 36;
  return fmt::format("{}.{:06d}", micro_hours / 1'000'000, micro_hours % 1'000'000);
}
std::string Usd(ExactCost exact) { return billing::FormatUsd(billing::RoundToMicros(exact)); }

std::string NameOf(const std::map<std::string, std::string>& tags) {
  auto it = tags.find("Name");
  return it == tags.end() ? "" : it->second;
}

const char* MarketName(Market m) { return m == Market::kSpot ? "spot" : "on-demand"; }

// Sums of one group of lines.
struct Sum {
  int64_t billed_ms = 0;         // of instances: exact
  double volume_gib_months = 0;  // of volumes
  ExactCost cost = 0;
  void Add(const billing::UsageLine& l) {
    if (billing::IsVolumeLine(l)) {
      volume_gib_months += billing::UsageQuantity(l);
    } else {
      billed_ms += l.billed_ms;
    }
    cost += l.cost;
  }
  // Hours and GiB-months add up as Cost Explorer's do, in no single unit.
  std::string Quantity() const {
    if (volume_gib_months == 0) return Hours(billed_ms);
    return fmt::format("{:.6f}", double(billed_ms) / billing::kHourMs + volume_gib_months);
  }
};

absl::StatusOr<int64_t> ParseDate(const json& v, const char* what) {
  absl::CivilDay day;
  if (!v.is_string() || v.get<std::string>().size() != 10 ||
      !absl::ParseCivilTime(v.get<std::string>(), &day)) {
    return Validation(fmt::format("{} must be a date in the form YYYY-MM-DD", what));
  }
  return absl::ToUnixMillis(absl::FromCivil(day, absl::UTCTimeZone()));
}

// A dimension's value for a line, as Cost Explorer names it; nullopt for one Kumo does not know.
std::optional<std::string> Dimension(const BillLine& l, std::string_view key,
                                     const std::string& account_id) {
  bool spot = l.market == Market::kSpot;
  bool volume = billing::IsVolumeLine(l.usage) || billing::IsAddressLine(l.usage);
  if (billing::IsAddressLine(l.usage) && (key == "SERVICE" || key == "SERVICE_CODE")) {
    // Public IPv4 addresses are billed under VPC since 2024.
    return key == "SERVICE" ? "Amazon Virtual Private Cloud" : "AmazonVPC";
  }
  // Storage is "EC2 - Other" in Cost Explorer, with no instance type.
  if (key == "SERVICE") return volume ? std::string("EC2 - Other") : std::string(kEc2Service);
  if (key == "SERVICE_CODE") return "AmazonEC2";
  if (key == "INSTANCE_TYPE") return volume ? "NoInstanceType" : l.usage.instance_type;
  if (key == "INSTANCE_TYPE_FAMILY") {
    if (volume) return "NoInstanceTypeFamily";
    return l.usage.instance_type.substr(0, l.usage.instance_type.find('.'));
  }
  if (key == "USAGE_TYPE") return billing::AwsUsageType(l);
  if (key == "REGION") return l.region;
  if (key == "AZ") return l.az;
  if (key == "PURCHASE_TYPE") return spot ? "Spot Instances" : "On Demand Instances";
  if (key == "LINKED_ACCOUNT") return account_id;
  if (key == "OPERATION") return billing::AwsOperation(l);
  if (key == "RESOURCE_ID") return l.usage.instance_id;
  if (key == "RECORD_TYPE") return "Usage";
  if (key == "PLATFORM" || key == "OPERATING_SYSTEM") return "Linux";
  if (key == "TENANCY") return "Shared";
  return std::nullopt;
}

bool MatchOne(const std::string& value, const std::string& want, const std::set<std::string>& o) {
  auto fold = [&](std::string s) {
    if (o.count("CASE_INSENSITIVE")) {
      for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
  };
  std::string v = fold(value), w = fold(want);
  if (o.count("STARTS_WITH")) return v.rfind(w, 0) == 0;
  if (o.count("ENDS_WITH")) return v.size() >= w.size() && v.substr(v.size() - w.size()) == w;
  if (o.count("CONTAINS")) return v.find(w) != std::string::npos;
  return v == w;
}

absl::StatusOr<bool> MatchValues(const json& spec, const std::optional<std::string>& value) {
  std::set<std::string> options;
  if (spec.contains("MatchOptions")) {
    for (const auto& o : spec["MatchOptions"]) options.insert(o.get<std::string>());
  }
  if (options.count("ABSENT")) return !value.has_value() || value->empty();
  if (!value) return false;
  for (const auto& v : spec.value("Values", json::array())) {
    if (MatchOne(*value, v.get<std::string>(), options)) return true;
  }
  return false;
}

absl::StatusOr<bool> Matches(const json& expr, const BillLine& l, const std::string& account_id,
                             int depth = 0) {
  if (!expr.is_object() || depth > 32) return Validation("Filter must be an Expression object");
  int parts = 0;
  for (const char* k : {"And", "Or", "Not", "Dimensions", "Tags", "CostCategories"}) {
    parts += expr.contains(k);
  }
  if (parts != 1) {
    return Validation("Expression must have exactly one of And, Or, Not, Dimensions, Tags");
  }
  if (expr.contains("And") || expr.contains("Or")) {
    bool is_and = expr.contains("And");
    const json& list = expr[is_and ? "And" : "Or"];
    if (!list.is_array() || list.size() < 2) {
      return Validation("And and Or need at least two expressions");
    }
    for (const auto& e : list) {
      ASSIGN_OR_RETURN(bool m, Matches(e, l, account_id, depth + 1));
      if (m != is_and) return m;
    }
    return is_and;
  }
  if (expr.contains("Not")) {
    ASSIGN_OR_RETURN(bool m, Matches(expr["Not"], l, account_id, depth + 1));
    return !m;
  }
  if (expr.contains("Dimensions")) {
    const json& d = expr["Dimensions"];
    std::string key = d.value("Key", "");
    if (key.empty()) return Validation("Dimensions needs a Key");
    // A dimension Kumo's usage does not have (DATABASE_ENGINE, say) has no value on any line.
    return MatchValues(d, Dimension(l, key, account_id));
  }
  if (expr.contains("Tags")) {
    const json& t = expr["Tags"];
    auto it = l.tags.find(t.value("Key", ""));
    return MatchValues(t, it == l.tags.end() ? std::nullopt : std::optional(it->second));
  }
  return Validation("Cost categories are not supported by Kumo");
}

struct GroupDef {
  bool tag = false;
  std::string key;
};

absl::StatusOr<std::string> GroupKey(const GroupDef& g, const BillLine& l,
                                     const std::string& account_id) {
  if (g.tag) {
    auto it = l.tags.find(g.key);
    return g.key + "$" + (it == l.tags.end() ? "" : it->second);
  }
  auto v = Dimension(l, g.key, account_id);
  if (!v) return Validation(fmt::format("Kumo cannot group by the dimension {}", g.key));
  return *v;
}

json Metrics(const std::vector<std::string>& names, const Sum& s) {
  json out = json::object();
  for (const auto& m : names) {
    if (m == "UsageQuantity") {
      out[m] = {{"Amount", s.Quantity()}, {"Unit", s.volume_gib_months == 0 ? "Hrs" : "N/A"}};
    } else {
      out[m] = {{"Amount", Usd(s.cost)}, {"Unit", "USD"}};
    }
  }
  return out;
}

json TermsJson(const billing::FreeTierTerms& t) {
  return {{"enabled", t.enabled},
          {"hours_per_month", t.hours_per_month},
          {"months", t.months},
          {"instance_types", t.instance_types}};
}

}  // namespace

absl::StatusOr<BillingTerms> TermsFor(store::Tx& tx, const std::string& account_id) {
  BillingTerms terms;
  for (const std::string& name : {std::string("default"), account_id}) {
    ASSIGN_OR_RETURN(auto r, tx.FindResourceByName(kBillingOwner, "", kBillingTermsType, name));
    if (!r) continue;
    const json& d = r->data;
    auto& f = terms.free_tier;
    f.enabled = d.value("enabled", f.enabled);
    f.hours_per_month = d.value("hours_per_month", f.hours_per_month);
    f.months = d.value("months", f.months);
    if (d.contains("instance_types") && d["instance_types"].is_array()) {
      f.instance_types = d["instance_types"].get<std::vector<std::string>>();
    }
  }
  return terms;
}

absl::StatusOr<json> SetFreeTierTerms(store::Tx& tx, const std::string& account_id,
                                      const json& body, int64_t now_ms) {
  std::string name = account_id.empty() ? "default" : account_id;
  if (!account_id.empty()) RETURN_IF_ERROR(tx.GetAccount(account_id).status());
  json update = json::object();
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean())
      return InvalidParameterValue("enabled must be true or false");
    update["enabled"] = body["enabled"];
  }
  for (const char* k : {"hours_per_month", "months"}) {
    if (!body.contains(k)) continue;
    if (!body[k].is_number_integer() || body[k].get<int64_t>() < 0 ||
        body[k].get<int64_t>() > 100000) {
      return InvalidParameterValue(fmt::format("{} must be a whole number of at most 100000", k));
    }
    update[k] = body[k];
  }
  if (body.contains("instance_types")) {
    if (!body["instance_types"].is_array()) return InvalidParameterValue("instance_types: a list");
    for (const auto& t : body["instance_types"]) {
      if (!t.is_string()) return InvalidParameterValue("instance_types: a list of names");
    }
    update["instance_types"] = body["instance_types"];
  }
  ASSIGN_OR_RETURN(auto r, tx.FindResourceByName(kBillingOwner, "", kBillingTermsType, name));
  if (r) {
    r->data.update(update);
    RETURN_IF_ERROR(tx.UpdateResource(*r));
  } else {
    RETURN_IF_ERROR(tx.InsertResource({"bt-" + name, std::string(kBillingOwner), "",
                                       std::string(kBillingTermsType), name, update, 0, now_ms}));
  }
  ASSIGN_OR_RETURN(BillingTerms terms, TermsFor(tx, account_id));
  return json{{"account", name}, {"free_tier", TermsJson(terms.free_tier)}};
}

absl::StatusOr<billing::Bill> AccountBill(store::Tx& tx, const store::Account& account,
                                          int64_t month_at_ms, int64_t now_ms) {
  ASSIGN_OR_RETURN(BillingTerms terms, TermsFor(tx, account.id));
  billing::BillOptions options;
  options.free_tier = terms.free_tier;
  return billing::ComputeBill(tx, account, month_at_ms, now_ms, options);
}

absl::StatusOr<int64_t> ParseMonth(const std::string& month) {
  absl::CivilMonth m;
  if (month.size() != 7 || !absl::ParseCivilTime(month, &m)) {
    return Validation("Month must be in the form YYYY-MM");
  }
  return absl::ToUnixMillis(absl::FromCivil(m, absl::UTCTimeZone()));
}

absl::StatusOr<json> GetBill(store::Tx& tx, const store::Account& account, const Caller& caller,
                             const json& input) {
  int64_t now = UnixMillis(caller.now);
  int64_t month_at = now;
  if (input.contains("Month")) {
    if (!input["Month"].is_string()) return Validation("Month must be in the form YYYY-MM");
    ASSIGN_OR_RETURN(month_at, ParseMonth(input["Month"].get<std::string>()));
  }
  std::string format = input.value("Format", "json");
  if (format != "json" && format != "csv") return Validation("Format must be json or csv");
  ASSIGN_OR_RETURN(Bill bill, AccountBill(tx, account, month_at, now));

  json out = {{"AccountId", account.id},
              {"Month", Day(bill.month_start_ms).substr(0, 7)},
              {"Start", Iso(bill.month_start_ms)},
              {"End", Iso(bill.month_end_ms)},
              {"AsOf", Iso(now)},
              {"Currency", "USD"},
              {"Total", billing::FormatUsd(bill.total)},
              {"Forecast", billing::FormatUsd(bill.forecast)},
              {"Estimated", now < bill.month_end_ms}};
  if (format == "csv") {
    out["Csv"] = billing::BillCsv(bill);
    return out;
  }
  if (bill.free_tier_limit_ms > 0) {
    out["FreeTier"] = {{"HoursUsed", Hours(bill.free_tier_used_ms)},
                       {"HoursLimit", Hours(bill.free_tier_limit_ms)},
                       {"HoursLeft", Hours(std::max<int64_t>(
                                         0, bill.free_tier_limit_ms - bill.free_tier_used_ms))}};
  } else {
    out["FreeTier"] = nullptr;
  }
  std::map<std::string, Sum> by_instance, by_type, by_name;
  std::map<std::string, const BillLine*> instance_line;
  json lines = json::array();
  std::map<std::string, Sum> by_volume, by_address;
  for (const BillLine& b : bill.lines) {
    const auto& l = b.usage;
    bool volume = billing::IsVolumeLine(l);
    if (billing::IsAddressLine(l)) {
      by_address[l.instance_id].Add(l);
      by_name[NameOf(b.tags)].Add(l);
      lines.push_back(
          {{"AllocationId", l.instance_id},
           {"UsageType", billing::AwsUsageType(b)},
           {"Start", Iso(l.start_ms)},
           {"End", Iso(l.end_ms)},
           {"Hours", Hours(l.billed_ms)},
           {"BilledSeconds", fmt::format("{}.{:03d}", l.billed_ms / 1000, l.billed_ms % 1000)},
           {"Rate", billing::FormatUsd(l.cost == 0 ? 0 : l.hourly)},
           {"Cost", Usd(l.cost)},
           {"Note", l.note}});
      continue;
    }
    if (volume) {
      by_volume[l.instance_id].Add(l);
    } else {
      by_instance[l.instance_id].Add(l);
      by_type[l.instance_type].Add(l);
    }
    instance_line.emplace(l.instance_id, &b);
    by_name[NameOf(b.tags)].Add(l);
    if (volume) {
      lines.push_back(
          {{"VolumeId", l.instance_id},
           {"VolumeType", l.instance_type},
           {"UsageType", billing::AwsUsageType(b)},
           {"Start", Iso(l.start_ms)},
           {"End", Iso(l.end_ms)},
           {"GiB", l.gib},
           {"GibMonths", fmt::format("{:.9f}", billing::UsageQuantity(l))},
           {"BilledSeconds", fmt::format("{}.{:03d}", l.billed_ms / 1000, l.billed_ms % 1000)},
           {"Rate", billing::FormatUsd(l.cost == 0 ? 0 : l.hourly)},
           {"RateUnit", "GB-Mo"},
           {"Cost", Usd(l.cost)},
           {"Note", l.note}});
      continue;
    }
    lines.push_back(
        {{"InstanceId", l.instance_id},
         {"InstanceType", l.instance_type},
         {"UsageType", billing::AwsUsageType(b)},
         {"Start", Iso(l.start_ms)},
         {"End", Iso(l.end_ms)},
         {"Hours", Hours(l.billed_ms)},
         // Exact, so that anyone can recompute Cost = BilledSeconds × Rate / 3600.
         {"BilledSeconds", fmt::format("{}.{:03d}", l.billed_ms / 1000, l.billed_ms % 1000)},
         {"Rate", billing::FormatUsd(l.cost == 0 ? 0 : l.hourly)},
         {"Cost", Usd(l.cost)},
         {"Note", l.note}});
  }
  json instances = json::array(), types = json::array(), names = json::array();
  for (const auto& [id, s] : by_instance) {
    const BillLine& b = *instance_line[id];
    instances.push_back({{"InstanceId", id},
                         {"InstanceType", b.usage.instance_type},
                         {"Name", NameOf(b.tags)},
                         {"Market", MarketName(b.market)},
                         {"Hours", Hours(s.billed_ms)},
                         {"Cost", Usd(s.cost)}});
  }
  json volumes = json::array();
  for (const auto& [id, s] : by_volume) {
    const BillLine& b = *instance_line[id];
    volumes.push_back({{"VolumeId", id},
                       {"VolumeType", b.usage.instance_type},
                       {"Name", NameOf(b.tags)},
                       {"GibMonths", fmt::format("{:.6f}", s.volume_gib_months)},
                       {"Cost", Usd(s.cost)}});
  }
  json addresses = json::array();
  for (const auto& [id, s] : by_address) {
    addresses.push_back(
        {{"AllocationId", id}, {"IdleHours", Hours(s.billed_ms)}, {"Cost", Usd(s.cost)}});
  }
  for (const auto& [type, s] : by_type) {
    types.push_back({{"InstanceType", type}, {"Hours", Hours(s.billed_ms)}, {"Cost", Usd(s.cost)}});
  }
  for (const auto& [name, s] : by_name) {
    names.push_back({{"Name", name}, {"Hours", Hours(s.billed_ms)}, {"Cost", Usd(s.cost)}});
    if (s.volume_gib_months > 0) {
      names.back()["VolumeGibMonths"] = fmt::format("{:.6f}", s.volume_gib_months);
    }
  }
  json running = json::array();
  for (const auto& r : bill.running) {
    running.push_back({{"InstanceId", r.instance_id},
                       {"InstanceType", r.instance_type},
                       {"Name", NameOf(r.tags)},
                       {"Market", MarketName(r.market)},
                       {"Since", Iso(r.since_ms)},
                       {"AgeHours", Hours(now - r.since_ms)},
                       {"Hourly", billing::FormatUsd(r.hourly)},
                       {"CostSoFar", billing::FormatUsd(r.cost_so_far)}});
  }
  if (month_at == now) {
    ASSIGN_OR_RETURN(json budget, GetBudget(tx, account, caller, json::object()));
    out["Budget"] = budget["Budget"];
  }
  out["ByInstance"] = std::move(instances);
  out["ByType"] = std::move(types);
  out["ByVolume"] = std::move(volumes);
  out["ByAddress"] = std::move(addresses);
  out["ByName"] = std::move(names);
  out["Running"] = std::move(running);
  out["Lines"] = std::move(lines);
  return out;
}

absl::StatusOr<json> GetPrices(store::Tx& tx, const store::Account& account, const Caller& caller,
                               const InstanceTypeCatalog& catalog) {
  ASSIGN_OR_RETURN(BillingTerms terms, TermsFor(tx, account.id));
  const auto& ft = terms.free_tier;
  // The same end as the rating's: the account's creation plus the terms' months, to the second.
  absl::CivilSecond created =
      absl::ToCivilSecond(absl::FromUnixMillis(account.created_ms), absl::UTCTimeZone());
  absl::CivilSecond ends(created.year(), created.month() + ft.months, created.day(), created.hour(),
                         created.minute(), created.second());
  absl::Time ends_at = absl::FromCivil(ends, absl::UTCTimeZone());
  bool free_now = ft.enabled && absl::FromUnixMillis(UnixMillis(caller.now)) < ends_at;
  json prices = json::array();
  for (const InstanceType& t : catalog.types()) {
    auto price = OnDemandPrice(tx, caller.region, t.name);
    if (!price.ok() && !absl::IsNotFound(price.status())) return price.status();
    billing::Micros hourly =
        price.ok() ? *price
                   : billing::Micros(std::llround(catalog.PricePerHour(t, caller.region) * 1e6));
    bool covered = std::find(ft.instance_types.begin(), ft.instance_types.end(), t.name) !=
                   ft.instance_types.end();
    prices.push_back({{"InstanceType", t.name},
                      {"OnDemandHourly", billing::FormatUsd(hourly)},
                      {"FreeTierEligible", free_now && covered}});
  }
  json volumes = json::array();
  for (const auto& [type, by_region] : catalog.volume_prices()) {
    volumes.push_back({{"VolumeType", type},
                       {"PerGibMonth", fmt::format("{:.4f}", InstanceTypeCatalog::PriceIn(
                                                                 by_region, caller.region))}});
  }
  return json{{"Region", caller.region},
              {"Currency", "USD"},
              {"Prices", std::move(prices)},
              {"VolumePrices", std::move(volumes)},
              {"FreeTier",
               {{"Active", free_now},
                {"HoursPerMonth", ft.enabled ? ft.hours_per_month : 0},
                {"InstanceTypes", ft.instance_types},
                {"Ends", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ends_at, absl::UTCTimeZone())}}}};
}

absl::StatusOr<json> GetCostAndUsage(store::Tx& tx, const store::Account& account,
                                     const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(BillingTerms terms, TermsFor(tx, account.id));
  const json period = input.value("TimePeriod", json());
  if (!period.is_object()) return Validation("TimePeriod is required");
  ASSIGN_OR_RETURN(int64_t start, ParseDate(period.value("Start", json()), "TimePeriod.Start"));
  ASSIGN_OR_RETURN(int64_t end, ParseDate(period.value("End", json()), "TimePeriod.End"));
  if (start >= end) return Validation("Start date (and hour) should be before end date (and hour)");
  std::string granularity = input.value("Granularity", "");
  if (granularity == "HOURLY") {
    return Validation("Hourly granularity is not enabled for this account");
  }
  if (granularity != "DAILY" && granularity != "MONTHLY") {
    return Validation("Granularity must be DAILY or MONTHLY");
  }
  std::vector<std::string> metrics;
  static const std::set<std::string> kMetrics = {"UnblendedCost",    "BlendedCost",
                                                 "AmortizedCost",    "NetUnblendedCost",
                                                 "NetAmortizedCost", "UsageQuantity"};
  for (const auto& m : input.value("Metrics", json::array())) {
    std::string name = m.is_string() ? m.get<std::string>() : "";
    if (!kMetrics.count(name)) return Validation(fmt::format("Unsupported metric: {}", name));
    metrics.push_back(name);
  }
  if (metrics.empty()) return Validation("Metrics is required");
  std::vector<GroupDef> groups;
  const json group_by = input.value("GroupBy", json::array());
  if (group_by.size() > 2) return Validation("GroupBy takes at most two group definitions");
  for (const auto& g : group_by) {
    std::string type = g.value("Type", ""), key = g.value("Key", "");
    if (type == "TAG") {
      groups.push_back({true, key});
    } else if (type == "DIMENSION") {
      if (!Dimension(BillLine{}, key, "")) {
        return Validation(fmt::format("Kumo cannot group by the dimension {}", key));
      }
      groups.push_back({false, key});
    } else {
      return Validation("GroupBy Type must be DIMENSION or TAG");
    }
  }
  const json filter = input.value("Filter", json());
  // Cost Explorer keeps 14 months (and 12 months ahead for forecasts).
  if (end - start > int64_t(400) * billing::kDayMs) {
    return Validation("The time period cannot be longer than 14 months");
  }

  int64_t now = UnixMillis(caller.now);
  billing::BillOptions options;
  options.free_tier = terms.free_tier;
  options.daily = true;  // every line within one day, so any period boundary cuts cleanly
  std::vector<BillLine> lines;
  for (int64_t m = billing::MonthStartMs(start); m < end; m = billing::NextMonthStartMs(m)) {
    ASSIGN_OR_RETURN(Bill bill, billing::ComputeBill(tx, account, m, now, options));
    for (auto& l : bill.lines) {
      if (l.usage.start_ms < start || l.usage.start_ms >= end) continue;
      if (!filter.is_null()) {
        ASSIGN_OR_RETURN(bool keep, Matches(filter, l, account.id));
        if (!keep) continue;
      }
      lines.push_back(std::move(l));
    }
  }

  json results = json::array();
  size_t next = 0;  // lines are in time order
  for (int64_t from = start; from < end;) {
    int64_t to = granularity == "DAILY" ? from + billing::kDayMs
                                        : std::min(end, billing::NextMonthStartMs(from));
    to = std::min(to, end);
    Sum total;
    std::map<std::vector<std::string>, Sum> grouped;
    for (; next < lines.size() && lines[next].usage.start_ms < to; ++next) {
      const BillLine& l = lines[next];
      total.Add(l.usage);
      if (groups.empty()) continue;
      std::vector<std::string> keys;
      for (const auto& g : groups) {
        ASSIGN_OR_RETURN(std::string k, GroupKey(g, l, account.id));
        keys.push_back(std::move(k));
      }
      grouped[keys].Add(l.usage);
    }
    json r = {{"TimePeriod", {{"Start", Day(from)}, {"End", Day(to)}}},
              {"Total", groups.empty() ? Metrics(metrics, total) : json::object()},
              {"Groups", json::array()},
              {"Estimated", to > now}};
    for (const auto& [keys, s] : grouped) {
      r["Groups"].push_back({{"Keys", keys}, {"Metrics", Metrics(metrics, s)}});
    }
    results.push_back(std::move(r));
    from = to;
  }
  json out = {{"ResultsByTime", std::move(results)}, {"DimensionValueAttributes", json::array()}};
  if (!group_by.empty()) out["GroupDefinitions"] = group_by;
  return out;
}

}  // namespace kumo::services
