#include "billing/rating.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace kumo::billing {

namespace {

constexpr int64_t kMinimumMs = 60'000;

std::string UsageType(Market market, const std::string& type) {
  return (market == Market::kSpot ? "SpotUsage:" : "BoxUsage:") + type;
}

UsageLine Line(const InstanceUsage& u, const std::string& usage_type, int64_t start, int64_t end,
               Micros hourly) {
  UsageLine l;
  l.instance_id = u.instance_id;
  l.instance_type = u.instance_type;
  l.usage_type = usage_type;
  l.start_ms = start;
  l.end_ms = end;
  l.billed_ms = end - start;
  l.hourly = hourly;
  l.cost = ExactCost(l.billed_ms) * hourly;
  return l;
}

// The 60 s minimum: a period shorter than a minute is charged a minute, at its first price.
void ApplyMinimum(std::vector<UsageLine>& lines, size_t first, int64_t duration_ms) {
  if (first >= lines.size() || duration_ms >= kMinimumMs) return;
  UsageLine& l = lines[first];
  l.billed_ms += kMinimumMs - duration_ms;
  l.cost = ExactCost(l.billed_ms) * l.hourly;
  l.note = "minimum 60 s";
}

absl::Time At(int64_t ms) { return absl::FromUnixMillis(ms); }

// Calendar arithmetic is slow next to the rest of rating; lines come mostly in time order, so
// the month of the last lookup usually answers the next.
struct MonthOf {
  int64_t start = 0, next = 0;
  void Find(int64_t at_ms) {
    if (at_ms >= start && at_ms < next) return;
    start = MonthStartMs(at_ms);
    next = NextMonthStartMs(at_ms);
  }
};

}  // namespace

Micros RoundToMicros(ExactCost exact) {
  ExactCost q = exact / kHourMs, r = exact % kHourMs;
  if (r * 2 >= kHourMs) ++q;
  return Micros(q);
}

std::string FormatUsd(Micros micros) {
  return fmt::format("{}{}.{:06d}", micros < 0 ? "-" : "", std::abs(micros) / 1'000'000,
                     std::abs(micros) % 1'000'000);
}

Micros PriceAt(const std::vector<PricePoint>& series, int64_t at_ms) {
  if (series.empty()) return 0;
  auto it = std::upper_bound(series.begin(), series.end(), at_ms,
                             [](int64_t t, const PricePoint& p) { return t < p.at_ms; });
  return it == series.begin() ? series.front().hourly : std::prev(it)->hourly;
}

std::vector<UsageLine> RateInstance(const InstanceUsage& u) {
  std::vector<UsageLine> lines;
  const std::string usage_type = UsageType(u.market, u.instance_type);
  for (const RunPeriod& p : u.periods) {
    int64_t end = std::max(p.start_ms, p.end_ms), duration = end - p.start_ms;
    size_t first = lines.size();
    if (u.market == Market::kOnDemand) {
      // Per second at the price in effect: a line per price.
      int64_t from = p.start_ms;
      for (const PricePoint& change : u.prices) {
        if (change.at_ms <= from || change.at_ms >= end) continue;
        lines.push_back(Line(u, usage_type, from, change.at_ms, PriceAt(u.prices, from)));
        from = change.at_ms;
      }
      lines.push_back(Line(u, usage_type, from, end, PriceAt(u.prices, from)));
      ApplyMinimum(lines, first, duration);
      continue;
    }
    // Spot: every instance-hour at the price when it began.
    for (int64_t hour = p.start_ms; hour < end || hour == p.start_ms; hour += kHourMs) {
      lines.push_back(
          Line(u, usage_type, hour, std::min(end, hour + kHourMs), PriceAt(u.prices, hour)));
    }
    if (p.ended_by == EndedBy::kProvider && duration < kHourMs) {
      for (size_t i = first; i < lines.size(); ++i) {
        lines[i].billed_ms = 0;
        lines[i].cost = 0;
        lines[i].note = "interrupted by Kumo in its first hour: no charge";
      }
      continue;
    }
    ApplyMinimum(lines, first, duration);
  }
  return lines;
}

int64_t MonthStartMs(int64_t at_ms) {
  absl::CivilMonth m = absl::ToCivilMonth(At(at_ms), absl::UTCTimeZone());
  return absl::ToUnixMillis(absl::FromCivil(m, absl::UTCTimeZone()));
}

int64_t NextMonthStartMs(int64_t at_ms) {
  absl::CivilMonth m = absl::ToCivilMonth(At(at_ms), absl::UTCTimeZone());
  return absl::ToUnixMillis(absl::FromCivil(m + 1, absl::UTCTimeZone()));
}

namespace {

struct DayOf {
  int64_t start = 0, next = 0;
  void Find(int64_t at_ms) {
    if (at_ms >= start && at_ms < next) return;
    start = at_ms - ((at_ms % kDayMs) + kDayMs) % kDayMs;
    next = start + kDayMs;
  }
};

// gib × price per GiB-month × ms / the length of the month at_ms is in, scaled like every
// ExactCost (× kHourMs); exact to 1/3,600,000 of a micro-dollar.
ExactCost VolumeCost(int64_t gib, Micros per_gib_month, int64_t ms, int64_t at_ms) {
  int64_t month = MonthStartMs(at_ms);
  return ExactCost(gib) * per_gib_month * ms * kHourMs / (NextMonthStartMs(month) - month);
}

// Cuts lines where `Period` says a period ends, sharing each line's billed time and cost in
// proportion; the 60 s minimum stays with the period the line began in.
template <typename Period>
std::vector<UsageLine> SplitLines(std::vector<UsageLine> lines) {
  std::vector<UsageLine> out;
  out.reserve(lines.size());
  Period period;
  for (UsageLine& l : lines) {
    period.Find(l.start_ms);
    if (l.end_ms <= period.next) {
      out.push_back(std::move(l));
      continue;
    }
    int64_t extra = std::max<int64_t>(0, l.billed_ms - (l.end_ms - l.start_ms));
    bool free = l.cost == 0;
    for (int64_t from = l.start_ms;;) {
      period.Find(from);
      int64_t to = std::min(l.end_ms, period.next);
      UsageLine piece = l;
      piece.start_ms = from;
      piece.end_ms = to;
      piece.billed_ms =
          free && l.billed_ms == 0 ? 0 : (to - from) + (from == l.start_ms ? extra : 0);
      piece.cost = free              ? 0
                   : IsVolumeLine(l) ? VolumeCost(l.gib, l.hourly, piece.billed_ms, from)
                                     : ExactCost(piece.billed_ms) * l.hourly;
      out.push_back(std::move(piece));
      if (to >= l.end_ms) break;
      from = to;
    }
  }
  return out;
}

}  // namespace

std::vector<UsageLine> SplitAtMonths(std::vector<UsageLine> lines) {
  return SplitLines<MonthOf>(std::move(lines));
}

std::vector<UsageLine> SplitAtDays(std::vector<UsageLine> lines) {
  return SplitLines<DayOf>(std::move(lines));
}

std::vector<UsageLine> RateVolume(const VolumeUsage& v) {
  std::vector<UsageLine> lines;
  const std::string usage_type = "EBS:VolumeUsage." + v.volume_type;
  MonthOf month;
  for (const VolumeSegment& s : v.segments) {
    for (int64_t from = s.start_ms; from < s.end_ms;) {
      month.Find(from);
      int64_t to = std::min(s.end_ms, month.next);
      // A price change inside the piece starts a new line, as for On-Demand.
      for (const PricePoint& change : v.prices) {
        if (change.at_ms > from && change.at_ms < to) to = change.at_ms;
      }
      UsageLine l;
      l.instance_id = v.volume_id;
      l.instance_type = v.volume_type;
      l.usage_type = usage_type;
      l.start_ms = from;
      l.end_ms = to;
      l.billed_ms = to - from;
      l.hourly = PriceAt(v.prices, from);
      l.gib = s.gib;
      l.cost = VolumeCost(s.gib, l.hourly, l.billed_ms, from);
      lines.push_back(std::move(l));
      from = to;
    }
  }
  return lines;
}

std::vector<UsageLine> RateIdleAddress(const std::string& allocation_id,
                                       const std::vector<IdlePeriod>& idle, Micros hourly) {
  std::vector<UsageLine> lines;
  for (const IdlePeriod& p : idle) {
    if (p.end_ms <= p.start_ms) continue;
    UsageLine l;
    l.instance_id = allocation_id;
    l.usage_type = std::string(kIdleAddressUsage);
    l.start_ms = p.start_ms;
    l.end_ms = p.end_ms;
    l.billed_ms = p.end_ms - p.start_ms;
    l.hourly = hourly;
    l.cost = ExactCost(l.billed_ms) * hourly;
    lines.push_back(std::move(l));
  }
  return SplitAtMonths(std::move(lines));
}

std::vector<UsageLine> ApplyFreeTier(std::vector<UsageLine> lines, const FreeTierTerms& terms,
                                     int64_t account_created_ms) {
  if (!terms.enabled) return lines;
  absl::CivilSecond created = absl::ToCivilSecond(At(account_created_ms), absl::UTCTimeZone());
  absl::CivilSecond expires(created.year(), created.month() + terms.months, created.day(),
                            created.hour(), created.minute(), created.second());
  int64_t expires_ms = absl::ToUnixMillis(absl::FromCivil(expires, absl::UTCTimeZone()));
  auto eligible = [&](const UsageLine& l) {
    if (IsVolumeLine(l)) return l.start_ms < expires_ms && terms.volume_gib_months > 0;
    return l.usage_type == "BoxUsage:" + l.instance_type && l.start_ms < expires_ms &&
           std::find(terms.instance_types.begin(), terms.instance_types.end(), l.instance_type) !=
               terms.instance_types.end();
  };
  // The pool is spent in time order across the account's instances.
  std::vector<size_t> order;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (eligible(lines[i])) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lines[a].start_ms < lines[b].start_ms; });
  // Month start → what is left: instance milliseconds, volume GiB-milliseconds.
  std::map<int64_t, int64_t> left, volume_left;
  std::vector<int64_t> free_ms(lines.size(), 0);
  for (size_t i : order) {
    int64_t month = MonthStartMs(lines[i].start_ms);
    if (IsVolumeLine(lines[i])) {
      int64_t gib = std::max<int64_t>(1, lines[i].gib);
      auto [it, fresh] = volume_left.try_emplace(
          month, terms.volume_gib_months * (NextMonthStartMs(month) - month));
      free_ms[i] = std::min({it->second / gib, lines[i].billed_ms, expires_ms - lines[i].start_ms});
      it->second -= free_ms[i] * gib;
      continue;
    }
    auto [it, fresh] = left.try_emplace(month, terms.hours_per_month * kHourMs);
    // Nothing is free past the Free Tier's end, even in a line that began before it.
    free_ms[i] = std::min({it->second, lines[i].billed_ms, expires_ms - lines[i].start_ms});
    it->second -= free_ms[i];
  }
  std::vector<UsageLine> out;
  out.reserve(lines.size() + order.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    UsageLine& l = lines[i];
    if (free_ms[i] == 0) {
      out.push_back(std::move(l));
      continue;
    }
    bool volume = IsVolumeLine(l);
    UsageLine free = l;
    if (!volume) free.usage_type = "BoxUsage:freetier.micro";
    free.billed_ms = free_ms[i];
    free.end_ms = std::min(l.end_ms, l.start_ms + free_ms[i]);
    free.cost = 0;
    free.note = "Free Tier";
    out.push_back(free);
    if (free_ms[i] < l.billed_ms) {
      UsageLine paid = l;
      paid.start_ms = free.end_ms;
      paid.billed_ms = l.billed_ms - free_ms[i];
      if (volume) {
        paid.cost = VolumeCost(l.gib, l.hourly, paid.billed_ms, l.start_ms);
      } else {
        paid.cost = ExactCost(paid.billed_ms) * l.hourly;
      }
      paid.note = "beyond the Free Tier";
      out.push_back(std::move(paid));
    }
  }
  return out;
}

}  // namespace kumo::billing
