// Unprivileged instances: container root is an unprivileged host uid (root's subordinate range,
// /etc/subuid and /etc/subgid, set up by scripts/install-host.sh), so a process that escapes
// its container is nobody on the host.
//
// Images are root-owned and never change, so each image gets a shifted copy (every owner moved
// up by the range's base, set-id bits and file capabilities kept) that instances of every
// daemon on the host share as their overlay's lower layer: built once per image and range, on
// the first launch that needs it, like LXD's shifted images before idmapped mounts.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kumo::host {

struct IdRange {
  uint32_t base = 0;  // 0: none (privileged containers)
  uint32_t count = 0;
};

// root's range: the first "root:BASE:COUNT" line of both files, when they agree and COUNT is at
// least 65536. None otherwise.
IdRange RootSubordinateRange(const std::string& subuid = "/etc/subuid",
                             const std::string& subgid = "/etc/subgid");

// The shifted copy of rootfs for range, under shifted_dir; made if missing (atomically: a
// daemon racing to make the same copy uses whichever lands first).
absl::StatusOr<std::string> ShiftedRootfs(const std::string& rootfs, const IdRange& range,
                                          const std::string& shifted_dir);

// Moves every owner under path up by range.base (owners already at or above it stay), keeping
// set-id bits and security.capability. Does not follow symlinks.
absl::Status ShiftOwners(const std::string& path, const IdRange& range);

}  // namespace kumo::host
