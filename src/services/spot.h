// The spot market's service half (specs/spot.md): pools and their price history, spot requests
// and their state machine, the market round that clears each pool, and the interruptions it (or
// the operator) decides. Everything is store records written in one transaction with the change
// that causes it, so a restart at any point re-runs rounds from durable state: a notice still
// fires at its time, and no request is fulfilled twice.
//
// Records (account 000000000000 = the operator for pools and history):
//   "spot-pool" (operator, region; name "<az>/<type>"): {"az", "instance_type", "product",
//       "od_micros", "reserve_micros", "capacity" (slots, or null = what the host has left),
//       "price_micros", "price_ms"}
//   "spot-price" (operator, region): {"az", "instance_type", "product", "price_micros", "ts_ms"}
//   "spot-request" (tenant, region; id "sir-" + 8): {"max_micros", "type" one-time|persistent,
//       "state", "status_code", "status_message", "status_ms", "valid_from_ms", "valid_until_ms",
//       "launch_group", "az_group", "behavior" terminate|stop|hibernate, "launch" (the
//       LaunchSpecification as given), "az" (its pool's zone), "instance_type", "instance_id",
//       "launched_az", "fault", "via_run_instances"}
// Instances launched for a request carry {"instance_lifecycle": "spot", "spot_request_id",
// "spot_max_micros", "spot_action": {"action", "time_ms", "reason", "done"} once interrupted,
// "rebalance_ms"}.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "market/auction.h"
#include "services/caller.h"
#include "services/instances.h"
#include "services/regions.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kSpotPoolType = "spot-pool";
inline constexpr std::string_view kSpotPriceType = "spot-price";
inline constexpr std::string_view kSpotRequestType = "spot-request";
// The region's pricing mode (operator, region; name "config"): {"mode": auction|smoothed|ar1}.
inline constexpr std::string_view kSpotConfigType = "spot-config";
inline constexpr std::string_view kSpotProduct = "Linux/UNIX";
// EC2's smallest accepted maximum price, USD 0.001.
inline constexpr market::Micros kMinSpotPrice = 1000;
inline constexpr int64_t kNoticeMs = 120 * 1000;
// Price history is kept this long (DescribeSpotPriceHistory's StartTime limit).
inline constexpr int64_t kHistoryKeepMs = int64_t(90) * 24 * 3600 * 1000;

// "0.010400": EC2 shows prices as strings with 6 decimals.
std::string FormatPrice(market::Micros m);
// "0.0104": the short form EC2's status messages use.
std::string FormatPriceShort(market::Micros m);
// A decimal USD string ("0.05", "1", ".5") to micro-dollars; false when it is not one.
bool ParsePrice(const std::string& s, market::Micros* out);

// Creates, for every region, zone and catalog type, the pool that is missing, with its initial
// price (the reserve, 0.30 × On-Demand) written to the history; so a fresh daemon already answers
// DescribeSpotPriceHistory.
absl::Status EnsureSpotPools(store::Tx& tx, const InstanceEnv& env, const Regions& regions,
                             TimePoint now);

absl::StatusOr<nlohmann::json> DescribeSpotPriceHistory(store::Tx& tx, const Caller& caller,
                                                        const nlohmann::json& input);
absl::StatusOr<nlohmann::json> RequestSpotInstances(store::Tx& tx, const Caller& caller,
                                                    IdGenerator& ids, const InstanceEnv& env,
                                                    const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeSpotInstanceRequests(store::Tx& tx, const Caller& caller,
                                                            const nlohmann::json& input);
// Cancelling never terminates a running instance (EC2's rule) unless terminate_instances, the
// `kumo spot cancel --terminate-instances` convenience; a disabled request's stopped instance is
// terminated, as on EC2.
absl::StatusOr<nlohmann::json> CancelSpotInstanceRequests(store::Tx& tx, const Caller& caller,
                                                          const nlohmann::json& input,
                                                          bool terminate_instances = false);

// RunInstances with InstanceMarketOptions: validates the options and checks, synchronously, the
// pool's price and free capacity for `count` instances (EC2's SpotMaxPriceTooLow and
// InsufficientInstanceCapacity); returns what MarkSpotLaunch needs.
struct SpotLaunch {
  market::Micros max_price = 0;
  std::string type = "one-time";
  std::string behavior = "terminate";
  int64_t valid_until_ms = 0;
};
absl::StatusOr<SpotLaunch> CheckSpotLaunch(store::Tx& tx, const Caller& caller,
                                           const InstanceEnv& env, const nlohmann::json& options,
                                           const InstanceType& type, const std::string& az,
                                           int count);
// Writes the fulfilled request behind a spot instance RunInstances just created, and marks the
// instance as spot.
absl::Status MarkSpotLaunch(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                            const SpotLaunch& launch, store::Resource& instance);

// The instance actions' effect on the instance's request, in the same transaction.
// TerminateInstances by the user:
absl::Status SpotOnUserTerminate(store::Tx& tx, const Caller& caller, const store::Resource& i);
// StopInstances: UnsupportedOperation for a one-time request's instance; else disables it.
absl::Status SpotOnUserStop(store::Tx& tx, const Caller& caller, const store::Resource& i);
// StartInstances: InsufficientInstanceCapacity without room in the pool; else active again.
absl::Status SpotOnUserStart(store::Tx& tx, const Caller& caller, const InstanceEnv& env,
                             const store::Resource& i);

// One market round at `now`: due notices are carried out, expired requests cancelled, every pool
// cleared (auction mode), winners launched or restarted, losers interrupted with the notice.
struct RoundResult {
  bool instances_changed = false;
  int fulfilled = 0;
  int interrupted = 0;
  // The earliest time something is due (a notice, ValidFrom, ValidUntil); 0 when nothing is.
  int64_t next_due_ms = 0;
};
// What the market keeps between rounds, for the market runner: typed views of the instances,
// spot requests and pools, each re-read only when its row version changed. Entries are updated
// in place by the round; after a round that failed (its transaction rolled back) the cache must
// be cleared.
struct MarketBook;  // spot_market.cc
struct MarketCache {
  MarketCache();
  ~MarketCache();
  MarketCache(MarketCache&&) noexcept;
  MarketCache& operator=(MarketCache&&) noexcept;
  bool HoldsRequest(const std::string& id) const;  // for tests
  std::unique_ptr<MarketBook> book;
};
absl::StatusOr<RoundResult> RunMarketRound(store::Tx& tx, IdGenerator& ids, const InstanceEnv& env,
                                           TimePoint now, MarketCache* cache = nullptr);

// Operator hooks (the admin API and `kumo admin spot`).
struct PoolKey {
  std::string region, az, instance_type;
};
// Sets the pool's reserve (its floor) to price; in auction mode the price follows at the next
// round. price 0 restores the default reserve.
absl::Status SetPoolReserve(store::Tx& tx, const PoolKey& pool, market::Micros price);
// Deletes price history older than 90 days (the newest record of each pool stays); returns how
// many records went.
absl::StatusOr<int> PurgePriceHistory(store::Tx& tx, TimePoint now);
// The region's pricing mode: auction (the default), smoothed or ar1 (specs/spot.md §4).
absl::Status SetPricingMode(store::Tx& tx, const std::string& region, const std::string& mode);
// Caps the slots spot may use in the pool; nullopt removes the cap.
absl::Status SetPoolCapacity(store::Tx& tx, const PoolKey& pool, std::optional<int64_t> slots);
// Interrupts a spot instance now, as the market would: reason capacity, price or experiment.
absl::Status InterruptSpotInstance(store::Tx& tx, const std::string& instance_id,
                                   const std::string& reason, TimePoint now);
absl::Status RecommendRebalance(store::Tx& tx, const std::string& instance_id, TimePoint now);
// The pool's bids (requests and instances), price, reserve and supply.
absl::StatusOr<nlohmann::json> OrderBook(store::Tx& tx, const InstanceEnv& env, const PoolKey& pool,
                                         TimePoint now);

}  // namespace kumo::services
