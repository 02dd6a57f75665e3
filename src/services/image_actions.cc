// CreateImage, RegisterImage, CopyImage, DeregisterImage and the image attributes (description,
// launch permissions). A custom image is a record naming snapshots: CreateImage and CopyImage
// start them pending (the reconciler takes or copies them, then makes the image available);
// RegisterImage names completed ones. No host I/O here.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/image_view.h"
#include "services/images.h"
#include "services/instances.h"
#include "services/tags.h"
#include "services/volumes.h"

namespace kumo::services {
namespace {

using nlohmann::json;

std::string Str(const store::Resource& r, const char* key) { return r.data.value(key, ""); }

bool IsRootDevice(const std::string& device) {
  return device == kRootDevice || device == "/dev/sda1" || device == "/dev/sda";
}

// A new image's name: EC2's characters, unique among the caller's images in the region.
absl::Status CheckNewImageName(store::Tx& tx, const Caller& caller, const std::string& name) {
  if (name.empty()) return MissingParameter("The request must contain the parameter Name");
  if (!ValidImageName(name)) {
    return InvalidParameterValue(
        fmt::format("AMI names must be between 3 and 128 characters long, and may contain "
                    "letters, numbers, '(', ')', '.', '-', '/' and '_': {}",
                    name));
  }
  ASSIGN_OR_RETURN(auto taken,
                   tx.FindResourceByName(caller.account_id, caller.region, kImageType, name));
  if (taken) {
    return Ec2Error(absl::StatusCode::kAlreadyExists, "InvalidAMIName.Duplicate",
                    fmt::format("AMI name {} is already in use by AMI {}", name, taken->id));
  }
  return absl::OkStatus();
}

// Tag specifications for an image and the snapshots made with it.
struct ImageTags {
  std::vector<TagInput> image;
  std::vector<TagInput> snapshot;
};

absl::StatusOr<ImageTags> ParseImageTags(const json& specs) {
  ImageTags out;
  json image = json::array(), snapshot = json::array();
  for (const auto& s : specs.is_array() ? specs : json::array()) {
    std::string type = s.value("ResourceType", "");
    if (type == "image") {
      image.push_back(s);
    } else if (type == "snapshot") {
      snapshot.push_back(s);
    } else {
      return InvalidParameterValue(
          fmt::format("'{}' is not a valid taggable resource type for this operation.", type));
    }
  }
  ASSIGN_OR_RETURN(out.image, TagsFromSpecifications(image, "image"));
  ASSIGN_OR_RETURN(out.snapshot, TagsFromSpecifications(snapshot, "snapshot"));
  return out;
}

store::Resource NewImageRecord(const Caller& caller, const std::string& id, const std::string& name,
                               json data) {
  int64_t now = UnixMillis(caller.now);
  data["launch_users"] = json::array();
  data["public"] = false;
  return store::Resource{
      id, caller.account_id, caller.region, std::string(kImageType), name, std::move(data), 0, now};
}

absl::Status InsertImage(store::Tx& tx, const Caller& caller, const store::Resource& image,
                         const std::vector<TagInput>& tags) {
  RETURN_IF_ERROR(tx.InsertResource(image));
  return ApplyTags(tx, caller, image.id, "image", tags);
}

}  // namespace

absl::StatusOr<json> CreateImage(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                 const ImageStore& images, const json& input) {
  ASSIGN_OR_RETURN(auto inst, GetInstance(tx, caller, input.value("InstanceId", "")));
  std::string istate = Str(inst, "state");
  if (istate != "running" && istate != "stopping" && istate != "stopped") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                    fmt::format("The instance '{}' is not in a state from which it can be imaged "
                                "(it is {}).",
                                inst.id, istate));
  }
  std::string name = input.value("Name", "");
  RETURN_IF_ERROR(CheckNewImageName(tx, caller, name));
  ASSIGN_OR_RETURN(ImageTags tags, ParseImageTags(input.value("TagSpecifications", json())));
  // Instances launched before images existed name only the image they ran.
  std::string base = inst.data.value("base_image_id", Str(inst, "image_id"));
  auto base_image = images.Find(base);
  if (!base_image) {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
        fmt::format("The instance '{}' runs on {}, which this host no longer has", inst.id, base));
  }
  // The request's mappings may leave data volumes out (NoDevice) or give a device a larger
  // size or another DeleteOnTermination for launches of the image.
  std::map<std::string, json> overrides;
  for (const auto& m : input.value("BlockDeviceMappings", json::array())) {
    std::string device = m.value("DeviceName", "");
    if (device.empty())
      return MissingParameter("The request must contain the parameter DeviceName");
    overrides[MountNameOfDevice(device)] = m;
  }
  std::string image_id = ids.ResourceId("ami");
  std::string description = input.value("Description", "");
  ASSIGN_OR_RETURN(auto volumes, VolumesOfInstance(tx, caller.account_id, caller.region, inst.id));
  std::vector<LaunchImage::Mapping> mappings;
  for (const auto& v : volumes) {
    json a = v.data.value("attachment", json::object());
    std::string device = a.value("device", "");
    bool root = v.data.value("root", false);
    if (!root && a.value("state", "") != "attached") continue;
    LaunchImage::Mapping m{device, "", v.data.value("size_gib", 8),
                           a.value("delete_on_termination", true),
                           v.data.value("volume_type", "gp2")};
    if (auto o = overrides.find(MountNameOfDevice(device)); o != overrides.end()) {
      if (o->second.contains("NoDevice")) {
        if (root) return InvalidParameterValue("The root device cannot be left out of an image");
        continue;
      }
      json ebs = o->second.value("Ebs", json::object());
      int64_t size = ebs.value("VolumeSize", int64_t(m.size_gib));
      if (size < m.size_gib || size > kMaxVolumeGib) {
        return InvalidParameterValue(
            fmt::format("The size of {} must be between its volume's ({} GiB) and {} GiB", device,
                        m.size_gib, kMaxVolumeGib));
      }
      m.size_gib = int(size);
      m.delete_on_termination = ebs.value("DeleteOnTermination", m.delete_on_termination);
    }
    ASSIGN_OR_RETURN(auto snap, NewSnapshotOf(tx, caller, ids, v,
                                              fmt::format("Created by CreateImage({}) for {}",
                                                          inst.id, image_id),
                                              tags.snapshot));
    m.snapshot_id = snap.id;
    if (root) {
      m.device = std::string(kRootDevice);
      mappings.insert(mappings.begin(), m);
    } else {
      mappings.push_back(m);
    }
  }
  if (mappings.empty() || mappings[0].device != kRootDevice) {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectInstanceState",
                    fmt::format("The instance '{}' has no root volume", inst.id));
  }
  // EC2 reboots the instance unless NoReboot: here the root volume's filesystem is frozen for
  // the copy instead, which is as consistent and costs the instance no downtime.
  store::Resource image = NewImageRecord(caller, image_id, name,
                                         {{"description", description},
                                          {"architecture", base_image->architecture},
                                          {"state", "pending"},
                                          {"base_image_id", base_image->id},
                                          {"login_user", Str(inst, "login_user")},
                                          {"mappings", MappingsData(mappings)},
                                          {"source_instance_id", inst.id}});
  RETURN_IF_ERROR(InsertImage(tx, caller, image, tags.image));
  return json{{"ImageId", image_id}};
}

absl::StatusOr<json> RegisterImage(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                   const ImageStore& images, const json& input) {
  if (!input.value("ImageLocation", "").empty()) {
    return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                    "Images from S3 manifests are not supported: register a root volume's "
                    "snapshot with BlockDeviceMappings");
  }
  std::string name = input.value("Name", "");
  RETURN_IF_ERROR(CheckNewImageName(tx, caller, name));
  std::string root_device = input.value("RootDeviceName", std::string(kRootDevice));
  if (!IsRootDevice(root_device)) {
    return InvalidParameterValue(
        fmt::format("Invalid root device name {}: use {}", root_device, kRootDevice));
  }
  std::vector<LaunchImage::Mapping> mappings;
  std::set<std::string> devices;
  std::string base;
  for (const auto& m : input.value("BlockDeviceMappings", json::array())) {
    std::string device = m.value("DeviceName", "");
    if (device.empty())
      return MissingParameter("The request must contain the parameter DeviceName");
    if (!devices.insert(MountNameOfDevice(device)).second) {
      return InvalidParameterValue(fmt::format("The device '{}' is used more than once", device));
    }
    if (m.contains("NoDevice") || m.contains("VirtualName")) continue;
    json ebs = m.value("Ebs", json::object());
    std::string snap_id = ebs.value("SnapshotId", "");
    bool root = device == root_device || IsRootDevice(device);
    LaunchImage::Mapping out{root ? std::string(kRootDevice) : device, snap_id, 0,
                             ebs.value("DeleteOnTermination", true),
                             ebs.value("VolumeType", "gp2")};
    int64_t min_size = 1;
    if (!snap_id.empty()) {
      ASSIGN_OR_RETURN(auto snap, GetSnapshotForUse(tx, caller, snap_id));
      min_size = snap.data.value("volume_size_gib", int64_t(1));
      if (root) base = Str(snap, "base_image_id");
    } else if (root) {
      return MissingParameter("The root device's mapping must name a snapshot (Ebs.SnapshotId)");
    } else if (!ebs.contains("VolumeSize")) {
      return MissingParameter(
          fmt::format("The request must contain the parameter VolumeSize for {}", device));
    }
    int64_t size = ebs.value("VolumeSize", min_size);
    if (size < min_size || size > kMaxVolumeGib) {
      return InvalidParameterValue(fmt::format("The size of {} must be between {} GiB and {} GiB",
                                               device, min_size, kMaxVolumeGib));
    }
    out.size_gib = int(size);
    if (root) {
      mappings.insert(mappings.begin(), out);
    } else {
      mappings.push_back(out);
    }
  }
  if (mappings.empty() || mappings[0].device != kRootDevice) {
    return MissingParameter(fmt::format(
        "The request must contain a block device mapping for the root device {}", root_device));
  }
  // Instances run on an overlay: a root snapshot is an upper layer, meaningful only above the
  // operator image its volume was launched on. A snapshot of anything else is not bootable here.
  auto base_image = images.Find(base);
  if (base.empty() || !base_image) {
    return InvalidParameterValue(
        fmt::format("Snapshot {} does not hold an instance's root volume made on this host; "
                    "only snapshots of root volumes can be registered as images",
                    mappings[0].snapshot_id));
  }
  std::string arch = input.value("Architecture", base_image->architecture);
  if (arch != base_image->architecture) {
    return InvalidParameterValue(fmt::format("The snapshot's root filesystem is {}, not {}",
                                             base_image->architecture, arch));
  }
  store::Resource image = NewImageRecord(caller, ids.ResourceId("ami"), name,
                                         {{"description", input.value("Description", "")},
                                          {"architecture", arch},
                                          {"state", "available"},
                                          {"base_image_id", base_image->id},
                                          {"login_user", base_image->login_user},
                                          {"mappings", MappingsData(mappings)}});
  RETURN_IF_ERROR(InsertImage(tx, caller, image, {}));
  return json{{"ImageId", image.id}};
}

absl::StatusOr<json> CopyImage(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                               const ImageStore& images, const json& input) {
  std::string region = input.value("SourceRegion", "");
  if (region.empty())
    return MissingParameter("The request must contain the parameter SourceRegion");
  if (region != caller.region) {
    return InvalidParameterValue(fmt::format(
        "Images are copied within a region here: SourceRegion must be {}", caller.region));
  }
  if (input.value("Encrypted", false)) {
    return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                    "Encrypted images are not supported");
  }
  ASSIGN_OR_RETURN(ImageView source,
                   FindImage(tx, caller, images, input.value("SourceImageId", "")));
  if (source.state != "available") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
                    fmt::format("Image {} is not available (it is {})", source.id, source.state));
  }
  std::string name = input.value("Name", "");
  RETURN_IF_ERROR(CheckNewImageName(tx, caller, name));
  std::string image_id = ids.ResourceId("ami");
  bool pending = false;
  std::vector<LaunchImage::Mapping> mappings = source.mappings;
  for (auto& m : mappings) {
    if (m.snapshot_id.empty()) continue;
    // The source's snapshots may be another account's (a shared image): found by id across
    // accounts, as launch permission on the image covers them.
    auto snap = tx.GetResource(source.owner_id, caller.region, m.snapshot_id);
    if (!snap.ok()) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
                      fmt::format("Image {} has lost its snapshot {}", source.id, m.snapshot_id));
    }
    ASSIGN_OR_RETURN(auto copy,
                     NewSnapshotCopy(tx, caller, ids, *snap,
                                     fmt::format("Copied for DestinationAmi {} from SourceAmi {} "
                                                 "for SourceSnapshot {}",
                                                 image_id, source.id, m.snapshot_id),
                                     {}));
    m.snapshot_id = copy.id;
    pending = true;
  }
  std::vector<TagInput> tags;
  if (input.value("CopyImageTags", false) && source.OwnedBy(caller)) {
    ASSIGN_OR_RETURN(auto stored, tx.ListTags(caller.account_id, caller.region, source.id));
    for (const auto& t : stored) tags.push_back({t.key, t.value});
  }
  store::Resource image =
      NewImageRecord(caller, image_id, name,
                     {{"description", input.value("Description", source.description)},
                      {"architecture", source.architecture},
                      {"state", pending ? "pending" : "available"},
                      {"base_image_id", source.base_image_id},
                      {"login_user", source.login_user},
                      {"mappings", MappingsData(mappings)},
                      {"source_image_id", source.id}});
  RETURN_IF_ERROR(InsertImage(tx, caller, image, tags));
  return json{{"ImageId", image_id}};
}

absl::StatusOr<json> DeregisterImage(store::Tx& tx, const Caller& caller, const ImageStore& images,
                                     const json& input) {
  ASSIGN_OR_RETURN(ImageView img, FindOwnImage(tx, caller, images, input.value("ImageId", "")));
  // Its snapshots stay (EC2 keeps them too); instances launched from it are unaffected, their
  // root volumes being copies.
  ASSIGN_OR_RETURN(auto tags, tx.ListTags(caller.account_id, caller.region, img.id));
  for (const auto& t : tags)
    RETURN_IF_ERROR(tx.DeleteTag(caller.account_id, caller.region, img.id, t.key));
  RETURN_IF_ERROR(tx.DeleteResource(caller.account_id, caller.region, img.id));
  return json::object();
}

absl::StatusOr<json> DescribeImageAttribute(store::Tx& tx, const Caller& caller,
                                            const ImageStore& images, const json& input) {
  std::string attribute = input.value("Attribute", "");
  ASSIGN_OR_RETURN(ImageView img, FindImage(tx, caller, images, input.value("ImageId", "")));
  json out = {{"ImageId", img.id}};
  if (attribute == "description") {
    out["Description"] = {{"Value", img.description}};
  } else if (attribute == "launchPermission") {
    // Who else may launch it is the owner's business.
    if (!img.OwnedBy(caller)) {
      return AuthFailure(fmt::format("Not authorized for image:{}", img.id));
    }
    json perms = json::array();
    if (img.is_public) perms.push_back({{"Group", "all"}});
    for (const auto& u : img.launch_users) perms.push_back({{"UserId", u}});
    out["LaunchPermissions"] = perms;
  } else if (attribute == "blockDeviceMapping") {
    out["BlockDeviceMappings"] = MappingsJson(img.mappings);
  } else if (attribute == "productCodes") {
    out["ProductCodes"] = json::array();
  } else if (attribute == "bootMode") {
    out["BootMode"] = {{"Value", "legacy-bios"}};
  } else if (attribute == "kernel" || attribute == "ramdisk" || attribute == "sriovNetSupport" ||
             attribute == "tpmSupport" || attribute == "uefiData" ||
             attribute == "lastLaunchedTime" || attribute == "imdsSupport") {
    // Not applicable to a container's image: EC2 answers these with no value too.
  } else if (attribute.empty()) {
    return MissingParameter("The request must contain the parameter Attribute");
  } else {
    return InvalidParameterValue(
        fmt::format("Value ({}) for parameter attribute is invalid.", attribute));
  }
  return out;
}

absl::StatusOr<json> ModifyImageAttribute(store::Tx& tx, const Caller& caller,
                                          const ImageStore& images, const json& input) {
  ASSIGN_OR_RETURN(ImageView img, FindOwnImage(tx, caller, images, input.value("ImageId", "")));
  store::Resource r = *img.record;
  std::string attribute = input.value("Attribute", "");
  bool changed = false;
  // Description: the structure, or Attribute=description with Value.
  if (input.contains("Description") || attribute == "description") {
    std::string value = input.contains("Description") ? input["Description"].value("Value", "")
                                                      : input.value("Value", "");
    if (value.size() > 255) return InvalidParameterValue("Descriptions are at most 255 characters");
    r.data["description"] = value;
    changed = true;
  }
  // Launch permissions: the LaunchPermission structure, or Attribute=launchPermission with
  // OperationType, UserIds and UserGroups.
  json add = json::array(), remove = json::array();
  if (input.contains("LaunchPermission")) {
    add = input["LaunchPermission"].value("Add", json::array());
    remove = input["LaunchPermission"].value("Remove", json::array());
  } else if (attribute == "launchPermission") {
    std::string op = input.value("OperationType", "");
    if (op != "add" && op != "remove") {
      return MissingParameter("The request must contain the parameter OperationType (add|remove)");
    }
    json& list = op == "add" ? add : remove;
    for (const auto& u : input.value("UserIds", json::array())) list.push_back({{"UserId", u}});
    for (const auto& g : input.value("UserGroups", json::array())) list.push_back({{"Group", g}});
  } else if (!attribute.empty() && attribute != "description") {
    return InvalidParameterValue(fmt::format(
        "Attribute {} cannot be modified here: only description and launchPermission", attribute));
  }
  std::vector<std::string> users = img.launch_users;
  bool is_public = img.is_public;
  auto apply = [&](const json& list, bool adding) -> absl::Status {
    for (const auto& p : list) {
      if (p.contains("Group")) {
        if (p.value("Group", "") != "all") {
          return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAMIAttributeItemValue",
                          fmt::format("Invalid attribute item value \"{}\" for group item type.",
                                      p.value("Group", "")));
        }
        is_public = adding;
      } else if (p.contains("UserId")) {
        std::string u = p.value("UserId", "");
        if (u.size() != 12 || u.find_first_not_of("0123456789") != std::string::npos) {
          return Ec2Error(
              absl::StatusCode::kInvalidArgument, "InvalidAMIAttributeItemValue",
              fmt::format("Invalid attribute item value \"{}\" for userId item type.", u));
        }
        auto it = std::find(users.begin(), users.end(), u);
        if (adding && it == users.end()) users.push_back(u);
        if (!adding && it != users.end()) users.erase(it);
      } else {
        return Ec2Error(absl::StatusCode::kUnimplemented, "Unsupported",
                        "Launch permissions for organizations are not supported");
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(apply(add, true));
  RETURN_IF_ERROR(apply(remove, false));
  if (!add.empty() || !remove.empty()) {
    r.data["launch_users"] = users;
    r.data["public"] = is_public;
    changed = true;
  }
  if (!changed) {
    return MissingParameter(
        "The request must name an attribute to modify (Description or "
        "LaunchPermission)");
  }
  RETURN_IF_ERROR(tx.UpdateResource(r));
  return json::object();
}

absl::StatusOr<json> ResetImageAttribute(store::Tx& tx, const Caller& caller,
                                         const ImageStore& images, const json& input) {
  std::string attribute = input.value("Attribute", "");
  if (attribute != "launchPermission") {
    return InvalidParameterValue(
        fmt::format("Value ({}) for parameter attribute is invalid.", attribute));
  }
  ASSIGN_OR_RETURN(ImageView img, FindOwnImage(tx, caller, images, input.value("ImageId", "")));
  store::Resource r = *img.record;
  r.data["launch_users"] = json::array();
  r.data["public"] = false;
  RETURN_IF_ERROR(tx.UpdateResource(r));
  return json::object();
}

}  // namespace kumo::services
