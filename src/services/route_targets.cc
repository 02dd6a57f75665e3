// What a route points at besides the VPC itself: an internet gateway, or a network interface
// (CreateRoute's InstanceId names the instance's only interface). A route to an interface sends
// the subnet's traffic for its destination to the instance holding it (a NAT instance, a
// router): active while that instance runs, a blackhole otherwise, as on EC2.
#include <fmt/format.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/instances.h"
#include "services/routing.h"
#include "services/routing_internal.h"

namespace kumo::services {
namespace routing {

using nlohmann::json;

RouteTargets RouteTargetsOf(const std::vector<store::Resource>& gateways,
                            const std::vector<store::Resource>& instances,
                            const std::vector<store::Resource>& interfaces) {
  RouteTargets t;
  t.gateway_vpc = AttachedVpcs(gateways);
  std::map<std::string, const store::Resource*> instance_of;
  for (const auto& i : instances) {
    if (i.data.value("state", "") == "terminated") continue;
    instance_of[i.id] = &i;
    t.interfaces[PrimaryInterfaceId(i.id)] = {i.id, i.data.value("private_ip", ""),
                                              i.data.value("state", "") == "running"};
  }
  for (const auto& e : interfaces) {
    json a = e.data.value("attachment", json());
    std::string instance = a.is_object() ? a.value("instance_id", "") : "";
    auto it = instance_of.find(instance);
    bool running = it != instance_of.end() && it->second->data.value("state", "") == "running";
    t.interfaces[e.id] = {it == instance_of.end() ? "" : instance, e.data.value("private_ip", ""),
                          running};
  }
  return t;
}

absl::StatusOr<RouteTargets> LoadRouteTargets(store::Tx& tx, const Caller& caller) {
  ASSIGN_OR_RETURN(auto gateways,
                   tx.ListResources(caller.account_id, caller.region, kInternetGatewayType));
  ASSIGN_OR_RETURN(auto instances,
                   tx.ListResources(caller.account_id, caller.region, kInstanceType));
  ASSIGN_OR_RETURN(auto interfaces,
                   tx.ListResources(caller.account_id, caller.region, kNetworkInterfaceType));
  return RouteTargetsOf(gateways, instances, interfaces);
}

std::string RouteState(const json& route, std::string_view vpc_id, const RouteTargets& targets) {
  if (std::string eni = route.value("network_interface_id", ""); !eni.empty()) {
    auto it = targets.interfaces.find(eni);
    return it != targets.interfaces.end() && it->second.running ? "active" : "blackhole";
  }
  std::string gateway = route.value("gateway_id", "");
  if (gateway == "local") return "active";
  auto it = targets.gateway_vpc.find(gateway);
  return it != targets.gateway_vpc.end() && it->second == vpc_id ? "active" : "blackhole";
}

json RouteJson(const json& route, std::string_view vpc_id, const RouteTargets& targets,
               std::string_view owner) {
  json out = {{"DestinationCidrBlock", route.value("destination", "")},
              {"Origin", route.value("origin", "CreateRoute")},
              {"State", RouteState(route, vpc_id, targets)}};
  if (std::string eni = route.value("network_interface_id", ""); !eni.empty()) {
    out["NetworkInterfaceId"] = eni;
    auto it = targets.interfaces.find(eni);
    if (it != targets.interfaces.end() && !it->second.instance_id.empty()) {
      out["InstanceId"] = it->second.instance_id;
      out["InstanceOwnerId"] = owner;
    }
  } else {
    out["GatewayId"] = route.value("gateway_id", "");
  }
  return out;
}

absl::StatusOr<json> InterfaceRouteTarget(store::Tx& tx, const Caller& caller,
                                          const store::Resource& table, const json& input) {
  std::string vpc = table.data.value("vpc_id", "");
  std::string instance_id = input.value("InstanceId", "");
  std::string eni = input.value("NetworkInterfaceId", "");
  ASSIGN_OR_RETURN(RouteTargets targets, LoadRouteTargets(tx, caller));
  if (!instance_id.empty()) {
    ASSIGN_OR_RETURN(store::Resource instance, GetInstance(tx, caller, instance_id));
    if (instance.data.value("state", "") == "terminated") {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                      fmt::format("The instance ID '{}' does not exist", instance_id));
    }
    int count = 0;
    for (const auto& [id, i] : targets.interfaces) count += i.instance_id == instance.id;
    if (count > 1) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidInstanceID",
                      fmt::format("There are multiple interfaces attached to instance '{}'. "
                                  "Please specify an interface ID for the operation instead.",
                                  instance.id));
    }
    if (!eni.empty() && eni != PrimaryInterfaceId(instance.id)) {
      return InvalidParameterCombination(fmt::format(
          "The network interface {} is not the interface of instance {}", eni, instance.id));
    }
    eni = PrimaryInterfaceId(instance.id);
  }
  auto it = targets.interfaces.find(eni);
  if (it == targets.interfaces.end()) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidNetworkInterfaceID.NotFound",
                    fmt::format("The networkInterface ID '{}' does not exist", eni));
  }
  // The interface's VPC: its instance's, or its own row's.
  std::string target_vpc;
  if (!it->second.instance_id.empty() && eni == PrimaryInterfaceId(it->second.instance_id)) {
    ASSIGN_OR_RETURN(auto owner, GetInstance(tx, caller, it->second.instance_id));
    target_vpc = owner.data.value("vpc_id", "");
  } else {
    ASSIGN_OR_RETURN(auto row, tx.GetResource(caller.account_id, caller.region, eni));
    target_vpc = row.data.value("vpc_id", "");
  }
  if (target_vpc != vpc) {
    return InvalidParameterValue(fmt::format(
        "route table {} and network interface {} belong to different networks", table.id, eni));
  }
  return json{{"network_interface_id", eni}};
}

}  // namespace routing
}  // namespace kumo::services
