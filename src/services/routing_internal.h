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

// A stored route's state: `local` and routes to a gateway attached to the table's VPC are
// active; a route to a detached (or deleted) gateway is a blackhole.
std::string RouteState(const nlohmann::json& route, std::string_view vpc_id,
                       const std::map<std::string, std::string>& attached);

}  // namespace kumo::services::routing
