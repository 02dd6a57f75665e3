// The Disks seam: what LocalHost needs of the host's block storage. LoopDisks is the real one
// (disks.h: ext4 in sparse files, loop-mounted); FakeDisks keeps plain directories, for unit
// tests of what drives the host without root or loop devices.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace kumo::host {

class Disks {
 public:
  virtual ~Disks() = default;
  virtual absl::Status Create(const std::string& image, int64_t size_bytes, uint32_t owner) = 0;
  virtual absl::Status Copy(const std::string& src, const std::string& dst, int64_t size_bytes) = 0;
  virtual absl::Status Mount(const std::string& image, const std::string& mountpoint) = 0;
  virtual absl::Status Unmount(const std::string& mountpoint, bool force) = 0;
  // Detaches every mount at or below dir, deepest first (before dir is removed: removing a tree
  // would otherwise reach into a mounted volume).
  virtual absl::Status UnmountAll(const std::string& dir) = 0;
  virtual absl::Status Grow(const std::string& image, const std::string& mountpoint,
                            int64_t size_bytes) = 0;
  virtual absl::StatusOr<int64_t> Snapshot(const std::string& image, const std::string& mountpoint,
                                           const std::string& dst) = 0;
  virtual absl::Status MakeShared(const std::string& dir) = 0;
};

std::unique_ptr<Disks> NewLoopDisks();
std::unique_ptr<Disks> NewFakeDisks();

}  // namespace kumo::host
