// Images. Two kinds, one id space, one DescribeImages:
//
// Operator images: the host-wide store every daemon on the host can launch, registered from
// what is on disk (built by the installer with mmdebstrap, or `kumo image import`).
//
//   IMAGE_DIR/                      default /var/lib/kumo/images (--image-dir)
//     <name>/image.json             {"name", "description", "architecture", "created",
//                                    "login_user", "root_size_gib"}
//     <name>/rootfs/                the root filesystem; never written once registered
//                                   (instances run on overlays above it)
//
// Their ids are derived from the name ("ami-" + 17 hex of SHA-256), so every daemon on the host,
// and a daemon after a restart, gives an image the same id.
//
// Custom images (CreateImage, RegisterImage, CopyImage): a tenant's store::Resource of type
// "image", named by its Name (unique per account and region), whose data holds
//   {"description", "architecture", "state": "pending"|"available"|"failed", "state_message",
//    "base_image_id": the operator image below it, "login_user",
//    "mappings": [{"device", "snapshot_id", "size_gib", "delete_on_termination",
//                  "volume_type"}]   (the root device /dev/xvda first),
//    "launch_users": [account ids], "public": bool,
//    "source_instance_id" | "source_image_id"}
// The root mapping's snapshot is a root volume's: the overlay's upper layer above the base
// image, so an image costs only what its instance changed, and it launches like the base one
// with a root volume copied from that snapshot.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services {

// Operator images show this owner id and the "amazon" owner alias, so scripts written for EC2's
// `--owners amazon` find them. Tenant account ids can never take it.
inline constexpr std::string_view kOperatorOwnerId = "000000000000";
inline constexpr std::string_view kImageType = "image";

struct Image {
  std::string id;
  std::string name;
  std::string description;
  std::string architecture = "x86_64";
  std::string created;  // ISO 8601
  std::string login_user = "admin";
  int root_size_gib = 8;
  std::string rootfs;  // absolute path
};

std::string ImageIdForName(std::string_view name);
bool ValidImageName(std::string_view name);

class ImageStore {
 public:
  explicit ImageStore(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  // Re-reads the directory: images added by another process appear, removed ones go.
  std::vector<Image> List() const;
  std::optional<Image> Find(std::string_view id) const;

 private:
  std::string dir_;
};

// What a launch needs from an image of either kind.
struct LaunchImage {
  std::string id;
  std::string base_image_id;  // the operator image whose root filesystem is the lower layer
  std::string rootfs;         // its path
  std::string login_user;
  // Custom images: the volumes to create ("/dev/xvda" first), with their snapshots. Operator
  // images: the root device alone, without a snapshot (a fresh layer).
  struct Mapping {
    std::string device;
    std::string snapshot_id;
    int size_gib = 8;
    bool delete_on_termination = true;
    std::string volume_type = "gp2";
  };
  std::vector<Mapping> mappings;
  int root_size_gib() const { return mappings.empty() ? 8 : mappings[0].size_gib; }
};

// An available image the caller may launch (its own, shared with it, public, or an operator's),
// or InvalidAMIID.Malformed / NotFound / Unavailable.
absl::StatusOr<LaunchImage> ResolveImage(store::Tx& tx, const Caller& caller,
                                         const ImageStore& images, const std::string& id);

absl::StatusOr<nlohmann::json> DescribeImages(store::Tx& tx, const Caller& caller,
                                              const ImageStore& images,
                                              const nlohmann::json& input);
absl::StatusOr<nlohmann::json> CreateImage(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                           const ImageStore& images, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> RegisterImage(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                             const ImageStore& images, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> CopyImage(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                         const ImageStore& images, const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeregisterImage(store::Tx& tx, const Caller& caller,
                                               const ImageStore& images,
                                               const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeImageAttribute(store::Tx& tx, const Caller& caller,
                                                      const ImageStore& images,
                                                      const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ModifyImageAttribute(store::Tx& tx, const Caller& caller,
                                                    const ImageStore& images,
                                                    const nlohmann::json& input);
absl::StatusOr<nlohmann::json> ResetImageAttribute(store::Tx& tx, const Caller& caller,
                                                   const ImageStore& images,
                                                   const nlohmann::json& input);

// The registered image (in the caller's account) using the snapshot, if any: such a snapshot
// cannot be deleted (InvalidSnapshot.InUse).
absl::StatusOr<std::optional<std::string>> ImageUsingSnapshot(store::Tx& tx, const Caller& caller,
                                                              const std::string& snapshot_id);

}  // namespace kumo::services
