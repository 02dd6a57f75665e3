#pragma once

#include <string>

#include "absl/status/status.h"

namespace kumo::host {

struct SeedSpec {
  std::string rootfs;     // the image (read only)
  std::string upper_dir;  // the instance's upper layer: empty, or a custom image's
  std::string hostname;
  std::string login_user;
  std::string public_key;  // OpenSSH line or empty
  std::string dns_server;  // the VPC's resolver
  std::string dns_domain;
  uint32_t id_base = 0;  // unprivileged: container uid 0 is this host uid
};

// Writes what the instance's first boot needs into its upper layer: empty for an operator
// image, a copy of the image's layer for a custom one (new host key, machine id and login key
// replace the image's). Safe to run again after a crash part-way.
absl::Status SeedRootVolume(const SeedSpec& spec);

}  // namespace kumo::host
