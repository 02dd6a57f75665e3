// Internet gateways and route tables, as on EC2: an internet gateway is attached to at most one
// VPC and a VPC has at most one; every VPC has a main route table (created and deleted with it,
// starting with the `local` route of the VPC's CIDR); a subnet uses the table it is explicitly
// associated with, else its VPC's main one. A subnet is publicly reachable when that table has an
// active route 0.0.0.0/0 to an internet gateway attached to the VPC (SubnetsWithInternetRoute).
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services {

// Resource types in the store, EC2's resource-type names (also what DescribeTags reports).
inline constexpr std::string_view kInternetGatewayType = "internet-gateway";
inline constexpr std::string_view kRouteTableType = "route-table";
// The destination that makes a subnet public.
inline constexpr std::string_view kDefaultRouteCidr = "0.0.0.0/0";
// Set in a default VPC's data once it has its internet gateway and main route table (made with
// them, or given them by EnsureDefaultVpcRouting).
inline constexpr std::string_view kDefaultVpcRoutingKey = "routing_ensured";

// The subnet ids (of `subnets`) whose effective route table — the one explicitly associated with
// the subnet, else the main table of its VPC — has an active route 0.0.0.0/0 to an internet
// gateway attached to the subnet's VPC. The lists may span accounts and regions (ListAllResources)
// or be one account's. A VPC without any route table row (a store written before route tables
// existed) counts as routed when it is the default VPC: by `vpcs` (data is_default) when given,
// else when one of its subnets is a default subnet (data default_for_az).
std::set<std::string> SubnetsWithInternetRoute(
    const std::vector<store::Resource>& subnets, const std::vector<store::Resource>& route_tables,
    const std::vector<store::Resource>& internet_gateways,
    const std::vector<store::Resource>& vpcs = {});

// The routes of the subnets' effective route tables that the host's VPC bridge carries out
// itself: to an instance (interface_id), leaving the rest to the VPC's router (interface_id "",
// a gateway's route, which a longer prefix wins over) or dropping it (blackhole: a detached
// gateway's, and 0.0.0.0/0 when the table has no such route). Not the local routes, and nothing
// for subnets whose table only has active gateway routes and a default one.
struct SubnetRoute {
  std::string subnet_id;
  std::string destination;  // a CIDR
  std::string interface_id;
  bool blackhole = false;
};
std::vector<SubnetRoute> SubnetRoutes(const std::vector<store::Resource>& subnets,
                                      const std::vector<store::Resource>& route_tables,
                                      const std::vector<store::Resource>& internet_gateways);

// The same for one subnet, reading its account's and region's rows in tx.
absl::StatusOr<bool> SubnetHasInternetRoute(store::Tx& tx, const store::Resource& subnet);

// For vpcs.cc and subnets.cc, inside their transactions:
// The VPC's main route table with its local route (and a route 0.0.0.0/0 to `igw_id` if given).
absl::Status CreateMainRouteTable(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                  const store::Resource& vpc, std::string_view igw_id = {});
// An internet gateway attached to the VPC; its id.
absl::StatusOr<std::string> CreateAttachedInternetGateway(store::Tx& tx, const Caller& caller,
                                                          IdGenerator& ids,
                                                          const store::Resource& vpc);
// Adds whatever of the default VPC's internet gateway and main route table (local + 0.0.0.0/0 to
// the gateway) is missing, for default VPCs stored before route tables existed; marks the VPC so
// that it runs once (what the tenant deletes later is not brought back).
absl::Status EnsureDefaultVpcRouting(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                     store::Resource vpc);
// Gives every VPC of the caller's without a route table its main table (VPCs created before route
// tables existed).
absl::Status EnsureMainRouteTables(store::Tx& tx, const Caller& caller, IdGenerator& ids);
// DependencyViolation while an internet gateway is attached to the VPC or it has route tables
// besides its main one; otherwise deletes the main table. Called by DeleteVpc once its other
// checks have passed.
absl::Status DeleteVpcRouting(store::Tx& tx, const Caller& caller, const store::Resource& vpc);
// Removes the subnet's explicit route table association (DeleteSubnet).
absl::Status RemoveSubnetAssociations(store::Tx& tx, const Caller& caller,
                                      std::string_view subnet_id);

// The actions (internet_gateways.cc).
absl::StatusOr<nlohmann::json> CreateInternetGateway(store::Tx& tx, const Caller& caller,
                                                     IdGenerator& ids, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteInternetGateway(store::Tx& tx, const Caller& caller,
                                                     const nlohmann::json& input);
absl::StatusOr<nlohmann::json> AttachInternetGateway(store::Tx& tx, const Caller& caller,
                                                     const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DetachInternetGateway(store::Tx& tx, const Caller& caller,
                                                     const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeInternetGateways(store::Tx& tx, const Caller& caller,
                                                        const nlohmann::json& input);

// The actions (routing.cc).
absl::StatusOr<nlohmann::json> CreateRouteTable(store::Tx& tx, const Caller& caller,
                                                IdGenerator& ids, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteRouteTable(store::Tx& tx, const Caller& caller,
                                                const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeRouteTables(store::Tx& tx, const Caller& caller,
                                                   const nlohmann::json& input);
absl::StatusOr<nlohmann::json> CreateRoute(store::Tx& tx, const Caller& caller,
                                           const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ReplaceRoute(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteRoute(store::Tx& tx, const Caller& caller,
                                           const nlohmann::json& input);
absl::StatusOr<nlohmann::json> AssociateRouteTable(store::Tx& tx, const Caller& caller,
                                                   IdGenerator& ids, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DisassociateRouteTable(store::Tx& tx, const Caller& caller,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ReplaceRouteTableAssociation(store::Tx& tx, const Caller& caller,
                                                            IdGenerator& ids,
                                                            const nlohmann::json& input);

}  // namespace kumo::services
