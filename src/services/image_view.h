// One view of an image of either kind (operator or custom), for the image actions' shared
// lookups: who may see it, launch it, change it. Internal to services/images*.cc.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/caller.h"
#include "services/images.h"
#include "store/store.h"

namespace kumo::services {

struct ImageView {
  std::string id;
  std::string name;
  std::string description;
  std::string architecture = "x86_64";
  std::string created;  // ISO 8601
  std::string owner_id;
  std::string state = "available";
  std::string state_message;
  std::string login_user;
  std::string base_image_id;
  bool is_public = false;
  std::vector<std::string> launch_users;
  std::vector<LaunchImage::Mapping> mappings;
  std::optional<store::Resource> record;  // custom images only

  bool operator_image() const { return !record.has_value(); }
  bool OwnedBy(const Caller& caller) const { return owner_id == caller.account_id; }
  // Launch permission, which is also what lets a caller see an image.
  bool LaunchableBy(const Caller& caller) const;
};

ImageView ViewOfRecord(const store::Resource& r);

// Every image in the caller's region, operator images first, whoever owns them.
absl::StatusOr<std::vector<ImageView>> AllImages(store::Tx& tx, const Caller& caller,
                                                 const ImageStore& images);
// An image the caller may see, or InvalidAMIID.Malformed / InvalidAMIID.NotFound.
absl::StatusOr<ImageView> FindImage(store::Tx& tx, const Caller& caller, const ImageStore& images,
                                    const std::string& id);
// One the caller owns: another's (or an operator's) is AuthFailure, as on EC2.
absl::StatusOr<ImageView> FindOwnImage(store::Tx& tx, const Caller& caller,
                                       const ImageStore& images, const std::string& id);

absl::Status CheckImageId(const std::string& id);
nlohmann::json MappingsJson(const std::vector<LaunchImage::Mapping>& mappings);
nlohmann::json MappingsData(const std::vector<LaunchImage::Mapping>& mappings);

}  // namespace kumo::services
