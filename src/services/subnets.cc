// Subnets of any VPC: CreateSubnet, DeleteSubnet, ModifySubnetAttribute, DescribeSubnets.
#include <fmt/format.h>

#include <map>

#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/ipv4.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/describe.h"
#include "services/instances.h"
#include "services/routing.h"
#include "services/tags.h"
#include "services/vpcs.h"

namespace kumo::services {
namespace {

using nlohmann::json;

absl::Status SubnetNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidSubnetID.NotFound",
                  fmt::format("The subnet ID '{}' does not exist", id));
}

bool LiveInSubnet(const store::Resource& instance, std::string_view subnet_id) {
  return instance.data.value("subnet_id", "") == subnet_id &&
         instance.data.value("state", "") != "terminated";
}

// EC2 reserves the first four addresses and the last one of every subnet.
int64_t UsableAddresses(const std::string& cidr) {
  auto c = ParseCidr(cidr);
  if (!c.ok()) return 0;
  return (int64_t{1} << (32 - c->prefix_len)) - 5;
}

json RenderSubnet(const Caller& caller, const store::Resource& r,
                  const std::vector<store::Tag>& tags, int64_t in_use) {
  return json{
      {"SubnetId", r.id},
      {"SubnetArn", fmt::format("arn:aws:ec2:{}:{}:subnet/{}", caller.region, r.account_id, r.id)},
      {"VpcId", r.data.value("vpc_id", "")},
      {"CidrBlock", r.data.value("cidr", "")},
      {"AvailabilityZone", r.data.value("availability_zone", "")},
      {"AvailabilityZoneId", r.data.value("availability_zone_id", "")},
      {"AvailableIpAddressCount", UsableAddresses(r.data.value("cidr", "")) - in_use},
      {"DefaultForAz", r.data.value("default_for_az", false)},
      {"MapPublicIpOnLaunch", r.data.value("map_public_ip_on_launch", false)},
      {"State", "available"},
      {"OwnerId", r.account_id},
      {"AssignIpv6AddressOnCreation", false},
      {"Ipv6CidrBlockAssociationSet", json::array()},
      {"Tags", TagSetJson(tags)}};
}

absl::StatusOr<store::Resource> GetSubnet(store::Tx& tx, const Caller& caller,
                                          std::string_view id) {
  auto s = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(s.status()) || (s.ok() && s->type != kSubnetType)) {
    return SubnetNotFound(id);
  }
  return s;
}

// The zone a new subnet goes to: the one named (by name or by id), else the region's first.
absl::StatusOr<std::pair<std::string, std::string>> SubnetZone(const Caller& caller,
                                                               const Regions& regions,
                                                               const json& input) {
  std::string name = input.value("AvailabilityZone", "");
  std::string id = input.value("AvailabilityZoneId", "");
  if (!name.empty() && !id.empty()) {
    return InvalidParameterCombination(
        "Only one of AvailabilityZone or AvailabilityZoneId may be specified");
  }
  auto zones = regions.Zones(caller.region);
  if (zones.empty()) return absl::InternalError("The region has no availability zones");
  if (name.empty() && id.empty())
    return std::make_pair(zones[0], Regions::ZoneId(caller.region, 0));
  for (size_t i = 0; i < zones.size(); ++i) {
    std::string zone_id = Regions::ZoneId(caller.region, int(i));
    if (zones[i] == name || zone_id == id) return std::make_pair(zones[i], zone_id);
  }
  return InvalidParameterValue(fmt::format(
      "Value ({}) for parameter {} is invalid. Subnets can currently only be created in the "
      "following availability zones: {}.",
      name.empty() ? id : name, name.empty() ? "availabilityZoneId" : "availabilityZone",
      absl::StrJoin(zones, ", ")));
}

}  // namespace

absl::StatusOr<json> CreateSubnet(store::Tx& tx, const Caller& caller, const Regions& regions,
                                  IdGenerator& ids, const json& input) {
  if (input.contains("Ipv6CidrBlock") || input.value("Ipv6Native", false)) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "IPv6 subnets are not supported by Kumo");
  }
  if (input.contains("OutpostArn")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "Outposts are not supported by Kumo");
  }
  ASSIGN_OR_RETURN(store::Resource vpc, GetVpc(tx, caller, input.value("VpcId", "")));
  std::string block = input.value("CidrBlock", "");
  if (block.empty()) return MissingParameter("The request must contain the parameter CidrBlock");
  auto cidr = ParseCidr(block);
  if (!cidr.ok()) {
    return InvalidParameterValue(fmt::format(
        "Value ({}) for parameter cidrBlock is invalid. This is not a valid CIDR block.", block));
  }
  // Inside one of the VPC's blocks, the primary or a secondary one.
  bool inside = false;
  for (const auto& block_of_vpc : VpcCidrs(vpc)) {
    auto vpc_cidr = ParseCidr(block_of_vpc);
    if (vpc_cidr.ok() && cidr->prefix_len >= vpc_cidr->prefix_len &&
        vpc_cidr->Contains(cidr->base)) {
      inside = true;
    }
  }
  if (cidr->prefix_len < 16 || cidr->prefix_len > 28 || !inside) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidSubnet.Range",
                    fmt::format("The CIDR '{}' is invalid.", block));
  }
  ASSIGN_OR_RETURN(auto zone, SubnetZone(caller, regions, input));
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), kSubnetType));
  ASSIGN_OR_RETURN(auto subnets, tx.ListResources(caller.account_id, caller.region, kSubnetType));
  for (const auto& s : subnets) {
    if (s.data.value("vpc_id", "") != vpc.id) continue;
    auto other = ParseCidr(s.data.value("cidr", ""));
    if (other.ok() && other->Overlaps(*cidr)) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidSubnet.Conflict",
                      fmt::format("The CIDR '{}' conflicts with another subnet", block));
    }
  }
  store::Resource subnet{ids.ResourceId("subnet"),
                         caller.account_id,
                         caller.region,
                         std::string(kSubnetType),
                         "",
                         json::object(),
                         0,
                         UnixMillis(caller.now)};
  subnet.data = {{"vpc_id", vpc.id},
                 {"cidr", cidr->ToString()},
                 {"availability_zone", zone.first},
                 {"availability_zone_id", zone.second},
                 {"default_for_az", false},
                 {"map_public_ip_on_launch", false}};
  RETURN_IF_ERROR(tx.InsertResource(subnet));
  RETURN_IF_ERROR(ApplyTags(tx, caller, subnet.id, subnet.type, tags));
  ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, subnet.id));
  return json{{"Subnet", RenderSubnet(caller, subnet, stored, 0)}};
}

absl::StatusOr<json> DeleteSubnet(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource subnet, GetSubnet(tx, caller, input.value("SubnetId", "")));
  // Interfaces hold addresses of the subnet too.
  ASSIGN_OR_RETURN(auto instances, AddressHolders(tx, caller));
  for (const auto& i : instances) {
    if (LiveInSubnet(i, subnet.id)) {
      return Ec2Error(
          absl::StatusCode::kFailedPrecondition, "DependencyViolation",
          fmt::format("The subnet '{}' has dependencies and cannot be deleted.", subnet.id));
    }
  }
  RETURN_IF_ERROR(RemoveSubnetAssociations(tx, caller, subnet.id));
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, subnet.id));
  return json{{"Return", true}};
}

absl::StatusOr<json> ModifySubnetAttribute(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource subnet, GetSubnet(tx, caller, input.value("SubnetId", "")));
  // Only MapPublicIpOnLaunch means anything without IPv6, outposts or resource-name DNS.
  for (const auto& [key, value] : input.items()) {
    if (key == "SubnetId" || key == "MapPublicIpOnLaunch" || key == "DryRun") continue;
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    fmt::format("The subnet attribute {} is not supported by Kumo", key));
  }
  if (!input.contains("MapPublicIpOnLaunch")) {
    return MissingParameter("The request must contain the parameter MapPublicIpOnLaunch");
  }
  const json& value = input.at("MapPublicIpOnLaunch");
  if (!value.contains("Value")) {
    return MissingParameter("The request must contain the parameter MapPublicIpOnLaunch.Value");
  }
  subnet.data["map_public_ip_on_launch"] = value.at("Value").get<bool>();
  RETURN_IF_ERROR(tx.UpdateResource(subnet));
  return json::object();
}

absl::StatusOr<json> DescribeSubnets(store::Tx& tx, const Caller& caller, const json& input) {
  // Interfaces hold addresses of the subnet too.
  ASSIGN_OR_RETURN(auto instances, AddressHolders(tx, caller));
  std::map<std::string, int64_t> in_use;
  for (const auto& i : instances) {
    if (i.data.value("state", "") != "terminated") {
      in_use[i.data.value("subnet_id", "")] +=
          1 + int64_t(i.data.value("secondary_ips", json::array()).size());
    }
  }
  DescribeSpec spec;
  spec.type = kSubnetType;
  spec.ids_member = "SubnetIds";
  spec.output_member = "Subnets";
  spec.filter_names = {"subnet-id",
                       "vpc-id",
                       "availability-zone",
                       "availability-zone-id",
                       "available-ip-address-count",
                       "cidr-block",
                       "cidr",
                       "cidrBlock",
                       "default-for-az",
                       "defaultForAz",
                       "state",
                       "owner-id",
                       "subnet-arn",
                       "map-public-ip-on-launch"};
  spec.not_found = SubnetNotFound;
  spec.fields = [&](const store::Resource& r) {
    std::string def = r.data.value("default_for_az", false) ? "true" : "false";
    std::string cidr = r.data.value("cidr", "");
    auto used = in_use.find(r.id);
    int64_t available = UsableAddresses(cidr) - (used == in_use.end() ? 0 : used->second);
    return FilterFields{{"subnet-id", r.id},
                        {"vpc-id", r.data.value("vpc_id", "")},
                        {"availability-zone", r.data.value("availability_zone", "")},
                        {"availability-zone-id", r.data.value("availability_zone_id", "")},
                        {"available-ip-address-count", std::to_string(available)},
                        {"cidr-block", cidr},
                        {"cidr", cidr},
                        {"cidrBlock", cidr},
                        {"default-for-az", def},
                        {"defaultForAz", def},
                        {"state", "available"},
                        {"owner-id", r.account_id},
                        {"subnet-arn", fmt::format("arn:aws:ec2:{}:{}:subnet/{}", caller.region,
                                                   r.account_id, r.id)},
                        {"map-public-ip-on-launch",
                         r.data.value("map_public_ip_on_launch", false) ? "true" : "false"}};
  };
  spec.render = [&](const store::Resource& r, const std::vector<store::Tag>& tags) {
    auto used = in_use.find(r.id);
    return RenderSubnet(caller, r, tags, used == in_use.end() ? 0 : used->second);
  };
  return DescribeResources(tx, caller, input, spec);
}

}  // namespace kumo::services
