// Security groups and their rules: the API half (stored, validated, described). The reconciler
// turns them into each VPC's firewall (reconcile/firewall_plan.h, host/network/firewall.cc).
//
// A group is a store::Resource of type "security-group" named "<vpc-id>:<group-name>" (names are
// unique per VPC) whose data holds its rules:
//   {"group_name", "description", "vpc_id", "is_default",
//    "ingress": [Rule…], "egress": [Rule…]}
//   Rule: {"id": "sgr-…", "protocol": "tcp"|"udp"|"icmp"|"-1", "from": int, "to": int,
//          "cidr": "a.b.c.d/n" | "", "group_id": "sg-…" | "", "group_owner": "…",
//          "description": "…"}
// Each rule has exactly one peer: a CIDR or a group.
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kSecurityGroupType = "security-group";
inline constexpr size_t kMaxRulesPerDirection = 60;

// The VPC's "default" group: all traffic from members of the group itself, all traffic out.
absl::Status CreateDefaultSecurityGroup(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                        const std::string& vpc_id);

absl::StatusOr<nlohmann::json> CreateSecurityGroup(store::Tx& tx, const Caller& caller,
                                                   IdGenerator& ids, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteSecurityGroup(store::Tx& tx, const Caller& caller,
                                                   const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeSecurityGroups(store::Tx& tx, const Caller& caller,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeSecurityGroupRules(store::Tx& tx, const Caller& caller,
                                                          const nlohmann::json& input);
absl::StatusOr<nlohmann::json> AuthorizeSecurityGroupRules(store::Tx& tx, const Caller& caller,
                                                           IdGenerator& ids,
                                                           const nlohmann::json& input,
                                                           bool egress);
absl::StatusOr<nlohmann::json> RevokeSecurityGroupRules(store::Tx& tx, const Caller& caller,
                                                        const nlohmann::json& input, bool egress);

// Replaces rules by id, in either direction, validated as Authorize validates them.
absl::StatusOr<nlohmann::json> ModifySecurityGroupRules(store::Tx& tx, const Caller& caller,
                                                        const nlohmann::json& input);

// The "default" group of a VPC.
absl::StatusOr<store::Resource> VpcDefaultSecurityGroup(store::Tx& tx, const Caller& caller,
                                                        const std::string& vpc_id);

// Resolves group ids (or, in the default VPC, names) the caller owns, for RunInstances.
absl::StatusOr<store::Resource> FindSecurityGroup(store::Tx& tx, const Caller& caller,
                                                  const std::string& id_or_name, bool by_name);

}  // namespace kumo::services
