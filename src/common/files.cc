#include "common/files.h"

#include <fmt/format.h>

#include <filesystem>

namespace kumo {

absl::Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return absl::InternalError(fmt::format("Failed to create {}: {}", path, ec.message()));
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return absl::InternalError(fmt::format("Failed to remove {}: {}", path, ec.message()));
  return absl::OkStatus();
}

}  // namespace kumo
