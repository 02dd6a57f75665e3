#include "services/vpcs.h"

#include <fmt/format.h>

#include "common/errors.h"
#include "common/ipv4.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/instances.h"
#include "services/routing.h"
#include "services/security_groups.h"
#include "services/tags.h"

namespace kumo::services {
namespace {

using nlohmann::json;

// Stored names mark the default network so it is found (and never created twice) by name.
constexpr std::string_view kDefaultVpcName = "default";
// Left by DeleteVpc of the default VPC, so that it is not created again on the next start, as
// EC2 leaves an account without one until CreateDefaultVpc.
constexpr std::string_view kDeletedDefaultVpcType = "default-vpc-deleted";
std::string DefaultSubnetName(std::string_view zone) { return fmt::format("default:{}", zone); }

// 172.31.0.0/20, 172.31.16.0/20, 172.31.32.0/20, … as EC2 lays out default subnets.
std::string DefaultSubnetCidr(size_t zone_index) {
  return fmt::format("172.31.{}.0/20", zone_index * 16);
}

absl::Status VpcNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidVpcID.NotFound",
                  fmt::format("The vpc ID '{}' does not exist", id));
}

json RenderVpc(const store::Resource& r, const std::vector<store::Tag>& tags) {
  return json{{"VpcId", r.id},
              {"CidrBlock", r.data.value("cidr", "")},
              {"CidrBlockAssociationSet", CidrAssociationSet(r)},
              {"DhcpOptionsId", r.data.value("dhcp_options_id", "")},
              {"InstanceTenancy", r.data.value("instance_tenancy", "default")},
              {"IsDefault", r.data.value("is_default", false)},
              {"OwnerId", r.account_id},
              {"State", "available"},
              {"Tags", TagSetJson(tags)}};
}

absl::Status Unsupported(std::string_view message) {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported", message);
}

absl::Status DependencyViolation(std::string_view message) {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "DependencyViolation", message);
}

// The stored attribute names of DescribeVpcAttribute's names and ModifyVpcAttribute's members.
struct VpcAttribute {
  std::string_view api_name;  // "enableDnsSupport"
  std::string_view member;    // "EnableDnsSupport"
  std::string_view key;       // "enable_dns_support"
};
constexpr VpcAttribute kVpcAttributes[] = {
    {"enableDnsSupport", "EnableDnsSupport", "enable_dns_support"},
    {"enableDnsHostnames", "EnableDnsHostnames", "enable_dns_hostnames"},
    {"enableNetworkAddressUsageMetrics", "EnableNetworkAddressUsageMetrics",
     "enable_network_address_usage_metrics"},
};

// VPCs made before the attributes were stored are default VPCs, where EC2 turns DNS on.
bool VpcAttributeValue(const store::Resource& vpc, const VpcAttribute& a) {
  if (vpc.data.contains(a.key)) return vpc.data.value(std::string(a.key), false);
  return a.key != "enable_network_address_usage_metrics" && vpc.data.value("is_default", false);
}

}  // namespace

absl::Status CreateDefaultNetwork(store::Tx& tx, const Caller& caller, const Regions& regions,
                                  IdGenerator& ids) {
  ASSIGN_OR_RETURN(auto existing, tx.FindResourceByName(caller.account_id, caller.region, kVpcType,
                                                        kDefaultVpcName));
  // VPCs stored before route tables existed get them now: the default VPC its internet gateway
  // and main table routing to it, the others their main table.
  if (existing) {
    RETURN_IF_ERROR(EnsureDefaultVpcRouting(tx, caller, ids, *existing));
    return EnsureMainRouteTables(tx, caller, ids);
  }
  ASSIGN_OR_RETURN(auto deleted, tx.FindResourceByName(caller.account_id, caller.region,
                                                       kDeletedDefaultVpcType, kDefaultVpcName));
  if (deleted) return EnsureMainRouteTables(tx, caller, ids);
  int64_t now = UnixMillis(caller.now);
  store::Resource vpc{ids.ResourceId("vpc"),
                      caller.account_id,
                      caller.region,
                      std::string(kVpcType),
                      std::string(kDefaultVpcName),
                      json::object(),
                      0,
                      now};
  vpc.data = {{"cidr", kDefaultVpcCidr},
              {"is_default", true},
              {"cidr_association_id", ids.ResourceId("vpc-cidr-assoc")},
              {"dhcp_options_id", ids.ResourceId("dopt")},
              {"instance_tenancy", "default"},
              {"enable_dns_support", true},
              {"enable_dns_hostnames", true},
              {std::string(kDefaultVpcRoutingKey), true}};
  RETURN_IF_ERROR(tx.InsertResource(vpc));
  auto zones = regions.Zones(caller.region);
  for (size_t i = 0; i < zones.size(); ++i) {
    store::Resource subnet{ids.ResourceId("subnet"),
                           caller.account_id,
                           caller.region,
                           std::string(kSubnetType),
                           DefaultSubnetName(zones[i]),
                           json::object(),
                           0,
                           now};
    subnet.data = {{"vpc_id", vpc.id},
                   {"cidr", DefaultSubnetCidr(i)},
                   {"availability_zone", zones[i]},
                   {"availability_zone_id", Regions::ZoneId(caller.region, int(i))},
                   {"default_for_az", true},
                   {"map_public_ip_on_launch", true}};
    RETURN_IF_ERROR(tx.InsertResource(subnet));
  }
  RETURN_IF_ERROR(CreateDefaultSecurityGroup(tx, caller, ids, vpc.id));
  // As on EC2: an attached internet gateway and a main route table routing 0.0.0.0/0 to it.
  ASSIGN_OR_RETURN(std::string igw, CreateAttachedInternetGateway(tx, caller, ids, vpc));
  return CreateMainRouteTable(tx, caller, ids, vpc, igw);
}

absl::Status DefaultNetwork::Ensure(const Caller& caller) {
  auto key = std::make_pair(caller.account_id, caller.region);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_.count(key)) return absl::OkStatus();
  }
  RETURN_IF_ERROR(store_.Write(
      [&](store::Tx& tx) { return CreateDefaultNetwork(tx, caller, regions_, ids_); }));
  std::lock_guard<std::mutex> lock(mu_);
  done_.insert(key);
  return absl::OkStatus();
}

absl::StatusOr<std::string> DefaultVpcId(store::Tx& tx, const Caller& caller) {
  ASSIGN_OR_RETURN(
      auto vpc, tx.FindResourceByName(caller.account_id, caller.region, kVpcType, kDefaultVpcName));
  if (!vpc) {
    return Ec2Error(absl::StatusCode::kNotFound, "VPCIdNotSpecified",
                    "No default VPC for this user");
  }
  return vpc->id;
}

absl::StatusOr<store::Resource> GetVpc(store::Tx& tx, const Caller& caller, std::string_view id) {
  auto vpc = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(vpc.status()) || (vpc.ok() && vpc->type != kVpcType)) {
    return VpcNotFound(id);
  }
  return vpc;
}

absl::StatusOr<json> CreateVpc(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                               const json& input) {
  if (input.value("AmazonProvidedIpv6CidrBlock", false) || input.contains("Ipv6CidrBlock") ||
      input.contains("Ipv6Pool") || input.contains("Ipv6IpamPoolId")) {
    return Unsupported("IPv6 CIDR blocks are not supported by Kumo");
  }
  if (input.contains("Ipv4IpamPoolId")) return Unsupported("IPAM pools are not supported by Kumo");
  std::string block = input.value("CidrBlock", "");
  ASSIGN_OR_RETURN(Cidr cidr, ParseVpcBlock(block));
  std::string tenancy = input.value("InstanceTenancy", "default");
  if (tenancy != "default") {
    return Unsupported(fmt::format("The tenancy value {} is not supported by Kumo.", tenancy));
  }
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), kVpcType));
  // New VPCs share the account's default DHCP options set, as on EC2.
  std::string dhcp;
  ASSIGN_OR_RETURN(
      auto def, tx.FindResourceByName(caller.account_id, caller.region, kVpcType, kDefaultVpcName));
  dhcp = def ? def->data.value("dhcp_options_id", "") : ids.ResourceId("dopt");
  store::Resource vpc{ids.ResourceId("vpc"),
                      caller.account_id,
                      caller.region,
                      std::string(kVpcType),
                      "",
                      json::object(),
                      0,
                      UnixMillis(caller.now)};
  vpc.data = {{"cidr", cidr.ToString()},
              {"is_default", false},
              {"cidr_association_id", ids.ResourceId("vpc-cidr-assoc")},
              {"dhcp_options_id", dhcp},
              {"instance_tenancy", tenancy},
              {"enable_dns_support", true},
              {"enable_dns_hostnames", false},
              {"enable_network_address_usage_metrics", false}};
  RETURN_IF_ERROR(tx.InsertResource(vpc));
  RETURN_IF_ERROR(CreateDefaultSecurityGroup(tx, caller, ids, vpc.id));
  RETURN_IF_ERROR(CreateMainRouteTable(tx, caller, ids, vpc));
  RETURN_IF_ERROR(ApplyTags(tx, caller, vpc.id, vpc.type, tags));
  ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, vpc.id));
  return json{{"Vpc", RenderVpc(vpc, stored)}};
}

absl::StatusOr<json> DeleteVpc(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                               const json& input) {
  std::string id = input.value("VpcId", "");
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, id));
  auto dependency = [&] {
    return DependencyViolation(
        fmt::format("The vpc '{}' has dependencies and cannot be deleted.", vpc.id));
  };
  ASSIGN_OR_RETURN(auto subnets, tx.ListResources(caller.account_id, caller.region, kSubnetType));
  for (const auto& s : subnets) {
    if (s.data.value("vpc_id", "") == vpc.id) return dependency();
  }
  ASSIGN_OR_RETURN(auto instances,
                   tx.ListResources(caller.account_id, caller.region, kInstanceType));
  for (const auto& i : instances) {
    if (i.data.value("vpc_id", "") == vpc.id && i.data.value("state", "") != "terminated") {
      return dependency();
    }
  }
  ASSIGN_OR_RETURN(auto groups,
                   tx.ListResources(caller.account_id, caller.region, kSecurityGroupType));
  std::vector<std::string> own_groups;
  for (const auto& g : groups) {
    if (g.data.value("vpc_id", "") != vpc.id) continue;
    if (!g.data.value("is_default", false)) return dependency();
    own_groups.push_back(g.id);
  }
  // An attached internet gateway or route tables besides the main one (deleted with the VPC).
  RETURN_IF_ERROR(DeleteVpcRouting(tx, caller, vpc));
  for (const auto& g : own_groups) {
    RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, g));
  }
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, vpc.id));
  if (vpc.name == kDefaultVpcName) {
    RETURN_IF_ERROR(tx.InsertResource(
        store::Resource{ids.ResourceId("dvpcdel"), caller.account_id, caller.region,
                        std::string(kDeletedDefaultVpcType), std::string(kDefaultVpcName),
                        json{{"vpc_id", vpc.id}}, 0, UnixMillis(caller.now)}));
  }
  return json{{"Return", true}};
}

absl::StatusOr<json> ModifyVpcAttribute(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, input.value("VpcId", "")));
  const VpcAttribute* chosen = nullptr;
  for (const auto& a : kVpcAttributes) {
    if (!input.contains(a.member)) continue;
    if (chosen) {
      return InvalidParameterCombination(
          "Fields for multiple attribute types specified: only one attribute can be modified "
          "at a time");
    }
    chosen = &a;
  }
  if (!chosen) {
    return InvalidParameterCombination("No attributes specified: one attribute is required");
  }
  const json& value = input.at(chosen->member);
  if (!value.contains("Value")) {
    return MissingParameter(
        fmt::format("The request must contain the parameter {}.Value", chosen->member));
  }
  vpc.data[std::string(chosen->key)] = value.at("Value").get<bool>();
  RETURN_IF_ERROR(tx.UpdateResource(vpc));
  return json::object();
}

absl::StatusOr<json> DescribeVpcAttribute(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, input.value("VpcId", "")));
  std::string name = input.value("Attribute", "");
  for (const auto& a : kVpcAttributes) {
    if (a.api_name != name) continue;
    return json{{"VpcId", vpc.id}, {std::string(a.member), {{"Value", VpcAttributeValue(vpc, a)}}}};
  }
  return InvalidParameterValue(
      fmt::format("Value ({}) for parameter attribute is invalid. Unknown attribute.", name));
}

absl::StatusOr<json> DescribeVpcs(store::Tx& tx, const Caller& caller, const json& input) {
  DescribeSpec spec;
  spec.type = kVpcType;
  spec.ids_member = "VpcIds";
  spec.output_member = "Vpcs";
  spec.filter_names = {"vpc-id",
                       "cidr",
                       "cidr-block-association.cidr-block",
                       "cidr-block-association.association-id",
                       "cidr-block-association.state",
                       "is-default",
                       "isDefault",
                       "state",
                       "owner-id",
                       "dhcp-options-id"};
  spec.not_found = VpcNotFound;
  spec.fields = [](const store::Resource& r) {
    std::string def = r.data.value("is_default", false) ? "true" : "false";
    FilterFields f{{"vpc-id", r.id},
                   {"cidr", r.data.value("cidr", "")},
                   {"cidr-block-association.state", "associated"},
                   {"is-default", def},
                   {"isDefault", def},
                   {"state", "available"},
                   {"owner-id", r.account_id},
                   {"dhcp-options-id", r.data.value("dhcp_options_id", "")}};
    for (const auto& a : CidrAssociationSet(r)) {
      f.insert({"cidr-block-association.cidr-block", a.value("CidrBlock", "")});
      f.insert({"cidr-block-association.association-id", a.value("AssociationId", "")});
    }
    return f;
  };
  spec.render = RenderVpc;
  return DescribeResources(tx, caller, input, spec);
}

}  // namespace kumo::services
