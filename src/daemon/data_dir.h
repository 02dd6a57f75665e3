// The data directory's layout, shared by kumod and the kumo CLI:
//
//   DATA_DIR/
//     kumo.db, kumo.db-wal, kumo.db-shm   the SQLite store (WAL mode)
//     secret.key        0600  AES-256-GCM key sealing secret access keys in kumo.db
//     operator.json     0600  operator credentials (kumo account … proves its rights with them)
//     daemon-id               6 hex digits prefixing this daemon's host-side names
//     kumod.json              endpoint, regions and pid of the running daemon
//     kumod.pid, kumod.log    written by `kumo daemon start`
//     instance-types.json     optional: the operator's instance-type catalog
#pragma once

#include <string>

#include "absl/status/status.h"
#include "common/files.h"

namespace kumo::daemon {

// Files in the data directory (see docs/operator-guide.md).
struct DataDir {
  static std::string Database(const std::string& dir) { return dir + "/kumo.db"; }
  static std::string SecretKey(const std::string& dir) { return dir + "/secret.key"; }
  static std::string OperatorCredentials(const std::string& dir) { return dir + "/operator.json"; }
  static std::string DaemonId(const std::string& dir) { return dir + "/daemon-id"; }
  static std::string RuntimeInfo(const std::string& dir) { return dir + "/kumod.json"; }
  static std::string InstanceTypes(const std::string& dir) { return dir + "/instance-types.json"; }
  // The simulated clock's offset from the system clock, in ms (kumod --simulated-clock).
  static std::string ClockOffset(const std::string& dir) { return dir + "/clock-offset"; }
};

// Creates the data directory if missing, its secret key, daemon id and operator credentials on
// first use (all 0600). Safe to race with another process doing the same.
absl::Status PrepareDataDir(const std::string& dir);

using ::kumo::MakeDirs;
absl::Status WriteFileAtomic(const std::string& path, const std::string& content);

}  // namespace kumo::daemon
