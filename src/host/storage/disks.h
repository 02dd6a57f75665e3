// EC2-style block volumes on the host: each volume is an ext4 filesystem inside a sparse regular
// file, attached to a loop device and mounted on the host, from where it is bind-mounted into the
// instance's container. A sparse file costs only what the guest writes, copies and snapshots skip
// the holes, and growing a volume is a truncate plus an online ext4 resize.
//
// Everything here talks to the kernel directly (loop-control, LOOP_CONFIGURE, mount(2), FIFREEZE,
// EXT4_IOC_RESIZE_FS, copy_file_range); the one program run is mkfs.ext4, since formatting is
// mke2fs's job. Callers are the single-threaded host agent, as root. A SIGKILL at any point leaves
// the old or the new state: files are built under path + ".tmp" in the same directory, fsynced and
// renamed; offline work on an image uses a detached mount that dies with the process; loop devices
// are attached with autoclear, so they go away with their last mount.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kumo::host {

// Creates path as a sparse file of size_bytes holding a fresh ext4 filesystem (4 KiB blocks, no
// reserved blocks, lazily initialised inode tables) whose root directory is owned by
// root_uid:root_gid. Idempotent: an existing path is left alone (OK). Built under path + ".tmp" and
// renamed, so a crash never leaves a half-formatted file at path.
absl::Status CreateExt4Image(const std::string& path, int64_t size_bytes, uint32_t root_uid,
                             uint32_t root_gid);

// Copies src to dst preserving holes (SEEK_DATA/SEEK_HOLE + copy_file_range), then fsyncs; via
// dst + ".tmp" and rename. If size_bytes is larger than src, the copy is extended and its ext4
// filesystem grown to fill it; smaller (but not 0) is InvalidArgument. src must not be mounted
// (SnapshotImage copies a mounted image). Idempotent: an existing dst is left alone.
absl::Status CopyImage(const std::string& src, const std::string& dst, int64_t size_bytes = 0);

// Loop-mounts image (ext4) at mountpoint (created if missing), nosuid and nodev. Idempotent: a
// mount of this image already there is OK (and thawed, in case a crash during SnapshotImage left
// it frozen). Something else mounted there is FailedPrecondition, and so is an image already
// mounted elsewhere ("in use"): mounting one ext4 twice corrupts it.
absl::Status MountImage(const std::string& image, const std::string& mountpoint);

// Whether path is the root of a mount; a missing path is not.
absl::StatusOr<bool> IsMountPoint(const std::string& path);

// Unmounts mountpoint; OK if it is not mounted or does not exist. Without force, a volume still in
// use (open files, a process's cwd, a mount below it) is FailedPrecondition saying it is busy.
// With force the mount is detached and the filesystem goes away when its last user does. The loop
// device goes away with the filesystem (autoclear).
absl::Status Unmount(const std::string& mountpoint, bool force);

// Grows image to new_size_bytes; smaller is InvalidArgument. When mountpoint is non-empty and a
// mount of this image, the filesystem is grown online; otherwise offline, which is
// FailedPrecondition while the image is mounted elsewhere. Idempotent: growing to the current size
// is OK, and also finishes a grow that a crash interrupted after the file was extended.
absl::Status GrowImage(const std::string& image, const std::string& mountpoint,
                       int64_t new_size_bytes);

// A consistent point-in-time copy of image into dst, hole-preserving like CopyImage. When
// mountpoint is non-empty and a mount of this image, its filesystem is frozen for the copy and
// thawed afterwards, on error paths too; an image mounted anywhere else is FailedPrecondition.
// Returns the bytes dst has allocated (st_blocks * 512), the snapshot's real size. Idempotent like
// CopyImage: an existing dst is left alone and its allocation returned.
absl::StatusOr<int64_t> SnapshotImage(const std::string& image, const std::string& mountpoint,
                                      const std::string& dst);

// Makes dir (created if missing) a bind mount of itself with shared propagation in a peer group of
// its own, so volumes mounted under it later propagate into containers that bind-mounted it as
// slaves. Idempotent. Call it before mounting anything under dir: mounts already below dir are
// FailedPrecondition, since the bind would hide them.
absl::Status MakeSharedMount(const std::string& dir);

struct ImageUsage {
  int64_t size_bytes = 0;       // the volume's size (st_size)
  int64_t allocated_bytes = 0;  // what it costs on the host's disk (st_blocks * 512)
};
absl::StatusOr<ImageUsage> StatImage(const std::string& image);

}  // namespace kumo::host
