// What routing.cc and internet_gateways.cc share; not part of the service interface.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services::routing {

absl::Status InternetGatewayNotFound(std::string_view id);
absl::Status DependencyViolation(std::string_view message);
absl::Status Unsupported(std::string_view message);

// The caller's internet gateway with this id, or InvalidInternetGatewayID.NotFound.
absl::StatusOr<store::Resource> GetInternetGateway(store::Tx& tx, const Caller& caller,
                                                   std::string_view id);

// Internet gateway id → the VPC it is attached to (attached ones only).
std::map<std::string, std::string> AttachedVpcs(const std::vector<store::Resource>& gateways);

// What routes can point at (route_targets.cc): attached internet gateways (id → VPC) and
// network interfaces, primary or created (id → the instance it is attached to, if any, its
// address, and whether that instance runs).
struct RouteTargets {
  std::map<std::string, std::string> gateway_vpc;
  struct Interface {
    std::string instance_id;
    std::string private_ip;
    bool running = false;
  };
  std::map<std::string, Interface> interfaces;
};
RouteTargets RouteTargetsOf(const std::vector<store::Resource>& gateways,
                            const std::vector<store::Resource>& instances,
                            const std::vector<store::Resource>& interfaces);
absl::StatusOr<RouteTargets> LoadRouteTargets(store::Tx& tx, const Caller& caller);

// A stored route's state: `local`, routes to a gateway attached to the table's VPC and routes to
// an interface of a running instance are active; the others are blackholes.
std::string RouteState(const nlohmann::json& route, std::string_view vpc_id,
                       const RouteTargets& targets);
// A stored route as DescribeRouteTables shows it.
nlohmann::json RouteJson(const nlohmann::json& route, std::string_view vpc_id,
                         const RouteTargets& targets, std::string_view owner);
// CreateRoute/ReplaceRoute's InstanceId or NetworkInterfaceId, checked against the table's VPC:
// the stored target {"network_interface_id"}.
absl::StatusOr<nlohmann::json> InterfaceRouteTarget(store::Tx& tx, const Caller& caller,
                                                    const store::Resource& table,
                                                    const nlohmann::json& input);

}  // namespace kumo::services::routing
