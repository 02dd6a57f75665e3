// Disks as plain directories and files, for unit tests: an "image" is a file holding its size, a
// mount is a directory; nothing limits what is written.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/files.h"
#include "common/status_macros.h"
#include "host/storage/volumes.h"

namespace kumo::host {
namespace {

class FakeDisks : public Disks {
 public:
  absl::Status Create(const std::string& image, int64_t size, uint32_t) override {
    if (std::filesystem::exists(image)) return absl::OkStatus();
    return Write(image, size);
  }
  absl::Status Copy(const std::string& src, const std::string& dst, int64_t size) override {
    if (std::filesystem::exists(dst)) return absl::OkStatus();
    if (!std::filesystem::exists(src)) return absl::NotFoundError(fmt::format("No {}", src));
    return Write(dst, std::max(size, SizeOf(src)));
  }
  absl::Status Mount(const std::string& image, const std::string& mountpoint) override {
    if (!std::filesystem::exists(image)) return absl::NotFoundError(fmt::format("No {}", image));
    for (const auto& [point, img] : mounts_) {
      if (img == image && point != mountpoint) {
        return absl::FailedPreconditionError(fmt::format("{} is in use", image));
      }
    }
    mounts_[mountpoint] = image;
    return MakeDirs(mountpoint);
  }
  absl::Status Unmount(const std::string& mountpoint, bool) override {
    mounts_.erase(mountpoint);
    return absl::OkStatus();
  }
  absl::Status UnmountAll(const std::string& dir) override {
    for (auto it = mounts_.begin(); it != mounts_.end();) {
      it = it->first.rfind(dir, 0) == 0 ? mounts_.erase(it) : std::next(it);
    }
    return absl::OkStatus();
  }
  absl::Status Grow(const std::string& image, const std::string&, int64_t size) override {
    if (size < SizeOf(image)) return absl::InvalidArgumentError("Volumes only grow");
    return Write(image, size);
  }
  absl::StatusOr<int64_t> Snapshot(const std::string& image, const std::string&,
                                   const std::string& dst) override {
    RETURN_IF_ERROR(Copy(image, dst, 0));
    return int64_t(4096);
  }
  absl::Status MakeShared(const std::string& dir) override { return MakeDirs(dir); }

 private:
  static int64_t SizeOf(const std::string& image) {
    std::ifstream in(image);
    int64_t size = 0;
    in >> size;
    return size;
  }
  static absl::Status Write(const std::string& image, int64_t size) {
    RETURN_IF_ERROR(MakeDirs(std::filesystem::path(image).parent_path().string()));
    std::ofstream out(image, std::ios::trunc);
    out << size;
    if (!out) return absl::InternalError(fmt::format("Cannot write {}", image));
    return absl::OkStatus();
  }
  std::map<std::string, std::string> mounts_;  // mount point → image
};

}  // namespace

std::unique_ptr<Disks> NewFakeDisks() { return std::make_unique<FakeDisks>(); }

}  // namespace kumo::host
