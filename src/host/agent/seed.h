#pragma once

#include <string>

#include "absl/status/status.h"

namespace kumo::host {

struct SeedSpec {
  std::string rootfs;     // the image (read only)
  std::string upper_dir;  // the instance's root volume, empty before first boot
  std::string hostname;
  std::string login_user;
  std::string public_key;  // OpenSSH line or empty
  std::string dns_server;  // the VPC's resolver
  std::string dns_domain;
  uint32_t id_base = 0;  // unprivileged: container uid 0 is this host uid
};

// Writes what the instance's first boot needs into its (empty) upper layer.
absl::Status SeedRootVolume(const SeedSpec& spec);

}  // namespace kumo::host
