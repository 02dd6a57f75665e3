// RAII over sqlite3 handles and prepared statements, with statements cached per connection.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kumo::store {

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  // SQLITE_ROW → true, SQLITE_DONE → false, anything else → error.
  absl::StatusOr<bool> Step();
  absl::Status Run();  // Step, expecting no row
  std::string Text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, size_t(sqlite3_column_bytes(s_, col))) : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

class Db {
 public:
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path, int busy_timeout_ms);
  ~Db();
  absl::Status Exec(const char* sql);
  absl::StatusOr<std::unique_ptr<Stmt>> Prepare(const char* sql);
  int changes() const { return sqlite3_changes(db_); }
  absl::Status Error(std::string_view what) const;
  sqlite3* get() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace kumo::store
