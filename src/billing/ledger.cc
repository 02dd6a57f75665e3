#include "billing/ledger.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace kumo::billing {

using nlohmann::json;

namespace {

std::string Str(const json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_string() ? it->get<std::string>() : "";
}

// One stay in `running`, from its two events: what the rating needs of them.
struct Stay {
  std::string instance_id, region, type, az;
  Market market = Market::kOnDemand;
  Micros hourly = 0;  // the price the entry recorded
  std::map<std::string, std::string> tags;
  int64_t start_ms = 0;
  int64_t end_ms = -1;  // -1: still running at the bill's time
  EndedBy ended_by = EndedBy::kStillRunning;
};

// What a line shares with its instance; an instance keeps its region, zone and market.
struct InstanceFacts {
  std::string region, az;
  Market market = Market::kOnDemand;
  std::map<std::string, std::string> tags;
};

int64_t FreeTierEndsMs(const FreeTierTerms& terms, int64_t created_ms) {
  absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixMillis(created_ms), absl::UTCTimeZone());
  absl::CivilSecond end(c.year(), c.month() + terms.months, c.day(), c.hour(), c.minute(),
                        c.second());
  return absl::ToUnixMillis(absl::FromCivil(end, absl::UTCTimeZone()));
}

bool FreeTierType(const FreeTierTerms& terms, const std::string& type) {
  return std::find(terms.instance_types.begin(), terms.instance_types.end(), type) !=
         terms.instance_types.end();
}

std::map<std::string, std::string> TagsOf(const json& running) {
  std::map<std::string, std::string> out;
  if (running.contains("tags") && running["tags"].is_object()) {
    for (const auto& [k, v] : running["tags"].items()) {
      if (v.is_string()) out[k] = v.get<std::string>();
    }
  }
  return out;
}

std::string Hours(int64_t ms) {
  int64_t micro_hours = (ms * 10 + 18) / 36;  // ms / 3.6, rounded
  return fmt::format("{}.{:06d}", micro_hours / 1'000'000, micro_hours % 1'000'000);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

absl::StatusOr<const std::vector<PricePoint>*> PriceBook::Series(store::Tx& tx,
                                                                 const std::string& region,
                                                                 std::string_view kind,
                                                                 const std::string& subject) {
  std::string key = fmt::format("{}|{}|{}", region, kind, subject);
  auto it = cache_.find(key);
  if (it != cache_.end()) return &it->second;
  std::vector<PricePoint> series;
  RETURN_IF_ERROR(
      tx.ScanMeterEvents({.account_id = std::string(kPriceOwner),
                          .region = region,
                          .subject = subject,
                          .kind = std::string(kind),
                          .before_ms = before_ms_},
                         [&](const store::MeterEvent& e) {
                           series.push_back({e.at_ms, e.data.value("hourly", Micros(0))});
                           return absl::OkStatus();
                         }));
  // Events are in commit order; a simulated clock only moves forward, a system clock may not.
  std::stable_sort(series.begin(), series.end(),
                   [](const PricePoint& a, const PricePoint& b) { return a.at_ms < b.at_ms; });
  return &cache_.emplace(std::move(key), std::move(series)).first->second;
}

absl::StatusOr<Bill> ComputeBill(store::Tx& tx, const store::Account& account, int64_t month_at_ms,
                                 int64_t as_of_ms, const BillOptions& options,
                                 PriceBook* shared_prices) {
  Bill bill;
  bill.account_id = account.id;
  bill.month_start_ms = MonthStartMs(month_at_ms);
  bill.month_end_ms = NextMonthStartMs(month_at_ms);
  bill.as_of_ms = as_of_ms;
  const int64_t until = std::min(as_of_ms, bill.month_end_ms);
  if (until <= bill.month_start_ms) return bill;  // a month that has not begun
  // Stays are read whole, up to as_of, also for a past month: a stay that runs across midnight
  // at the month's end is one stay (one minimum, one spot first hour), of which this month
  // keeps the lines that start in it.
  const int64_t now = as_of_ms;
  const bool current = as_of_ms < bill.month_end_ms;

  std::vector<Stay> stays;
  std::unordered_map<std::string, size_t> open;  // instance id → its stay in `running`
  // Volumes: their sizes over time, per volume and type, in the order first seen.
  std::vector<std::pair<Stay, VolumeUsage>> volumes;
  std::unordered_map<std::string, size_t> volume_of;  // "id|type", and id → the current one
  // Elastic IPs: their idle periods (end -1 while open) and region, in the order first seen.
  std::vector<std::pair<std::string, std::vector<IdlePeriod>>> addresses;
  std::unordered_map<std::string, size_t> address_of;
  std::unordered_map<std::string, std::string> address_region;
  RETURN_IF_ERROR(tx.ScanMeterEvents(
      {.account_id = account.id, .before_ms = now},
      [&](const store::MeterEvent& e) -> absl::Status {
        if (e.kind == kMeterRunning) {
          if (auto it = open.find(e.subject); it != open.end()) {
            // Two entries without a leaving: end the first where the second begins.
            stays[it->second].end_ms = e.at_ms;
            stays[it->second].ended_by = EndedBy::kUser;
          }
          open[e.subject] = stays.size();
          const json& d = e.data;
          stays.push_back({e.subject, e.region, Str(d, "type"), Str(d, "az"),
                           Str(d, "market") == "spot" ? Market::kSpot : Market::kOnDemand,
                           d.value("hourly", Micros(0)), TagsOf(d), e.at_ms});
        } else if (e.kind == kMeterLeftRunning) {
          auto it = open.find(e.subject);
          if (it == open.end()) return absl::OkStatus();
          stays[it->second].end_ms = e.at_ms;
          stays[it->second].ended_by =
              Str(e.data, "by") == "provider" ? EndedBy::kProvider : EndedBy::kUser;
          open.erase(it);
        } else if (e.kind.rfind("address-", 0) == 0) {
          auto [it, fresh] = address_of.try_emplace(e.subject, addresses.size());
          if (fresh) addresses.push_back({e.subject, {}});
          address_region[e.subject] = e.region;
          auto& idle = addresses[it->second].second;
          bool open_now = !idle.empty() && idle.back().end_ms < 0;
          if (e.kind == "address-allocated" || e.kind == "address-disassociated") {
            if (!open_now) idle.push_back({e.at_ms, -1});
          } else if (open_now) {
            idle.back().end_ms = e.at_ms;
          }
        } else if (e.kind.rfind("volume-", 0) == 0) {
          // One usage per volume and type: a type change closes one and opens the other.
          std::string type = Str(e.data, "volume_type");
          auto current = volume_of.find(e.subject);
          if (current != volume_of.end()) {
            auto& open_segments = volumes[current->second].second.segments;
            if (!open_segments.empty() && open_segments.back().end_ms < 0) {
              open_segments.back().end_ms = e.at_ms;
            }
            if (type.empty()) type = volumes[current->second].second.volume_type;
          }
          if (e.kind == "volume-deleted") return absl::OkStatus();
          if (type.empty()) type = "gp2";
          auto [it, fresh] = volume_of.try_emplace(e.subject + '|' + type, volumes.size());
          if (fresh) {
            Stay facts;
            facts.instance_id = e.subject;
            facts.region = e.region;
            facts.az = Str(e.data, "az");
            VolumeUsage v;
            v.volume_id = e.subject;
            v.volume_type = type;
            volumes.emplace_back(std::move(facts), std::move(v));
          }
          volume_of[e.subject] = it->second;
          volumes[it->second].second.segments.push_back(
              {e.at_ms, -1, e.data.value("size_gib", int64_t(0))});
        }
        return absl::OkStatus();
      }));

  PriceBook own_prices(now);
  PriceBook& prices =
      shared_prices && shared_prices->before_ms() >= now ? *shared_prices : own_prices;
  std::unordered_map<std::string, InstanceFacts> facts;
  // One usage per instance and type (a stopped instance may change type), rated in one go so
  // that its price series is copied once, not once per stay.
  std::vector<InstanceUsage> usages;
  std::unordered_map<std::string, size_t> usage_of;
  std::vector<const std::vector<PricePoint>*> series_of;
  for (Stay& s : stays) {
    int64_t end = s.end_ms < 0 ? now : s.end_ms;
    if (end <= bill.month_start_ms && s.end_ms >= 0) continue;  // all in an earlier month
    if (s.start_ms >= bill.month_end_ms) continue;              // all in a later one
    const std::string& type = s.type;
    Market market = s.market;
    std::string key = s.instance_id + '|' + type + (market == Market::kSpot ? "|s" : "|o");
    auto [it, fresh] = usage_of.try_emplace(std::move(key), usages.size());
    if (fresh) {
      InstanceUsage u;
      u.instance_id = s.instance_id;
      u.instance_type = type;
      u.market = market;
      const std::vector<PricePoint>* series = nullptr;
      if (market == Market::kSpot) {
        ASSIGN_OR_RETURN(
            series, prices.Series(tx, s.region, kMeterSpotPrice, fmt::format("{}/{}", s.az, type)));
      } else {
        ASSIGN_OR_RETURN(series, prices.Series(tx, s.region, kMeterOnDemandPrice, type));
      }
      usages.push_back(std::move(u));
      series_of.push_back(series);
    }
    InstanceUsage& u = usages[it->second];
    u.periods.push_back({s.start_ms, end, s.ended_by});
    const auto* series = series_of[it->second];
    if (series->empty() || series->front().at_ms > s.start_ms) {
      // A ledger older than its price events: the price the stay recorded holds until the
      // series begins (never a later price applied to earlier hours).
      u.prices.push_back({s.start_ms, s.hourly});
    }
    auto& f = facts[s.instance_id];
    f.region = s.region;
    f.az = s.az;
    f.market = market;
    f.tags = std::move(s.tags);
    if (s.end_ms < 0 && current) {
      const auto* series = series_of[it->second];
      bill.running.push_back(RunningInstance{s.instance_id,
                                             type,
                                             s.region,
                                             market,
                                             s.start_ms,
                                             PriceAt(series->empty() ? u.prices : *series, now),
                                             0,
                                             {}});
    }
  }
  std::vector<UsageLine> lines;
  for (size_t i = 0; i < usages.size(); ++i) {
    InstanceUsage& u = usages[i];
    if (!series_of[i]->empty()) {
      // The stays' own prices before the series begins, then the series.
      std::vector<PricePoint> own = std::move(u.prices);
      std::erase_if(own,
                    [&](const PricePoint& p) { return p.at_ms >= series_of[i]->front().at_ms; });
      u.prices = std::move(own);
      u.prices.insert(u.prices.end(), series_of[i]->begin(), series_of[i]->end());
    }
    std::vector<UsageLine> rated = SplitAtMonths(RateInstance(u));
    if (options.daily) rated = SplitAtDays(std::move(rated));
    for (auto& l : rated) {
      if (l.start_ms >= bill.month_start_ms && l.start_ms < bill.month_end_ms) {
        lines.push_back(std::move(l));
      }
    }
  }
  ExactCost volume_forecast = 0;  // what the volumes that still exist add by the month's end
  int64_t open_gib_total = 0;
  const int64_t remaining_ms = as_of_ms >= bill.month_start_ms && as_of_ms < bill.month_end_ms
                                   ? bill.month_end_ms - as_of_ms
                                   : 0;
  for (auto& [facts_of, v] : volumes) {
    int64_t open_gib = -1;
    for (auto& seg : v.segments) {
      if (seg.end_ms < 0) {
        seg.end_ms = now;
        open_gib = seg.gib;
      }
    }
    std::erase_if(v.segments, [&](const VolumeSegment& seg) {
      return seg.end_ms <= bill.month_start_ms || seg.end_ms <= seg.start_ms;
    });
    if (v.segments.empty()) continue;
    ASSIGN_OR_RETURN(const std::vector<PricePoint>* series,
                     prices.Series(tx, facts_of.region, kMeterVolumePrice, v.volume_type));
    v.prices = *series;
    if (open_gib > 0 && remaining_ms > 0) {
      open_gib_total += open_gib;
      volume_forecast += ExactCost(open_gib) * PriceAt(v.prices, now) * remaining_ms * kHourMs /
                         (bill.month_end_ms - bill.month_start_ms);
    }
    auto& f = facts[v.volume_id];
    f.region = facts_of.region;
    if (!facts_of.az.empty()) f.az = facts_of.az;
    std::vector<UsageLine> rated = RateVolume(v);
    if (options.daily) rated = SplitAtDays(std::move(rated));
    for (auto& l : rated) {
      if (l.start_ms >= bill.month_start_ms && l.start_ms < bill.month_end_ms) {
        lines.push_back(std::move(l));
      }
    }
  }
  ExactCost address_forecast = 0;  // idle addresses, idle until the month's end
  for (auto& [allocation, idle] : addresses) {
    for (auto& p : idle) {
      if (p.end_ms >= 0) continue;
      p.end_ms = now;
      if (remaining_ms > 0) address_forecast += ExactCost(remaining_ms) * kIdleAddressHourly;
    }
    facts[allocation].region = address_region[allocation];
    std::vector<UsageLine> rated = RateIdleAddress(allocation, idle, kIdleAddressHourly);
    if (options.daily) rated = SplitAtDays(std::move(rated));
    for (auto& l : rated) {
      if (l.start_ms >= bill.month_start_ms && l.start_ms < bill.month_end_ms) {
        lines.push_back(std::move(l));
      }
    }
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const UsageLine& a, const UsageLine& b) { return a.start_ms < b.start_ms; });

  const int64_t free_ends = FreeTierEndsMs(options.free_tier, account.created_ms);
  const bool free_month = options.free_tier.enabled && bill.month_start_ms < free_ends;
  if (free_month) {
    bill.free_tier_limit_ms = options.free_tier.hours_per_month * kHourMs;
    bill.volume_free_limit =
        options.free_tier.volume_gib_months * (bill.month_end_ms - bill.month_start_ms);
  }
  lines = ApplyFreeTier(std::move(lines), options.free_tier, account.created_ms);

  // The tags an instance has now name its lines; one that is gone keeps those it last ran with.
  for (auto& [id, f] : facts) {
    ASSIGN_OR_RETURN(auto tags, tx.ListTags(account.id, f.region, id));
    if (tags.empty()) continue;
    f.tags.clear();
    for (const auto& t : tags) f.tags[t.key] = t.value;
  }
  bill.lines.reserve(lines.size());
  for (auto& l : lines) {
    const InstanceFacts& f = facts[l.instance_id];
    bill.exact_total += l.cost;
    if (l.usage_type == "BoxUsage:freetier.micro") bill.free_tier_used_ms += l.billed_ms;
    if (IsVolumeLine(l) && l.note == "Free Tier") bill.volume_free_used += l.billed_ms * l.gib;
    bill.lines.push_back({std::move(l), f.region, f.az, f.market, f.tags});
  }
  bill.total = RoundToMicros(bill.exact_total);

  // What runs now, and what the month comes to if it keeps running.
  // The storage still to come is paid only beyond what is left of the Free Tier.
  if (open_gib_total > 0 && remaining_ms > 0 && bill.volume_free_limit > 0) {
    ExactCost needed = ExactCost(open_gib_total) * remaining_ms;
    ExactCost free_left = std::max<int64_t>(0, bill.volume_free_limit - bill.volume_free_used);
    volume_forecast = volume_forecast * (needed - std::min(needed, free_left)) / needed;
  }
  ExactCost forecast = bill.exact_total + volume_forecast + address_forecast;
  int64_t remaining = as_of_ms >= bill.month_start_ms && as_of_ms < bill.month_end_ms
                          ? bill.month_end_ms - as_of_ms
                          : 0;
  ExactCost eligible_hourly = 0;
  int64_t eligible_count = 0;
  for (RunningInstance& r : bill.running) {
    const InstanceFacts& f = facts[r.instance_id];
    r.tags = f.tags;
    ExactCost cost = 0;
    for (const BillLine& l : bill.lines) {
      if (l.usage.instance_id == r.instance_id && l.usage.start_ms >= r.since_ms) {
        cost += l.usage.cost;
      }
    }
    r.cost_so_far = RoundToMicros(cost);
    if (r.market == Market::kOnDemand && free_month && as_of_ms < free_ends &&
        FreeTierType(options.free_tier, r.instance_type)) {
      eligible_hourly += r.hourly;
      ++eligible_count;
    } else {
      forecast += ExactCost(remaining) * r.hourly;
    }
  }
  if (eligible_count > 0 && remaining > 0) {
    ExactCost needed = ExactCost(eligible_count) * remaining;
    ExactCost free_left = std::max<int64_t>(0, bill.free_tier_limit_ms - bill.free_tier_used_ms);
    ExactCost paid = needed - std::min(needed, free_left);
    forecast += eligible_hourly * remaining * paid / needed;
  }
  bill.forecast = RoundToMicros(forecast);
  return bill;
}

std::string RegionUsagePrefix(std::string_view region) {
  static const std::map<std::string, std::string, std::less<>> kPrefixes = {
      {"us-east-1", ""},          {"us-east-2", "USE2"},      {"us-west-1", "USW1"},
      {"us-west-2", "USW2"},      {"ca-central-1", "CAN1"},   {"eu-west-1", "EUW1"},
      {"eu-west-2", "EUW2"},      {"eu-west-3", "EUW3"},      {"eu-central-1", "EUC1"},
      {"eu-north-1", "EUN1"},     {"eu-south-1", "EUS1"},     {"ap-northeast-1", "APN1"},
      {"ap-northeast-2", "APN2"}, {"ap-southeast-1", "APS1"}, {"ap-southeast-2", "APS2"},
      {"ap-south-1", "APS3"},     {"sa-east-1", "SAE1"}};
  auto it = kPrefixes.find(region);
  if (it != kPrefixes.end()) return it->second;
  std::string out;
  for (char c : region) out += char(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

double UsageQuantity(const UsageLine& l) {
  if (!IsVolumeLine(l)) return double(l.billed_ms) / kHourMs;
  int64_t month = MonthStartMs(l.start_ms);
  return double(l.gib) * double(l.billed_ms) / double(NextMonthStartMs(month) - month);
}

std::string AwsOperation(const BillLine& line) {
  if (IsAddressLine(line.usage)) return "AllocateAddressVPC";
  if (IsVolumeLine(line.usage)) {
    std::string t = line.usage.instance_type;
    if (!t.empty()) t[0] = char(std::toupper(static_cast<unsigned char>(t[0])));
    return "CreateVolume-" + t;
  }
  return line.market == Market::kSpot ? "RunInstances:SV001" : "RunInstances";
}

std::string AwsUsageType(const BillLine& line) {
  std::string prefix = RegionUsagePrefix(line.region);
  return prefix.empty() ? line.usage.usage_type : prefix + "-" + line.usage.usage_type;
}

std::string BillCsv(const Bill& bill) {
  std::string out =
      "identity/LineItemId,bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,"
      "lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,"
      "lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,lineItem/Operation,"
      "lineItem/AvailabilityZone,lineItem/ResourceId,lineItem/UsageAmount,"
      "lineItem/UnblendedRate,lineItem/UnblendedCost,lineItem/LineItemDescription,"
      "product/instanceType,product/region,pricing/term,pricing/unit,resourceTags/user:Name\n";
  auto iso = [](int64_t ms) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
  };
  int n = 0;
  for (const BillLine& b : bill.lines) {
    const UsageLine& l = b.usage;
    bool volume = IsVolumeLine(l);
    std::string what = volume ? fmt::format("GB-month of {} provisioned storage", l.instance_type)
                       : IsAddressLine(l) ? std::string("idle public IPv4 address hour")
                                          : fmt::format("{} hour", l.instance_type);
    std::string description =
        l.note.empty() ? fmt::format("${} per {}", FormatUsd(l.hourly), what)
                       : fmt::format("${} per {} ({})", FormatUsd(l.hourly), what, l.note);
    auto name = b.tags.find("Name");
    std::vector<std::string> row = {
        fmt::format("{}-{}", bill.account_id, ++n),
        iso(bill.month_start_ms),
        iso(bill.month_end_ms),
        bill.account_id,
        "Usage",
        iso(l.start_ms),
        iso(l.end_ms),
        IsAddressLine(l) ? "AmazonVPC" : "AmazonEC2",
        AwsUsageType(b),
        AwsOperation(b),
        b.az,
        l.instance_id,
        volume ? fmt::format("{:.9f}", UsageQuantity(l)) : Hours(l.billed_ms),
        FormatUsd(l.cost == 0 ? 0 : l.hourly),
        FormatUsd(RoundToMicros(l.cost)),
        description,
        volume ? "" : l.instance_type,
        b.region,
        b.market == Market::kSpot ? "Spot" : "OnDemand",
        volume ? "GB-Mo" : "Hrs",
        name == b.tags.end() ? "" : name->second};
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) out += ',';
      out += CsvField(row[i]);
    }
    out += '\n';
  }
  return out;
}

}  // namespace kumo::billing
