// From the ledger to a bill (issue 7): reads an account's meter events (store::MeterEvent, their
// kinds below) and the price series they refer to, turns them into running periods, and rates
// them (rating.h). Nothing is cached between calls: every figure comes from the events, so a bill
// read after a crash and restart is the bill an uninterrupted daemon would have shown.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "billing/rating.h"
#include "store/store.h"

namespace kumo::billing {

// Meter event kinds (their writers are in services/metering.cc):
//   "running" (tenant, instance id): entered `running`; {"type", "market": "on-demand"|"spot",
//       "az", "hourly" (micro-USD then), "tags": {key: value}}
//   "left-running" (tenant, instance id): {"state", "by": "user"|"provider"|"instance", "reason"}
//   "od-price" (operator, instance type): {"hourly", "source": "catalog"|"operator"}
//   "spot-price" (operator, "<az>/<type>"): {"hourly"}
//   "volume-created" | "volume-resized" (tenant, volume id): {"size_gib", "volume_type", "az"}
//   "volume-deleted" (tenant, volume id); "snapshot-created" | "snapshot-deleted" (not rated yet)
//   "volume-price" (operator, volume type): {"hourly": micro-USD per GiB-month, "source"}
//   "address-allocated" | "address-associated" | "address-disassociated" | "address-released"
//       (tenant, allocation id): {"public_ip", "instance_id"}; idle from allocated or
//       disassociated to associated or released, billed at kIdleAddressHourly
inline constexpr std::string_view kMeterRunning = "running";
inline constexpr std::string_view kMeterLeftRunning = "left-running";
inline constexpr std::string_view kMeterOnDemandPrice = "od-price";
inline constexpr std::string_view kMeterSpotPrice = "spot-price";
inline constexpr std::string_view kMeterVolumePrice = "volume-price";
// EC2's price of a public IPv4 address, $0.005 an hour (the same in every region).
inline constexpr Micros kIdleAddressHourly = 5000;
// Prices are the operator's events.
inline constexpr std::string_view kPriceOwner = "000000000000";

struct BillLine {
  UsageLine usage;
  std::string region;
  std::string az;
  Market market = Market::kOnDemand;
  std::map<std::string, std::string> tags;  // the instance's tags now, or when it last ran
};

// An instance running at the bill's time.
struct RunningInstance {
  std::string instance_id;
  std::string instance_type;
  std::string region;
  Market market = Market::kOnDemand;
  int64_t since_ms = 0;    // entered `running`
  Micros hourly = 0;       // the price now
  Micros cost_so_far = 0;  // of this running period, all months
  std::map<std::string, std::string> tags;
};

struct Bill {
  std::string account_id;
  int64_t month_start_ms = 0;
  int64_t month_end_ms = 0;
  int64_t as_of_ms = 0;         // the bill covers [month_start, min(as_of, month_end))
  std::vector<BillLine> lines;  // in time order
  ExactCost exact_total = 0;
  Micros total = 0;  // exact_total rounded once
  int64_t free_tier_used_ms = 0;
  int64_t free_tier_limit_ms = 0;  // 0: the account has no Free Tier this month
  // EBS storage in GiB-milliseconds: what the Free Tier covered, and its limit this month.
  int64_t volume_free_used = 0;
  int64_t volume_free_limit = 0;
  Micros forecast = 0;  // the month's total if what runs now keeps running
  std::vector<RunningInstance> running;
};

struct BillOptions {
  FreeTierTerms free_tier;
  bool daily = false;  // also cut lines at UTC days
};

// Price series read from the ledger, kept for the bills of many accounts (invoicing a month):
// every price event before before_ms.
class PriceBook {
 public:
  explicit PriceBook(int64_t before_ms) : before_ms_(before_ms) {}
  int64_t before_ms() const { return before_ms_; }
  // The series of one price ("od-price" of a type, "spot-price" of "<az>/<type>"), by time.
  absl::StatusOr<const std::vector<PricePoint>*> Series(store::Tx& tx, const std::string& region,
                                                        std::string_view kind,
                                                        const std::string& subject);

 private:
  int64_t before_ms_;
  std::unordered_map<std::string, std::vector<PricePoint>> cache_;
};

// The month that contains month_at_ms, as of as_of_ms. prices: a book to share between bills;
// used only when it holds every price the bill may need (before_ms at least the bill's end).
absl::StatusOr<Bill> ComputeBill(store::Tx& tx, const store::Account& account, int64_t month_at_ms,
                                 int64_t as_of_ms, const BillOptions& options = {},
                                 PriceBook* prices = nullptr);

// "EUW1": the region prefix of AWS usage types (the region's name when AWS has none).
std::string RegionUsagePrefix(std::string_view region);

// What a line measures, in its own unit: instance-hours ("Hrs"), or GiB-months ("GB-Mo") for
// volumes (the GiB-milliseconds over the length of the line's month).
double UsageQuantity(const UsageLine& line);
// "CreateVolume-Gp2", "RunInstances", "RunInstances:SV001": AWS's operation of a line.
std::string AwsOperation(const BillLine& line);

// "EUW1-BoxUsage:t2.micro": a line's usage type as AWS names it in bills and Cost Explorer.
std::string AwsUsageType(const BillLine& line);

// The bill's lines as a Cost and Usage Report would list them (CSV, one header row).
std::string BillCsv(const Bill& bill);

}  // namespace kumo::billing
