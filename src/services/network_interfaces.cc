// Network interfaces. An instance's primary interface is a view of the instance (id eni-<the
// instance's hex>), not a row of its own, so it can never disagree with DescribeInstances; the
// ones CreateNetworkInterface makes are rows, attached to at most one instance at device index
// 1 or more (eth<N> inside, made by the reconciler through Host::SetInterfaces).
#include <fmt/format.h>

#include <algorithm>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/describe.h"
#include "services/filters.h"
#include "services/instances.h"
#include "services/metering.h"
#include "services/pagination.h"
#include "services/placement.h"
#include "services/tags.h"

namespace kumo::services {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

// What the filters see of an interface: a primary one (r an instance, id its eni-…) or a row.
FilterFields CommonFields(const store::Resource& r, const std::string& id, bool attached) {
  FilterFields f{{"network-interface-id", id},
                 {"availability-zone", Str(r, "availability_zone")},
                 {"description", Str(r, "description")},
                 {"interface-type", "interface"},
                 {"mac-address", Str(r, "mac")},
                 {"owner-id", r.account_id},
                 {"private-ip-address", Str(r, "private_ip")},
                 {"addresses.private-ip-address", Str(r, "private_ip")},
                 {"addresses.primary", "true"},
                 {"private-dns-name", PrivateDnsName(Str(r, "private_ip"), r.region)},
                 {"requester-managed", "false"},
                 {"source-dest-check", r.data.value("source_dest_check", true) ? "true" : "false"},
                 {"status", attached ? "in-use" : "available"},
                 {"subnet-id", Str(r, "subnet_id")},
                 {"vpc-id", Str(r, "vpc_id")}};
  for (const auto& g : r.data.value("groups", json::array())) {
    f.insert({"group-id", g.value("id", "")});
    f.insert({"group-name", g.value("name", "")});
  }
  for (const auto& ip : r.data.value("secondary_ips", std::vector<std::string>{})) {
    f.insert({"addresses.private-ip-address", ip});
  }
  return f;
}

void AddAttachmentFields(FilterFields& f, const std::string& instance_id, const std::string& owner,
                         int64_t device_index, const std::string& attachment_id) {
  f.insert({"attachment.instance-id", instance_id});
  f.insert({"attachment.instance-owner-id", owner});
  f.insert({"attachment.device-index", std::to_string(device_index)});
  f.insert({"attachment.status", "attached"});
  f.insert({"attachment.attachment-id", attachment_id});
}

FilterFields InterfaceFields(const store::Resource& r) {
  FilterFields f = CommonFields(r, PrimaryInterfaceId(r.id), true);
  AddAttachmentFields(f, r.id, r.account_id, 0, "eni-attach-" + r.id.substr(2));
  if (!Str(r, "public_ip").empty()) f.insert({"association.public-ip", Str(r, "public_ip")});
  if (!Str(r, "eip_allocation_id").empty()) {
    f.insert({"association.allocation-id", Str(r, "eip_allocation_id")});
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
              {"SourceDestCheck", r.data.value("source_dest_check", true)},
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
  eni["PrivateIpAddresses"] = WithSecondaryAddresses(r, primary);
  return eni;
}

// Network interfaces created by CreateNetworkInterface: rows of their own (see addresses.h).
absl::Status InterfaceNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidNetworkInterfaceID.NotFound",
                  fmt::format("The networkInterface ID '{}' does not exist", id));
}

absl::Status InterfaceInUse(std::string_view id) {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidNetworkInterface.InUse",
                  fmt::format("Interface: [{}] in use.", id));
}

json Attachment(const store::Resource& eni) { return eni.data.value("attachment", json()); }

// The instance whose primary interface this id names, if any (eni-<hex> of i-<hex>).
absl::StatusOr<std::optional<store::Resource>> PrimaryOwner(store::Tx& tx, const Caller& caller,
                                                            const std::string& eni_id) {
  if (eni_id.rfind("eni-", 0) != 0) return std::optional<store::Resource>();
  auto r = tx.GetResource(caller.account_id, caller.region, "i-" + eni_id.substr(4));
  if (absl::IsNotFound(r.status())) return std::optional<store::Resource>();
  if (!r.ok()) return r.status();
  if (r->type != kInstanceType || Str(*r, "state") == "terminated") {
    return std::optional<store::Resource>();
  }
  return std::optional<store::Resource>(std::move(*r));
}

absl::StatusOr<store::Resource> GetInterface(store::Tx& tx, const Caller& caller,
                                             const std::string& id) {
  auto r = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(r.status()) || (r.ok() && r->type != kNetworkInterfaceType)) {
    return InterfaceNotFound(id);
  }
  return r;
}

FilterFields RowFields(const store::Resource& r) {
  json a = Attachment(r);
  FilterFields f = CommonFields(r, r.id, a.is_object());
  if (a.is_object()) {
    AddAttachmentFields(f, a.value("instance_id", ""), r.account_id, a.value("device_index", 1),
                        a.value("attachment_id", ""));
  }
  return f;
}

json GroupsJson(const json& groups) {
  json out = json::array();
  for (const auto& g : groups) {
    out.push_back({{"GroupId", g.value("id", "")}, {"GroupName", g.value("name", "")}});
  }
  return out;
}

json RenderRow(const store::Resource& r, const std::vector<store::Tag>& tags) {
  std::string ip = Str(r, "private_ip");
  json a = Attachment(r);
  json eni = {{"NetworkInterfaceId", r.id},
              {"AvailabilityZone", Str(r, "availability_zone")},
              {"Description", Str(r, "description")},
              {"Groups", GroupsJson(r.data.value("groups", json::array()))},
              {"InterfaceType", "interface"},
              {"MacAddress", Str(r, "mac")},
              {"OwnerId", r.account_id},
              {"PrivateDnsName", PrivateDnsName(ip, r.region)},
              {"PrivateIpAddress", ip},
              {"PrivateIpAddresses",
               WithSecondaryAddresses(r, {{"Primary", true},
                                          {"PrivateIpAddress", ip},
                                          {"PrivateDnsName", PrivateDnsName(ip, r.region)}})},
              {"RequesterManaged", false},
              {"SourceDestCheck", r.data.value("source_dest_check", true)},
              {"Status", a.is_object() ? "in-use" : "available"},
              {"SubnetId", Str(r, "subnet_id")},
              {"VpcId", Str(r, "vpc_id")},
              {"TagSet", TagSetJson(tags)}};
  if (a.is_object()) {
    eni["Attachment"] = {
        {"AttachmentId", a.value("attachment_id", "")},
        {"AttachTime", FormatIso8601(FromUnixMillis(a.value("attach_ms", int64_t(0))))},
        {"DeleteOnTermination", a.value("delete_on_termination", false)},
        {"DeviceIndex", a.value("device_index", 1)},
        {"NetworkCardIndex", 0},
        {"InstanceId", a.value("instance_id", "")},
        {"InstanceOwnerId", r.account_id},
        {"Status", "attached"}};
  }
  return eni;
}

// Elastic IPs by the (interface, private address) they point at.
using EipIndex = std::map<std::pair<std::string, std::string>, const store::Resource*>;

json EipAssociationJson(const store::Resource& eip) {
  std::string ip = Str(eip, "public_ip");
  return {{"PublicIp", ip},
          {"PublicDnsName", PublicDnsName(ip, eip.region)},
          {"IpOwnerId", eip.account_id},
          {"AllocationId", eip.id},
          {"AssociationId", Str(eip, "association_id")}};
}

// The Elastic IPs of an interface's addresses that its instance does not carry (secondary
// addresses, created interfaces), on each address and, for the primary one, on the interface.
void AddAssociations(json& eni, const EipIndex& index) {
  std::string id = eni.value("NetworkInterfaceId", "");
  for (auto& p : eni["PrivateIpAddresses"]) {
    if (p.contains("Association")) continue;
    auto it = index.find({id, p.value("PrivateIpAddress", "")});
    if (it == index.end()) continue;
    p["Association"] = EipAssociationJson(*it->second);
    if (p.value("Primary", false)) eni["Association"] = p["Association"];
  }
}

}  // namespace

absl::StatusOr<json> CreateNetworkInterface(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                            const json& input) {
  std::string subnet_id = input.value("SubnetId", "");
  if (subnet_id.empty()) return MissingParameter("The request must contain the parameter SubnetId");
  if (input.contains("Ipv6AddressCount") || input.contains("Ipv6Addresses") ||
      input.contains("SecondaryPrivateIpAddressCount") || input.contains("PrivateIpAddresses") ||
      input.contains("Ipv4Prefixes") || input.contains("Ipv4PrefixCount") ||
      (input.contains("InterfaceType") && input.value("InterfaceType", "") != "interface")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "IPv6, secondary private addresses, prefixes and special interface types are "
                    "not supported yet");
  }
  ASSIGN_OR_RETURN(auto tags, TagsFromSpecifications(input.value("TagSpecifications", json()),
                                                     kNetworkInterfaceType));
  ASSIGN_OR_RETURN(Placement placement, ChooseSubnet(tx, caller, {{"SubnetId", subnet_id}}));
  const store::Resource& subnet = placement.subnet;
  json groups_in = {{"SecurityGroupIds", input.value("Groups", json::array())}};
  ASSIGN_OR_RETURN(json groups, ResolveGroups(tx, caller, groups_in, placement));
  auto cidr = ParseCidr(subnet.data.value("cidr", ""));
  if (!cidr.ok()) return absl::InternalError("Stored subnet has a bad CIDR");
  ASSIGN_OR_RETURN(auto holders, AddressHolders(tx, caller));
  ASSIGN_OR_RETURN(std::string ip, AllocatePrivateIp(holders, subnet.id, *cidr, {},
                                                     input.value("PrivateIpAddress", "")));
  store::Resource eni{ids.ResourceId("eni"),
                      caller.account_id,
                      caller.region,
                      std::string(kNetworkInterfaceType),
                      "",
                      json::object(),
                      0,
                      UnixMillis(caller.now)};
  eni.data = {{"subnet_id", subnet.id},
              {"vpc_id", subnet.data.value("vpc_id", "")},
              {"availability_zone", subnet.data.value("availability_zone", "")},
              {"private_ip", ip},
              {"prefix_len", cidr->prefix_len},
              {"gateway", FormatIpv4(cidr->base + 1)},
              {"mac", MacOf(eni.id)},
              {"groups", groups},
              {"description", input.value("Description", "")},
              {"source_dest_check", true},
              {"attachment", nullptr}};
  RETURN_IF_ERROR(tx.InsertResource(eni));
  RETURN_IF_ERROR(ApplyTags(tx, caller, eni.id, std::string(kNetworkInterfaceType), tags));
  ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, eni.id));
  return json{{"NetworkInterface", RenderRow(eni, stored)}};
}

absl::StatusOr<json> DeleteNetworkInterface(store::Tx& tx, const Caller& caller,
                                            const json& input) {
  std::string id = input.value("NetworkInterfaceId", "");
  ASSIGN_OR_RETURN(auto owner, PrimaryOwner(tx, caller, id));
  if (owner) return InterfaceInUse(id);
  ASSIGN_OR_RETURN(store::Resource eni, GetInterface(tx, caller, id));
  if (Attachment(eni).is_object()) return InterfaceInUse(id);
  ASSIGN_OR_RETURN(auto tags, tx.ListTags(caller.account_id, caller.region, eni.id));
  for (const auto& t : tags) {
    RETURN_IF_ERROR(tx.DeleteTag(caller.account_id, caller.region, eni.id, t.key));
  }
  RETURN_IF_ERROR(DisassociateInterfaceAddresses(tx, caller.account_id, caller.region, eni.id,
                                                 nullptr, UnixMillis(caller.now)));
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, eni.id));
  return json::object();
}

absl::StatusOr<json> AttachNetworkInterface(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                            const json& input) {
  std::string id = input.value("NetworkInterfaceId", "");
  ASSIGN_OR_RETURN(auto owner, PrimaryOwner(tx, caller, id));
  if (owner) return InterfaceInUse(id);
  ASSIGN_OR_RETURN(store::Resource eni, GetInterface(tx, caller, id));
  ASSIGN_OR_RETURN(store::Resource instance,
                   GetInstance(tx, caller, input.value("InstanceId", "")));
  if (!input.contains("DeviceIndex")) {
    return MissingParameter("The request must contain the parameter DeviceIndex");
  }
  int64_t index = input["DeviceIndex"].get<int64_t>();
  if (Attachment(eni).is_object()) return InterfaceInUse(id);
  std::string state = Str(instance, "state");
  if (state != "running" && state != "stopped") {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
        fmt::format("The instance '{}' is not in a valid state for this operation.", instance.id));
  }
  if (Str(eni, "availability_zone") != Str(instance, "availability_zone")) {
    return InvalidParameterCombination(fmt::format(
        "You may not attach a network interface to an instance if they are not in the same "
        "availability zone"));
  }
  if (Str(eni, "vpc_id") != Str(instance, "vpc_id")) {
    return InvalidParameterCombination(
        "The network interface and the instance are in different VPCs");
  }
  if (index < 1 || index >= kMaxInterfacesPerInstance) {
    return InvalidParameterValue(
        fmt::format("Invalid value '{}' for deviceIndex: it must be from "
                    "1 to {} (0 is the primary interface)",
                    index, kMaxInterfacesPerInstance - 1));
  }
  ASSIGN_OR_RETURN(auto rows,
                   tx.ListResources(caller.account_id, caller.region, kNetworkInterfaceType));
  for (const auto& r : rows) {
    json a = Attachment(r);
    if (a.is_object() && a.value("instance_id", "") == instance.id &&
        a.value("device_index", int64_t(-1)) == index) {
      return InvalidParameterValue(
          fmt::format("Instance '{}' already has an interface attached at device index '{}'.",
                      instance.id, index));
    }
  }
  std::string attachment_id = ids.ResourceId("eni-attach");
  eni.data["attachment"] = {{"instance_id", instance.id},
                            {"device_index", index},
                            {"attachment_id", attachment_id},
                            {"attach_ms", UnixMillis(caller.now)},
                            {"delete_on_termination", false}};
  RETURN_IF_ERROR(tx.UpdateResource(eni));
  RETURN_IF_ERROR(
      MoveInterfaceAddresses(tx, caller.account_id, caller.region, eni.id, instance.id));
  return json{{"AttachmentId", attachment_id}, {"NetworkCardIndex", 0}};
}

absl::StatusOr<json> DetachNetworkInterface(store::Tx& tx, const Caller& caller,
                                            const json& input) {
  std::string attachment = input.value("AttachmentId", "");
  if (attachment.rfind("eni-attach-", 0) == 0) {
    auto owner = tx.GetResource(caller.account_id, caller.region,
                                "i-" + attachment.substr(std::string("eni-attach-").size()));
    if (owner.ok() && owner->type == kInstanceType) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "OperationNotPermitted",
                      "The network interface at device index 0 cannot be detached.");
    }
  }
  ASSIGN_OR_RETURN(auto rows,
                   tx.ListResources(caller.account_id, caller.region, kNetworkInterfaceType));
  for (auto& r : rows) {
    json a = Attachment(r);
    if (!a.is_object() || a.value("attachment_id", "") != attachment) continue;
    r.data["attachment"] = nullptr;
    RETURN_IF_ERROR(tx.UpdateResource(r));
    RETURN_IF_ERROR(MoveInterfaceAddresses(tx, caller.account_id, caller.region, r.id, ""));
    return json::object();
  }
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidAttachmentID.NotFound",
                  fmt::format("Interface attachment '{}' does not exist", attachment));
}

absl::StatusOr<json> ModifyNetworkInterfaceAttribute(store::Tx& tx, const Caller& caller,
                                                     const InstanceEnv& env, const json& input) {
  std::string id = input.value("NetworkInterfaceId", "");
  bool groups = input.contains("Groups");
  bool sdc = input.contains("SourceDestCheck");
  bool description = input.contains("Description");
  bool attachment = input.contains("Attachment");
  if (int(groups) + int(sdc) + int(description) + int(attachment) != 1) {
    return InvalidParameterCombination(
        "Exactly one of Groups, SourceDestCheck, Description or Attachment must be given");
  }
  ASSIGN_OR_RETURN(auto owner, PrimaryOwner(tx, caller, id));
  if (owner) {
    if (groups) {
      return ModifyInstanceAttribute(tx, caller, env,
                                     {{"InstanceId", owner->id}, {"Groups", input["Groups"]}});
    }
    if (sdc) {
      return ModifyInstanceAttribute(
          tx, caller, env,
          {{"InstanceId", owner->id}, {"SourceDestCheck", input["SourceDestCheck"]}});
    }
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "The primary interface's description and attachment are fixed");
  }
  ASSIGN_OR_RETURN(store::Resource eni, GetInterface(tx, caller, id));
  if (groups) {
    ASSIGN_OR_RETURN(Placement placement,
                     ChooseSubnet(tx, caller, {{"SubnetId", Str(eni, "subnet_id")}}));
    json in = {{"SecurityGroupIds", input["Groups"]}};
    if (input["Groups"].empty()) return MissingParameter("The request must contain Groups");
    ASSIGN_OR_RETURN(eni.data["groups"], ResolveGroups(tx, caller, in, placement));
  } else if (description) {
    eni.data["description"] = input["Description"].value("Value", "");
  } else if (sdc) {
    eni.data["source_dest_check"] = input["SourceDestCheck"].value("Value", true);
  } else if (attachment) {
    json a = Attachment(eni);
    if (!a.is_object() ||
        a.value("attachment_id", "") != input["Attachment"].value("AttachmentId", "")) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidAttachmentID.NotFound",
                      "The attachment does not exist");
    }
    a["delete_on_termination"] = input["Attachment"].value("DeleteOnTermination", false);
    eni.data["attachment"] = a;
  }
  RETURN_IF_ERROR(tx.UpdateResource(eni));
  return json::object();
}

namespace {

// What holds an interface's addresses: the instance for a primary interface, else the row.
absl::StatusOr<store::Resource> AddressOwner(store::Tx& tx, const Caller& caller,
                                             const std::string& id) {
  ASSIGN_OR_RETURN(auto owner, PrimaryOwner(tx, caller, id));
  if (owner) return std::move(*owner);
  return GetInterface(tx, caller, id);
}

absl::Status SaveAddressOwner(store::Tx& tx, const Caller& caller, store::Resource& r) {
  return r.type == kInstanceType ? SaveInstance(tx, r, UnixMillis(caller.now))
                                 : tx.UpdateResource(r);
}

}  // namespace

absl::StatusOr<json> AssignPrivateIpAddresses(store::Tx& tx, const Caller& caller,
                                              const json& input) {
  std::string id = input.value("NetworkInterfaceId", "");
  ASSIGN_OR_RETURN(store::Resource target, AddressOwner(tx, caller, id));
  if (input.contains("Ipv4Prefixes") || input.contains("Ipv4PrefixCount")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "Prefix delegation is not supported yet");
  }
  json requested = input.value("PrivateIpAddresses", json::array());
  int64_t count = input.value("SecondaryPrivateIpAddressCount", int64_t(0));
  if (requested.empty() == (count == 0)) {
    return InvalidParameterCombination(
        "Exactly one of PrivateIpAddresses and SecondaryPrivateIpAddressCount must be given");
  }
  if (count < 0) return InvalidParameterValue("SecondaryPrivateIpAddressCount must be positive");
  std::vector<std::string> have = target.data.value("secondary_ips", std::vector<std::string>{});
  size_t adding = requested.empty() ? size_t(count) : requested.size();
  if (have.size() + adding > size_t(kMaxSecondaryIps)) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "PrivateIpAddressLimitExceeded",
                    fmt::format("Number of private addresses will exceed limit of {} for {}",
                                kMaxSecondaryIps + 1, id));
  }
  ASSIGN_OR_RETURN(Placement placement,
                   ChooseSubnet(tx, caller, {{"SubnetId", Str(target, "subnet_id")}}));
  auto cidr = ParseCidr(placement.subnet.data.value("cidr", ""));
  if (!cidr.ok()) return absl::InternalError("Stored subnet has a bad CIDR");
  ASSIGN_OR_RETURN(auto holders, AddressHolders(tx, caller));
  std::set<std::string> taken;
  json assigned = json::array();
  for (size_t i = 0; i < adding; ++i) {
    std::string want = requested.empty() ? "" : requested[i].get<std::string>();
    ASSIGN_OR_RETURN(std::string ip,
                     AllocatePrivateIp(holders, placement.subnet.id, *cidr, taken, want));
    if (!want.empty() && taken.count(ip)) {
      return InvalidParameterValue(fmt::format("Address {} is given twice", ip));
    }
    taken.insert(ip);
    have.push_back(ip);
    assigned.push_back({{"PrivateIpAddress", ip}});
  }
  target.data["secondary_ips"] = have;
  RETURN_IF_ERROR(SaveAddressOwner(tx, caller, target));
  return json{{"NetworkInterfaceId", id}, {"AssignedPrivateIpAddresses", assigned}};
}

absl::StatusOr<json> UnassignPrivateIpAddresses(store::Tx& tx, const Caller& caller,
                                                const json& input) {
  std::string id = input.value("NetworkInterfaceId", "");
  ASSIGN_OR_RETURN(store::Resource target, AddressOwner(tx, caller, id));
  json gone = input.value("PrivateIpAddresses", json::array());
  if (gone.empty()) {
    return MissingParameter("The request must contain the parameter PrivateIpAddresses");
  }
  std::vector<std::string> have = target.data.value("secondary_ips", std::vector<std::string>{});
  std::set<std::string> unassigned;
  for (const auto& g : gone) {
    unassigned.insert(g.get<std::string>());
    auto it = std::find(have.begin(), have.end(), g.get<std::string>());
    if (it == have.end()) {
      return InvalidParameterValue(
          fmt::format("Some of the specified addresses are not assigned to interface {}", id));
    }
    have.erase(it);
  }
  target.data["secondary_ips"] = have;
  RETURN_IF_ERROR(SaveAddressOwner(tx, caller, target));
  // An Elastic IP on an unassigned address is disassociated, as on EC2.
  RETURN_IF_ERROR(DisassociateInterfaceAddresses(tx, caller.account_id, caller.region, id,
                                                 &unassigned, UnixMillis(caller.now)));
  return json::object();
}

json InstanceInterfaceJson(const store::Resource& eni) {
  json out = RenderRow(eni, {});
  for (const char* key : {"AvailabilityZone", "RequesterManaged", "TagSet"}) out.erase(key);
  out["Attachment"].erase("InstanceId");
  out["Attachment"].erase("InstanceOwnerId");
  return out;
}

json WithSecondaryAddresses(const store::Resource& r, json primary) {
  json out = json::array({std::move(primary)});
  for (const auto& ip : r.data.value("secondary_ips", std::vector<std::string>{})) {
    out.push_back({{"Primary", false},
                   {"PrivateIpAddress", ip},
                   {"PrivateDnsName", PrivateDnsName(ip, r.region)}});
  }
  return out;
}

absl::StatusOr<std::vector<store::Resource>> AddressHolders(store::Tx& tx, const Caller& caller) {
  ASSIGN_OR_RETURN(auto out, tx.ListResources(caller.account_id, caller.region, kInstanceType));
  ASSIGN_OR_RETURN(auto enis,
                   tx.ListResources(caller.account_id, caller.region, kNetworkInterfaceType));
  out.insert(out.end(), enis.begin(), enis.end());
  return out;
}

absl::Status ReleaseInstanceInterfaces(store::Tx& tx, const store::Resource& instance,
                                       int64_t now_ms) {
  ASSIGN_OR_RETURN(auto rows,
                   tx.ListResources(instance.account_id, instance.region, kNetworkInterfaceType));
  for (auto& r : rows) {
    json a = Attachment(r);
    if (!a.is_object() || a.value("instance_id", "") != instance.id) continue;
    if (a.value("delete_on_termination", false)) {
      RETURN_IF_ERROR(
          DisassociateInterfaceAddresses(tx, r.account_id, r.region, r.id, nullptr, now_ms));
      RETURN_IF_ERROR(tx.DeleteResource(r.account_id, r.region, r.id));
      continue;
    }
    r.data["attachment"] = nullptr;
    RETURN_IF_ERROR(tx.UpdateResource(r));
    RETURN_IF_ERROR(MoveInterfaceAddresses(tx, r.account_id, r.region, r.id, ""));
  }
  // The primary interface goes with the instance, and the Elastic IPs of its secondary
  // addresses with it (its own one went with ReleasePublicIp).
  return DisassociateInterfaceAddresses(tx, instance.account_id, instance.region,
                                        PrimaryInterfaceId(instance.id), nullptr, now_ms);
}

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
  EipIndex eip_at;
  for (const auto& [id, a] : eips) {
    if (!Str(a, "association_id").empty()) {
      eip_at[{Str(a, "network_interface_id"), Str(a, "private_ip")}] = &a;
    }
  }
  std::map<std::string, const store::Resource*> by_eni;  // primary interfaces (instances)
  for (const auto& r : instances) {
    if (Str(r, "state") == "terminated") continue;
    by_eni[PrimaryInterfaceId(r.id)] = &r;
  }
  ASSIGN_OR_RETURN(auto rows,
                   tx.ListResources(caller.account_id, caller.region, kNetworkInterfaceType));
  std::map<std::string, const store::Resource*> row_of;
  for (const auto& r : rows) row_of[r.id] = &r;
  ASSIGN_OR_RETURN(auto tags, TagsByResource(tx, caller));
  json wanted = input.value("NetworkInterfaceIds", json::array());
  for (const auto& id : wanted) {
    if (!by_eni.count(id.get<std::string>()) && !row_of.count(id.get<std::string>())) {
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
    AddAssociations(out.back(), eip_at);
  }
  for (const auto& [id, r] : row_of) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), id) == wanted.end()) continue;
    const auto& t = tags[id];
    FilterFields fields = RowFields(*r);
    if (auto e = eip_at.find({id, Str(*r, "private_ip")}); e != eip_at.end()) {
      fields.insert({"association.public-ip", Str(*e->second, "public_ip")});
      fields.insert({"association.allocation-id", e->second->id});
    }
    if (!filters.Matches(fields, t)) continue;
    out.push_back(RenderRow(*r, t));
    AddAssociations(out.back(), eip_at);
  }
  ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(input, 5, 1000));
  if (!page.max_results && page.next_token.empty()) return json{{"NetworkInterfaces", out}};
  if (!wanted.empty()) {
    return InvalidParameterCombination(
        "The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults");
  }
  ASSIGN_OR_RETURN(PageBounds bounds, DecodePage(page));
  std::vector<json> items(out.begin(), out.end());
  auto id_of = [](const json& j) { return j.value("NetworkInterfaceId", ""); };
  std::sort(items.begin(), items.end(),
            [&](const json& a, const json& b) { return id_of(a) < id_of(b); });
  std::string next;
  json result = {{"NetworkInterfaces", TakePage(std::move(items), bounds, id_of, &next)}};
  if (!next.empty()) result["NextToken"] = next;
  return result;
}

}  // namespace kumo::services

namespace kumo::services {

absl::StatusOr<json> DescribeNetworkInterfaceAttribute(store::Tx& tx, const Caller& caller,
                                                       const json& input) {
  std::string id = input.value("NetworkInterfaceId", "");
  ASSIGN_OR_RETURN(json described,
                   DescribeNetworkInterfaces(tx, caller, {{"NetworkInterfaceIds", {id}}}));
  const json& eni = described["NetworkInterfaces"].at(0);
  std::string attribute = input.value("Attribute", "");
  json out = {{"NetworkInterfaceId", id}};
  if (attribute == "description") {
    out["Description"] = {{"Value", eni.value("Description", "")}};
  } else if (attribute == "groupSet") {
    out["Groups"] = eni.value("Groups", json::array());
  } else if (attribute == "sourceDestCheck") {
    out["SourceDestCheck"] = {{"Value", eni.value("SourceDestCheck", true)}};
  } else if (attribute == "attachment") {
    if (eni.contains("Attachment")) out["Attachment"] = eni["Attachment"];
  } else if (attribute.empty()) {
    return MissingParameter("The request must contain the parameter Attribute");
  } else {
    return InvalidParameterValue(
        fmt::format("Value ({}) for parameter attribute is invalid.", attribute));
  }
  return out;
}

absl::StatusOr<json> ResetNetworkInterfaceAttribute(store::Tx& tx, const Caller& caller,
                                                    const InstanceEnv& env, const json& input) {
  // SourceDestCheck is the only attribute there is to reset; its value does not matter.
  if (!input.contains("SourceDestCheck")) {
    return MissingParameter("The request must contain the parameter SourceDestCheck");
  }
  return ModifyNetworkInterfaceAttribute(
      tx, caller, env,
      {{"NetworkInterfaceId", input.value("NetworkInterfaceId", "")},
       {"SourceDestCheck", {{"Value", true}}}});
}

}  // namespace kumo::services
