// What the spot files (pools, requests, market round) share; not part of the service interface.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/spot.h"

namespace kumo::services::spot {

std::string PoolName(std::string_view az, std::string_view type);
absl::StatusOr<store::Resource> GetPool(store::Tx& tx, const PoolKey& key);
// Records the pool's new price (and the history entry, stamped at_ms) when it differs from the
// current one.
absl::Status SetPoolPrice(store::Tx& tx, store::Resource& pool, market::Micros price,
                          int64_t at_ms);

// Host capacity left, in the units instances use (allocation ratios applied).
struct Room {
  int64_t vcpus = 0, mib = 0, gpus = 0;
  void Take(const store::Resource& instance, int64_t n = 1);
  void Take(const InstanceType& type, int64_t n = 1);
  void Take(int64_t instance_vcpus, int64_t instance_mib, int64_t instance_gpus);
  int64_t Fits(const InstanceType& type) const;
};
bool IsSpot(const store::Resource& instance);
// Pending, running, stopping or shutting-down: holding host capacity.
bool HoldsCapacity(const store::Resource& instance);
bool InNotice(const store::Resource& instance);
// The host's capacity less what on-demand instances hold.
Room RoomForSpot(const InstanceEnv& env, const std::vector<store::Resource>& instances);
// The slots the pool may give spot beyond those it already holds: the host's room, capped by the
// operator's capacity for the pool (slots counted over the pool's spot instances).
int64_t PoolSupply(const store::Resource& pool, const InstanceType& type, const Room& room,
                   int64_t held_in_pool);

// Request status changes, with EC2's messages.
void SetStatus(store::Resource& request, std::string_view state, std::string_view code,
               int64_t now_ms, std::string message = "");
std::string StatusMessage(std::string_view code, const store::Resource& request,
                          market::Micros price);

// Starts the interruption of a spot instance at now: the notice (IMDS), the request's status;
// the action is carried out by the round at notice + 120 s (at once for hibernate).
absl::Status Interrupt(store::Tx& tx, store::Resource& instance, store::Resource& request,
                       const std::string& reason, int64_t now_ms);

}  // namespace kumo::services::spot
