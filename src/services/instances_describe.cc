// DescribeInstances, DescribeInstanceStatus, DescribeInstanceAttribute: how EC2 shows an
// instance, rendered from its stored record.
#include <fmt/format.h>

#include <algorithm>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/describe.h"
#include "services/gpus.h"
#include "services/instances.h"
#include "services/tags.h"
#include "services/volumes.h"

namespace kumo::services {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

// Terminated instances disappear from every listing an hour after termination.
bool Visible(const store::Resource& r, const Caller& caller) {
  if (Str(r, "state") != "terminated") return true;
  return UnixMillis(caller.now) - r.data.value("terminated_ms", int64_t(0)) < kTerminatedVisibleMs;
}

FilterFields InstanceFields(const store::Resource& r) {
  FilterFields f{{"instance-id", r.id},
                 {"image-id", Str(r, "image_id")},
                 {"instance-type", Str(r, "instance_type")},
                 {"instance-state-name", Str(r, "state")},
                 {"instance-state-code", std::to_string(StateCode(Str(r, "state")))},
                 {"key-name", Str(r, "key_name")},
                 {"private-ip-address", Str(r, "private_ip")},
                 {"private-dns-name", PrivateDnsName(Str(r, "private_ip"), r.region)},
                 {"ip-address", Str(r, "public_ip")},
                 {"dns-name", PublicDnsName(Str(r, "public_ip"), r.region)},
                 {"subnet-id", Str(r, "subnet_id")},
                 {"vpc-id", Str(r, "vpc_id")},
                 {"availability-zone", Str(r, "availability_zone")},
                 {"reservation-id", Str(r, "reservation_id")},
                 {"owner-id", r.account_id},
                 {"architecture", "x86_64"},
                 {"launch-time", FormatIso8601(FromUnixMillis(r.data.value("launch_ms", 0ll)))},
                 {"client-token", Str(r, "client_token")},
                 {"root-device-type", "ebs"},
                 {"virtualization-type", "hvm"},
                 {"spot-instance-request-id", Str(r, "spot_request_id")}};
  // On-demand instances have no lifecycle value; filtering on it never matches them.
  if (Str(r, "instance_lifecycle") == "spot") f.emplace("instance-lifecycle", "spot");
  for (const auto& g : r.data.value("groups", json::array())) {
    f.emplace("instance.group-id", g.value("id", ""));
    f.emplace("instance.group-name", g.value("name", ""));
    f.emplace("group-id", g.value("id", ""));
    f.emplace("group-name", g.value("name", ""));
  }
  return f;
}

std::set<std::string, std::less<>> FilterNames() {
  std::set<std::string, std::less<>> names;
  for (const auto& [k, v] : InstanceFields(store::Resource{})) names.insert(k);
  names.insert(
      {"instance.group-id", "instance.group-name", "group-id", "group-name", "instance-lifecycle"});
  return names;
}

json StateJson(const std::string& state) { return {{"Code", StateCode(state)}, {"Name", state}}; }

using BlockDevices = std::map<std::string, json>;  // instance id → BlockDeviceMappings

json RenderInstance(const store::Resource& r, const std::vector<store::Tag>& tags,
                    const BlockDevices& devices) {
  std::string state = Str(r, "state");
  std::string private_ip = Str(r, "private_ip");
  std::string public_ip = Str(r, "public_ip");
  bool gone = state == "terminated";
  json groups = json::array();
  for (const auto& g : r.data.value("groups", json::array())) {
    groups.push_back({{"GroupId", g.value("id", "")}, {"GroupName", g.value("name", "")}});
  }
  std::string launch = FormatIso8601(FromUnixMillis(r.data.value("launch_ms", 0ll)));
  json i = {{"InstanceId", r.id},
            {"ImageId", Str(r, "image_id")},
            {"InstanceType", Str(r, "instance_type")},
            {"AmiLaunchIndex", r.data.value("launch_index", 0)},
            {"LaunchTime", launch},
            {"State", StateJson(state)},
            {"StateTransitionReason", Str(r, "transition_reason")},
            {"Placement",
             {{"AvailabilityZone", Str(r, "availability_zone")},
              {"GroupName", ""},
              {"Tenancy", "default"}}},
            {"Monitoring", {{"State", "disabled"}}},
            {"PrivateDnsName", gone ? "" : PrivateDnsName(private_ip, r.region)},
            {"PublicDnsName", gone ? "" : PublicDnsName(public_ip, r.region)},
            {"Architecture", "x86_64"},
            {"RootDeviceType", "ebs"},
            {"RootDeviceName", "/dev/xvda"},
            {"VirtualizationType", "hvm"},
            {"Hypervisor", "xen"},
            {"EbsOptimized", false},
            {"EnaSupport", true},
            {"SourceDestCheck", r.data.value("source_dest_check", true)},
            {"ClientToken", Str(r, "client_token")},
            {"SecurityGroups", gone ? json::array() : groups},
            {"CpuOptions", {{"CoreCount", r.data.value("vcpus", 1)}, {"ThreadsPerCore", 1}}},
            {"PlatformDetails", "Linux/UNIX"},
            {"UsageOperation", "RunInstances"},
            {"BootMode", "legacy-bios"},
            {"MetadataOptions", MetadataOptionsJson(r)},
            {"Tags", TagSetJson(tags)}};
  auto bdm = devices.find(r.id);
  i["BlockDeviceMappings"] = bdm == devices.end() ? json::array() : bdm->second;
  if (!Str(r, "key_name").empty()) i["KeyName"] = Str(r, "key_name");
  // The GPUs it holds, in the only place EC2's Instance has for accelerators.
  if (json gpus = ElasticGpuAssociations(r); !gpus.empty()) i["ElasticGpuAssociations"] = gpus;
  if (!gone) {
    i["SubnetId"] = Str(r, "subnet_id");
    i["VpcId"] = Str(r, "vpc_id");
    i["PrivateIpAddress"] = private_ip;
    if (!public_ip.empty()) i["PublicIpAddress"] = public_ip;
    json eni = {{"Status", "in-use"},
                {"MacAddress", Str(r, "mac")},
                {"PrivateIpAddress", private_ip},
                {"PrivateDnsName", PrivateDnsName(private_ip, r.region)},
                {"SubnetId", Str(r, "subnet_id")},
                {"VpcId", Str(r, "vpc_id")},
                {"OwnerId", r.account_id},
                {"SourceDestCheck", r.data.value("source_dest_check", true)},
                {"Groups", groups},
                {"InterfaceType", "interface"}};
    eni["NetworkInterfaceId"] = PrimaryInterfaceId(r.id);
    eni["Description"] = "";
    eni["Attachment"] = {{"AttachmentId", "eni-attach-" + r.id.substr(2)},
                         {"DeviceIndex", 0},
                         {"NetworkCardIndex", 0},
                         {"Status", "attached"},
                         {"DeleteOnTermination", true},
                         {"AttachTime", launch}};
    json primary = {{"Primary", true},
                    {"PrivateIpAddress", private_ip},
                    {"PrivateDnsName", PrivateDnsName(private_ip, r.region)}};
    if (!public_ip.empty()) {
      // An Elastic IP is the account's; an automatic address is "amazon"'s, as EC2 shows.
      json association = {
          {"PublicIp", public_ip},
          {"PublicDnsName", PublicDnsName(public_ip, r.region)},
          {"IpOwnerId", Str(r, "eip_allocation_id").empty() ? "amazon" : r.account_id}};
      eni["Association"] = association;
      primary["Association"] = association;
    }
    eni["PrivateIpAddresses"] = WithSecondaryAddresses(r, primary);
    i["NetworkInterfaces"] = json::array({eni});
  }
  if (Str(r, "instance_lifecycle") == "spot") {
    i["InstanceLifecycle"] = "spot";
    i["SpotInstanceRequestId"] = Str(r, "spot_request_id");
  }
  if (r.data.contains("state_reason") && r.data["state_reason"].is_object()) {
    i["StateReason"] = {{"Code", r.data["state_reason"].value("code", "")},
                        {"Message", r.data["state_reason"].value("message", "")}};
  }
  return i;
}

DescribeSpec InstanceSpec(const Caller& caller, BlockDevices devices = {}) {
  DescribeSpec spec;
  spec.type = kInstanceType;
  spec.ids_member = "InstanceIds";
  spec.output_member = "Instances";
  spec.filter_names = FilterNames();
  spec.fields = InstanceFields;
  spec.render = [devices = std::move(devices)](const store::Resource& r,
                                               const std::vector<store::Tag>& tags) {
    return RenderInstance(r, tags, devices);
  };
  spec.not_found = [](std::string_view id) {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                    fmt::format("The instance ID '{}' does not exist", id));
  };
  spec.scope = [caller](const store::Resource& r) { return Visible(r, caller); };
  return spec;
}

}  // namespace

absl::StatusOr<json> DescribeInstances(store::Tx& tx, const Caller& caller, const json& input) {
  for (const auto& id : input.value("InstanceIds", json::array())) {
    RETURN_IF_ERROR(GetInstance(tx, caller, id.get<std::string>()).status());
  }
  BlockDevices devices;
  ASSIGN_OR_RETURN(auto volumes, tx.ListResources(caller.account_id, caller.region, kVolumeType));
  std::vector<const store::Resource*> attached;
  for (const auto& v : volumes) {
    if (v.data.value("attachment", json()).is_object()) attached.push_back(&v);
  }
  // Root first, then by device, as EC2 lists them.
  std::stable_sort(attached.begin(), attached.end(), [](auto* a, auto* b) {
    bool ra = a->data.value("root", false), rb = b->data.value("root", false);
    if (ra != rb) return ra;
    return a->data["attachment"].value("device", "") < b->data["attachment"].value("device", "");
  });
  for (const auto* v : attached) {
    devices[v->data["attachment"].value("instance_id", "")].push_back(InstanceBlockDevice(*v));
  }
  ASSIGN_OR_RETURN(json flat,
                   DescribeResources(tx, caller, input, InstanceSpec(caller, std::move(devices))));
  // Grouped by reservation in first-seen order, as EC2 shows a launch's instances together.
  ASSIGN_OR_RETURN(auto all, tx.ListResources(caller.account_id, caller.region, kInstanceType));
  std::map<std::string, std::string> reservation_of;
  for (const auto& r : all) reservation_of[r.id] = Str(r, "reservation_id");
  // Interfaces attached besides the primary one, by device index.
  ASSIGN_OR_RETURN(auto enis,
                   tx.ListResources(caller.account_id, caller.region, kNetworkInterfaceType));
  std::map<std::string, std::map<int64_t, json>> extra;
  for (const auto& e : enis) {
    json a = e.data.value("attachment", json());
    if (!a.is_object()) continue;
    extra[a.value("instance_id", "")][a.value("device_index", int64_t(1))] =
        InstanceInterfaceJson(e);
  }
  json reservations = json::array();
  std::map<std::string, size_t> index;
  for (auto& inst : flat["Instances"]) {
    if (auto it = extra.find(inst["InstanceId"].get<std::string>());
        it != extra.end() && inst.contains("NetworkInterfaces")) {
      for (auto& [device, eni] : it->second) inst["NetworkInterfaces"].push_back(eni);
    }
    std::string rid = reservation_of[inst["InstanceId"].get<std::string>()];
    auto [it, fresh] = index.emplace(rid, reservations.size());
    if (fresh) {
      reservations.push_back({{"ReservationId", rid},
                              {"OwnerId", caller.account_id},
                              {"Groups", json::array()},
                              {"Instances", json::array()}});
    }
    reservations[it->second]["Instances"].push_back(std::move(inst));
  }
  json out = {{"Reservations", reservations}};
  if (flat.contains("NextToken")) out["NextToken"] = flat["NextToken"];
  return out;
}

absl::StatusOr<json> DescribeInstanceStatus(store::Tx& tx, const Caller& caller,
                                            const json& input) {
  for (const auto& id : input.value("InstanceIds", json::array())) {
    RETURN_IF_ERROR(GetInstance(tx, caller, id.get<std::string>()).status());
  }
  bool all_states = input.value("IncludeAllInstances", false);
  DescribeSpec spec = InstanceSpec(caller);
  spec.output_member = "InstanceStatuses";
  spec.filter_names = {"availability-zone",      "instance-state-name",  "instance-state-code",
                       "instance-status.status", "system-status.status", "instance-id"};
  auto status_of = [](const store::Resource& r) -> std::string {
    std::string state = Str(r, "state");
    if (state != "running") return "not-applicable";
    return r.data.value("status_ok", false) ? "ok" : "initializing";
  };
  spec.fields = [status_of](const store::Resource& r) {
    std::string s = status_of(r);
    return FilterFields{{"availability-zone", Str(r, "availability_zone")},
                        {"instance-state-name", Str(r, "state")},
                        {"instance-state-code", std::to_string(StateCode(Str(r, "state")))},
                        {"instance-status.status", s},
                        {"system-status.status", s},
                        {"instance-id", r.id}};
  };
  spec.scope = [caller, all_states](const store::Resource& r) {
    return Visible(r, caller) && (all_states || Str(r, "state") == "running");
  };
  spec.render = [status_of](const store::Resource& r, const std::vector<store::Tag>&) {
    std::string s = status_of(r);
    auto summary = [&](const char* check) {
      json j = {{"Status", s}, {"Details", json::array()}};
      if (s != "not-applicable") {
        j["Details"].push_back(
            {{"Name", check}, {"Status", s == "ok" ? "passed" : "initializing"}});
      }
      return j;
    };
    return json{{"InstanceId", r.id},
                {"AvailabilityZone", Str(r, "availability_zone")},
                {"InstanceState", StateJson(Str(r, "state"))},
                {"InstanceStatus", summary("reachability")},
                {"SystemStatus", summary("reachability")}};
  };
  return DescribeResources(tx, caller, input, spec);
}

absl::StatusOr<json> DescribeInstanceAttribute(store::Tx& tx, const Caller& caller,
                                               const json& input) {
  ASSIGN_OR_RETURN(auto r, GetInstance(tx, caller, input.value("InstanceId", "")));
  std::string attribute = input.value("Attribute", "");
  json out = {{"InstanceId", r.id}};
  if (attribute == "instanceType") {
    out["InstanceType"] = {{"Value", Str(r, "instance_type")}};
  } else if (attribute == "disableApiTermination") {
    out["DisableApiTermination"] = {{"Value", r.data.value("disable_api_termination", false)}};
  } else if (attribute == "instanceInitiatedShutdownBehavior") {
    out["InstanceInitiatedShutdownBehavior"] = {{"Value", Str(r, "shutdown_behavior")}};
  } else if (attribute == "groupSet") {
    json groups = json::array();
    for (const auto& g : r.data.value("groups", json::array())) {
      groups.push_back({{"GroupId", g.value("id", "")}, {"GroupName", g.value("name", "")}});
    }
    out["Groups"] = groups;
  } else if (attribute == "userData") {
    std::string b64 = Str(r, "user_data");
    out["UserData"] = b64.empty() ? json::object() : json{{"Value", b64}};
  } else if (attribute == "blockDeviceMapping") {
    ASSIGN_OR_RETURN(auto volumes, VolumesOfInstance(tx, caller.account_id, caller.region, r.id));
    out["BlockDeviceMappings"] = json::array();
    for (const auto& v : volumes) out["BlockDeviceMappings"].push_back(InstanceBlockDevice(v));
  } else if (attribute == "sourceDestCheck") {
    out["SourceDestCheck"] = {{"Value", r.data.value("source_dest_check", true)}};
  } else if (attribute == "rootDeviceName") {
    out["RootDeviceName"] = {{"Value", "/dev/xvda"}};
  } else {
    return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                    fmt::format("The attribute '{}' is not supported", attribute));
  }
  return out;
}

}  // namespace kumo::services
