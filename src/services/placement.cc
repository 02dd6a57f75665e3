#include "services/placement.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/security_groups.h"
#include "services/vpcs.h"

namespace kumo::services {
namespace {

using nlohmann::json;

bool Live(const store::Resource& r) { return r.data.value("state", "") != "terminated"; }

// What counts against the vCPU quota and host capacity: instances holding or about to hold
// a running container.
bool Active(const store::Resource& r) {
  std::string s = r.data.value("state", "");
  return s == "pending" || s == "running" || s == "stopping" || s == "shutting-down";
}

}  // namespace

bool ActiveInstance(const store::Resource& r) { return Active(r); }

absl::StatusOr<std::string> AllocatePrivateIp(const std::vector<store::Resource>& instances,
                                              const std::string& subnet_id, const Cidr& subnet,
                                              const std::set<std::string>& taken_now,
                                              const std::string& requested) {
  std::set<uint32_t> used;
  for (const auto& r : instances) {
    if (!Live(r) || r.data.value("subnet_id", "") != subnet_id) continue;
    if (auto ip = ParseIpv4(r.data.value("private_ip", "")); ip.ok()) used.insert(*ip);
    for (const auto& s : r.data.value("secondary_ips", std::vector<std::string>{})) {
      if (auto ip = ParseIpv4(s); ip.ok()) used.insert(*ip);
    }
  }
  for (const auto& s : taken_now) {
    if (auto ip = ParseIpv4(s); ip.ok()) used.insert(*ip);
  }
  if (!requested.empty()) {
    auto ip = ParseIpv4(requested);
    if (!ip.ok() || *ip < subnet.base + 4 || *ip >= subnet.Last()) {
      return InvalidParameterValue(
          fmt::format("Address {} does not fall within the subnet's address range", requested));
    }
    if (used.count(*ip)) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidIPAddress.InUse",
                      fmt::format("Address {} is in use.", requested));
    }
    return requested;
  }
  for (uint32_t ip = subnet.base + 4; ip < subnet.Last(); ++ip) {
    if (!used.count(ip)) return FormatIpv4(ip);
  }
  return Ec2Error(
      absl::StatusCode::kResourceExhausted, "InsufficientFreeAddressesInSubnet",
      fmt::format("The specified subnet {} does not have enough free addresses", subnet_id));
}

// Claimed by name (the address) in the operator's rows: the store's unique names make each
// address belong to one owner across all tenants.
absl::StatusOr<std::string> AllocatePublicIp(store::Tx& tx, const InstanceEnv& env,
                                             const std::string& owner, int64_t now_ms,
                                             bool elastic) {
  auto pool = ParseCidr(env.public_cidr);
  if (!pool.ok()) return absl::FailedPreconditionError("No public address pool configured");
  ASSIGN_OR_RETURN(auto taken, tx.ListAllResources(kPublicIpType));
  std::set<std::string> names;
  for (const auto& r : taken) names.insert(r.name);
  for (uint32_t ip = pool->base + 2; ip < pool->Last(); ++ip) {
    std::string s = FormatIpv4(ip);
    if (names.count(s)) continue;
    store::Resource claim{"eipalloc-" + HexEncode(Sha256(s)).substr(0, 17),
                          std::string(kOperatorOwnerId),
                          "",
                          std::string(kPublicIpType),
                          s,
                          elastic ? json{{"allocation_id", owner}} : json{{"instance_id", owner}},
                          0,
                          now_ms};
    RETURN_IF_ERROR(tx.InsertResource(claim));
    return s;
  }
  return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientAddressCapacity",
                  "There are no free public IPv4 addresses in this host's pool");
}

absl::Status CheckCapacity(store::Tx& tx, const Caller& caller, const InstanceEnv& env,
                           const InstanceType& type, int count, std::string_view skip_id) {
  if (type.gpu_count > int64_t(env.gpus.size())) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientInstanceCapacity",
                    fmt::format("We currently do not have sufficient {} capacity: it needs {} "
                                "GPU(s) and this host has {}. Try another instance type.",
                                type.name, type.gpu_count, env.gpus.size()));
  }
  ASSIGN_OR_RETURN(auto all, tx.ListAllResources(kInstanceType));
  int account_vcpus = 0;
  int64_t host_vcpus = 0, host_mib = 0, host_gpus = 0;
  for (const auto& r : all) {
    // Spot instances make room for on-demand: the market reclaims them with their notice.
    if (!Active(r) || r.id == skip_id || r.data.value("instance_lifecycle", "") == "spot") {
      continue;
    }
    int v = r.data.value("vcpus", 1);
    host_vcpus += v;
    host_mib += r.data.value("memory_mib", int64_t(0));
    host_gpus += r.data.value("gpus", 0);
    if (r.account_id == caller.account_id && r.region == caller.region) account_vcpus += v;
  }
  if (account_vcpus + type.vcpus * count > env.vcpu_quota) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "VcpuLimitExceeded",
                    fmt::format("You have requested more vCPU capacity than your current vCPU "
                                "limit of {} allows for the instance bucket that the specified "
                                "instance type belongs to.",
                                env.vcpu_quota));
  }
  if (host_gpus + int64_t(type.gpu_count) * count > int64_t(env.gpus.size()) ||
      host_vcpus + int64_t(type.vcpus) * count > int64_t(env.host_cpus * env.cpu_ratio) ||
      host_mib + type.memory_mib * count > int64_t(double(env.host_memory_mib) * env.ram_ratio)) {
    return Ec2Error(absl::StatusCode::kResourceExhausted, "InsufficientInstanceCapacity",
                    fmt::format("We currently do not have sufficient {} capacity. Try a smaller "
                                "instance type or fewer instances.",
                                type.name));
  }
  return absl::OkStatus();
}

absl::StatusOr<Placement> ChooseSubnet(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto subnets, tx.ListResources(caller.account_id, caller.region, kSubnetType));
  std::string subnet_id = input.value("SubnetId", "");
  std::string zone = input.value("Placement", json::object()).value("AvailabilityZone", "");
  const store::Resource* chosen = nullptr;
  for (const auto& s : subnets) {
    if (!subnet_id.empty()) {
      if (s.id == subnet_id) chosen = &s;
    } else if (s.data.value("default_for_az", false) &&
               (zone.empty() || s.data.value("availability_zone", "") == zone)) {
      if (!chosen) chosen = &s;
    }
  }
  if (!chosen) {
    if (!subnet_id.empty()) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidSubnetID.NotFound",
                      fmt::format("The subnet ID '{}' does not exist", subnet_id));
    }
    return InvalidParameterValue(fmt::format("Invalid availability zone: [{}]", zone));
  }
  if (!zone.empty() && chosen->data.value("availability_zone", "") != zone) {
    return InvalidParameterCombination("The subnet is not in the requested availability zone");
  }
  Placement p{*chosen, "", {}};
  std::string vpc_id = chosen->data.value("vpc_id", "");
  ASSIGN_OR_RETURN(auto vpc, tx.GetResource(caller.account_id, caller.region, vpc_id));
  p.vpc_cidr = vpc.data.value("cidr", "");
  p.vpc_is_default = vpc.data.value("is_default", false);
  for (const auto& s : subnets) {
    if (s.data.value("vpc_id", "") == vpc_id) p.vpc_subnets.push_back(s.data.value("cidr", ""));
  }
  return p;
}

absl::StatusOr<json> ResolveGroups(store::Tx& tx, const Caller& caller, const json& input,
                                   const Placement& p) {
  const std::string vpc_id = p.subnet.data.value("vpc_id", "");
  if (!p.vpc_is_default && !input.value("SecurityGroups", json::array()).empty()) {
    return InvalidParameterCombination(
        "The parameter groupName cannot be used with the parameter subnet");
  }
  json groups = json::array();
  std::set<std::string> seen;
  auto add = [&](const store::Resource& g) -> absl::Status {
    if (g.data.value("vpc_id", "") != vpc_id) {
      return InvalidParameter(
          fmt::format("Security group {} and subnet belong to different networks.", g.id));
    }
    if (seen.insert(g.id).second) {
      groups.push_back({{"id", g.id}, {"name", g.data.value("group_name", "")}});
    }
    return absl::OkStatus();
  };
  for (const auto& id : input.value("SecurityGroupIds", json::array())) {
    ASSIGN_OR_RETURN(auto g, FindSecurityGroup(tx, caller, id.get<std::string>(), false));
    RETURN_IF_ERROR(add(g));
  }
  for (const auto& name : input.value("SecurityGroups", json::array())) {
    ASSIGN_OR_RETURN(auto g, FindSecurityGroup(tx, caller, name.get<std::string>(), true));
    RETURN_IF_ERROR(add(g));
  }
  if (groups.empty()) {
    ASSIGN_OR_RETURN(auto g, VpcDefaultSecurityGroup(tx, caller, vpc_id));
    RETURN_IF_ERROR(add(g));
  }
  return groups;
}

absl::StatusOr<json> FoldPrimaryNetworkInterface(const json& request) {
  json nis = request.value("NetworkInterfaces", json::array());
  if (nis.empty()) return request;
  if (nis.size() > 1) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "Only the primary network interface (DeviceIndex 0) can be given at launch; "
                    "attach more with AttachNetworkInterface");
  }
  const json& ni = nis[0];
  if (ni.value("DeviceIndex", int64_t(0)) != 0 && !ni.contains("NetworkCardIndex")) {
    return InvalidParameterValue("The primary network interface must have DeviceIndex 0");
  }
  if (ni.contains("NetworkInterfaceId")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "Unsupported",
                    "Launching with an existing network interface is not supported");
  }
  json out = request;
  out.erase("NetworkInterfaces");
  if (ni.contains("SubnetId")) {
    if (request.contains("SubnetId")) {
      return InvalidParameterCombination(
          "Network interfaces and an instance-level subnet ID may not be specified on the same "
          "request");
    }
    out["SubnetId"] = ni["SubnetId"];
  }
  if (ni.contains("Groups")) {
    if (request.contains("SecurityGroupIds") || request.contains("SecurityGroups")) {
      return InvalidParameterCombination(
          "Network interfaces and an instance-level security groups may not be specified on the "
          "same request");
    }
    out["SecurityGroupIds"] = ni["Groups"];
  }
  if (ni.contains("PrivateIpAddress")) {
    if (request.contains("PrivateIpAddress")) {
      return InvalidParameterCombination(
          "Network interfaces and an instance-level private IP address may not be specified on "
          "the same request");
    }
    out["PrivateIpAddress"] = ni["PrivateIpAddress"];
  }
  if (ni.contains("AssociatePublicIpAddress")) {
    out["AssociatePublicIpAddress"] = ni["AssociatePublicIpAddress"];
  }
  return out;
}

absl::StatusOr<std::string> LaunchZone(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(Placement p, ChooseSubnet(tx, caller, input));
  return p.subnet.data.value("availability_zone", "");
}

absl::Status ReleasePublicIp(store::Tx& tx, store::Resource& instance) {
  if (!instance.data.value("eip_allocation_id", "").empty()) {
    // An Elastic IP stays with a stopped instance and is disassociated from a terminated one.
    if (instance.data.value("state", "") != "terminated") return absl::OkStatus();
    return DisassociateFromTerminated(tx, instance,
                                      instance.data.value("terminated_ms", int64_t(0)));
  }
  std::string ip = instance.data.value("public_ip", "");
  if (ip.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto claim,
                   tx.FindResourceByName(std::string(kOperatorOwnerId), "", kPublicIpType, ip));
  if (claim && claim->data.value("instance_id", "") == instance.id) {
    RETURN_IF_ERROR(tx.DeleteResource(std::string(kOperatorOwnerId), "", claim->id));
  }
  instance.data["public_ip"] = "";
  return absl::OkStatus();
}

}  // namespace kumo::services
