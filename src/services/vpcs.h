// The default network every account has in every region, as on EC2 since 2013: a default VPC
// (172.31.0.0/16), one default subnet per availability zone (a /20 each) and the VPC's default
// security group. Created on an account's first request in a region, idempotently.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "common/ipv4.h"
#include "services/caller.h"
#include "services/regions.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kVpcType = "vpc";
inline constexpr std::string_view kSubnetType = "subnet";
inline constexpr std::string_view kDefaultVpcCidr = "172.31.0.0/16";

// Makes sure the caller's account has its default network in the caller's region. Remembers what
// it has ensured, so the usual cost is one set lookup.
class DefaultNetwork {
 public:
  DefaultNetwork(store::Store& store, const Regions& regions, IdGenerator& ids)
      : store_(store), regions_(regions), ids_(ids) {}
  absl::Status Ensure(const Caller& caller);

 private:
  store::Store& store_;
  const Regions& regions_;
  IdGenerator& ids_;
  std::mutex mu_;
  std::set<std::pair<std::string, std::string>> done_;
};

// Creates the default VPC, subnets and security group inside tx unless they exist.
absl::Status CreateDefaultNetwork(store::Tx& tx, const Caller& caller, const Regions& regions,
                                  IdGenerator& ids);

// The default VPC's id, or NotFound.
absl::StatusOr<std::string> DefaultVpcId(store::Tx& tx, const Caller& caller);

// CreateVpc, DeleteVpc and the DNS attributes. Each new VPC gets its own "default" security group,
// which DeleteVpc removes with it.
absl::StatusOr<nlohmann::json> CreateVpc(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                         const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteVpc(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                         const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ModifyVpcAttribute(store::Tx& tx, const Caller& caller,
                                                  const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeVpcAttribute(store::Tx& tx, const Caller& caller,
                                                    const nlohmann::json& input);

// Subnets (subnets.cc).
absl::StatusOr<nlohmann::json> CreateSubnet(store::Tx& tx, const Caller& caller,
                                            const Regions& regions, IdGenerator& ids,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteSubnet(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ModifySubnetAttribute(store::Tx& tx, const Caller& caller,
                                                     const nlohmann::json& input);

// Secondary IPv4 blocks (vpc_cidrs.cc).
absl::StatusOr<nlohmann::json> AssociateVpcCidrBlock(store::Tx& tx, const Caller& caller,
                                                     IdGenerator& ids, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DisassociateVpcCidrBlock(store::Tx& tx, const Caller& caller,
                                                        const nlohmann::json& input);
// A VPC's IPv4 blocks, the primary first.
std::vector<std::string> VpcCidrs(const store::Resource& vpc);
// Its CidrBlockAssociationSet as DescribeVpcs shows it.
nlohmann::json CidrAssociationSet(const store::Resource& vpc);
// A block CreateVpc or AssociateVpcCidrBlock accepts (/16 to /28), or EC2's error.
absl::StatusOr<Cidr> ParseVpcBlock(const std::string& block);

// The caller's VPC with this id, or InvalidVpcID.NotFound.
absl::StatusOr<store::Resource> GetVpc(store::Tx& tx, const Caller& caller, std::string_view id);

absl::StatusOr<nlohmann::json> DescribeVpcs(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeSubnets(store::Tx& tx, const Caller& caller,
                                               const nlohmann::json& input);

}  // namespace kumo::services
