// CreateVolume, DeleteVolume, Attach/DetachVolume, ModifyVolume and their Describe actions; the
// volumes RunInstances creates from BlockDeviceMappings. No host I/O here.
#include "services/volumes.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/images.h"
#include "services/instances.h"
#include "services/tags.h"
#include "services/vpcs.h"

namespace kumo::services {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

// The attachment, or an empty object when detached.
json Attachment(const store::Resource& v) {
  json a = v.data.value("attachment", json());
  return a.is_object() ? a : json::object();
}

bool Attached(const store::Resource& v) { return !Attachment(v).empty(); }

std::string Iso(int64_t ms) { return FormatIso8601(FromUnixMillis(ms)); }

absl::Status VolumeNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidVolume.NotFound",
                  fmt::format("The volume '{}' does not exist.", id));
}

// The zones where the caller has subnets: the region's zones.
absl::StatusOr<std::set<std::string>> Zones(store::Tx& tx, const Caller& caller) {
  ASSIGN_OR_RETURN(auto subnets, tx.ListResources(caller.account_id, caller.region, kSubnetType));
  std::set<std::string> zones;
  for (const auto& s : subnets) zones.insert(s.data.value("availability_zone", ""));
  return zones;
}

const std::set<std::string>& VolumeTypes() {
  static const std::set<std::string> kTypes = {"standard", "io1", "io2", "gp2",
                                               "gp3",      "sc1", "st1"};
  return kTypes;
}

absl::Status CheckSize(int64_t size) {
  if (size < 1) return InvalidParameterValue("The volume size must be at least 1 GiB");
  if (size > kMaxVolumeGib) {
    return InvalidParameterValue(
        fmt::format("Volume of {}GiB is too large; maximum is {}GiB", size, kMaxVolumeGib));
  }
  return absl::OkStatus();
}

// EC2's device names for data volumes: /dev/sd[b-z] and /dev/xvd[b-z] (a trailing digit too).
bool ValidDataDevice(const std::string& device) {
  static const std::regex kDevice(R"(/dev/(sd|xvd)[b-z][1-9]?)");
  return std::regex_match(device, kDevice);
}

json AttachmentJson(const store::Resource& v, const json& a) {
  json out = {{"VolumeId", v.id},
              {"InstanceId", a.value("instance_id", "")},
              {"Device", a.value("device", "")},
              {"State", a.value("state", "")},
              {"DeleteOnTermination", a.value("delete_on_termination", false)}};
  if (a.contains("attach_ms")) out["AttachTime"] = Iso(a.value("attach_ms", int64_t(0)));
  return out;
}

json RenderVolume(const store::Resource& v, const std::vector<store::Tag>& tags) {
  json attachments = json::array();
  json a = Attachment(v);
  if (!a.empty()) attachments.push_back(AttachmentJson(v, a));
  json out = {{"VolumeId", v.id},
              {"Size", v.data.value("size_gib", 0)},
              {"AvailabilityZone", Str(v, "availability_zone")},
              {"State", Str(v, "state")},
              {"CreateTime", Iso(v.created_ms)},
              {"Attachments", attachments},
              {"Encrypted", false},
              {"VolumeType", v.data.value("volume_type", "gp2")},
              {"MultiAttachEnabled", false},
              {"SnapshotId", Str(v, "snapshot_id")},
              {"Tags", TagSetJson(tags)}};
  if (v.data.contains("iops")) out["Iops"] = v.data["iops"];
  if (v.data.contains("throughput")) out["Throughput"] = v.data["throughput"];
  return out;
}

FilterFields VolumeFields(const store::Resource& v) {
  FilterFields f{{"volume-id", v.id},
                 {"status", Str(v, "state")},
                 {"size", std::to_string(v.data.value("size_gib", 0))},
                 {"availability-zone", Str(v, "availability_zone")},
                 {"snapshot-id", Str(v, "snapshot_id")},
                 {"volume-type", v.data.value("volume_type", "gp2")},
                 {"create-time", Iso(v.created_ms)},
                 {"encrypted", "false"},
                 {"multi-attach-enabled", "false"}};
  json a = Attachment(v);
  if (!a.empty()) {
    f.emplace("attachment.instance-id", a.value("instance_id", ""));
    f.emplace("attachment.device", a.value("device", ""));
    f.emplace("attachment.status", a.value("state", ""));
    f.emplace("attachment.delete-on-termination",
              a.value("delete_on_termination", false) ? "true" : "false");
    if (a.contains("attach_ms")) f.emplace("attachment.attach-time", Iso(a["attach_ms"]));
  }
  return f;
}

DescribeSpec VolumeSpec() {
  DescribeSpec spec;
  spec.type = kVolumeType;
  spec.ids_member = "VolumeIds";
  spec.output_member = "Volumes";
  for (const auto& [k, v] : VolumeFields(store::Resource{})) spec.filter_names.insert(k);
  spec.filter_names.insert({"attachment.instance-id", "attachment.device", "attachment.status",
                            "attachment.delete-on-termination", "attachment.attach-time"});
  spec.fields = VolumeFields;
  spec.render = RenderVolume;
  spec.not_found = VolumeNotFound;
  return spec;
}

absl::Status CheckVolumeIds(store::Tx& tx, const Caller& caller, const json& input) {
  for (const auto& id : input.value("VolumeIds", json::array())) {
    RETURN_IF_ERROR(GetVolume(tx, caller, id.get<std::string>()).status());
  }
  return absl::OkStatus();
}

absl::Status IncorrectVolumeState(const store::Resource& v, std::string_view wanted) {
  return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                  fmt::format("Volume '{}' is in the '{}' state, expected '{}'.", v.id,
                              Str(v, "state"), wanted));
}

json ModificationJson(const store::Resource& v) {
  json m = v.data.value("modification", json());
  std::string type = v.data.value("volume_type", "gp2");
  json out = {{"VolumeId", v.id},
              {"ModificationState", m.value("state", "")},
              {"OriginalSize", m.value("original_size_gib", 0)},
              {"TargetSize", m.value("target_size_gib", 0)},
              {"OriginalVolumeType", m.value("original_volume_type", type)},
              {"TargetVolumeType", type},
              {"OriginalMultiAttachEnabled", false},
              {"TargetMultiAttachEnabled", false},
              {"Progress", m.value("state", "") == "completed" ? 100 : 0},
              {"StartTime", Iso(m.value("start_ms", int64_t(0)))}};
  if (m.contains("end_ms")) out["EndTime"] = Iso(m["end_ms"]);
  return out;
}

// Inserts a new volume with its tags and its "created" meter event.
absl::Status InsertVolume(store::Tx& tx, const Caller& caller, const store::Resource& v,
                          const std::vector<TagInput>& tags) {
  RETURN_IF_ERROR(tx.InsertResource(v));
  RETURN_IF_ERROR(ApplyTags(tx, caller, v.id, "volume", tags));
  return RecordMeterEvent(tx, v, "created", v.data.value("size_gib", int64_t(0)), v.created_ms);
}

store::Resource NewVolume(const Caller& caller, IdGenerator& ids, json data) {
  return store::Resource{ids.ResourceId("vol"),
                         caller.account_id,
                         caller.region,
                         std::string(kVolumeType),
                         "",
                         std::move(data),
                         0,
                         UnixMillis(caller.now)};
}

}  // namespace

absl::StatusOr<store::Resource> GetVolume(store::Tx& tx, const Caller& caller,
                                          const std::string& id) {
  if (id.rfind("vol-", 0) != 0) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidVolumeID.Malformed",
                    fmt::format("Invalid id: \"{}\" (expecting \"vol-...\")", id));
  }
  auto r = tx.GetResource(caller.account_id, caller.region, id);
  if (absl::IsNotFound(r.status()) || (r.ok() && r->type != kVolumeType)) {
    return VolumeNotFound(id);
  }
  return r;
}

std::string MountNameOfDevice(const std::string& device) {
  size_t slash = device.rfind('/');
  return slash == std::string::npos ? device : device.substr(slash + 1);
}

absl::Status RecordMeterEvent(store::Tx& tx, const store::Resource& r, std::string_view event,
                              int64_t size_gib, int64_t now_ms) {
  // The ledger (billing/ledger.h): "volume-created" etc., with what the rating needs.
  json data = {{"size_gib", size_gib}};
  if (r.type == kVolumeType) {
    data["volume_type"] = r.data.value("volume_type", "gp2");
    data["az"] = r.data.value("availability_zone", "");
  }
  return tx.AppendMeterEvent({0, now_ms, r.account_id, r.region, r.id,
                              fmt::format("{}-{}", r.type, event), std::move(data)});
}

absl::StatusOr<json> CreateVolume(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                  const json& input) {
  std::string zone = input.value("AvailabilityZone", "");
  if (zone.empty()) {
    return MissingParameter("The request must contain the parameter AvailabilityZone");
  }
  ASSIGN_OR_RETURN(auto zones, Zones(tx, caller));
  if (!zones.count(zone)) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidZone.NotFound",
                    fmt::format("The zone '{}' does not exist.", zone));
  }
  std::string snapshot_id = input.value("SnapshotId", "");
  int64_t size = input.value("Size", int64_t(0));
  if (!input.contains("Size") && snapshot_id.empty()) {
    return MissingParameter("The request must contain the parameter size or snapshotId");
  }
  if (!snapshot_id.empty()) {
    ASSIGN_OR_RETURN(auto snap, GetSnapshotForUse(tx, caller, snapshot_id));
    int64_t snap_size = snap.data.value("volume_size_gib", int64_t(1));
    if (!input.contains("Size")) size = snap_size;
    if (size < snap_size) {
      return InvalidParameterValue(
          fmt::format("Volume of size {}GB is smaller than snapshot '{}', expect size >= {}GB",
                      size, snapshot_id, snap_size));
    }
  }
  RETURN_IF_ERROR(CheckSize(size));
  std::string type = input.value("VolumeType", "gp2");
  if (!VolumeTypes().count(type)) {
    return InvalidParameterValue(fmt::format("Invalid volume type '{}'", type));
  }
  if (input.value("MultiAttachEnabled", false)) {
    return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                    "Multi-Attach is not supported");
  }
  ASSIGN_OR_RETURN(auto tags,
                   TagsFromSpecifications(input.value("TagSpecifications", json()), "volume"));
  store::Resource v = NewVolume(caller, ids,
                                {{"size_gib", size},
                                 {"availability_zone", zone},
                                 {"snapshot_id", snapshot_id},
                                 {"volume_type", type},
                                 {"client_token", input.value("ClientToken", "")},
                                 {"root", false},
                                 {"state", "creating"},
                                 {"attachment", nullptr}});
  if (input.contains("Iops")) v.data["iops"] = input["Iops"];
  if (input.contains("Throughput")) v.data["throughput"] = input["Throughput"];
  RETURN_IF_ERROR(InsertVolume(tx, caller, v, tags));
  ASSIGN_OR_RETURN(auto stored_tags, tx.ListTags(caller.account_id, caller.region, v.id));
  return RenderVolume(v, stored_tags);
}

absl::StatusOr<json> DeleteVolume(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto v, GetVolume(tx, caller, input.value("VolumeId", "")));
  json a = Attachment(v);
  if (!a.empty()) {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "VolumeInUse",
        fmt::format("Volume {} is currently attached to {}", v.id, a.value("instance_id", "")));
  }
  std::string state = Str(v, "state");
  if (state == "deleting") return json::object();
  if (state != "available" && state != "creating") return IncorrectVolumeState(v, "available");
  v.data["state"] = "deleting";
  // Billing stops with the request, however long the host takes to remove the file.
  RETURN_IF_ERROR(RecordMeterEvent(tx, v, "deleted", 0, UnixMillis(caller.now)));
  RETURN_IF_ERROR(tx.UpdateResource(v));
  return json::object();
}

absl::StatusOr<json> DescribeVolumes(store::Tx& tx, const Caller& caller, const json& input) {
  RETURN_IF_ERROR(CheckVolumeIds(tx, caller, input));
  return DescribeResources(tx, caller, input, VolumeSpec());
}

absl::StatusOr<json> DescribeVolumeStatus(store::Tx& tx, const Caller& caller, const json& input) {
  RETURN_IF_ERROR(CheckVolumeIds(tx, caller, input));
  DescribeSpec spec = VolumeSpec();
  spec.output_member = "VolumeStatuses";
  auto status_of = [](const store::Resource& v) {
    return Str(v, "state") == "creating" ? "insufficient-data" : "ok";
  };
  spec.filter_names = {"volume-id", "availability-zone", "volume-status.status",
                       "volume-status.details-name", "volume-status.details-status"};
  spec.fields = [status_of](const store::Resource& v) {
    return FilterFields{{"volume-id", v.id},
                        {"availability-zone", Str(v, "availability_zone")},
                        {"volume-status.status", status_of(v)},
                        {"volume-status.details-name", "io-enabled"},
                        {"volume-status.details-status", "passed"}};
  };
  spec.render = [status_of](const store::Resource& v, const std::vector<store::Tag>&) {
    json attachments = json::array();
    json a = Attachment(v);
    if (!a.empty()) {
      attachments.push_back({{"InstanceId", a.value("instance_id", "")}, {"IoPerformance", ""}});
    }
    return json{
        {"VolumeId", v.id},
        {"AvailabilityZone", Str(v, "availability_zone")},
        {"VolumeStatus",
         {{"Status", status_of(v)},
          {"Details", json::array({{{"Name", "io-enabled"}, {"Status", "passed"}},
                                   {{"Name", "io-performance"}, {"Status", "not-applicable"}}})}}},
        {"Actions", json::array()},
        {"Events", json::array()},
        {"AttachmentStatuses", attachments}};
  };
  // Deleting volumes are about to leave every listing.
  spec.scope = [](const store::Resource& v) { return Str(v, "state") != "deleting"; };
  return DescribeResources(tx, caller, input, spec);
}

absl::StatusOr<json> AttachVolume(store::Tx& tx, const Caller& caller, const json& input) {
  std::string device = input.value("Device", "");
  ASSIGN_OR_RETURN(auto v, GetVolume(tx, caller, input.value("VolumeId", "")));
  ASSIGN_OR_RETURN(auto inst, GetInstance(tx, caller, input.value("InstanceId", "")));
  if (!ValidDataDevice(device)) {
    return InvalidParameterValue(fmt::format(
        "Value ({}) for parameter device is invalid. {} is not a valid EBS device name.", device,
        device));
  }
  if (Attached(v)) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "VolumeInUse",
                    fmt::format("{} is already attached to an instance", v.id));
  }
  if (Str(v, "state") != "available") return IncorrectVolumeState(v, "available");
  std::string istate = inst.data.value("state", "");
  if (istate != "running" && istate != "stopped" && istate != "pending") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                    fmt::format("Instance '{}' is not 'running' or 'stopped'.", inst.id));
  }
  if (Str(v, "availability_zone") != inst.data.value("availability_zone", "")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidVolume.ZoneMismatch",
                    fmt::format("The volume '{}' is not in the same availability zone as "
                                "instance '{}'",
                                v.id, inst.id));
  }
  ASSIGN_OR_RETURN(auto attached, VolumesOfInstance(tx, caller.account_id, caller.region, inst.id));
  for (const auto& other : attached) {
    if (MountNameOfDevice(Attachment(other).value("device", "")) == MountNameOfDevice(device)) {
      return InvalidParameterValue(fmt::format("Attachment point {} is already in use", device));
    }
  }
  int64_t now = UnixMillis(caller.now);
  v.data["state"] = "in-use";
  v.data["attachment"] = {{"instance_id", inst.id},
                          {"device", device},
                          {"state", "attaching"},
                          {"attach_ms", now},
                          {"delete_on_termination", false}};
  RETURN_IF_ERROR(tx.UpdateResource(v));
  return AttachmentJson(v, v.data["attachment"]);
}

absl::StatusOr<json> DetachVolume(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto v, GetVolume(tx, caller, input.value("VolumeId", "")));
  json a = Attachment(v);
  if (a.empty()) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                    fmt::format("Volume '{}' is in the 'available' state.", v.id));
  }
  std::string instance_id = input.value("InstanceId", "");
  if (!instance_id.empty() && instance_id != a.value("instance_id", "")) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAttachment.NotFound",
                    fmt::format("Attachment point {} is not attached to instance {}",
                                a.value("device", ""), instance_id));
  }
  if (input.contains("Device") && input.value("Device", "") != a.value("device", "")) {
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "InvalidAttachment.NotFound",
        fmt::format("Volume {} is not attached at {}", v.id, input.value("Device", "")));
  }
  if (v.data.value("root", false)) {
    // EC2 refuses to detach a running instance's root volume; Kumo's root volume holds the
    // instance's overlay and stays with it until termination.
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "OperationNotPermitted",
                    fmt::format("The volume {} is the root device of {} and cannot be detached",
                                v.id, a.value("instance_id", "")));
  }
  a["state"] = "detaching";
  a["force"] = a.value("force", false) || input.value("Force", false);
  v.data["attachment"] = a;
  RETURN_IF_ERROR(tx.UpdateResource(v));
  return AttachmentJson(v, a);
}

absl::StatusOr<json> ModifyVolume(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto v, GetVolume(tx, caller, input.value("VolumeId", "")));
  std::string state = Str(v, "state");
  if (state != "available" && state != "in-use") return IncorrectVolumeState(v, "available");
  json m = v.data.value("modification", json());
  if (m.is_object() && m.value("state", "") == "modifying") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectModificationState",
                    fmt::format("Volume {} is already being modified", v.id));
  }
  int64_t size = v.data.value("size_gib", int64_t(1));
  int64_t target = input.value("Size", size);
  if (target < size) {
    return InvalidParameterValue(
        fmt::format("New size cannot be smaller than existing size ({}GiB)", size));
  }
  RETURN_IF_ERROR(CheckSize(target));
  std::string type = input.value("VolumeType", v.data.value("volume_type", "gp2"));
  if (!VolumeTypes().count(type)) {
    return InvalidParameterValue(fmt::format("Invalid volume type '{}'", type));
  }
  int64_t now = UnixMillis(caller.now);
  json mod = {{"state", target == size ? "completed" : "modifying"},
              {"original_size_gib", size},
              {"target_size_gib", target},
              {"original_volume_type", v.data.value("volume_type", "gp2")},
              {"start_ms", now}};
  if (target == size) mod["end_ms"] = now;
  v.data["modification"] = mod;
  bool retyped = type != v.data.value("volume_type", "gp2");
  v.data["volume_type"] = type;
  if (input.contains("Iops")) v.data["iops"] = input["Iops"];
  if (input.contains("Throughput")) v.data["throughput"] = input["Throughput"];
  // The new type's price applies at once; a new size when the host has grown the volume.
  if (retyped) RETURN_IF_ERROR(RecordMeterEvent(tx, v, "modified", size, now));
  RETURN_IF_ERROR(tx.UpdateResource(v));
  json out = ModificationJson(v);
  return json{{"VolumeModification", out}};
}

absl::StatusOr<json> DescribeVolumesModifications(store::Tx& tx, const Caller& caller,
                                                  const json& input) {
  RETURN_IF_ERROR(CheckVolumeIds(tx, caller, input));
  DescribeSpec spec = VolumeSpec();
  spec.output_member = "VolumesModifications";
  spec.filter_names = {"volume-id", "modification-state", "target-size", "original-size"};
  spec.scope = [](const store::Resource& v) {
    return v.data.value("modification", json()).is_object();
  };
  spec.fields = [](const store::Resource& v) {
    json m = v.data.value("modification", json::object());
    return FilterFields{{"volume-id", v.id},
                        {"modification-state", m.value("state", "")},
                        {"target-size", std::to_string(m.value("target_size_gib", 0))},
                        {"original-size", std::to_string(m.value("original_size_gib", 0))}};
  };
  spec.render = [](const store::Resource& v, const std::vector<store::Tag>&) {
    return ModificationJson(v);
  };
  return DescribeResources(tx, caller, input, spec);
}

absl::StatusOr<LaunchVolumes> ParseBlockDeviceMappings(store::Tx& tx, const Caller& caller,
                                                       const json& mappings,
                                                       const LaunchImage& image) {
  LaunchVolumes out;
  out.base_image_id = image.base_image_id;
  out.root_size_gib = image.root_size_gib();
  if (!image.mappings.empty()) {
    out.root_snapshot_id = image.mappings[0].snapshot_id;
    out.root_delete_on_termination = image.mappings[0].delete_on_termination;
    out.root_volume_type = image.mappings[0].volume_type;
  }
  // The image's data volumes, which the request may resize, retype or suppress by device. Their
  // snapshots are the image owner's: launch permission on the image is permission to use them.
  std::map<std::string, LaunchVolumes::Extra> extras;
  for (size_t i = 1; i < image.mappings.size(); ++i) {
    const auto& m = image.mappings[i];
    extras[MountNameOfDevice(m.device)] = {m.device, m.size_gib, m.snapshot_id,
                                           m.delete_on_termination, m.volume_type};
  }
  std::set<std::string> devices;
  for (const auto& m : mappings) {
    std::string device = m.value("DeviceName", "");
    if (device.empty())
      return MissingParameter("The request must contain the parameter DeviceName");
    std::string name = MountNameOfDevice(device);
    if (!devices.insert(name).second) {
      return InvalidParameterValue(fmt::format("The device '{}' is used more than once", device));
    }
    json ebs = m.value("Ebs", json());
    bool root = device == kRootDevice || device == "/dev/sda1" || device == "/dev/sda";
    if (m.contains("NoDevice") || m.contains("VirtualName")) {
      if (root) return InvalidParameterValue("The root device cannot be suppressed");
      extras.erase(name);
      continue;  // instance-store and suppressed mappings: nothing to create
    }
    if (!ebs.is_object()) {
      return InvalidParameterValue(fmt::format("The device '{}' needs an Ebs mapping", device));
    }
    auto from_image = extras.find(name);
    std::string type =
        ebs.value("VolumeType", root                         ? out.root_volume_type
                                : from_image != extras.end() ? from_image->second.volume_type
                                                             : "gp2");
    if (!VolumeTypes().count(type)) {
      return InvalidParameterValue(fmt::format("Invalid volume type '{}'", type));
    }
    if (root) {
      if (ebs.contains("SnapshotId") && ebs.value("SnapshotId", "") != out.root_snapshot_id) {
        return InvalidParameterCombination(
            "The root device's snapshot comes from the image and cannot be replaced");
      }
      int64_t size = ebs.value("VolumeSize", int64_t(out.root_size_gib));
      if (size < image.root_size_gib()) {
        return InvalidParameterValue(
            fmt::format("Volume of size {}GB is smaller than the image's root volume, expect "
                        "size >= {}GB",
                        size, image.root_size_gib()));
      }
      RETURN_IF_ERROR(CheckSize(size));
      out.root_size_gib = int(size);
      out.root_volume_type = type;
      out.root_delete_on_termination =
          ebs.value("DeleteOnTermination", out.root_delete_on_termination);
      continue;
    }
    if (!ValidDataDevice(device)) {
      return InvalidParameterValue(fmt::format("Invalid device name {}", device));
    }
    LaunchVolumes::Extra e;
    if (from_image != extras.end()) e = from_image->second;
    e.device = device;
    e.volume_type = type;
    e.delete_on_termination = ebs.value("DeleteOnTermination", e.delete_on_termination);
    int64_t size = ebs.value("VolumeSize", int64_t(0));
    int64_t min_size = 1;
    if (std::string snap_id = ebs.value("SnapshotId", ""); !snap_id.empty()) {
      ASSIGN_OR_RETURN(auto snap, GetSnapshotForUse(tx, caller, snap_id));
      e.snapshot_id = snap_id;
      min_size = snap.data.value("volume_size_gib", int64_t(1));
    } else if (from_image != extras.end()) {
      min_size = from_image->second.size_gib;
    }
    if (size == 0) size = e.snapshot_id.empty() && from_image == extras.end() ? 0 : min_size;
    if (size == 0) {
      return MissingParameter(
          fmt::format("The request must contain the parameter VolumeSize for {}", device));
    }
    if (size < min_size) {
      return InvalidParameterValue(fmt::format(
          "Volume of size {}GB is smaller than its snapshot, expect size >= {}GB", size, min_size));
    }
    RETURN_IF_ERROR(CheckSize(size));
    e.size_gib = int(size);
    extras[name] = std::move(e);
  }
  for (auto& [name, e] : extras) out.extra.push_back(std::move(e));
  return out;
}

absl::Status CreateLaunchVolumes(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                 const LaunchVolumes& volumes, const std::string& instance_id,
                                 const std::string& zone, const json& tag_specs) {
  ASSIGN_OR_RETURN(auto tags, TagsFromSpecifications(tag_specs, "volume"));
  int64_t now = UnixMillis(caller.now);
  auto create = [&](const std::string& device, int size, const std::string& snapshot_id, bool root,
                    bool delete_on_termination, const std::string& type) -> absl::Status {
    json data = {{"size_gib", size},
                 {"availability_zone", zone},
                 {"snapshot_id", snapshot_id},
                 {"volume_type", type},
                 {"root", root},
                 {"state", "in-use"},
                 {"attachment",
                  {{"instance_id", instance_id},
                   {"device", device},
                   // Created with the instance: the launch creates and mounts it.
                   {"state", "attached"},
                   {"attach_ms", now},
                   {"delete_on_termination", delete_on_termination}}}};
    if (root) data["base_image_id"] = volumes.base_image_id;
    return InsertVolume(tx, caller, NewVolume(caller, ids, std::move(data)), tags);
  };
  RETURN_IF_ERROR(create(std::string(kRootDevice), volumes.root_size_gib, volumes.root_snapshot_id,
                         true, volumes.root_delete_on_termination, volumes.root_volume_type));
  for (const auto& e : volumes.extra) {
    RETURN_IF_ERROR(
        create(e.device, e.size_gib, e.snapshot_id, false, e.delete_on_termination, e.volume_type));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<store::Resource>> VolumesOfInstance(store::Tx& tx,
                                                               const std::string& account_id,
                                                               const std::string& region,
                                                               const std::string& instance_id) {
  ASSIGN_OR_RETURN(auto all, tx.ListResources(account_id, region, kVolumeType));
  std::vector<store::Resource> out;
  for (auto& v : all) {
    if (Attachment(v).value("instance_id", "") == instance_id) out.push_back(std::move(v));
  }
  std::stable_sort(out.begin(), out.end(), [](const store::Resource& a, const store::Resource& b) {
    bool ra = a.data.value("root", false), rb = b.data.value("root", false);
    if (ra != rb) return ra;
    return Attachment(a).value("device", "") < Attachment(b).value("device", "");
  });
  return out;
}

json InstanceBlockDevice(const store::Resource& v) {
  json a = Attachment(v);
  return {{"DeviceName", a.value("device", "")},
          {"Ebs",
           {{"VolumeId", v.id},
            {"Status", a.value("state", "")},
            {"AttachTime", Iso(a.value("attach_ms", int64_t(0)))},
            {"DeleteOnTermination", a.value("delete_on_termination", false)}}}};
}

absl::Status ReleaseInstanceVolumes(store::Tx& tx, const std::string& account_id,
                                    const std::string& region, const std::string& instance_id,
                                    int64_t now_ms) {
  ASSIGN_OR_RETURN(auto volumes, VolumesOfInstance(tx, account_id, region, instance_id));
  for (auto& v : volumes) {
    bool drop = Attachment(v).value("delete_on_termination", false);
    v.data["attachment"] = nullptr;
    v.data["state"] = drop ? "deleting" : "available";
    if (drop) RETURN_IF_ERROR(RecordMeterEvent(tx, v, "deleted", 0, now_ms));
    RETURN_IF_ERROR(tx.UpdateResource(v));
  }
  return absl::OkStatus();
}

}  // namespace kumo::services
