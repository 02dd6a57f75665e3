// DescribeNetworkInterfaces: every instance's primary interface, as EC2 lists it. The interfaces
// are views of their instances (id eni-<the instance's hex>), not rows of their own, so they
// can never disagree with what DescribeInstances says.
#include <fmt/format.h>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/filters.h"
#include "services/instances.h"

namespace kumo::services {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

FilterFields InterfaceFields(const store::Resource& r) {
  FilterFields f{{"network-interface-id", PrimaryInterfaceId(r.id)},
                 {"attachment.instance-id", r.id},
                 {"attachment.instance-owner-id", r.account_id},
                 {"attachment.device-index", "0"},
                 {"attachment.status", "attached"},
                 {"attachment.attachment-id", "eni-attach-" + r.id.substr(2)},
                 {"availability-zone", Str(r, "availability_zone")},
                 {"description", ""},
                 {"interface-type", "interface"},
                 {"mac-address", Str(r, "mac")},
                 {"owner-id", r.account_id},
                 {"private-ip-address", Str(r, "private_ip")},
                 {"addresses.private-ip-address", Str(r, "private_ip")},
                 {"private-dns-name", PrivateDnsName(Str(r, "private_ip"), r.region)},
                 {"requester-managed", "false"},
                 {"source-dest-check", "true"},
                 {"status", "in-use"},
                 {"subnet-id", Str(r, "subnet_id")},
                 {"vpc-id", Str(r, "vpc_id")}};
  if (!Str(r, "public_ip").empty()) f.insert({"association.public-ip", Str(r, "public_ip")});
  if (!Str(r, "eip_allocation_id").empty()) {
    f.insert({"association.allocation-id", Str(r, "eip_allocation_id")});
  }
  for (const auto& g : r.data.value("groups", json::array())) {
    f.insert({"group-id", g.value("id", "")});
    f.insert({"group-name", g.value("name", "")});
  }
  return f;
}

json RenderInterface(const store::Resource& r, const std::map<std::string, store::Resource>& eips) {
  std::string private_ip = Str(r, "private_ip"), public_ip = Str(r, "public_ip");
  json groups = json::array();
  for (const auto& g : r.data.value("groups", json::array())) {
    groups.push_back({{"GroupId", g.value("id", "")}, {"GroupName", g.value("name", "")}});
  }
  json eni = {{"NetworkInterfaceId", PrimaryInterfaceId(r.id)},
              {"Attachment",
               {{"AttachmentId", "eni-attach-" + r.id.substr(2)},
                {"AttachTime", FormatIso8601(FromUnixMillis(r.data.value("launch_ms", 0ll)))},
                {"DeleteOnTermination", true},
                {"DeviceIndex", 0},
                {"NetworkCardIndex", 0},
                {"InstanceId", r.id},
                {"InstanceOwnerId", r.account_id},
                {"Status", "attached"}}},
              {"AvailabilityZone", Str(r, "availability_zone")},
              {"Description", ""},
              {"Groups", groups},
              {"InterfaceType", "interface"},
              {"MacAddress", Str(r, "mac")},
              {"OwnerId", r.account_id},
              {"PrivateDnsName", PrivateDnsName(private_ip, r.region)},
              {"PrivateIpAddress", private_ip},
              {"RequesterManaged", false},
              {"SourceDestCheck", true},
              {"Status", "in-use"},
              {"SubnetId", Str(r, "subnet_id")},
              {"VpcId", Str(r, "vpc_id")},
              {"TagSet", json::array()}};
  json primary = {{"Primary", true},
                  {"PrivateIpAddress", private_ip},
                  {"PrivateDnsName", PrivateDnsName(private_ip, r.region)}};
  if (!public_ip.empty()) {
    json a = {{"PublicIp", public_ip},
              {"PublicDnsName", PublicDnsName(public_ip, r.region)},
              {"IpOwnerId", "amazon"}};
    if (auto it = eips.find(Str(r, "eip_allocation_id")); it != eips.end()) {
      a["IpOwnerId"] = r.account_id;
      a["AllocationId"] = it->first;
      a["AssociationId"] = it->second.data.value("association_id", "");
    }
    eni["Association"] = a;
    primary["Association"] = a;
  }
  eni["PrivateIpAddresses"] = json::array({primary});
  return eni;
}

}  // namespace

absl::StatusOr<json> DescribeNetworkInterfaces(store::Tx& tx, const Caller& caller,
                                               const json& input) {
  std::set<std::string, std::less<>> names;
  for (const auto& [k, v] : InterfaceFields(store::Resource{.id = "i-0"})) names.insert(k);
  names.insert({"association.public-ip", "association.allocation-id", "group-id", "group-name"});
  ASSIGN_OR_RETURN(FilterSet filters, FilterSet::Parse(input.value("Filters", json()), names));
  ASSIGN_OR_RETURN(auto instances,
                   tx.ListResources(caller.account_id, caller.region, kInstanceType));
  ASSIGN_OR_RETURN(auto addresses,
                   tx.ListResources(caller.account_id, caller.region, kAddressType));
  std::map<std::string, store::Resource> eips;
  for (auto& a : addresses) eips.emplace(a.id, std::move(a));
  std::map<std::string, const store::Resource*> by_eni;
  for (const auto& r : instances) {
    if (Str(r, "state") == "terminated") continue;
    by_eni[PrimaryInterfaceId(r.id)] = &r;
  }
  json wanted = input.value("NetworkInterfaceIds", json::array());
  for (const auto& id : wanted) {
    if (!by_eni.count(id.get<std::string>())) {
      return Ec2Error(
          absl::StatusCode::kNotFound, "InvalidNetworkInterfaceID.NotFound",
          fmt::format("The networkInterface ID '{}' does not exist", id.get<std::string>()));
    }
  }
  json out = json::array();
  for (const auto& [id, r] : by_eni) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), id) == wanted.end()) continue;
    if (!filters.Matches(InterfaceFields(*r), {})) continue;
    out.push_back(RenderInterface(*r, eips));
  }
  return json{{"NetworkInterfaces", out}};
}

}  // namespace kumo::services
