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
#include "services/filters.h"

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

absl::StatusOr<json> ImageStore::DescribeImages(const Caller& caller, const json& input) const {
  static const std::set<std::string, std::less<>> kNames = {"name",
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
                                                            "root-device-name"};
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), kNames, /*taggable=*/true));
  std::set<std::string> ids;
  for (const auto& id : input.value("ImageIds", json::array())) {
    std::string s = id.get<std::string>();
    if (s.rfind("ami-", 0) != 0 || s.size() < 8 ||
        s.find_first_not_of("0123456789abcdef", 4) != std::string::npos) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidAMIID.Malformed",
                      fmt::format("Invalid id: \"{}\"", s));
    }
    ids.insert(s);
  }
  // Owners: "amazon" and the operator id name the operator's images; "self" and the caller's own
  // id name the caller's (none until CreateImage exists). Other accounts' ids name nothing.
  bool operator_images = true;
  if (input.contains("Owners")) {
    operator_images = false;
    for (const auto& o : input["Owners"]) {
      std::string owner = o.get<std::string>();
      if (owner == "amazon" || owner == kOperatorOwnerId) operator_images = true;
      if (owner != "amazon" && owner != "self" && owner != "aws-marketplace" &&
          (owner.size() != 12 || owner.find_first_not_of("0123456789") != std::string::npos)) {
        return InvalidParameterValue(fmt::format("Invalid owner: {}", owner));
      }
    }
  }
  std::set<std::string> found;
  json out = {{"Images", json::array()}};
  for (const auto& img : List()) {
    if (!ids.empty() && !ids.count(img.id)) continue;
    found.insert(img.id);
    if (!operator_images) continue;
    FilterFields f = {{"name", img.name},
                      {"image-id", img.id},
                      {"architecture", img.architecture},
                      {"state", "available"},
                      {"owner-alias", "amazon"},
                      {"owner-id", std::string(kOperatorOwnerId)},
                      {"is-public", "true"},
                      {"image-type", "machine"},
                      {"root-device-type", "ebs"},
                      {"root-device-name", "/dev/xvda"},
                      {"virtualization-type", "hvm"},
                      {"hypervisor", "xen"},
                      {"description", img.description}};
    if (!filters.Matches(f, {})) continue;
    out["Images"].push_back({{"ImageId", img.id},
                             {"Name", img.name},
                             {"Description", img.description},
                             {"Architecture", img.architecture},
                             {"CreationDate", img.created},
                             {"ImageLocation", fmt::format("amazon/{}", img.name)},
                             {"ImageOwnerAlias", "amazon"},
                             {"OwnerId", std::string(kOperatorOwnerId)},
                             {"Public", true},
                             {"State", "available"},
                             {"ImageType", "machine"},
                             {"PlatformDetails", "Linux/UNIX"},
                             {"UsageOperation", "RunInstances"},
                             {"Hypervisor", "xen"},
                             {"VirtualizationType", "hvm"},
                             {"EnaSupport", true},
                             {"RootDeviceType", "ebs"},
                             {"RootDeviceName", "/dev/xvda"},
                             {"BlockDeviceMappings",
                              {{{"DeviceName", "/dev/xvda"},
                                {"Ebs",
                                 {{"DeleteOnTermination", true},
                                  {"VolumeSize", img.root_size_gib},
                                  {"VolumeType", "gp2"},
                                  {"Encrypted", false}}}}}},
                             {"Tags", json::array()}});
  }
  for (const auto& id : ids) {
    if (!found.count(id)) {
      return Ec2Error(absl::StatusCode::kNotFound, "InvalidAMIID.NotFound",
                      fmt::format("The image id '[{}]' does not exist", id));
    }
  }
  (void)caller;
  return out;
}

}  // namespace kumo::services
