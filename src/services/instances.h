// Instances: the API half of the lifecycle. Actions only change desired state in the store (one
// transaction each); the reconciler makes the host match and records what actually happened.
//
// An instance is a store::Resource of type "instance" whose data holds:
//   {"image_id", "rootfs", "login_user", "instance_type", "vcpus", "memory_mib",
//    "key_name", "public_key", "reservation_id", "launch_index", "client_token", "launch_ms",
//    "subnet_id", "vpc_id", "vpc_cidr", "vpc_subnets": [cidr…], "availability_zone",
//    "private_ip", "prefix_len", "gateway", "public_ip", "mac",
//    "groups": [{"id", "name"}],
//    "state": "pending"|"running"|"stopping"|"stopped"|"shutting-down"|"terminated",
//    "desired": "running"|"stopped"|"terminated",
//    "transition_reason", "state_reason": {"code", "message"} | null,
//    "status_ok": bool, "reboots_pending": int, "force_stop": bool, "stop_requested_ms",
//    "terminated_ms", "shutdown_behavior": "stop"|"terminate", "disable_api_termination",
//    "user_data" (base64, as sent), "metadata_options": {"http_tokens", "hop_limit",
//    "http_endpoint", "http_ipv6", "tags"}}
// Public addresses are resources of type "public-ip" owned by the operator (account
// 000000000000, region ""), named by the address, so the store's unique names make each one
// belong to at most one instance across all tenants.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "host/gpu/gpu.h"
#include "services/caller.h"
#include "services/images.h"
#include "services/instance_types.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kInstanceType = "instance";
inline constexpr std::string_view kPublicIpType = "public-ip";
// Terminated instances stay visible this long, as on EC2.
inline constexpr int64_t kTerminatedVisibleMs = 60 * 60 * 1000;
// Running on-demand vCPUs per account and region (EC2's default quota for standard types).
inline constexpr int kDefaultVcpuQuota = 64;

// What launches draw on besides the store: owned by the daemon.
struct InstanceEnv {
  const InstanceTypeCatalog* catalog = nullptr;
  const ImageStore* images = nullptr;
  std::string public_cidr;  // this daemon's pool, e.g. "100.64.7.0/24"
  // Host capacity with OpenStack Nova's default allocation ratios.
  int host_cpus = 1;
  int64_t host_memory_mib = 1024;
  double cpu_ratio = 16.0;
  double ram_ratio = 1.5;
  // The host's GPUs (host/gpu discovers them); assigned exclusively (services/gpus.h).
  std::vector<host::Gpu> gpus;
  int vcpu_quota = kDefaultVcpuQuota;
  // vCPUs of open, active and disabled spot requests per account and region (EC2's "All
  // Standard Spot Instance Requests" quota).
  int spot_vcpu_quota = kDefaultVcpuQuota;
};

// EC2's state codes.
int StateCode(std::string_view state);
std::string PublicDnsName(const std::string& public_ip, const std::string& region);
// A stable, locally administered MAC for an instance's or an interface's port (by its id).
std::string MacOf(std::string_view id);
std::string PrivateDnsName(const std::string& private_ip, const std::string& region);
// "eu-west-1.compute.internal" ("ec2.internal" in us-east-1, as on EC2).
std::string InternalDomain(const std::string& region);

absl::StatusOr<nlohmann::json> RunInstances(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                            const InstanceEnv& env, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> StartInstances(store::Tx& tx, const Caller& caller,
                                              const InstanceEnv& env, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> StopInstances(store::Tx& tx, const Caller& caller,
                                             const nlohmann::json& input);
absl::StatusOr<nlohmann::json> RebootInstances(store::Tx& tx, const Caller& caller,
                                               const nlohmann::json& input);
absl::StatusOr<nlohmann::json> TerminateInstances(store::Tx& tx, const Caller& caller,
                                                  const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ModifyInstanceAttribute(store::Tx& tx, const Caller& caller,
                                                       const InstanceEnv& env,
                                                       const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ModifyInstanceMetadataOptions(store::Tx& tx, const Caller& caller,
                                                             const nlohmann::json& input);
// How DescribeInstances shows an instance's MetadataOptions.
nlohmann::json MetadataOptionsJson(const store::Resource& instance);
absl::StatusOr<nlohmann::json> DescribeInstances(store::Tx& tx, const Caller& caller,
                                                 const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeInstanceStatus(store::Tx& tx, const Caller& caller,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeInstanceAttribute(store::Tx& tx, const Caller& caller,
                                                         const nlohmann::json& input);

// The availability zone a launch with these SubnetId/Placement members lands in.
absl::StatusOr<std::string> LaunchZone(store::Tx& tx, const Caller& caller,
                                       const nlohmann::json& input);

// The caller's instance, or InvalidInstanceID.NotFound (also for malformed ids).
absl::StatusOr<store::Resource> GetInstance(store::Tx& tx, const Caller& caller,
                                            const std::string& id);

// Whether a security group is used by a live instance (DeleteSecurityGroup's
// DependencyViolation).
absl::StatusOr<bool> GroupInUse(store::Tx& tx, const Caller& caller, const std::string& group_id);

// Frees the instance's public address (stop and terminate; EC2 gives a new one on start).
absl::Status ReleasePublicIp(store::Tx& tx, store::Resource& instance);

}  // namespace kumo::services
