#include "services/addresses.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/metering.h"
#include "services/placement.h"
#include "services/tags.h"

namespace kumo::services {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

absl::Status AllocationNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidAllocationID.NotFound",
                  fmt::format("The allocation ID '{}' does not exist", id));
}

absl::Status AddressNotFound(std::string_view ip) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidAddress.NotFound",
                  fmt::format("Address '{}' not found.", ip));
}

absl::Status Meter(store::Tx& tx, const store::Resource& eip, std::string_view event,
                   int64_t now_ms) {
  json data = {{"public_ip", Str(eip, "public_ip")}};
  if (!Str(eip, "instance_id").empty()) data["instance_id"] = Str(eip, "instance_id");
  return tx.AppendMeterEvent(
      {0, now_ms, eip.account_id, eip.region, eip.id, fmt::format("address-{}", event), data});
}

// The caller's Elastic IP named by AllocationId, or else by PublicIp.
absl::StatusOr<store::Resource> FindAddress(store::Tx& tx, const Caller& caller,
                                            const json& input) {
  std::string id = input.value("AllocationId", "");
  if (!id.empty()) {
    auto r = tx.GetResource(caller.account_id, caller.region, id);
    if (absl::IsNotFound(r.status()) || (r.ok() && r->type != kAddressType)) {
      return AllocationNotFound(id);
    }
    return r;
  }
  std::string ip = input.value("PublicIp", "");
  if (ip.empty()) return MissingParameter("The request must contain the parameter AllocationId");
  ASSIGN_OR_RETURN(auto r,
                   tx.FindResourceByName(caller.account_id, caller.region, kAddressType, ip));
  if (!r) return AddressNotFound(ip);
  return *r;
}

void ClearAssociation(store::Resource& eip) {
  eip.data["instance_id"] = "";
  eip.data["association_id"] = "";
  eip.data["network_interface_id"] = "";
  eip.data["private_ip"] = "";
}

// The instance loses the Elastic IP; one that had an automatic address at launch and is not
// stopped gets a new one, as on EC2.
absl::Status DetachFromInstance(store::Tx& tx, const InstanceEnv* env, store::Resource& instance,
                                int64_t now_ms) {
  instance.data.erase("eip_allocation_id");
  instance.data["public_ip"] = "";
  std::string state = Str(instance, "state");
  if (env && instance.data.value("auto_public", true) &&
      (state == "pending" || state == "running")) {
    ASSIGN_OR_RETURN(std::string ip, AllocatePublicIp(tx, *env, instance.id, now_ms));
    instance.data["public_ip"] = ip;
  }
  return absl::OkStatus();
}

// Makes eip idle: its instance, if any and still holding it, gives it up. An address on an
// interface that is attached to nothing has no instance, and goes idle all the same.
absl::Status Disassociate(store::Tx& tx, const Caller& caller, const InstanceEnv* env,
                          store::Resource& eip, int64_t now_ms) {
  if (Str(eip, "association_id").empty()) return absl::OkStatus();
  if (std::string instance_id = Str(eip, "instance_id"); !instance_id.empty()) {
    auto instance = tx.GetResource(caller.account_id, caller.region, instance_id);
    if (instance.ok() && Str(*instance, "eip_allocation_id") == eip.id) {
      RETURN_IF_ERROR(DetachFromInstance(tx, env, *instance, now_ms));
      RETURN_IF_ERROR(SaveInstance(tx, *instance, now_ms));
    } else if (!instance.ok() && !absl::IsNotFound(instance.status())) {
      return instance.status();
    }
  }
  RETURN_IF_ERROR(Meter(tx, eip, "disassociated", now_ms));
  ClearAssociation(eip);
  return tx.UpdateResource(eip);
}

json RenderAddress(const store::Resource& r, const std::vector<store::Tag>& tags) {
  json a = {
      {"PublicIp", Str(r, "public_ip")}, {"AllocationId", r.id},       {"Domain", "vpc"},
      {"NetworkBorderGroup", r.region},  {"PublicIpv4Pool", "amazon"}, {"Tags", TagSetJson(tags)}};
  if (!Str(r, "association_id").empty()) {
    a["AssociationId"] = Str(r, "association_id");
    if (!Str(r, "instance_id").empty()) a["InstanceId"] = Str(r, "instance_id");
    a["NetworkInterfaceId"] = Str(r, "network_interface_id");
    a["NetworkInterfaceOwnerId"] = r.account_id;
    a["PrivateIpAddress"] = Str(r, "private_ip");
  }
  return a;
}

}  // namespace

std::string PrimaryInterfaceId(std::string_view instance_id) {
  return "eni-" + std::string(instance_id.substr(instance_id.rfind('-') + 1));
}

absl::StatusOr<json> AllocateAddress(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                     const InstanceEnv& env, const json& input) {
  std::string domain = input.value("Domain", "vpc");
  if (domain != "vpc" && domain != "standard") {
    return InvalidParameterValue(fmt::format("Invalid value '{}' for domain.", domain));
  }
  if (input.contains("Address") || input.contains("CustomerOwnedIpv4Pool") ||
      (input.contains("PublicIpv4Pool") && input.value("PublicIpv4Pool", "") != "amazon")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "Only addresses from the host's pool (PublicIpv4Pool amazon) are supported");
  }
  std::string border = input.value("NetworkBorderGroup", caller.region);
  if (border != caller.region) {
    return InvalidParameterValue(fmt::format("Invalid value '{}' for NetworkBorderGroup.", border));
  }
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), kAddressType));
  ASSIGN_OR_RETURN(auto mine, tx.ListResources(caller.account_id, caller.region, kAddressType));
  if (mine.size() >= size_t(kMaxElasticIps)) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "AddressLimitExceeded",
                    "The maximum number of addresses has been reached.");
  }
  int64_t now = UnixMillis(caller.now);
  store::Resource eip{ids.ResourceId("eipalloc"),
                      caller.account_id,
                      caller.region,
                      std::string(kAddressType),
                      "",
                      json::object(),
                      0,
                      now};
  ASSIGN_OR_RETURN(std::string ip, AllocatePublicIp(tx, env, eip.id, now, /*elastic=*/true));
  eip.name = ip;
  eip.data = {{"public_ip", ip}};
  ClearAssociation(eip);
  RETURN_IF_ERROR(tx.InsertResource(eip));
  RETURN_IF_ERROR(ApplyTags(tx, caller, eip.id, std::string(kAddressType), tags));
  RETURN_IF_ERROR(Meter(tx, eip, "allocated", now));
  return json{{"PublicIp", ip},
              {"AllocationId", eip.id},
              {"Domain", "vpc"},
              {"NetworkBorderGroup", caller.region},
              {"PublicIpv4Pool", "amazon"}};
}

namespace {

// An associated eip made idle for a new association (AllowReassociation), else
// Resource.AlreadyAssociated; its row as it is then.
absl::StatusOr<store::Resource> FreeForAssociation(store::Tx& tx, const Caller& caller,
                                                   const InstanceEnv& env, store::Resource eip,
                                                   bool allow, int64_t now) {
  if (Str(eip, "association_id").empty()) return eip;
  if (!allow) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "Resource.AlreadyAssociated",
                    fmt::format("resource {} is already associated with associate-id {}", eip.id,
                                Str(eip, "association_id")));
  }
  RETURN_IF_ERROR(Disassociate(tx, caller, &env, eip, now));
  return tx.GetResource(caller.account_id, caller.region, eip.id);
}

// Points eip at a private address other than an instance's primary one: a secondary address,
// or an address of a created interface. The instance keeps its own public address; the
// reconciler publishes this mapping from the Elastic IP's row alone.
absl::StatusOr<json> AssociateWithAddress(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                          const InstanceEnv& env, store::Resource eip,
                                          const std::string& interface_id,
                                          const std::string& instance_id,
                                          const std::string& private_ip, bool allow, int64_t now) {
  if (Str(eip, "network_interface_id") == interface_id && Str(eip, "private_ip") == private_ip) {
    return json{{"AssociationId", Str(eip, "association_id")}};
  }
  ASSIGN_OR_RETURN(eip, FreeForAssociation(tx, caller, env, std::move(eip), allow, now));
  // The address's previous Elastic IP, if any, becomes idle.
  ASSIGN_OR_RETURN(auto all, tx.ListResources(caller.account_id, caller.region, kAddressType));
  for (auto& other : all) {
    if (other.id == eip.id || Str(other, "network_interface_id") != interface_id ||
        Str(other, "private_ip") != private_ip) {
      continue;
    }
    RETURN_IF_ERROR(Meter(tx, other, "disassociated", now));
    ClearAssociation(other);
    RETURN_IF_ERROR(tx.UpdateResource(other));
  }
  eip.data["instance_id"] = instance_id;
  eip.data["association_id"] = ids.ResourceId("eipassoc");
  eip.data["network_interface_id"] = interface_id;
  eip.data["private_ip"] = private_ip;
  RETURN_IF_ERROR(tx.UpdateResource(eip));
  RETURN_IF_ERROR(Meter(tx, eip, "associated", now));
  return json{{"AssociationId", Str(eip, "association_id")}};
}

bool HoldsAddress(const store::Resource& r, const std::string& ip) {
  if (Str(r, "private_ip") == ip) return true;
  auto secondary = r.data.value("secondary_ips", std::vector<std::string>{});
  return std::find(secondary.begin(), secondary.end(), ip) != secondary.end();
}

absl::Status NotOnInterface(const std::string& ip) {
  return InvalidParameterValue(
      fmt::format("The private IP address {} is not assigned to the network interface", ip));
}

}  // namespace

absl::StatusOr<json> AssociateAddress(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                      const InstanceEnv& env, const json& input) {
  ASSIGN_OR_RETURN(store::Resource eip, FindAddress(tx, caller, input));
  int64_t now = UnixMillis(caller.now);
  std::string instance_id = input.value("InstanceId", "");
  std::string eni_id = input.value("NetworkInterfaceId", "");
  bool allow = input.value("AllowReassociation", false);
  if (instance_id.empty() && eni_id.empty()) {
    return MissingParameter(
        "The request must contain the parameter InstanceId or NetworkInterfaceId");
  }
  if (!eni_id.empty()) {
    auto row = tx.GetResource(caller.account_id, caller.region, eni_id);
    if (row.ok() && row->type == kNetworkInterfaceType) {
      // A created interface, attached or not: the address follows it (FollowInterface).
      json a = row->data.value("attachment", json());
      std::string attached = a.is_object() ? a.value("instance_id", "") : "";
      if (!instance_id.empty() && instance_id != attached) {
        return InvalidParameterCombination(fmt::format(
            "The network interface {} is not attached to instance {}", eni_id, instance_id));
      }
      std::string ip = input.value("PrivateIpAddress", Str(*row, "private_ip"));
      if (!HoldsAddress(*row, ip)) return NotOnInterface(ip);
      return AssociateWithAddress(tx, caller, ids, env, eip, row->id, attached, ip, allow, now);
    }
    if (!row.ok() && !absl::IsNotFound(row.status())) return row.status();
    // A primary interface: eni-<hex> belongs to i-<hex>.
    std::string owner = "i-" + eni_id.substr(eni_id.rfind('-') + 1);
    auto found =
        eni_id.rfind("eni-", 0) == 0 ? GetInstance(tx, caller, owner) : absl::NotFoundError("");
    if (!found.ok() || (!instance_id.empty() && instance_id != owner)) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidNetworkInterfaceID.NotFound",
                      fmt::format("The networkInterface ID '{}' does not exist", eni_id));
    }
    instance_id = owner;
  }
  ASSIGN_OR_RETURN(store::Resource instance, GetInstance(tx, caller, instance_id));
  std::string state = Str(instance, "state");
  if (state == "terminated" || state == "shutting-down") {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
        fmt::format("The instance '{}' is not in a valid state for this operation.", instance.id));
  }
  if (input.value("NetworkInterfaceId", "").empty()) {
    // As on EC2: an instance with more than one interface is named by the interface.
    ASSIGN_OR_RETURN(auto rows,
                     tx.ListResources(caller.account_id, caller.region, kNetworkInterfaceType));
    for (const auto& r : rows) {
      json a = r.data.value("attachment", json());
      if (a.is_object() && a.value("instance_id", "") == instance.id) {
        return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidInstanceID",
                        fmt::format("There are multiple interfaces attached to instance '{}'. "
                                    "Please specify an interface ID for the operation instead.",
                                    instance.id));
      }
    }
  }
  std::string private_ip = input.value("PrivateIpAddress", Str(instance, "private_ip"));
  if (!HoldsAddress(instance, private_ip)) return NotOnInterface(private_ip);
  if (private_ip != Str(instance, "private_ip")) {
    return AssociateWithAddress(tx, caller, ids, env, eip, PrimaryInterfaceId(instance.id),
                                instance.id, private_ip, allow, now);
  }
  if (Str(eip, "instance_id") == instance.id && Str(eip, "private_ip") == private_ip) {
    return json{{"AssociationId", Str(eip, "association_id")}};  // already there: as EC2 does
  }
  if (!Str(eip, "association_id").empty()) {
    ASSIGN_OR_RETURN(eip, FreeForAssociation(tx, caller, env, std::move(eip), allow, now));
    ASSIGN_OR_RETURN(instance, GetInstance(tx, caller, instance.id));
  }
  // The instance's previous address goes: its other Elastic IP becomes idle, an automatic one
  // returns to the pool.
  if (std::string other = Str(instance, "eip_allocation_id"); !other.empty()) {
    auto previous = tx.GetResource(caller.account_id, caller.region, other);
    if (previous.ok()) {
      RETURN_IF_ERROR(Meter(tx, *previous, "disassociated", now));
      ClearAssociation(*previous);
      RETURN_IF_ERROR(tx.UpdateResource(*previous));
    }
    instance.data["public_ip"] = "";
  } else {
    RETURN_IF_ERROR(ReleasePublicIp(tx, instance));
  }
  instance.data["public_ip"] = Str(eip, "public_ip");
  instance.data["eip_allocation_id"] = eip.id;
  RETURN_IF_ERROR(SaveInstance(tx, instance, now));
  eip.data["instance_id"] = instance.id;
  eip.data["association_id"] = ids.ResourceId("eipassoc");
  eip.data["network_interface_id"] = PrimaryInterfaceId(instance.id);
  eip.data["private_ip"] = private_ip;
  RETURN_IF_ERROR(tx.UpdateResource(eip));
  RETURN_IF_ERROR(Meter(tx, eip, "associated", now));
  return json{{"AssociationId", Str(eip, "association_id")}};
}

absl::StatusOr<json> DisassociateAddress(store::Tx& tx, const Caller& caller,
                                         const InstanceEnv& env, const json& input) {
  std::string association = input.value("AssociationId", "");
  store::Resource eip;
  if (!association.empty()) {
    ASSIGN_OR_RETURN(auto all, tx.ListResources(caller.account_id, caller.region, kAddressType));
    auto it = std::find_if(all.begin(), all.end(), [&](const store::Resource& r) {
      return Str(r, "association_id") == association;
    });
    if (it == all.end()) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidAssociationID.NotFound",
                      fmt::format("The association ID '{}' does not exist", association));
    }
    eip = *it;
  } else {
    if (input.value("PublicIp", "").empty()) {
      return MissingParameter("The request must contain the parameter AssociationId");
    }
    ASSIGN_OR_RETURN(eip, FindAddress(tx, caller, json{{"PublicIp", input["PublicIp"]}}));
    if (Str(eip, "association_id").empty()) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidAssociationID.NotFound",
                      fmt::format("The address '{}' is not associated", Str(eip, "public_ip")));
    }
  }
  RETURN_IF_ERROR(Disassociate(tx, caller, &env, eip, UnixMillis(caller.now)));
  return json::object();
}

absl::StatusOr<json> ReleaseAddress(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(store::Resource eip, FindAddress(tx, caller, input));
  if (!Str(eip, "association_id").empty()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidIPAddress.InUse",
                    fmt::format("Address {} is in use.", Str(eip, "public_ip")));
  }
  ASSIGN_OR_RETURN(auto claim, tx.FindResourceByName(std::string(kOperatorOwnerId), "",
                                                     kPublicIpType, Str(eip, "public_ip")));
  if (claim && claim->data.value("allocation_id", "") == eip.id) {
    RETURN_IF_ERROR(tx.DeleteResource(std::string(kOperatorOwnerId), "", claim->id));
  }
  ASSIGN_OR_RETURN(auto tags, tx.ListTags(caller.account_id, caller.region, eip.id));
  for (const auto& t : tags) {
    RETURN_IF_ERROR(tx.DeleteTag(caller.account_id, caller.region, eip.id, t.key));
  }
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, eip.id));
  RETURN_IF_ERROR(Meter(tx, eip, "released", UnixMillis(caller.now)));
  return json::object();
}

absl::StatusOr<json> DescribeAddresses(store::Tx& tx, const Caller& caller, const json& input) {
  std::set<std::string> by_ip;
  for (const auto& ip : input.value("PublicIps", json::array())) {
    std::string s = ip.get<std::string>();
    ASSIGN_OR_RETURN(auto r,
                     tx.FindResourceByName(caller.account_id, caller.region, kAddressType, s));
    if (!r) return AddressNotFound(s);
    by_ip.insert(s);
  }
  DescribeSpec spec;
  spec.type = kAddressType;
  spec.ids_member = "AllocationIds";
  spec.output_member = "Addresses";
  spec.paged = false;
  spec.filter_names = {"allocation-id",
                       "association-id",
                       "domain",
                       "instance-id",
                       "network-border-group",
                       "network-interface-id",
                       "network-interface-owner-id",
                       "private-ip-address",
                       "public-ip"};
  spec.not_found = AllocationNotFound;
  spec.fields = [](const store::Resource& r) {
    bool associated = !Str(r, "association_id").empty();
    return FilterFields{{"allocation-id", r.id},
                        {"association-id", Str(r, "association_id")},
                        {"domain", "vpc"},
                        {"instance-id", Str(r, "instance_id")},
                        {"network-border-group", r.region},
                        {"network-interface-id", Str(r, "network_interface_id")},
                        {"network-interface-owner-id", associated ? r.account_id : ""},
                        {"private-ip-address", Str(r, "private_ip")},
                        {"public-ip", Str(r, "public_ip")}};
  };
  spec.render = RenderAddress;
  if (!by_ip.empty()) {
    spec.scope = [&](const store::Resource& r) { return by_ip.count(Str(r, "public_ip")) > 0; };
  }
  return DescribeResources(tx, caller, input, spec);
}

absl::Status DisassociateFromTerminated(store::Tx& tx, store::Resource& instance, int64_t now_ms) {
  std::string id = Str(instance, "eip_allocation_id");
  if (id.empty()) return absl::OkStatus();
  instance.data.erase("eip_allocation_id");
  instance.data["public_ip"] = "";
  auto eip = tx.GetResource(instance.account_id, instance.region, id);
  if (absl::IsNotFound(eip.status())) return absl::OkStatus();
  if (!eip.ok()) return eip.status();
  if (Str(*eip, "instance_id") != instance.id) return absl::OkStatus();
  RETURN_IF_ERROR(Meter(tx, *eip, "disassociated", now_ms));
  ClearAssociation(*eip);
  return tx.UpdateResource(*eip);
}

}  // namespace kumo::services

namespace kumo::services {

absl::Status MoveInterfaceAddresses(store::Tx& tx, const std::string& account,
                                    const std::string& region, const std::string& interface_id,
                                    const std::string& instance_id) {
  ASSIGN_OR_RETURN(auto all, tx.ListResources(account, region, kAddressType));
  for (auto& eip : all) {
    if (Str(eip, "network_interface_id") != interface_id) continue;
    eip.data["instance_id"] = instance_id;
    RETURN_IF_ERROR(tx.UpdateResource(eip));
  }
  return absl::OkStatus();
}

absl::Status DisassociateInterfaceAddresses(store::Tx& tx, const std::string& account,
                                            const std::string& region,
                                            const std::string& interface_id,
                                            const std::set<std::string>* private_ips,
                                            int64_t now_ms) {
  ASSIGN_OR_RETURN(auto all, tx.ListResources(account, region, kAddressType));
  for (auto& eip : all) {
    if (Str(eip, "network_interface_id") != interface_id) continue;
    if (private_ips && !private_ips->count(Str(eip, "private_ip"))) continue;
    RETURN_IF_ERROR(Meter(tx, eip, "disassociated", now_ms));
    ClearAssociation(eip);
    RETURN_IF_ERROR(tx.UpdateResource(eip));
  }
  return absl::OkStatus();
}

}  // namespace kumo::services
