// GPUs: the exclusive assignment of the host's GPUs to instances, recorded in the store.
//
// An instance of a GPU type holds its GPUs from the moment they are assigned (while it is
// pending, before its container starts) until it is stopped or terminated. Each assigned GPU
// has a claim row keyed by the GPU's UUID, written in the same transaction as the instance's
// record of it: the store's unique key makes a double assignment impossible, and a crash cannot
// separate a claim from its instance. Stopping releases the GPUs (a start may get others), as
// EC2 moves a stopped instance to other hardware.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "host/gpu/gpu.h"
#include "nlohmann/json.hpp"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kGpuClaimType = "gpu-claim";

// Assigns free GPUs to a pending instance of a GPU type that has none yet, in tx; writes the
// claims and instance.data["gpu_assignment"] (the caller saves the instance). False when not
// enough are free: the instance waits, pending (an on-demand launch waits for the spot
// instances the market is reclaiming; on-demand instances go before spot ones).
absl::StatusOr<bool> AssignGpus(store::Tx& tx, const std::vector<host::Gpu>& gpus,
                                store::Resource& instance, int64_t now_ms);
// Gives the instance's GPUs back (stopped or terminated); the caller saves the instance.
absl::Status ReleaseGpus(store::Tx& tx, store::Resource& instance);
// At start-up: removes claims no instance holds (and reports assignments to GPUs this host no
// longer has). Returns how many claims it removed.
absl::StatusOr<int> RepairGpuClaims(store::Tx& tx, const std::vector<host::Gpu>& gpus);

// The GPUs assigned to an instance, as recorded (empty for none).
std::vector<host::Gpu> AssignedGpus(const store::Resource& instance);
// The EC2-shaped id an assigned GPU has in DescribeInstances' ElasticGpuAssociations and the
// metadata service's elastic-gpus/associations ("egpu-" + 17 hex, stable per instance and GPU).
std::string ElasticGpuId(const std::string& instance_id, const std::string& gpu_uuid);
nlohmann::json ElasticGpuAssociations(const store::Resource& instance);

// The host's GPUs with the instance holding each, for `kumo admin hosts`.
absl::StatusOr<nlohmann::json> GpuAssignments(store::Tx& tx, const std::vector<host::Gpu>& gpus);

}  // namespace kumo::services
