// RunInstances and the lifecycle actions: validation, placement in the default subnets, address
// allocation, quotas and capacity, and desired-state changes. No host I/O here.
#include "services/instances.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/ipv4.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/keypairs.h"
#include "services/metering.h"
#include "services/placement.h"
#include "services/security_groups.h"
#include "services/spot.h"
#include "services/tags.h"
#include "services/volumes.h"
#include "services/vpcs.h"

namespace kumo::services {
namespace {

using nlohmann::json;

// What EC2 records when a user stops or terminates an instance.
void MarkUserInitiated(store::Resource& r, const Caller& caller) {
  r.data["transition_reason"] =
      fmt::format("User initiated ({} GMT)", FormatIso8601(caller.now).substr(0, 19));
  r.data["state_reason"] = {{"code", "Client.UserInitiatedShutdown"},
                            {"message", "Client.UserInitiatedShutdown: User initiated shutdown"}};
}

absl::Status InstanceNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                  fmt::format("The instance ID '{}' does not exist", id));
}

absl::Status IncorrectState(const store::Resource& r, std::string_view wanted) {
  return Ec2Error(
      absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
      fmt::format("The instance '{}' is not in a state from which it can be {}.", r.id, wanted));
}

bool Live(const store::Resource& r) {
  std::string s = r.data.value("state", "");
  return s != "terminated";
}

json StateJson(std::string_view state) {
  return {{"Code", StateCode(state)}, {"Name", std::string(state)}};
}

json Change(const store::Resource& before, const store::Resource& after) {
  return {{"InstanceId", after.id},
          {"PreviousState", StateJson(before.data.value("state", ""))},
          {"CurrentState", StateJson(after.data.value("state", ""))}};
}

absl::StatusOr<std::vector<store::Resource>> InstancesById(store::Tx& tx, const Caller& caller,
                                                           const json& input) {
  std::vector<store::Resource> out;
  auto ids = input.value("InstanceIds", json::array());
  if (ids.empty()) return MissingParameter("The request must contain the parameter InstanceIds");
  for (const auto& id : ids) {
    ASSIGN_OR_RETURN(auto r, GetInstance(tx, caller, id.get<std::string>()));
    out.push_back(std::move(r));
  }
  return out;
}

// EC2's limit is on the decoded bytes; the API carries them base64 encoded.
constexpr size_t kMaxUserData = 16 * 1024;

absl::Status CheckUserData(const std::string& b64) {
  if (b64.empty()) return absl::OkStatus();
  auto raw = Base64Decode(b64);
  if (!raw) return InvalidParameterValue("Invalid BASE64 encoding of user data.");
  if (raw->size() > kMaxUserData) {
    return InvalidParameterValue(fmt::format("User data is limited to {} bytes", kMaxUserData));
  }
  return absl::OkStatus();
}

// MetadataOptions as stored: EC2's defaults where the request is silent.
absl::StatusOr<json> MetadataOptions(const json& in, json current) {
  if (current.is_null()) {
    current = {{"http_tokens", "optional"},
               {"hop_limit", 1},
               {"http_endpoint", "enabled"},
               {"http_ipv6", "disabled"},
               {"tags", "disabled"}};
  }
  if (in.contains("HttpTokens")) current["http_tokens"] = in["HttpTokens"];
  if (in.contains("HttpEndpoint")) current["http_endpoint"] = in["HttpEndpoint"];
  if (in.contains("HttpProtocolIpv6")) current["http_ipv6"] = in["HttpProtocolIpv6"];
  if (in.contains("InstanceMetadataTags")) current["tags"] = in["InstanceMetadataTags"];
  if (in.contains("HttpPutResponseHopLimit")) {
    int64_t hops = in["HttpPutResponseHopLimit"].get<int64_t>();
    if (hops < 1 || hops > 64) {
      return InvalidParameterValue("HttpPutResponseHopLimit must be between 1 and 64");
    }
    current["hop_limit"] = hops;
  }
  return current;
}

}  // namespace

nlohmann::json MetadataOptionsJson(const store::Resource& r) {
  json m = r.data.value("metadata_options", json());
  if (m.is_null()) m = *MetadataOptions(json::object(), json());
  return {{"State", "applied"},
          {"HttpTokens", m.value("http_tokens", "optional")},
          {"HttpPutResponseHopLimit", m.value("hop_limit", 1)},
          {"HttpEndpoint", m.value("http_endpoint", "enabled")},
          {"HttpProtocolIpv6", m.value("http_ipv6", "disabled")},
          {"InstanceMetadataTags", m.value("tags", "disabled")}};
}

absl::StatusOr<json> ModifyInstanceMetadataOptions(store::Tx& tx, const Caller& caller,
                                                   const json& input) {
  ASSIGN_OR_RETURN(auto r, GetInstance(tx, caller, input.value("InstanceId", "")));
  std::string state = r.data.value("state", "");
  if (state == "terminated" || state == "shutting-down") return IncorrectState(r, "modified");
  ASSIGN_OR_RETURN(json options, MetadataOptions(input, r.data.value("metadata_options", json())));
  r.data["metadata_options"] = options;
  RETURN_IF_ERROR(SaveInstance(tx, r, UnixMillis(caller.now)));
  json out = MetadataOptionsJson(r);
  out["State"] = "pending";  // as EC2 answers: applied once the instance's IMDS has it
  return json{{"InstanceId", r.id}, {"InstanceMetadataOptions", out}};
}

int StateCode(std::string_view state) {
  if (state == "pending") return 0;
  if (state == "running") return 16;
  if (state == "shutting-down") return 32;
  if (state == "terminated") return 48;
  if (state == "stopping") return 64;
  if (state == "stopped") return 80;
  return 0;
}

std::string MacOf(std::string_view id) {
  std::string h = HexEncode(Sha256(std::string(id)));
  return fmt::format("02:{}:{}:{}:{}:{}", h.substr(0, 2), h.substr(2, 2), h.substr(4, 2),
                     h.substr(6, 2), h.substr(8, 2));
}

std::string PublicDnsName(const std::string& ip, const std::string& region) {
  if (ip.empty()) return "";
  std::string dashed = ip;
  std::replace(dashed.begin(), dashed.end(), '.', '-');
  return fmt::format("ec2-{}.{}.compute.kumo", dashed, region);
}

std::string InternalDomain(const std::string& region) {
  return region == "us-east-1" ? "ec2.internal" : region + ".compute.internal";
}

std::string PrivateDnsName(const std::string& ip, const std::string& region) {
  if (ip.empty()) return "";
  std::string dashed = ip;
  std::replace(dashed.begin(), dashed.end(), '.', '-');
  return fmt::format("ip-{}.{}", dashed, InternalDomain(region));
}

absl::StatusOr<store::Resource> GetInstance(store::Tx& tx, const Caller& caller,
                                            const std::string& id) {
  if (id.rfind("i-", 0) != 0) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidInstanceID.Malformed",
                    fmt::format("Invalid id: \"{}\"", id));
  }
  auto r = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(r.status()) || (r.ok() && r->type != kInstanceType)) {
    return InstanceNotFound(id);
  }
  return r;
}

absl::StatusOr<json> RunInstances(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                  const InstanceEnv& env, const json& request) {
  // The primary NetworkInterfaces entry, if any, says where it lands instead.
  ASSIGN_OR_RETURN(const json input, FoldPrimaryNetworkInterface(request));
  int64_t min_count = input.value("MinCount", int64_t(1));
  int64_t max_count = input.value("MaxCount", int64_t(1));
  if (min_count < 1 || max_count < 1) {
    return InvalidParameterValue("MinCount and MaxCount must be at least 1");
  }
  if (min_count > max_count) {
    return InvalidParameterValue("MinCount must be less than or equal to MaxCount");
  }
  std::string image_id = input.value("ImageId", "");
  if (image_id.empty()) return MissingParameter("The request must contain the parameter ImageId");
  ASSIGN_OR_RETURN(LaunchImage image, ResolveImage(tx, caller, *env.images, image_id));
  std::string type_name = input.value("InstanceType", env.catalog->default_type());
  const InstanceType* type = env.catalog->Find(type_name);
  if (!type) {
    return InvalidParameterValue(
        fmt::format("The instance type '{}' is not supported on this host", type_name));
  }
  std::string key_name = input.value("KeyName", "");
  std::string public_key;
  if (!key_name.empty()) {
    ASSIGN_OR_RETURN(auto key, FindKeyPairByName(tx, caller, key_name));
    public_key = key.data.value("public_key", "");
  }
  std::string user_data = input.value("UserData", "");
  RETURN_IF_ERROR(CheckUserData(user_data));
  ASSIGN_OR_RETURN(json metadata_options,
                   MetadataOptions(input.value("MetadataOptions", json::object()), json()));
  std::string behavior = input.value("InstanceInitiatedShutdownBehavior", "stop");
  if (behavior != "stop" && behavior != "terminate") {
    return InvalidParameterValue("InstanceInitiatedShutdownBehavior must be stop or terminate");
  }
  ASSIGN_OR_RETURN(LaunchVolumes volumes,
                   ParseBlockDeviceMappings(
                       tx, caller, input.value("BlockDeviceMappings", json::array()), image));
  json specs = input.value("TagSpecifications", json::array());
  json instance_specs = json::array();
  json volume_specs = json::array();
  for (const auto& s : specs) {
    std::string t = s.value("ResourceType", "");
    if (t == "instance") {
      instance_specs.push_back(s);
    } else if (t == "volume") {
      volume_specs.push_back(s);
    } else if (t != "network-interface") {
      return InvalidParameterValue(
          fmt::format("'{}' is not a valid taggable resource type for this operation.", t));
    }
  }
  ASSIGN_OR_RETURN(auto tags, TagsFromSpecifications(instance_specs, "instance"));
  RETURN_IF_ERROR(TagsFromSpecifications(volume_specs, "volume").status());
  ASSIGN_OR_RETURN(Placement placement, ChooseSubnet(tx, caller, input));
  const store::Resource& subnet = placement.subnet;
  std::string vpc_id = subnet.data.value("vpc_id", "");
  ASSIGN_OR_RETURN(json groups, ResolveGroups(tx, caller, input, placement));
  auto subnet_cidr = ParseCidr(subnet.data.value("cidr", ""));
  if (!subnet_cidr.ok()) return absl::InternalError("Stored subnet has a bad CIDR");
  // AssociatePublicIpAddress (of the primary interface) overrides the subnet's setting.
  const bool auto_public = input.contains("AssociatePublicIpAddress")
                               ? input["AssociatePublicIpAddress"].get<bool>()
                               : subnet.data.value("map_public_ip_on_launch", false);
  if (!input.value("PrivateIpAddress", "").empty() && max_count > 1) {
    return InvalidParameterCombination(
        "A private IP address cannot be specified when launching more than one instance");
  }

  // As many as fit, down to MinCount, as EC2 launches. Spot launches are checked against the
  // pool instead: the market round already did (internal _Spot), or CheckSpotLaunch does.
  int count = int(std::min<int64_t>(max_count, 1000));
  const json market = input.value("_Spot", json());
  std::optional<SpotLaunch> spot;
  if (input.contains("InstanceMarketOptions")) {
    for (;; --count) {
      auto checked = CheckSpotLaunch(tx, caller, env, input["InstanceMarketOptions"], *type,
                                     subnet.data.value("availability_zone", ""), count);
      if (checked.ok()) {
        spot = *checked;
        break;
      }
      if (count <= min_count || Ec2CodeOf(checked.status()) != "InsufficientInstanceCapacity") {
        return checked.status();
      }
    }
  } else if (market.is_null()) {
    absl::Status capacity;
    for (; count >= min_count; --count) {
      capacity = CheckCapacity(tx, caller, env, *type, count, "");
      if (capacity.ok()) break;
    }
    if (!capacity.ok()) return capacity;
  }

  ASSIGN_OR_RETURN(auto existing, AddressHolders(tx, caller));
  int64_t now = UnixMillis(caller.now);
  std::string reservation_id = ids.ResourceId("r");
  std::set<std::string> taken_now;
  json instances = json::array();
  std::vector<store::Resource> created;
  for (int i = 0; i < count; ++i) {
    store::Resource r{ids.ResourceId("i"),
                      caller.account_id,
                      caller.region,
                      std::string(kInstanceType),
                      "",
                      json::object(),
                      0,
                      now};
    ASSIGN_OR_RETURN(std::string private_ip,
                     AllocatePrivateIp(existing, subnet.id, *subnet_cidr, taken_now,
                                       input.value("PrivateIpAddress", "")));
    taken_now.insert(private_ip);
    std::string public_ip;
    if (auto_public) {
      ASSIGN_OR_RETURN(public_ip, AllocatePublicIp(tx, env, r.id, now));
    }
    r.data = {{"image_id", image.id},
              {"base_image_id", image.base_image_id},
              {"rootfs", image.rootfs},
              {"login_user", image.login_user},
              {"instance_type", type->name},
              {"vcpus", type->vcpus},
              {"memory_mib", type->memory_mib},
              {"gpus", type->gpu_count},
              {"key_name", key_name},
              {"public_key", public_key},
              {"reservation_id", reservation_id},
              {"launch_index", i},
              {"client_token", input.value("ClientToken", "")},
              {"launch_ms", now},
              {"subnet_id", subnet.id},
              {"vpc_id", vpc_id},
              {"vpc_cidr", placement.vpc_cidr},
              {"vpc_subnets", placement.vpc_subnets},
              {"availability_zone", subnet.data.value("availability_zone", "")},
              {"private_ip", private_ip},
              {"prefix_len", subnet_cidr->prefix_len},
              {"gateway", FormatIpv4(subnet_cidr->base + 1)},
              {"public_ip", public_ip},
              {"auto_public", auto_public},
              {"mac", MacOf(r.id)},
              {"groups", groups},
              {"state", "pending"},
              {"desired", "running"},
              {"transition_reason", ""},
              {"state_reason", {{"code", "pending"}, {"message", "pending"}}},
              {"status_ok", false},
              {"reboots_pending", 0},
              {"shutdown_behavior", behavior},
              {"disable_api_termination", input.value("DisableApiTermination", false)},
              {"user_data", user_data},
              {"metadata_options", metadata_options}};
    r.data["root_size_gib"] = volumes.root_size_gib;
    if (spot) RETURN_IF_ERROR(MarkSpotLaunch(tx, caller, ids, *spot, r));
    if (market.is_object()) {
      r.data["instance_lifecycle"] = "spot";
      r.data["spot_request_id"] = market.value("request_id", "");
      r.data["spot_max_micros"] = market.value("max_micros", int64_t(0));
    }
    RETURN_IF_ERROR(tx.InsertResource(r));
    RETURN_IF_ERROR(ApplyTags(tx, caller, r.id, "instance", tags));
    RETURN_IF_ERROR(CreateLaunchVolumes(tx, caller, ids, volumes, r.id,
                                        subnet.data.value("availability_zone", ""), volume_specs));
    created.push_back(std::move(r));
  }
  ASSIGN_OR_RETURN(auto described, DescribeInstances(tx, caller, {{"InstanceIds", [&] {
                                                                     json a = json::array();
                                                                     for (auto& r : created)
                                                                       a.push_back(r.id);
                                                                     return a;
                                                                   }()}}));
  json reservation = described["Reservations"].at(0);
  // In launch order, as EC2 answers (the describe above orders by id).
  std::sort(reservation["Instances"].begin(), reservation["Instances"].end(),
            [](const json& a, const json& b) { return a["AmiLaunchIndex"] < b["AmiLaunchIndex"]; });
  return reservation;
}

absl::StatusOr<json> StartInstances(store::Tx& tx, const Caller& caller, const InstanceEnv& env,
                                    const json& input) {
  ASSIGN_OR_RETURN(auto list, InstancesById(tx, caller, input));
  json changes = json::array();
  int64_t now = UnixMillis(caller.now);
  for (auto& r : list) {
    store::Resource before = r;
    std::string state = r.data.value("state", "");
    if (state == "pending" || state == "running") {
      changes.push_back(Change(before, r));
      continue;
    }
    if (state != "stopped") return IncorrectState(r, "started");
    const InstanceType* type = env.catalog->Find(r.data.value("instance_type", ""));
    if (!type) return absl::FailedPreconditionError("The instance's type left the catalog");
    if (r.data.value("instance_lifecycle", "") == "spot") {
      // The market restarts what it stopped; a user's start needs room in the pool.
      if (!input.value("_Market", false)) RETURN_IF_ERROR(SpotOnUserStart(tx, caller, env, r));
    } else {
      RETURN_IF_ERROR(CheckCapacity(tx, caller, env, *type, 1, r.id));
    }
    r.data.erase("spot_action");
    r.data.erase("rebalance_ms");
    // An Elastic IP stays with a stopped instance; an automatic address comes anew.
    if (r.data.value("public_ip", "").empty() && r.data.value("auto_public", true)) {
      ASSIGN_OR_RETURN(std::string ip, AllocatePublicIp(tx, env, r.id, now));
      r.data["public_ip"] = ip;
    }
    r.data["state"] = "pending";
    r.data["desired"] = "running";
    r.data["status_ok"] = false;
    r.data["transition_reason"] = "";
    r.data["state_reason"] = nullptr;
    r.data["launch_ms"] = now;
    RETURN_IF_ERROR(SaveInstance(tx, r, UnixMillis(caller.now)));
    changes.push_back(Change(before, r));
  }
  return json{{"StartingInstances", changes}};
}

absl::StatusOr<json> StopInstances(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto list, InstancesById(tx, caller, input));
  json changes = json::array();
  bool force = input.value("Force", false);
  for (auto& r : list) {
    store::Resource before = r;
    std::string state = r.data.value("state", "");
    if (state == "stopped" || (state == "stopping" && !force)) {
      changes.push_back(Change(before, r));
      continue;
    }
    if (state != "pending" && state != "running" && state != "stopping") {
      return IncorrectState(r, "stopped");
    }
    RETURN_IF_ERROR(SpotOnUserStop(tx, caller, r));
    r.data["state"] = "stopping";
    r.data["desired"] = "stopped";
    r.data["force_stop"] = force;
    r.data["stop_requested_ms"] = UnixMillis(caller.now);
    MarkUserInitiated(r, caller);
    RETURN_IF_ERROR(SaveInstance(tx, r, UnixMillis(caller.now)));
    changes.push_back(Change(before, r));
  }
  return json{{"StoppingInstances", changes}};
}

absl::StatusOr<json> RebootInstances(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto list, InstancesById(tx, caller, input));
  for (auto& r : list) {
    std::string state = r.data.value("state", "");
    if (state == "terminated" || state == "shutting-down") return IncorrectState(r, "rebooted");
    // EC2 ignores reboots of instances that are not running.
    if (state != "running") continue;
    r.data["reboots_pending"] = r.data.value("reboots_pending", 0) + 1;
    RETURN_IF_ERROR(SaveInstance(tx, r, UnixMillis(caller.now)));
  }
  return json::object();
}

absl::StatusOr<json> TerminateInstances(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto list, InstancesById(tx, caller, input));
  for (const auto& r : list) {
    if (r.data.value("disable_api_termination", false)) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "OperationNotPermitted",
                      fmt::format("The instance '{}' may not be terminated. Modify its "
                                  "'disableApiTermination' instance attribute and try again.",
                                  r.id));
    }
  }
  json changes = json::array();
  for (auto& r : list) {
    store::Resource before = r;
    std::string state = r.data.value("state", "");
    if (state == "terminated" || state == "shutting-down") {
      changes.push_back(Change(before, r));
      continue;
    }
    RETURN_IF_ERROR(SpotOnUserTerminate(tx, caller, r));
    r.data["state"] = "shutting-down";
    r.data["desired"] = "terminated";
    MarkUserInitiated(r, caller);
    RETURN_IF_ERROR(SaveInstance(tx, r, UnixMillis(caller.now)));
    changes.push_back(Change(before, r));
  }
  return json{{"TerminatingInstances", changes}};
}

absl::StatusOr<json> ModifyInstanceAttribute(store::Tx& tx, const Caller& caller,
                                             const InstanceEnv& env, const json& input) {
  ASSIGN_OR_RETURN(auto r, GetInstance(tx, caller, input.value("InstanceId", "")));
  std::string state = r.data.value("state", "");
  if (state == "terminated" || state == "shutting-down") return IncorrectState(r, "modified");
  // Each attribute comes either as its own member or as Attribute + Value.
  std::string attribute = input.value("Attribute", "");
  std::string value = input.value("Value", "");
  auto attr_value = [&](const char* member, const char* name) -> std::optional<json> {
    if (input.contains(member)) return input[member].value("Value", json());
    if (attribute == name) return json(value);
    return std::nullopt;
  };
  bool changed = false;
  if (auto v = attr_value("InstanceType", "instanceType")) {
    std::string name = v->is_string() ? v->get<std::string>() : "";
    const InstanceType* type = env.catalog->Find(name);
    if (!type) return InvalidParameterValue(fmt::format("Invalid instance type '{}'", name));
    if (state != "stopped") {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                      fmt::format("The instance '{}' is not in the 'stopped' state.", r.id));
    }
    r.data["instance_type"] = type->name;
    r.data["vcpus"] = type->vcpus;
    r.data["memory_mib"] = type->memory_mib;
    r.data["gpus"] = type->gpu_count;
    changed = true;
  }
  if (auto v = attr_value("DisableApiTermination", "disableApiTermination")) {
    bool b = v->is_boolean() ? v->get<bool>() : (v->is_string() && v->get<std::string>() == "true");
    r.data["disable_api_termination"] = b;
    changed = true;
  }
  if (auto v =
          attr_value("InstanceInitiatedShutdownBehavior", "instanceInitiatedShutdownBehavior")) {
    std::string b = v->is_string() ? v->get<std::string>() : "";
    if (b != "stop" && b != "terminate") {
      return InvalidParameterValue("InstanceInitiatedShutdownBehavior must be stop or terminate");
    }
    r.data["shutdown_behavior"] = b;
    changed = true;
  }
  if (auto v = attr_value("UserData", "userData")) {
    std::string b64 = v->is_string() ? v->get<std::string>() : "";
    RETURN_IF_ERROR(CheckUserData(b64));
    if (state != "stopped") {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                      fmt::format("The instance '{}' is not in the 'stopped' state.", r.id));
    }
    r.data["user_data"] = b64;
    changed = true;
  }
  if (input.contains("Groups") || attribute == "groupSet") {
    json ids = input.value("Groups", json::array());
    if (ids.empty()) return MissingParameter("The request must contain the parameter groupId");
    json groups = json::array();
    std::set<std::string> seen;
    for (const auto& id : ids) {
      ASSIGN_OR_RETURN(auto g, FindSecurityGroup(tx, caller, id.get<std::string>(), false));
      if (g.data.value("vpc_id", "") != r.data.value("vpc_id", "")) {
        return InvalidParameterCombination(
            fmt::format("Security group {} is not in the instance's VPC", g.id));
      }
      if (seen.insert(g.id).second) {
        groups.push_back({{"id", g.id}, {"name", g.data.value("group_name", "")}});
      }
    }
    r.data["groups"] = groups;
    changed = true;
  }
  if (auto v = attr_value("SourceDestCheck", "sourceDestCheck")) {
    // Off: the instance may send and receive traffic that is not its own (a NAT instance, a
    // router); the firewall's anti-spoofing and destination check follow (firewall.cc).
    r.data["source_dest_check"] =
        v->is_boolean() ? v->get<bool>() : !(v->is_string() && v->get<std::string>() == "false");
    changed = true;
  }
  if (!changed) {
    return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                    "Only instanceType, userData, groupSet, sourceDestCheck, "
                    "disableApiTermination and instanceInitiatedShutdownBehavior can be modified");
  }
  RETURN_IF_ERROR(SaveInstance(tx, r, UnixMillis(caller.now)));
  return json::object();
}

absl::StatusOr<bool> GroupInUse(store::Tx& tx, const Caller& caller, const std::string& group_id) {
  ASSIGN_OR_RETURN(auto all, AddressHolders(tx, caller));
  for (const auto& r : all) {
    if (!Live(r)) continue;
    for (const auto& g : r.data.value("groups", json::array())) {
      if (g.value("id", "") == group_id) return true;
    }
  }
  return false;
}

}  // namespace kumo::services
