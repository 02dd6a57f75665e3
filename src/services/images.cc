#include "services/images.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "services/describe.h"
#include "services/filters.h"
#include "services/image_view.h"
#include "services/tags.h"

namespace kumo::services {

using nlohmann::json;

std::string ImageIdForName(std::string_view name) {
  return "ami-" + HexEncode(Sha256(std::string("kumo-image:") + std::string(name))).substr(0, 17);
}

bool ValidImageName(std::string_view name) {
  // EC2 allows 3-128 characters of letters, digits and ()[] ./-'@_; '/' would escape the store.
  if (name.size() < 3 || name.size() > 128 || name[0] == '.') return false;
  return name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()[] .-'@_") ==
         std::string_view::npos;
}

std::vector<Image> ImageStore::List() const {
  std::vector<Image> out;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (!ValidImageName(name)) continue;
    std::string base = dir_ + "/" + name;
    struct stat st;
    if (stat((base + "/rootfs").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    std::ifstream in(base + "/image.json");
    json meta = json::parse(in, nullptr, /*allow_exceptions=*/false);
    // A directory without valid metadata is an import in progress (or a mistake): not an image.
    if (meta.is_discarded() || !meta.is_object()) continue;
    Image img;
    img.name = name;
    img.id = ImageIdForName(name);
    // Operators edit these files by hand: a field of the wrong type falls back to its default
    // instead of failing every DescribeImages.
    auto text = [&](const char* key, const char* def) {
      auto it = meta.find(key);
      return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string(def);
    };
    img.description = text("description", "");
    img.architecture = text("architecture", "x86_64");
    img.created = text("created", "");
    img.login_user = text("login_user", "admin");
    auto size = meta.find("root_size_gib");
    img.root_size_gib = size != meta.end() && size->is_number_integer() ? size->get<int>() : 8;
    img.rootfs = base + "/rootfs";
    out.push_back(std::move(img));
  }
  closedir(d);
  std::sort(out.begin(), out.end(), [](const Image& a, const Image& b) { return a.id < b.id; });
  return out;
}

std::optional<Image> ImageStore::Find(std::string_view id) const {
  for (auto& img : List()) {
    if (img.id == id) return img;
  }
  return std::nullopt;
}

bool ImageView::LaunchableBy(const Caller& caller) const {
  return is_public || owner_id == caller.account_id ||
         std::find(launch_users.begin(), launch_users.end(), caller.account_id) !=
             launch_users.end();
}

namespace {

ImageView ViewOfOperatorImage(const Image& img) {
  ImageView v;
  v.id = img.id;
  v.name = img.name;
  v.description = img.description;
  v.architecture = img.architecture;
  v.created = img.created;
  v.owner_id = std::string(kOperatorOwnerId);
  v.login_user = img.login_user;
  v.base_image_id = img.id;
  v.is_public = true;
  v.mappings.push_back({"/dev/xvda", "", img.root_size_gib, true, "gp2"});
  return v;
}

absl::Status ImageNotFound(std::string_view id) {
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound",
                  fmt::format("The image id '[{}]' does not exist", id));
}

}  // namespace

ImageView ViewOfRecord(const store::Resource& r) {
  ImageView v;
  v.id = r.id;
  v.name = r.name;
  v.description = r.data.value("description", "");
  v.architecture = r.data.value("architecture", "x86_64");
  v.created = FormatIso8601(FromUnixMillis(r.created_ms));
  v.owner_id = r.account_id;
  v.state = r.data.value("state", "pending");
  v.state_message = r.data.value("state_message", "");
  v.login_user = r.data.value("login_user", "admin");
  v.base_image_id = r.data.value("base_image_id", "");
  v.is_public = r.data.value("public", false);
  v.launch_users = r.data.value("launch_users", std::vector<std::string>{});
  for (const auto& m : r.data.value("mappings", json::array())) {
    v.mappings.push_back({m.value("device", ""), m.value("snapshot_id", ""), m.value("size_gib", 8),
                          m.value("delete_on_termination", true), m.value("volume_type", "gp2")});
  }
  v.record = r;
  return v;
}

json MappingsData(const std::vector<LaunchImage::Mapping>& mappings) {
  json out = json::array();
  for (const auto& m : mappings) {
    out.push_back({{"device", m.device},
                   {"snapshot_id", m.snapshot_id},
                   {"size_gib", m.size_gib},
                   {"delete_on_termination", m.delete_on_termination},
                   {"volume_type", m.volume_type}});
  }
  return out;
}

json MappingsJson(const std::vector<LaunchImage::Mapping>& mappings) {
  json out = json::array();
  for (const auto& m : mappings) {
    json ebs = {{"DeleteOnTermination", m.delete_on_termination},
                {"VolumeSize", m.size_gib},
                {"VolumeType", m.volume_type},
                {"Encrypted", false}};
    if (!m.snapshot_id.empty()) ebs["SnapshotId"] = m.snapshot_id;
    out.push_back({{"DeviceName", m.device}, {"Ebs", ebs}});
  }
  return out;
}

absl::Status CheckImageId(const std::string& id) {
  if (id.rfind("ami-", 0) != 0 || id.size() < 8 ||
      id.find_first_not_of("0123456789abcdef", 4) != std::string::npos) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAMIID.Malformed",
                    fmt::format("Invalid id: \"{}\"", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ImageView>> AllImages(store::Tx& tx, const Caller& caller,
                                                 const ImageStore& images) {
  std::vector<ImageView> out;
  for (const auto& img : images.List()) out.push_back(ViewOfOperatorImage(img));
  ASSIGN_OR_RETURN(auto records, tx.ListAllResources(kImageType));
  for (const auto& r : records) {
    if (r.region == caller.region) out.push_back(ViewOfRecord(r));
  }
  return out;
}

absl::StatusOr<ImageView> FindImage(store::Tx& tx, const Caller& caller, const ImageStore& images,
                                    const std::string& id) {
  if (id.empty()) return MissingParameter("The request must contain the parameter ImageId");
  RETURN_IF_ERROR(CheckImageId(id));
  if (auto img = images.Find(id)) return ViewOfOperatorImage(*img);
  ASSIGN_OR_RETURN(auto records, tx.ListAllResources(kImageType));
  for (const auto& r : records) {
    if (r.id != id || r.region != caller.region) continue;
    ImageView v = ViewOfRecord(r);
    if (v.LaunchableBy(caller)) return v;
  }
  return ImageNotFound(id);
}

absl::StatusOr<ImageView> FindOwnImage(store::Tx& tx, const Caller& caller,
                                       const ImageStore& images, const std::string& id) {
  ASSIGN_OR_RETURN(ImageView v, FindImage(tx, caller, images, id));
  if (!v.OwnedBy(caller)) return AuthFailure(fmt::format("Not authorized for image:{}", id));
  return v;
}

absl::StatusOr<LaunchImage> ResolveImage(store::Tx& tx, const Caller& caller,
                                         const ImageStore& images, const std::string& id) {
  ASSIGN_OR_RETURN(ImageView v, FindImage(tx, caller, images, id));
  if (v.state != "available") {
    return Ec2Error(absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
                    fmt::format("Image {} is not available (it is {})", id, v.state));
  }
  auto base = images.Find(v.base_image_id);
  if (!base) {
    return Ec2Error(
        absl::StatusCode::kFailedPrecondition, "InvalidAMIID.Unavailable",
        fmt::format("Image {} is built on {}, which this host no longer has", id, v.base_image_id));
  }
  return LaunchImage{v.id, base->id, base->rootfs, v.login_user, v.mappings};
}

absl::StatusOr<std::optional<std::string>> ImageUsingSnapshot(store::Tx& tx, const Caller& caller,
                                                              const std::string& snapshot_id) {
  ASSIGN_OR_RETURN(auto records, tx.ListResources(caller.account_id, caller.region, kImageType));
  for (const auto& r : records) {
    for (const auto& m : r.data.value("mappings", json::array())) {
      if (m.value("snapshot_id", "") == snapshot_id) return std::optional<std::string>(r.id);
    }
  }
  return std::optional<std::string>();
}

absl::StatusOr<json> DescribeImages(store::Tx& tx, const Caller& caller, const ImageStore& images,
                                    const json& input) {
  static const std::set<std::string, std::less<>> kNames = {
      "name",
      "image-id",
      "architecture",
      "state",
      "owner-alias",
      "owner-id",
      "is-public",
      "image-type",
      "root-device-type",
      "virtualization-type",
      "description",
      "hypervisor",
      "root-device-name",
      "block-device-mapping.device-name",
      "block-device-mapping.snapshot-id",
      "block-device-mapping.volume-size",
      "block-device-mapping.volume-type",
      "block-device-mapping.delete-on-termination"};
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), kNames, /*taggable=*/true));
  std::set<std::string> ids;
  for (const auto& id : input.value("ImageIds", json::array())) {
    std::string s = id.get<std::string>();
    RETURN_IF_ERROR(CheckImageId(s));
    ids.insert(s);
  }
  auto valid_account = [](const std::string& s) {
    return s.size() == 12 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  std::vector<std::string> owners, users;
  for (const auto& o : input.value("Owners", json::array())) {
    std::string owner = o.get<std::string>();
    if (owner != "amazon" && owner != "self" && owner != "aws-marketplace" &&
        !valid_account(owner)) {
      return InvalidParameterValue(fmt::format("Invalid owner: {}", owner));
    }
    owners.push_back(owner == "self"     ? caller.account_id
                     : owner == "amazon" ? std::string(kOperatorOwnerId)
                                         : owner);
  }
  for (const auto& u : input.value("ExecutableUsers", json::array())) {
    std::string user = u.get<std::string>();
    if (user != "self" && user != "all" && !valid_account(user)) {
      return InvalidParameterValue(fmt::format("Invalid user: {}", user));
    }
    users.push_back(user == "self" ? caller.account_id : user);
  }
  // ExecutableUsers: "all" names public images; an account, images shared with it explicitly
  // (another account's shares only its owner may ask about).
  auto executable = [&](const ImageView& img) {
    if (users.empty()) return true;
    for (const auto& u : users) {
      if (u == "all" && img.is_public) return true;
      bool shared =
          std::find(img.launch_users.begin(), img.launch_users.end(), u) != img.launch_users.end();
      if (shared && (u == caller.account_id || img.OwnedBy(caller))) return true;
    }
    return false;
  };
  ASSIGN_OR_RETURN(auto all, AllImages(tx, caller, images));
  ASSIGN_OR_RETURN(auto tags, TagsByResource(tx, caller));
  std::set<std::string> found;
  json out = {{"Images", json::array()}};
  for (const auto& img : all) {
    if (!img.LaunchableBy(caller)) continue;
    if (!ids.empty() && !ids.count(img.id)) continue;
    found.insert(img.id);
    if (!owners.empty() && std::find(owners.begin(), owners.end(), img.owner_id) == owners.end()) {
      continue;
    }
    if (!executable(img)) continue;
    // Tags are the owner's: others see an image shared with them untagged, as on EC2.
    std::vector<store::Tag> image_tags;
    if (img.OwnedBy(caller)) {
      if (auto it = tags.find(img.id); it != tags.end()) image_tags = it->second;
    }
    std::string alias = img.operator_image() ? "amazon" : "";
    FilterFields f = {{"name", img.name},
                      {"image-id", img.id},
                      {"architecture", img.architecture},
                      {"state", img.state},
                      {"owner-alias", alias},
                      {"owner-id", img.owner_id},
                      {"is-public", img.is_public ? "true" : "false"},
                      {"image-type", "machine"},
                      {"root-device-type", "ebs"},
                      {"root-device-name", "/dev/xvda"},
                      {"virtualization-type", "hvm"},
                      {"hypervisor", "xen"},
                      {"description", img.description}};
    for (const auto& m : img.mappings) {
      f.emplace("block-device-mapping.device-name", m.device);
      f.emplace("block-device-mapping.snapshot-id", m.snapshot_id);
      f.emplace("block-device-mapping.volume-size", std::to_string(m.size_gib));
      f.emplace("block-device-mapping.volume-type", m.volume_type);
      f.emplace("block-device-mapping.delete-on-termination",
                m.delete_on_termination ? "true" : "false");
    }
    if (!filters.Matches(f, image_tags)) continue;
    json rendered = {
        {"ImageId", img.id},
        {"Name", img.name},
        {"Description", img.description},
        {"Architecture", img.architecture},
        {"CreationDate", img.created},
        {"ImageLocation", fmt::format("{}/{}", alias.empty() ? img.owner_id : alias, img.name)},
        {"OwnerId", img.owner_id},
        {"Public", img.is_public},
        {"State", img.state},
        {"ImageType", "machine"},
        {"PlatformDetails", "Linux/UNIX"},
        {"UsageOperation", "RunInstances"},
        {"Hypervisor", "xen"},
        {"VirtualizationType", "hvm"},
        {"EnaSupport", true},
        {"RootDeviceType", "ebs"},
        {"RootDeviceName", "/dev/xvda"},
        {"BlockDeviceMappings", MappingsJson(img.mappings)},
        {"Tags", TagSetJson(image_tags)}};
    if (!alias.empty()) rendered["ImageOwnerAlias"] = alias;
    if (img.state == "failed") {
      rendered["StateReason"] = {{"Code", "Client.SnapshotFailed"}, {"Message", img.state_message}};
    }
    out["Images"].push_back(std::move(rendered));
  }
  for (const auto& id : ids) {
    if (!found.count(id)) return ImageNotFound(id);
  }
  return out;
}

}  // namespace kumo::services
