#include "store/sqlite_db.h"

#include <fmt/format.h>

namespace kumo::store {

absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(s_);
  std::string msg = fmt::format("SQLite: {} ({})", sqlite3_errmsg(db), sqlite3_sql(s_));
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(msg);
  }
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
    return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

absl::Status Stmt::Run() {
  auto r = Step();
  if (!r.ok()) return r.status();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Db> db(new Db(raw));
  if (rc != SQLITE_OK) {
    return absl::InternalError(fmt::format("Failed to open database {}: {}", path,
                                           raw ? sqlite3_errmsg(raw) : "no memory"));
  }
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = fmt::format("SQLite: {} ({})", err ? err : "?", sql);
    sqlite3_free(err);
    if (rc == SQLITE_BUSY || (rc & 0xff) == SQLITE_BUSY) return absl::UnavailableError(msg);
    return absl::InternalError(msg);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Stmt>> Db::Prepare(const char* sql) {
  // Keyed by the literal's address: every call site passes a string constant.
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      return Error(sql);
    }
    it = cache_.emplace(sql, s).first;
  }
  return std::make_unique<Stmt>(it->second);
}

absl::Status Db::Error(std::string_view what) const {
  return absl::InternalError(fmt::format("SQLite: {} ({})", sqlite3_errmsg(db_), what));
}

}  // namespace kumo::store
