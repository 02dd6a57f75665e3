// Rating (issue 7, specs/spot.md §5): turns an instance's running periods into usage lines with
// exact costs. Pure computation over integers, so that every figure on a bill can be recomputed
// from the meter events it came from, and the rules can be tested without a store or a clock.
//
// Money is exact: a line's cost is kept as (milliseconds × micro-dollars per hour), an integer,
// and rounded to micro-dollars (half up) only when a total is shown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kumo::billing {

using Micros = int64_t;  // 1e-6 USD
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

// cost × kHourMs, in micro-dollars: what a line costs before any rounding.
using ExactCost = __int128;
Micros RoundToMicros(ExactCost exact);
// "0.005667" style: six decimals, the ledger's precision.
std::string FormatUsd(Micros micros);

enum class Market { kOnDemand, kSpot };
// Who ended a running period; for spot, an interruption by Kumo in the period's first hour is
// free (the provider-interruption rule).
enum class EndedBy { kStillRunning, kUser, kProvider };

// From entering `running` (launch or start) to leaving it, or to the time of rating.
struct RunPeriod {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  EndedBy ended_by = EndedBy::kUser;
};

// A price and the time from which it holds; a series is ordered by time.
struct PricePoint {
  int64_t at_ms = 0;
  Micros hourly = 0;
};
Micros PriceAt(const std::vector<PricePoint>& series, int64_t at_ms);

struct InstanceUsage {
  std::string instance_id;
  std::string instance_type;
  Market market = Market::kOnDemand;
  std::vector<RunPeriod> periods;
  std::vector<PricePoint> prices;  // On-Demand: the catalog's; spot: the pool's history
};

struct UsageLine {
  std::string instance_id;
  std::string instance_type;
  std::string usage_type;  // BoxUsage:<type>, SpotUsage:<type>, BoxUsage:freetier.micro
  int64_t start_ms = 0;    // the interval the line covers
  int64_t end_ms = 0;
  int64_t billed_ms = 0;  // what is charged for: the interval, or the 60 s minimum
  Micros hourly = 0;
  ExactCost cost = 0;
  std::string note;  // why a line costs what it does ("minimum 60 s", "interrupted by Kumo ...")
  int64_t gib = 0;   // volume lines: the size billed
};

// On-Demand: per second at the price in effect, 60 s minimum per running period. Spot: each
// instance-hour (counted from the period's start) at the price in effect when the hour began,
// 60 s minimum; a period Kumo interrupted within its first hour costs nothing.
std::vector<UsageLine> RateInstance(const InstanceUsage& usage);

// Splits lines at UTC calendar-month boundaries (a bill is per month), sharing each line's
// billed time and cost in proportion; the 60 s minimum stays with the month it began in.
std::vector<UsageLine> SplitAtMonths(std::vector<UsageLine> lines);
// The same at UTC days (Cost Explorer's DAILY granularity).
std::vector<UsageLine> SplitAtDays(std::vector<UsageLine> lines);
int64_t MonthStartMs(int64_t at_ms);
int64_t NextMonthStartMs(int64_t at_ms);

// EBS storage: a volume's size over time, billed per GiB-month, prorated per millisecond of the
// calendar month it falls in, in every state until it is deleted. Lines are cut at months (a
// month's length is its own) and at resizes; usage_type "EBS:VolumeUsage.<type>", instance_id
// the volume's id, instance_type its volume type, gib its size, hourly the price per GiB-month.
// A line's exact cost (gib × price × ms / month length) is kept to 1/3,600,000 of a micro-dollar.
struct VolumeSegment {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int64_t gib = 0;
};
struct VolumeUsage {
  std::string volume_id;
  std::string volume_type;
  std::vector<VolumeSegment> segments;
  std::vector<PricePoint> prices;  // per GiB-month
};
std::vector<UsageLine> RateVolume(const VolumeUsage& usage);
inline bool IsVolumeLine(const UsageLine& l) { return l.usage_type.rfind("EBS:", 0) == 0; }

// An Elastic IP while no instance holds it: per second at one hourly price, no minimum, as EC2
// bills a public IPv4 address (usage type PublicIPv4:IdleAddress). instance_id: the allocation.
inline constexpr std::string_view kIdleAddressUsage = "PublicIPv4:IdleAddress";
struct IdlePeriod {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};
std::vector<UsageLine> RateIdleAddress(const std::string& allocation_id,
                                       const std::vector<IdlePeriod>& idle, Micros hourly);
inline bool IsAddressLine(const UsageLine& l) { return l.usage_type == kIdleAddressUsage; }

// The classic Free Tier: for 12 months from the account's creation, `hours` a calendar month of
// eligible On-Demand types, pooled over the account's instances in time order; what is left over
// is billed as usual. Spot usage is never credited.
struct FreeTierTerms {
  bool enabled = true;
  int64_t hours_per_month = 750;
  int months = 12;
  std::vector<std::string> instance_types = {"t1.micro", "t2.micro", "t3.micro"};
  int64_t volume_gib_months = 30;  // of EBS storage, pooled over the account's volumes
};
std::vector<UsageLine> ApplyFreeTier(std::vector<UsageLine> month_lines, const FreeTierTerms& terms,
                                     int64_t account_created_ms);

}  // namespace kumo::billing
