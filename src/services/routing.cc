// Route tables: CreateRouteTable, DeleteRouteTable, DescribeRouteTables, CreateRoute,
// ReplaceRoute, DeleteRoute, AssociateRouteTable, DisassociateRouteTable,
// ReplaceRouteTableAssociation; every VPC's main table; and which subnets are routed to the
// internet.
//
// A route table row's data: vpc_id; main (and main_association_id when main); routes, each
// {destination, gateway_id ("local" or an igw id) or network_interface_id, origin};
// associations, each {id, subnet_id}.
#include "services/routing.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/errors.h"
#include "common/ipv4.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/routing_internal.h"
#include "services/tags.h"
#include "services/vpcs.h"

namespace kumo::services {
namespace {

using nlohmann::json;
using routing::DependencyViolation;
using routing::Unsupported;

absl::Status RouteTableNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidRouteTableID.NotFound",
                  fmt::format("The routeTable ID '{}' does not exist", id));
}

absl::Status AssociationNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidAssociationID.NotFound",
                  fmt::format("The association ID '{}' does not exist", id));
}

absl::StatusOr<store::Resource> GetRouteTable(store::Tx& tx, const Caller& caller,
                                              std::string_view id) {
  auto rt = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(rt.status()) || (rt.ok() && rt->type != kRouteTableType)) {
    return RouteTableNotFound(id);
  }
  return rt;
}

absl::StatusOr<store::Resource> GetSubnetRow(store::Tx& tx, const Caller& caller,
                                             std::string_view id) {
  auto s = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(s.status()) || (s.ok() && s->type != kSubnetType)) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidSubnetID.NotFound",
                    fmt::format("The subnet ID '{}' does not exist", id));
  }
  return s;
}

store::Resource NewRouteTable(const Caller& caller, IdGenerator& ids, const store::Resource& vpc,
                              bool main) {
  store::Resource rt{ids.ResourceId("rtb"),
                     caller.account_id,
                     caller.region,
                     std::string(kRouteTableType),
                     "",
                     json::object(),
                     0,
                     UnixMillis(caller.now)};
  rt.data = {{"vpc_id", vpc.id},
             {"main", main},
             {"routes",
              {{{"destination", vpc.data.value("cidr", "")},
                {"gateway_id", "local"},
                {"origin", "CreateRouteTable"}}}},
             {"associations", json::array()}};
  if (main) rt.data["main_association_id"] = ids.ResourceId("rtbassoc");
  return rt;
}

json AssociationJson(std::string_view id, std::string_view table, bool main,
                     std::string_view subnet) {
  json a = {{"Main", main},
            {"RouteTableAssociationId", id},
            {"RouteTableId", table},
            {"AssociationState", {{"State", "associated"}}}};
  if (!subnet.empty()) a["SubnetId"] = subnet;
  return a;
}

json RenderRouteTable(const store::Resource& r, const std::vector<store::Tag>& tags,
                      const routing::RouteTargets& targets) {
  std::string vpc = r.data.value("vpc_id", "");
  json routes = json::array();
  for (const auto& route : r.data.value("routes", json::array())) {
    routes.push_back(routing::RouteJson(route, vpc, targets, r.account_id));
  }
  json associations = json::array();
  if (r.data.value("main", false)) {
    associations.push_back(
        AssociationJson(r.data.value("main_association_id", ""), r.id, true, ""));
  }
  for (const auto& a : r.data.value("associations", json::array())) {
    associations.push_back(
        AssociationJson(a.value("id", ""), r.id, false, a.value("subnet_id", "")));
  }
  return json{{"RouteTableId", r.id},         {"VpcId", vpc},
              {"OwnerId", r.account_id},      {"Routes", routes},
              {"Associations", associations}, {"PropagatingVgws", json::array()},
              {"Tags", TagSetJson(tags)}};
}

bool HasInternetRoute(const store::Resource& table,
                      const std::map<std::string, std::string>& attached) {
  std::string vpc = table.data.value("vpc_id", "");
  for (const auto& route : table.data.value("routes", json::array())) {
    if (route.value("destination", "") != kDefaultRouteCidr) continue;
    auto it = attached.find(route.value("gateway_id", ""));
    if (it != attached.end() && it->second == vpc) return true;
  }
  return false;
}

// The route's destination from the request, normalized; IPv6 and prefix lists are refused.
absl::StatusOr<std::string> RouteDestination(const json& input) {
  if (input.contains("DestinationIpv6CidrBlock")) {
    return Unsupported("IPv6 routes are not supported by Kumo");
  }
  if (input.contains("DestinationPrefixListId")) {
    return Unsupported("Prefix list routes are not supported by Kumo");
  }
  std::string block = input.value("DestinationCidrBlock", "");
  if (block.empty()) {
    return MissingParameter("The request must contain the parameter destinationCidrBlock");
  }
  auto cidr = ParseCidr(block);
  if (!cidr.ok()) {
    return InvalidParameterValue(fmt::format(
        "Value ({}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR "
        "block.",
        block));
  }
  return cidr->ToString();
}

// The target a CreateRoute/ReplaceRoute names, checked against the table's VPC, as stored:
// {"gateway_id"} or {"network_interface_id"}.
absl::StatusOr<json> RouteTarget(store::Tx& tx, const Caller& caller, const store::Resource& table,
                                 const json& input) {
  static constexpr std::string_view kOtherTargets[] = {
      "NatGatewayId",     "VpcPeeringConnectionId",      "TransitGatewayId", "LocalGatewayId",
      "CarrierGatewayId", "EgressOnlyInternetGatewayId", "VpcEndpointId",    "CoreNetworkArn"};
  for (auto member : kOtherTargets) {
    if (input.contains(member)) {
      return Unsupported(fmt::format(
          "Routes with a {} target are not supported by Kumo yet; use an internet gateway or an "
          "instance",
          member));
    }
  }
  bool to_interface = input.contains("InstanceId") || input.contains("NetworkInterfaceId");
  if (to_interface && input.contains("GatewayId")) {
    return InvalidParameterCombination("Only one route target may be given");
  }
  if (to_interface) return routing::InterfaceRouteTarget(tx, caller, table, input);
  std::string gateway = input.value("GatewayId", "");
  if (gateway.empty()) {
    return MissingParameter(
        "The request must contain exactly one of gatewayId, natGatewayId, instanceId, "
        "networkInterfaceId, vpcPeeringConnectionId, transitGatewayId");
  }
  if (gateway.rfind("vgw-", 0) == 0) {
    return Unsupported("Virtual private gateways are not supported by Kumo");
  }
  auto igw = routing::GetInternetGateway(tx, caller, gateway);
  if (absl::IsNotFound(igw.status())) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidGatewayID.NotFound",
                    fmt::format("The gateway ID '{}' does not exist", gateway));
  }
  if (!igw.ok()) return igw.status();
  if (igw->data.value("vpc_id", "") != table.data.value("vpc_id", "")) {
    return InvalidParameterValue(fmt::format(
        "route table {} and network gateway {} belong to different networks", table.id, igw->id));
  }
  return json{{"gateway_id", igw->id}};
}

// A destination inside one of the VPC's blocks, as EC2 allows it: for an instance or interface
// target, exactly one of the VPC's subnets (traffic to it goes through an appliance); for a
// gateway, never.
absl::Status CheckDestinationInVpc(store::Tx& tx, const Caller& caller, const store::Resource& vpc,
                                   const std::string& destination, const json& target) {
  auto dest = ParseCidr(destination);
  if (!dest.ok()) return absl::OkStatus();  // refused by RouteDestination already
  bool inside = false;
  for (const auto& block : VpcCidrs(vpc)) {
    auto local = ParseCidr(block);
    if (local.ok() && dest->prefix_len >= local->prefix_len && local->Contains(dest->base)) {
      inside = true;
    }
  }
  if (!inside) return absl::OkStatus();
  if (target.contains("network_interface_id")) {
    ASSIGN_OR_RETURN(auto subnets, tx.ListResources(caller.account_id, caller.region, kSubnetType));
    for (const auto& s : subnets) {
      if (s.data.value("vpc_id", "") == vpc.id && s.data.value("cidr", "") == destination) {
        return absl::OkStatus();
      }
    }
    return InvalidParameterValue(fmt::format(
        "The destination CIDR block {} is inside this VPC's CIDR blocks but is not one of its "
        "subnets' CIDR blocks.",
        destination));
  }
  return InvalidParameterValue(fmt::format(
      "The destination CIDR block {} is equal to or more specific than one of this VPC's CIDR "
      "blocks. This route can target only an interface or an instance.",
      destination));
}

// Where an association id lives: the table and, for an explicit association, its index.
struct FoundAssociation {
  store::Resource table;
  bool main = false;
  size_t index = 0;
};

absl::StatusOr<FoundAssociation> FindAssociation(store::Tx& tx, const Caller& caller,
                                                 std::string_view id) {
  ASSIGN_OR_RETURN(auto tables,
                   tx.ListResources(caller.account_id, caller.region, kRouteTableType));
  for (auto& t : tables) {
    if (t.data.value("main", false) && t.data.value("main_association_id", "") == id) {
      return FoundAssociation{std::move(t), true, 0};
    }
    const json& assocs = t.data.value("associations", json::array());
    for (size_t i = 0; i < assocs.size(); ++i) {
      if (assocs[i].value("id", "") == id) return FoundAssociation{std::move(t), false, i};
    }
  }
  return AssociationNotFound(id);
}

json AssociationResult(std::string_view member, std::string_view id) {
  return json{{std::string(member), id}, {"AssociationState", {{"State", "associated"}}}};
}

}  // namespace

namespace {

// Each subnet's effective route table: its explicit association, else its VPC's main table.
struct EffectiveTables {
  std::set<std::string> vpcs_with_tables;
  std::map<std::string, const store::Resource*> main_of_vpc, table_of_subnet;

  explicit EffectiveTables(const std::vector<store::Resource>& route_tables) {
    for (const auto& t : route_tables) {
      std::string vpc = t.data.value("vpc_id", "");
      vpcs_with_tables.insert(vpc);
      if (t.data.value("main", false)) main_of_vpc[vpc] = &t;
      for (const auto& a : t.data.value("associations", json::array())) {
        table_of_subnet[a.value("subnet_id", "")] = &t;
      }
    }
  }
  const store::Resource* Of(const store::Resource& subnet) const {
    std::string vpc = subnet.data.value("vpc_id", "");
    const store::Resource* table = nullptr;
    if (auto it = table_of_subnet.find(subnet.id); it != table_of_subnet.end()) {
      table = it->second;
    } else if (auto m = main_of_vpc.find(vpc); m != main_of_vpc.end()) {
      table = m->second;
    }
    return table && table->data.value("vpc_id", "") == vpc ? table : nullptr;
  }
};

}  // namespace

std::vector<SubnetRoute> SubnetRoutes(const std::vector<store::Resource>& subnets,
                                      const std::vector<store::Resource>& route_tables,
                                      const std::vector<store::Resource>& internet_gateways) {
  auto attached = routing::AttachedVpcs(internet_gateways);
  EffectiveTables tables(route_tables);
  std::vector<SubnetRoute> out;
  for (const auto& s : subnets) {
    const store::Resource* table = tables.Of(s);
    if (!table) continue;  // a default VPC from before route tables: routed as it always was
    std::string vpc = s.data.value("vpc_id", "");
    std::vector<SubnetRoute> mine;
    bool plain = true, has_default = false;  // plain: the router alone can carry it out
    for (const auto& route : table->data.value("routes", json::array())) {
      std::string gateway = route.value("gateway_id", "");
      if (gateway == "local") continue;
      std::string destination = route.value("destination", "");
      has_default = has_default || destination == kDefaultRouteCidr;
      std::string eni = route.value("network_interface_id", "");
      auto it = attached.find(gateway);
      bool blackhole = eni.empty() && (it == attached.end() || it->second != vpc);
      plain = plain && eni.empty() && !blackhole;
      mine.push_back({s.id, destination, eni, blackhole});
    }
    // No route: nowhere to go, as on EC2 (not even out behind the VPC's public addresses).
    if (!has_default) mine.push_back({s.id, std::string(kDefaultRouteCidr), "", true});
    if (plain && has_default) continue;
    out.insert(out.end(), mine.begin(), mine.end());
  }
  return out;
}

std::set<std::string> SubnetsWithInternetRoute(
    const std::vector<store::Resource>& subnets, const std::vector<store::Resource>& route_tables,
    const std::vector<store::Resource>& internet_gateways,
    const std::vector<store::Resource>& vpcs) {
  auto attached = routing::AttachedVpcs(internet_gateways);
  EffectiveTables tables(route_tables);
  std::set<std::string> default_vpcs;
  if (!vpcs.empty()) {
    for (const auto& v : vpcs) {
      if (v.data.value("is_default", false)) default_vpcs.insert(v.id);
    }
  } else {
    for (const auto& s : subnets) {
      if (s.data.value("default_for_az", false)) default_vpcs.insert(s.data.value("vpc_id", ""));
    }
  }
  std::set<std::string> out;
  for (const auto& s : subnets) {
    std::string vpc = s.data.value("vpc_id", "");
    if (!tables.vpcs_with_tables.count(vpc)) {
      if (default_vpcs.count(vpc)) out.insert(s.id);  // a default VPC from before route tables
      continue;
    }
    const store::Resource* table = tables.Of(s);
    if (table && HasInternetRoute(*table, attached)) {
      out.insert(s.id);
    }
  }
  return out;
}

absl::StatusOr<bool> SubnetHasInternetRoute(store::Tx& tx, const store::Resource& subnet) {
  ASSIGN_OR_RETURN(auto tables,
                   tx.ListResources(subnet.account_id, subnet.region, kRouteTableType));
  ASSIGN_OR_RETURN(auto gateways,
                   tx.ListResources(subnet.account_id, subnet.region, kInternetGatewayType));
  std::vector<store::Resource> vpcs;
  auto vpc = tx.GetResource(subnet.account_id, subnet.region, subnet.data.value("vpc_id", ""));
  if (vpc.ok()) {
    vpcs.push_back(std::move(*vpc));
  } else if (!absl::IsNotFound(vpc.status())) {
    return vpc.status();
  }
  return SubnetsWithInternetRoute({subnet}, tables, gateways, vpcs).count(subnet.id) > 0;
}

absl::Status CreateMainRouteTable(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                  const store::Resource& vpc, std::string_view igw_id) {
  store::Resource rt = NewRouteTable(caller, ids, vpc, /*main=*/true);
  if (!igw_id.empty()) {
    rt.data["routes"].push_back(
        {{"destination", kDefaultRouteCidr}, {"gateway_id", igw_id}, {"origin", "CreateRoute"}});
  }
  return tx.InsertResource(rt);
}

absl::Status EnsureDefaultVpcRouting(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                     store::Resource vpc) {
  if (vpc.data.value(std::string(kDefaultVpcRoutingKey), false)) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto gateways,
                   tx.ListResources(caller.account_id, caller.region, kInternetGatewayType));
  std::string igw;
  for (const auto& g : gateways) {
    if (g.data.value("vpc_id", "") == vpc.id) igw = g.id;
  }
  if (igw.empty()) {
    ASSIGN_OR_RETURN(igw, CreateAttachedInternetGateway(tx, caller, ids, vpc));
  }
  ASSIGN_OR_RETURN(auto tables,
                   tx.ListResources(caller.account_id, caller.region, kRouteTableType));
  bool has_main = false;
  for (const auto& t : tables) {
    has_main = has_main || (t.data.value("vpc_id", "") == vpc.id && t.data.value("main", false));
  }
  if (!has_main) RETURN_IF_ERROR(CreateMainRouteTable(tx, caller, ids, vpc, igw));
  vpc.data[std::string(kDefaultVpcRoutingKey)] = true;
  return tx.UpdateResource(vpc);
}

absl::Status EnsureMainRouteTables(store::Tx& tx, const Caller& caller, IdGenerator& ids) {
  ASSIGN_OR_RETURN(auto vpcs, tx.ListResources(caller.account_id, caller.region, kVpcType));
  ASSIGN_OR_RETURN(auto tables,
                   tx.ListResources(caller.account_id, caller.region, kRouteTableType));
  std::set<std::string> routed;
  for (const auto& t : tables) routed.insert(t.data.value("vpc_id", ""));
  for (const auto& v : vpcs) {
    if (!routed.count(v.id)) RETURN_IF_ERROR(CreateMainRouteTable(tx, caller, ids, v));
  }
  return absl::OkStatus();
}

absl::Status DeleteVpcRouting(store::Tx& tx, const Caller& caller, const store::Resource& vpc) {
  auto dependency = [&] {
    return DependencyViolation(
        fmt::format("The vpc '{}' has dependencies and cannot be deleted.", vpc.id));
  };
  ASSIGN_OR_RETURN(auto gateways,
                   tx.ListResources(caller.account_id, caller.region, kInternetGatewayType));
  for (const auto& g : gateways) {
    if (g.data.value("vpc_id", "") == vpc.id) return dependency();
  }
  ASSIGN_OR_RETURN(auto tables,
                   tx.ListResources(caller.account_id, caller.region, kRouteTableType));
  std::vector<std::string> main;
  for (const auto& t : tables) {
    if (t.data.value("vpc_id", "") != vpc.id) continue;
    if (!t.data.value("main", false)) return dependency();
    main.push_back(t.id);
  }
  for (const auto& id : main) {
    RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, id));
  }
  return absl::OkStatus();
}

absl::Status RemoveSubnetAssociations(store::Tx& tx, const Caller& caller,
                                      std::string_view subnet_id) {
  ASSIGN_OR_RETURN(auto tables,
                   tx.ListResources(caller.account_id, caller.region, kRouteTableType));
  for (auto& t : tables) {
    json kept = json::array();
    const json& assocs = t.data.value("associations", json::array());
    for (const auto& a : assocs) {
      if (a.value("subnet_id", "") != subnet_id) kept.push_back(a);
    }
    if (kept.size() == assocs.size()) continue;
    t.data["associations"] = kept;
    RETURN_IF_ERROR(tx.UpdateResource(t));
  }
  return absl::OkStatus();
}

absl::StatusOr<json> CreateRouteTable(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                      const json& input) {
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, input.value("VpcId", "")));
  ASSIGN_OR_RETURN(
      auto tags, TagsFromSpecifications(input.value("TagSpecifications", json()), kRouteTableType));
  store::Resource rt = NewRouteTable(caller, ids, vpc, /*main=*/false);
  RETURN_IF_ERROR(tx.InsertResource(rt));
  RETURN_IF_ERROR(ApplyTags(tx, caller, rt.id, rt.type, tags));
  ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, rt.id));
  return json{{"RouteTable", RenderRouteTable(rt, stored, routing::RouteTargets{})}};
}

absl::StatusOr<json> DeleteRouteTable(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource rt, GetRouteTable(tx, caller, input.value("RouteTableId", "")));
  if (rt.data.value("main", false) || !rt.data.value("associations", json::array()).empty()) {
    return DependencyViolation(
        fmt::format("The routeTable '{}' has dependencies and cannot be deleted.", rt.id));
  }
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, rt.id));
  return json::object();
}

absl::StatusOr<json> DescribeRouteTables(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(routing::RouteTargets targets, routing::LoadRouteTargets(tx, caller));
  DescribeSpec spec;
  spec.type = kRouteTableType;
  spec.ids_member = "RouteTableIds";
  spec.output_member = "RouteTables";
  spec.filter_names = {"route-table-id",
                       "vpc-id",
                       "owner-id",
                       "association.route-table-association-id",
                       "association.route-table-id",
                       "association.subnet-id",
                       "association.main",
                       "route.destination-cidr-block",
                       "route.gateway-id",
                       "route.instance-id",
                       "route.network-interface-id",
                       "route.state",
                       "route.origin"};
  spec.not_found = RouteTableNotFound;
  spec.fields = [&](const store::Resource& r) {
    std::string vpc = r.data.value("vpc_id", "");
    FilterFields f{{"route-table-id", r.id}, {"vpc-id", vpc}, {"owner-id", r.account_id}};
    auto association = [&](const std::string& id, bool main, const std::string& subnet) {
      f.emplace("association.route-table-association-id", id);
      f.emplace("association.route-table-id", r.id);
      f.emplace("association.main", main ? "true" : "false");
      if (!subnet.empty()) f.emplace("association.subnet-id", subnet);
    };
    if (r.data.value("main", false)) association(r.data.value("main_association_id", ""), true, "");
    for (const auto& a : r.data.value("associations", json::array())) {
      association(a.value("id", ""), false, a.value("subnet_id", ""));
    }
    for (const auto& route : r.data.value("routes", json::array())) {
      f.emplace("route.destination-cidr-block", route.value("destination", ""));
      json shown = routing::RouteJson(route, vpc, targets, r.account_id);
      f.emplace("route.gateway-id", shown.value("GatewayId", ""));
      f.emplace("route.instance-id", shown.value("InstanceId", ""));
      f.emplace("route.network-interface-id", shown.value("NetworkInterfaceId", ""));
      f.emplace("route.state", shown.value("State", ""));
      f.emplace("route.origin", route.value("origin", "CreateRoute"));
    }
    return f;
  };
  spec.render = [&](const store::Resource& r, const std::vector<store::Tag>& tags) {
    return RenderRouteTable(r, tags, targets);
  };
  return DescribeResources(tx, caller, input, spec);
}

absl::StatusOr<json> CreateRoute(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource rt, GetRouteTable(tx, caller, input.value("RouteTableId", "")));
  ASSIGN_OR_RETURN(std::string destination, RouteDestination(input));
  ASSIGN_OR_RETURN(json target, RouteTarget(tx, caller, rt, input));
  for (const auto& route : rt.data.value("routes", json::array())) {
    if (route.value("destination", "") == destination) {
      return Ec2Error(absl::StatusCode::kAlreadyExists, "RouteAlreadyExists",
                      fmt::format("The route identified by {} already exists.", destination));
    }
  }
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, rt.data.value("vpc_id", "")));
  RETURN_IF_ERROR(CheckDestinationInVpc(tx, caller, vpc, destination, target));
  target["destination"] = destination;
  target["origin"] = "CreateRoute";
  rt.data["routes"].push_back(target);
  RETURN_IF_ERROR(tx.UpdateResource(rt));
  return json{{"Return", true}};
}

absl::StatusOr<json> ReplaceRoute(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource rt, GetRouteTable(tx, caller, input.value("RouteTableId", "")));
  ASSIGN_OR_RETURN(std::string destination, RouteDestination(input));
  json& routes = rt.data["routes"];
  json* found = nullptr;
  for (auto& route : routes) {
    if (route.value("destination", "") == destination) found = &route;
  }
  if (!found) {
    return InvalidParameterValue(fmt::format(
        "There is no route defined for '{}' in the route table. Please use AddRoute instead.",
        destination));
  }
  bool local_target = input.value("LocalTarget", false);
  if (found->value("gateway_id", "") == "local") {
    if (local_target) return json::object();  // already local
    return InvalidParameterValue(
        fmt::format("cannot replace local route {} in route table {}", destination, rt.id));
  }
  if (local_target) return Unsupported("Routes back to the local target are not supported by Kumo");
  ASSIGN_OR_RETURN(json target, RouteTarget(tx, caller, rt, input));
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, rt.data.value("vpc_id", "")));
  RETURN_IF_ERROR(CheckDestinationInVpc(tx, caller, vpc, destination, target));
  found->erase("gateway_id");
  found->erase("network_interface_id");
  found->update(target);
  RETURN_IF_ERROR(tx.UpdateResource(rt));
  return json::object();
}

absl::StatusOr<json> DeleteRoute(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource rt, GetRouteTable(tx, caller, input.value("RouteTableId", "")));
  ASSIGN_OR_RETURN(std::string destination, RouteDestination(input));
  json kept = json::array();
  bool removed = false;
  for (const auto& route : rt.data.value("routes", json::array())) {
    if (route.value("destination", "") != destination) {
      kept.push_back(route);
      continue;
    }
    if (route.value("gateway_id", "") == "local") {
      return InvalidParameterValue(
          fmt::format("cannot remove local route {} in route table {}", destination, rt.id));
    }
    removed = true;
  }
  if (!removed) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidRoute.NotFound",
                    fmt::format("no route with destination-cidr-block {} in route table {}",
                                destination, rt.id));
  }
  rt.data["routes"] = kept;
  RETURN_IF_ERROR(tx.UpdateResource(rt));
  return json::object();
}

absl::StatusOr<json> AssociateRouteTable(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                         const json& input) {
  ASSIGN_OR_RETURN(store::Resource rt, GetRouteTable(tx, caller, input.value("RouteTableId", "")));
  if (input.contains("GatewayId")) {
    return Unsupported("Gateway route table associations are not supported by Kumo");
  }
  std::string subnet_id = input.value("SubnetId", "");
  if (subnet_id.empty()) return MissingParameter("The request must contain the parameter subnetId");
  ASSIGN_OR_RETURN(store::Resource subnet, GetSubnetRow(tx, caller, subnet_id));
  if (subnet.data.value("vpc_id", "") != rt.data.value("vpc_id", "")) {
    return InvalidParameterValue(
        fmt::format("Route table {} and subnet {} belong to different networks", rt.id, subnet.id));
  }
  ASSIGN_OR_RETURN(auto tables,
                   tx.ListResources(caller.account_id, caller.region, kRouteTableType));
  for (const auto& t : tables) {
    for (const auto& a : t.data.value("associations", json::array())) {
      if (a.value("subnet_id", "") == subnet.id) {
        return Ec2Error(absl::StatusCode::kFailedPrecondition, "Resource.AlreadyAssociated",
                        fmt::format("the specified association for route table {} conflicts "
                                    "with an existing association",
                                    rt.id));
      }
    }
  }
  std::string id = ids.ResourceId("rtbassoc");
  rt.data["associations"].push_back({{"id", id}, {"subnet_id", subnet.id}});
  RETURN_IF_ERROR(tx.UpdateResource(rt));
  return AssociationResult("AssociationId", id);
}

absl::StatusOr<json> DisassociateRouteTable(store::Tx& tx, const Caller& caller,
                                            const json& input) {
  std::string id = input.value("AssociationId", "");
  ASSIGN_OR_RETURN(FoundAssociation found, FindAssociation(tx, caller, id));
  if (found.main) {
    return InvalidParameterValue(
        fmt::format("cannot disassociate the main route table association {}", id));
  }
  found.table.data["associations"].erase(found.index);
  RETURN_IF_ERROR(tx.UpdateResource(found.table));
  return json::object();
}

absl::StatusOr<json> ReplaceRouteTableAssociation(store::Tx& tx, const Caller& caller,
                                                  IdGenerator& ids, const json& input) {
  std::string id = input.value("AssociationId", "");
  ASSIGN_OR_RETURN(FoundAssociation found, FindAssociation(tx, caller, id));
  ASSIGN_OR_RETURN(store::Resource target,
                   GetRouteTable(tx, caller, input.value("RouteTableId", "")));
  if (target.data.value("vpc_id", "") != found.table.data.value("vpc_id", "")) {
    return InvalidParameterValue(fmt::format(
        "Route table {} and association {} belong to different networks", target.id, id));
  }
  std::string new_id = ids.ResourceId("rtbassoc");
  bool same = target.id == found.table.id;
  store::Resource& to = same ? found.table : target;
  if (found.main) {
    found.table.data["main"] = false;
    found.table.data.erase("main_association_id");
    to.data["main"] = true;
    to.data["main_association_id"] = new_id;
  } else {
    std::string subnet = found.table.data["associations"][found.index].value("subnet_id", "");
    found.table.data["associations"].erase(found.index);
    to.data["associations"].push_back({{"id", new_id}, {"subnet_id", subnet}});
  }
  RETURN_IF_ERROR(tx.UpdateResource(found.table));
  if (!same) RETURN_IF_ERROR(tx.UpdateResource(target));
  return AssociationResult("NewAssociationId", new_id);
}

}  // namespace kumo::services
