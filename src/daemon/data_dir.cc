#include "daemon/data_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/secretbox.h"

namespace kumo::daemon {

namespace {

absl::Status WriteOnce(const std::string& path, const std::string& content) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return absl::InternalError(fmt::format("Failed to create {}: {}", path, strerror(errno)));
  }
  bool ok = write(fd, content.data(), content.size()) == ssize_t(content.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) return absl::InternalError(fmt::format("Failed to write {}", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out) return absl::InternalError(fmt::format("Failed to write {}", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(fmt::format("Failed to rename {}: {}", tmp, strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status PrepareDataDir(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(crypto::SecretBox::FromKeyFile(DataDir::SecretKey(dir)).status());
  // 6 hex digits prefix host-side names (bridges, namespaces, nft tables), which Linux caps at
  // 15 characters.
  RETURN_IF_ERROR(WriteOnce(DataDir::DaemonId(dir), HexEncode(RandomBytes(3)) + "\n"));
  RandomIdGenerator ids;
  nlohmann::json op = {{"AccessKeyId", ids.AccessKeyId()},
                       {"SecretAccessKey", ids.SecretAccessKey()},
                       {"Note",
                        "Kumo operator credentials: the kumo CLI's admin rights over this "
                        "data directory. Keep this file 0600."}};
  return WriteOnce(DataDir::OperatorCredentials(dir), op.dump(2) + "\n");
}

}  // namespace kumo::daemon
