// The embedded default store: SQLite in WAL mode. One writer connection (writes serialize, within
// this process by a mutex and across processes by BEGIN IMMEDIATE with a busy timeout) and a pool
// of reader connections that see committed snapshots without blocking the writer.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace kumo::store {

struct SqliteOptions {
  // FULL fsyncs the WAL on every commit: an acknowledged write survives power loss, not only a
  // crash of the process (NORMAL would be enough for kill -9).
  bool synchronous_full = true;
  int busy_timeout_ms = 10000;
};

// path ":memory:" gives a private in-memory database (the fake used by unit tests).
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                       SqliteOptions options = {});

// The schema version the code expects; databases are migrated up to it on open.
int SqliteSchemaVersion();

}  // namespace kumo::store
