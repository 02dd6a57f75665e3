// The host-wide image store: operator images every daemon on the host can launch, registered
// from what is on disk (built by the installer with mmdebstrap, or `kumo image import`).
//
//   IMAGE_DIR/                      default /var/lib/kumo/images (--image-dir)
//     <name>/image.json             {"name", "description", "architecture", "created",
//                                    "login_user", "root_size_gib"}
//     <name>/rootfs/                the root filesystem; never written once registered
//                                   (instances run on overlays above it)
//
// Image ids are derived from the name ("ami-" + 17 hex of SHA-256), so every daemon on the host,
// and a daemon after a restart, gives an image the same id.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/caller.h"

namespace kumo::services {

// Operator images show this owner id and the "amazon" owner alias, so scripts written for EC2's
// `--owners amazon` find them. Tenant account ids can never take it.
inline constexpr std::string_view kOperatorOwnerId = "000000000000";

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

  absl::StatusOr<nlohmann::json> DescribeImages(const Caller& caller,
                                                const nlohmann::json& input) const;

 private:
  std::string dir_;
};

}  // namespace kumo::services
