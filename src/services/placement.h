// Where a launch lands and what it draws on: the subnet (SubnetId, Placement, or the primary
// NetworkInterfaces entry), its security groups, a private address of the subnet, a public
// address of the host's pool, and the account's quota and the host's capacity.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ipv4.h"
#include "services/caller.h"
#include "services/instances.h"
#include "services/regions.h"
#include "store/store.h"

namespace kumo::services {

// Holding or about to hold a running container: what counts against quota and capacity.
bool ActiveInstance(const store::Resource& instance);

// The lowest free address of the subnet after EC2's reserved ones (network, +1 router,
// +2 DNS, +3 reserved; broadcast), other than the instances' and taken_now.
// requested: that address instead, if it is one of those (InvalidIPAddress.InUse,
// InvalidParameterValue otherwise).
absl::StatusOr<std::string> AllocatePrivateIp(const std::vector<store::Resource>& instances,
                                              const std::string& subnet_id, const Cidr& subnet,
                                              const std::set<std::string>& taken_now,
                                              const std::string& requested = "");

// RunInstances' request with its NetworkInterfaces (one, DeviceIndex 0, a new interface) folded
// into SubnetId, SecurityGroupIds, PrivateIpAddress and AssociatePublicIpAddress; EC2's
// InvalidParameterCombination when both levels name a subnet or groups.
absl::StatusOr<nlohmann::json> FoldPrimaryNetworkInterface(const nlohmann::json& request);

// Claims the lowest free address of the host's pool for owner (an instance id, or an Elastic
// IP's allocation id when elastic): claims are host-wide, so no two tenants can hold one.
absl::StatusOr<std::string> AllocatePublicIp(store::Tx& tx, const InstanceEnv& env,
                                             const std::string& owner, int64_t now_ms,
                                             bool elastic = false);

// InsufficientInstanceCapacity / VcpuLimitExceeded for count more of type (skip_id: an
// instance being started again, already counted).
absl::Status CheckCapacity(store::Tx& tx, const Caller& caller, const InstanceEnv& env,
                           const InstanceType& type, int count, std::string_view skip_id);

struct Placement {
  store::Resource subnet;
  std::string vpc_cidr;
  std::vector<std::string> vpc_subnets;
  bool vpc_is_default = false;
};
absl::StatusOr<Placement> ChooseSubnet(store::Tx& tx, const Caller& caller,
                                       const nlohmann::json& input);

// The security groups ([{"id", "name"}]) of a launch into vpc_id: SecurityGroupIds and
// SecurityGroups (names, only in the default VPC, as on EC2), else the VPC's default group.
absl::StatusOr<nlohmann::json> ResolveGroups(store::Tx& tx, const Caller& caller,
                                             const nlohmann::json& input, const Placement& p);

// Whether the host could fit one instance of the type (instance_type_offerings.cc).
bool HostCanPlace(const InstanceType& type, const InstanceEnv& env);
absl::StatusOr<nlohmann::json> DescribeInstanceTypeOfferings(const InstanceEnv& env,
                                                             const Regions& regions,
                                                             const Caller& caller,
                                                             const nlohmann::json& input);

}  // namespace kumo::services
