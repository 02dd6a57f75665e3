#include "services/vpcs.h"

#include <fmt/format.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/security_groups.h"
#include "services/tags.h"

namespace kumo::services {
namespace {

using nlohmann::json;

// Stored names mark the default network so it is found (and never created twice) by name.
constexpr std::string_view kDefaultVpcName = "default";
std::string DefaultSubnetName(std::string_view zone) { return fmt::format("default:{}", zone); }

// 172.31.0.0/20, 172.31.16.0/20, 172.31.32.0/20, … as EC2 lays out default subnets.
std::string DefaultSubnetCidr(size_t zone_index) {
  return fmt::format("172.31.{}.0/20", zone_index * 16);
}

absl::Status VpcNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidVpcID.NotFound",
                  fmt::format("The vpc ID '{}' does not exist", id));
}

absl::Status SubnetNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidSubnetID.NotFound",
                  fmt::format("The subnet ID '{}' does not exist", id));
}

}  // namespace

absl::Status CreateDefaultNetwork(store::Tx& tx, const Caller& caller, const Regions& regions,
                                  IdGenerator& ids) {
  ASSIGN_OR_RETURN(auto existing, tx.FindResourceByName(caller.account_id, caller.region, kVpcType,
                                                        kDefaultVpcName));
  if (existing) return absl::OkStatus();
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
              {"dhcp_options_id", ids.ResourceId("dopt")}};
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
  return CreateDefaultSecurityGroup(tx, caller, ids, vpc.id);
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

absl::StatusOr<json> DescribeVpcs(store::Tx& tx, const Caller& caller, const json& input) {
  DescribeSpec spec;
  spec.type = kVpcType;
  spec.ids_member = "VpcIds";
  spec.output_member = "Vpcs";
  spec.filter_names = {"vpc-id",         "cidr",  "cidr-block-association.cidr-block",
                       "is-default",     "state", "owner-id",
                       "dhcp-options-id"};
  spec.not_found = VpcNotFound;
  spec.fields = [](const store::Resource& r) {
    return FilterFields{{"vpc-id", r.id},
                        {"cidr", r.data.value("cidr", "")},
                        {"cidr-block-association.cidr-block", r.data.value("cidr", "")},
                        {"is-default", r.data.value("is_default", false) ? "true" : "false"},
                        {"state", "available"},
                        {"owner-id", r.account_id},
                        {"dhcp-options-id", r.data.value("dhcp_options_id", "")}};
  };
  spec.render = [](const store::Resource& r, const std::vector<store::Tag>& tags) {
    return json{{"VpcId", r.id},
                {"CidrBlock", r.data.value("cidr", "")},
                {"CidrBlockAssociationSet",
                 {{{"AssociationId", r.data.value("cidr_association_id", "")},
                   {"CidrBlock", r.data.value("cidr", "")},
                   {"CidrBlockState", {{"State", "associated"}}}}}},
                {"DhcpOptionsId", r.data.value("dhcp_options_id", "")},
                {"InstanceTenancy", "default"},
                {"IsDefault", r.data.value("is_default", false)},
                {"OwnerId", r.account_id},
                {"State", "available"},
                {"Tags", TagSetJson(tags)}};
  };
  return DescribeResources(tx, caller, input, spec);
}

absl::StatusOr<json> DescribeSubnets(store::Tx& tx, const Caller& caller, const json& input) {
  DescribeSpec spec;
  spec.type = kSubnetType;
  spec.ids_member = "SubnetIds";
  spec.output_member = "Subnets";
  spec.filter_names = {"subnet-id",  "vpc-id",   "availability-zone",      "availability-zone-id",
                       "cidr-block", "cidr",     "default-for-az",         "defaultForAz",
                       "state",      "owner-id", "map-public-ip-on-launch"};
  spec.not_found = SubnetNotFound;
  spec.fields = [](const store::Resource& r) {
    std::string def = r.data.value("default_for_az", false) ? "true" : "false";
    return FilterFields{{"subnet-id", r.id},
                        {"vpc-id", r.data.value("vpc_id", "")},
                        {"availability-zone", r.data.value("availability_zone", "")},
                        {"availability-zone-id", r.data.value("availability_zone_id", "")},
                        {"cidr-block", r.data.value("cidr", "")},
                        {"cidr", r.data.value("cidr", "")},
                        {"default-for-az", def},
                        {"defaultForAz", def},
                        {"state", "available"},
                        {"owner-id", r.account_id},
                        {"map-public-ip-on-launch",
                         r.data.value("map_public_ip_on_launch", false) ? "true" : "false"}};
  };
  spec.render = [&caller](const store::Resource& r, const std::vector<store::Tag>& tags) {
    return json{{"SubnetId", r.id},
                {"SubnetArn",
                 fmt::format("arn:aws:ec2:{}:{}:subnet/{}", caller.region, r.account_id, r.id)},
                {"VpcId", r.data.value("vpc_id", "")},
                {"CidrBlock", r.data.value("cidr", "")},
                {"AvailabilityZone", r.data.value("availability_zone", "")},
                {"AvailabilityZoneId", r.data.value("availability_zone_id", "")},
                // A /20 has 4096 addresses; EC2 reserves 5 in every subnet.
                {"AvailableIpAddressCount", 4091},
                {"DefaultForAz", r.data.value("default_for_az", false)},
                {"MapPublicIpOnLaunch", r.data.value("map_public_ip_on_launch", false)},
                {"State", "available"},
                {"OwnerId", r.account_id},
                {"AssignIpv6AddressOnCreation", false},
                {"Ipv6CidrBlockAssociationSet", json::array()},
                {"Tags", TagSetJson(tags)}};
  };
  return DescribeResources(tx, caller, input, spec);
}

}  // namespace kumo::services
