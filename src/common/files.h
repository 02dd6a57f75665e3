// Small filesystem helpers with Status errors, shared by the daemon, the CLI and the host layer.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace kumo {

// mkdir -p (mode from the umask, 0755 as root).
absl::Status MakeDirs(const std::string& path);
// rm -rf that never follows symlinks; a missing path is fine.
absl::Status RemoveTree(const std::string& path);

}  // namespace kumo
