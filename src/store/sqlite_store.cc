#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <mutex>
#include <thread>
#include <vector>

#include "common/status_macros.h"
#include "store/sqlite_db.h"

namespace kumo::store {
namespace {

// Append-only: a released migration is never edited, a change is a new entry.
constexpr const char* kMigrations[] = {
    // 1: accounts, access keys, resources, tags, idempotency tokens.
    R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  email TEXT NOT NULL,
  status TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE access_keys (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  sealed_secret TEXT NOT NULL,
  status TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX access_keys_account ON access_keys(account_id);
CREATE TABLE resources (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  region TEXT NOT NULL,
  type TEXT NOT NULL,
  name TEXT,
  data TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (account_id, region, type, name)
);
CREATE INDEX resources_owner ON resources(account_id, region, type, id);
CREATE TABLE tags (
  account_id TEXT NOT NULL,
  region TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (account_id, region, resource_id, key)
);
CREATE TABLE idempotency (
  account_id TEXT NOT NULL,
  region TEXT NOT NULL,
  token TEXT NOT NULL,
  action TEXT NOT NULL,
  params_hash TEXT NOT NULL,
  response TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (account_id, region, token)
);
)sql",
    // 2: the reconciler lists one type across tenants.
    "CREATE INDEX resources_type ON resources(type, id);",
    // 3: the change feed (Tx::ListChangesSince), kept by triggers so that no write can miss it.
    // SQLite has one writer at a time, so seq order is commit order.
    R"sql(
CREATE TABLE resource_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  account_id TEXT NOT NULL,
  region TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE resource_changes_pruned (through INTEGER NOT NULL);
INSERT INTO resource_changes_pruned VALUES (0);
CREATE TRIGGER resources_inserted AFTER INSERT ON resources BEGIN
  INSERT INTO resource_changes (type, account_id, region, id, version)
    VALUES (NEW.type, NEW.account_id, NEW.region, NEW.id, NEW.version);
END;
CREATE TRIGGER resources_updated AFTER UPDATE ON resources BEGIN
  INSERT INTO resource_changes (type, account_id, region, id, version)
    VALUES (NEW.type, NEW.account_id, NEW.region, NEW.id, NEW.version);
END;
CREATE TRIGGER resources_deleted AFTER DELETE ON resources BEGIN
  INSERT INTO resource_changes (type, account_id, region, id, version)
    VALUES (OLD.type, OLD.account_id, OLD.region, OLD.id, 0);
END;
)sql",
    // 4: the billing ledger. Rows are never updated; the indexes serve an account's bill and one
    // subject's history (a price series).
    R"sql(
CREATE TABLE meter_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  account_id TEXT NOT NULL,
  region TEXT NOT NULL,
  subject TEXT NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX meter_events_account ON meter_events(account_id, seq);
CREATE INDEX meter_events_subject ON meter_events(subject, seq);
)sql",
};

// The columns ReadResource expects, in its order (a macro so statements stay string literals,
// which the statement cache keys on).
#define KUMO_RESOURCE_SELECT \
  "SELECT id, account_id, region, type, name, data, version, created_ms FROM resources "

// Steps s to the end, turning each row into a T.
template <typename T, typename ReadFn>
absl::StatusOr<std::vector<T>> Collect(Stmt& s, ReadFn read) {
  std::vector<T> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    ASSIGN_OR_RETURN(T item, read(s));
    out.push_back(std::move(item));
  }
}

class SqliteTx : public Tx {
 public:
  SqliteTx(Db* db, bool writable) : db_(db), writable_(writable) {}

  absl::Status InsertAccount(const Account& a) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("INSERT INTO accounts VALUES (?1, ?2, ?3, ?4, ?5)"));
    s->Bind(1, a.id).Bind(2, a.name).Bind(3, a.email).Bind(4, a.status).Bind(5, a.created_ms);
    return s->Run();
  }
  absl::StatusOr<Account> GetAccount(std::string_view id) override {
    return OneAccount("SELECT id, name, email, status, created_ms FROM accounts WHERE id = ?1", id);
  }
  absl::StatusOr<Account> GetAccountByName(std::string_view name) override {
    return OneAccount("SELECT id, name, email, status, created_ms FROM accounts WHERE name = ?1",
                      name);
  }
  absl::StatusOr<std::vector<Account>> ListAccounts() override {
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("SELECT id, name, email, status, created_ms FROM accounts "
                                  "ORDER BY name"));
    return Collect<Account>(
        *s, [](const Stmt& r) -> absl::StatusOr<Account> { return ReadAccount(r); });
  }
  absl::Status UpdateAccount(const Account& a) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("UPDATE accounts SET name = ?2, email = ?3, status = ?4 "
                                          "WHERE id = ?1"));
    s->Bind(1, a.id).Bind(2, a.name).Bind(3, a.email).Bind(4, a.status);
    RETURN_IF_ERROR(s->Run());
    return ExpectChanged("account", a.id);
  }

  absl::Status InsertAccessKey(const AccessKey& k) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("INSERT INTO access_keys VALUES (?1, ?2, ?3, ?4, ?5)"));
    s->Bind(1, k.id)
        .Bind(2, k.account_id)
        .Bind(3, k.sealed_secret)
        .Bind(4, k.status)
        .Bind(5, k.created_ms);
    return s->Run();
  }
  absl::StatusOr<AccessKey> GetAccessKey(std::string_view id) override {
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("SELECT id, account_id, sealed_secret, status, created_ms "
                                  "FROM access_keys WHERE id = ?1"));
    s->Bind(1, id);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return absl::NotFoundError(fmt::format("Access key {} does not exist", id));
    return ReadKey(*s);
  }
  absl::StatusOr<std::vector<AccessKey>> ListAccessKeys(std::string_view account_id) override {
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("SELECT id, account_id, sealed_secret, status, created_ms "
                                  "FROM access_keys WHERE account_id = ?1 "
                                  "ORDER BY created_ms, id"));
    s->Bind(1, account_id);
    return Collect<AccessKey>(
        *s, [](const Stmt& r) -> absl::StatusOr<AccessKey> { return ReadKey(r); });
  }
  absl::Status UpdateAccessKey(const AccessKey& k) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("UPDATE access_keys SET status = ?2 WHERE id = ?1"));
    s->Bind(1, k.id).Bind(2, k.status);
    RETURN_IF_ERROR(s->Run());
    return ExpectChanged("access key", k.id);
  }
  absl::Status DeleteAccessKey(std::string_view id) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("DELETE FROM access_keys WHERE id = ?1"));
    s->Bind(1, id);
    RETURN_IF_ERROR(s->Run());
    return ExpectChanged("access key", id);
  }

  absl::Status InsertResource(const Resource& r) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("INSERT INTO resources VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)"));
    s->Bind(1, r.id).Bind(2, r.account_id).Bind(3, r.region).Bind(4, r.type);
    if (r.name.empty()) {
      s->BindNull(5);
    } else {
      s->Bind(5, r.name);
    }
    s->Bind(6, r.data.dump()).Bind(7, r.created_ms);
    return s->Run();
  }
  absl::StatusOr<Resource> GetResource(std::string_view account_id, std::string_view region,
                                       std::string_view id) override {
    ASSIGN_OR_RETURN(auto s, db_->Prepare(KUMO_RESOURCE_SELECT "WHERE id = ?1 AND account_id = ?2 "
                                                               "AND region = ?3"));
    s->Bind(1, id).Bind(2, account_id).Bind(3, region);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return absl::NotFoundError(fmt::format("Resource {} does not exist", id));
    return ReadResource(*s);
  }
  absl::StatusOr<std::optional<Resource>> FindResourceByName(std::string_view account_id,
                                                             std::string_view region,
                                                             std::string_view type,
                                                             std::string_view name) override {
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare(KUMO_RESOURCE_SELECT "WHERE account_id = ?1 AND region = ?2 "
                                                       "AND type = ?3 AND name = ?4"));
    s->Bind(1, account_id).Bind(2, region).Bind(3, type).Bind(4, name);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return std::optional<Resource>();
    ASSIGN_OR_RETURN(Resource r, ReadResource(*s));
    return std::optional<Resource>(std::move(r));
  }
  absl::StatusOr<std::vector<Resource>> ListResources(std::string_view account_id,
                                                      std::string_view region,
                                                      std::string_view type) override {
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare(KUMO_RESOURCE_SELECT "WHERE account_id = ?1 AND region = ?2 "
                                                       "AND type = ?3 ORDER BY id"));
    s->Bind(1, account_id).Bind(2, region).Bind(3, type);
    return Collect<Resource>(*s, ReadResource);
  }
  absl::StatusOr<std::vector<Resource>> ListAllResources(std::string_view type) override {
    ASSIGN_OR_RETURN(auto s, db_->Prepare(KUMO_RESOURCE_SELECT "WHERE type = ?1 ORDER BY id"));
    s->Bind(1, type);
    return Collect<Resource>(*s, ReadResource);
  }
  absl::StatusOr<std::vector<ResourceVersion>> ListResourceVersions(
      std::string_view type) override {
    ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT id, account_id, region, version FROM resources "
                                          "WHERE type = ?1 ORDER BY id"));
    s->Bind(1, type);
    return Collect<ResourceVersion>(*s, [](const Stmt& r) -> absl::StatusOr<ResourceVersion> {
      return ResourceVersion{r.Text(0), r.Text(1), r.Text(2), r.Int(3)};
    });
  }
  absl::StatusOr<ChangeFeed> ListChangesSince(int64_t after) override {
    ChangeFeed feed;
    ASSIGN_OR_RETURN(auto bounds,
                     db_->Prepare("SELECT (SELECT through FROM resource_changes_pruned),"
                                  " (SELECT max(seq) FROM resource_changes)"));
    RETURN_IF_ERROR(bounds->Step().status());
    int64_t through = bounds->Int(0);
    int64_t newest = bounds->IsNull(1) ? through : bounds->Int(1);
    feed.last_seq = std::max(newest, after);
    feed.complete = after >= through;
    if (!feed.complete) return feed;
    ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT seq, type, account_id, region, id, version FROM "
                                          "resource_changes WHERE seq > ?1 ORDER BY seq"));
    s->Bind(1, after);
    ASSIGN_OR_RETURN(
        feed.changes,
        Collect<ResourceChange>(*s, [](const Stmt& r) -> absl::StatusOr<ResourceChange> {
          return ResourceChange{r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Int(5)};
        }));
    return feed;
  }
  absl::Status PruneChanges(int64_t keep) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT max(seq) FROM resource_changes"));
    RETURN_IF_ERROR(s->Step().status());
    if (s->IsNull(0)) return absl::OkStatus();
    int64_t through = s->Int(0) - keep;
    if (through <= 0) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM resource_changes WHERE seq <= ?1"));
    del->Bind(1, through);
    RETURN_IF_ERROR(del->Run());
    ASSIGN_OR_RETURN(auto mark, db_->Prepare("UPDATE resource_changes_pruned SET through = ?1 "
                                             "WHERE through < ?1"));
    mark->Bind(1, through);
    return mark->Run();
  }
  absl::Status UpdateResource(const Resource& r) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare("UPDATE resources SET name = ?4, data = ?5, version = version + 1 "
                             "WHERE id = ?1 AND account_id = ?2 AND version = ?3"));
    s->Bind(1, r.id).Bind(2, r.account_id).Bind(3, r.version);
    if (r.name.empty()) {
      s->BindNull(4);
    } else {
      s->Bind(4, r.name);
    }
    s->Bind(5, r.data.dump());
    RETURN_IF_ERROR(s->Run());
    if (db_->changes() == 0) {
      return absl::AbortedError(fmt::format("Resource {} changed concurrently or is gone", r.id));
    }
    return absl::OkStatus();
  }
  absl::Status DeleteResource(std::string_view account_id, std::string_view region,
                              std::string_view id) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("DELETE FROM resources WHERE id = ?1 AND account_id = ?2 "
                                          "AND region = ?3"));
    s->Bind(1, id).Bind(2, account_id).Bind(3, region);
    RETURN_IF_ERROR(s->Run());
    RETURN_IF_ERROR(ExpectChanged("resource", id));
    ASSIGN_OR_RETURN(auto t, db_->Prepare("DELETE FROM tags WHERE account_id = ?1 AND region = ?2 "
                                          "AND resource_id = ?3"));
    t->Bind(1, account_id).Bind(2, region).Bind(3, id);
    return t->Run();
  }

  absl::Status AppendMeterEvent(const MeterEvent& e) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("INSERT INTO meter_events (at_ms, account_id, region, "
                                          "subject, kind, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    s->Bind(1, e.at_ms).Bind(2, e.account_id).Bind(3, e.region).Bind(4, e.subject).Bind(5, e.kind);
    s->Bind(6, e.data.dump());
    return s->Run();
  }
  absl::Status ScanMeterEvents(const MeterQuery& q, const MeterEventFn& fn) override {
    // The index to use is chosen here, not left to the planner: an "?3 = '' OR" condition would
    // make it scan the whole ledger. Region and kind are filters on what the index yields.
#define KUMO_METER_SELECT                                                               \
  "SELECT seq, at_ms, account_id, region, subject, kind, data FROM meter_events WHERE " \
  "seq > ?1 AND at_ms < ?2 AND (?4 = '' OR region = ?4) AND (?6 = '' OR kind = ?6) AND "
    std::unique_ptr<Stmt> s;
    // A subject (one price, one instance) is the narrower index: an operator's price series
    // must not scan every price event of the operator account.
    if (!q.subject.empty()) {
      ASSIGN_OR_RETURN(
          s, db_->Prepare(KUMO_METER_SELECT "subject = ?5 AND (?3 = '' OR account_id = ?3) "
                                            "ORDER BY seq LIMIT ?7"));
    } else if (!q.account_id.empty()) {
      ASSIGN_OR_RETURN(
          s, db_->Prepare(KUMO_METER_SELECT "account_id = ?3 AND (?5 = '' OR subject = ?5) "
                                            "ORDER BY seq LIMIT ?7"));
    } else {
      ASSIGN_OR_RETURN(s,
                       db_->Prepare(KUMO_METER_SELECT "?3 = '' AND ?5 = '' ORDER BY seq LIMIT ?7"));
    }
#undef KUMO_METER_SELECT
    s->Bind(1, q.after_seq).Bind(2, q.before_ms).Bind(3, q.account_id).Bind(4, q.region);
    s->Bind(5, q.subject).Bind(6, q.kind).Bind(7, q.limit > 0 ? q.limit : int64_t(-1));
    // One event, refilled for every row: a month of an account is ten thousand rows, and
    // allocating (and page-faulting) a vector of them cost more than reading them.
    MeterEvent e;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) return absl::OkStatus();
      e.seq = s->Int(0);
      e.at_ms = s->Int(1);
      e.account_id = s->Text(2);
      e.region = s->Text(3);
      e.subject = s->Text(4);
      e.kind = s->Text(5);
      e.data = nlohmann::json::parse(s->Text(6), nullptr, false);
      if (e.data.is_discarded()) {
        return absl::DataLossError(fmt::format("meter event {} is not JSON", e.seq));
      }
      RETURN_IF_ERROR(fn(e));
    }
  }
  absl::StatusOr<std::vector<MeterEvent>> ListMeterEvents(const MeterQuery& q) override {
    std::vector<MeterEvent> out;
    RETURN_IF_ERROR(ScanMeterEvents(q, [&](const MeterEvent& e) {
      out.push_back(e);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::vector<Tag>> ListTags(std::string_view account_id, std::string_view region,
                                            std::string_view resource_id) override {
    std::unique_ptr<Stmt> s;
    if (resource_id.empty()) {
      ASSIGN_OR_RETURN(s, db_->Prepare("SELECT resource_id, resource_type, key, value FROM tags "
                                       "WHERE account_id = ?1 AND region = ?2 "
                                       "ORDER BY resource_id, key"));
      s->Bind(1, account_id).Bind(2, region);
    } else {
      ASSIGN_OR_RETURN(s, db_->Prepare("SELECT resource_id, resource_type, key, value FROM tags "
                                       "WHERE account_id = ?1 AND region = ?2 AND resource_id = ?3 "
                                       "ORDER BY key"));
      s->Bind(1, account_id).Bind(2, region).Bind(3, resource_id);
    }
    return Collect<Tag>(*s, [](const Stmt& r) -> absl::StatusOr<Tag> {
      return Tag{r.Text(0), r.Text(1), r.Text(2), r.Text(3)};
    });
  }
  absl::Status PutTag(std::string_view account_id, std::string_view region,
                      const Tag& tag) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("INSERT INTO tags VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                                          "ON CONFLICT (account_id, region, resource_id, key) "
                                          "DO UPDATE SET value = excluded.value"));
    s->Bind(1, account_id)
        .Bind(2, region)
        .Bind(3, tag.resource_id)
        .Bind(4, tag.resource_type)
        .Bind(5, tag.key)
        .Bind(6, tag.value);
    return s->Run();
  }
  absl::Status DeleteTag(std::string_view account_id, std::string_view region,
                         std::string_view resource_id, std::string_view key) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s, db_->Prepare("DELETE FROM tags WHERE account_id = ?1 AND region = ?2 "
                                          "AND resource_id = ?3 AND key = ?4"));
    s->Bind(1, account_id).Bind(2, region).Bind(3, resource_id).Bind(4, key);
    return s->Run();
  }

  absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(std::string_view account_id,
                                                                  std::string_view region,
                                                                  std::string_view token) override {
    ASSIGN_OR_RETURN(
        auto s, db_->Prepare("SELECT account_id, region, token, action, params_hash, response, "
                             "created_ms FROM idempotency WHERE account_id = ?1 AND region = ?2 "
                             "AND token = ?3"));
    s->Bind(1, account_id).Bind(2, region).Bind(3, token);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return std::optional<IdempotencyRecord>();
    return std::optional<IdempotencyRecord>(IdempotencyRecord{
        s->Text(0), s->Text(1), s->Text(2), s->Text(3), s->Text(4), s->Text(5), s->Int(6)});
  }
  absl::Status PutIdempotency(const IdempotencyRecord& r) override {
    RETURN_IF_ERROR(CheckWritable());
    ASSIGN_OR_RETURN(auto s,
                     db_->Prepare("INSERT INTO idempotency VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    s->Bind(1, r.account_id)
        .Bind(2, r.region)
        .Bind(3, r.token)
        .Bind(4, r.action)
        .Bind(5, r.params_hash)
        .Bind(6, r.response)
        .Bind(7, r.created_ms);
    return s->Run();
  }

 private:
  absl::Status CheckWritable() const {
    if (!writable_) return absl::InternalError("Write attempted in a read transaction");
    return absl::OkStatus();
  }
  absl::Status ExpectChanged(std::string_view what, std::string_view id) const {
    if (db_->changes() == 0) return absl::NotFoundError(fmt::format("No {} {}", what, id));
    return absl::OkStatus();
  }
  absl::StatusOr<Account> OneAccount(const char* sql, std::string_view arg) {
    ASSIGN_OR_RETURN(auto s, db_->Prepare(sql));
    s->Bind(1, arg);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return absl::NotFoundError(fmt::format("Account {} does not exist", arg));
    return ReadAccount(*s);
  }
  static Account ReadAccount(const Stmt& s) {
    return Account{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
  }
  static AccessKey ReadKey(const Stmt& s) {
    return AccessKey{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
  }
  static absl::StatusOr<Resource> ReadResource(const Stmt& s) {
    Resource r{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), {}, s.Int(6), s.Int(7)};
    r.data = nlohmann::json::parse(s.Text(5), nullptr, /*allow_exceptions=*/false);
    if (r.data.is_discarded()) {
      return absl::DataLossError(fmt::format("Resource {} has corrupt data", r.id));
    }
    return r;
  }

  Db* db_;
  bool writable_;
};

class SqliteStore : public Store {
 public:
  SqliteStore(std::string path, SqliteOptions options, std::unique_ptr<Db> writer)
      : path_(std::move(path)), options_(options), writer_(std::move(writer)) {}

  absl::Status Read(const TxFn& fn) override {
    if (path_ == ":memory:") {
      // A private in-memory database has one connection; reads share it with writes.
      std::lock_guard<std::mutex> lock(write_mu_);
      return RunTx(writer_.get(), false, fn);
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, TakeReader());
    absl::Status st = RunTx(db.get(), false, fn);
    std::lock_guard<std::mutex> lock(pool_mu_);
    readers_.push_back(std::move(db));
    return st;
  }

  absl::Status Write(const TxFn& fn) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    return RunTx(writer_.get(), true, fn);
  }

 private:
  absl::StatusOr<std::unique_ptr<Db>> TakeReader() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!readers_.empty()) {
        auto db = std::move(readers_.back());
        readers_.pop_back();
        return db;
      }
    }
    ASSIGN_OR_RETURN(auto db, Db::Open(path_, options_.busy_timeout_ms));
    RETURN_IF_ERROR(db->Exec("PRAGMA query_only = 1"));
    return db;
  }

  static absl::Status RunTx(Db* db, bool writable, const TxFn& fn) {
    // IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading a read.
    RETURN_IF_ERROR(db->Exec(writable ? "BEGIN IMMEDIATE" : "BEGIN"));
    SqliteTx tx(db, writable);
    absl::Status st;
    try {
      st = fn(tx);
    } catch (...) {
      // A throwing callback (a bug the API's safety net turns into a 500) must not leave the
      // connection inside its transaction: every later write would fail.
      (void)db->Exec("ROLLBACK");
      throw;
    }
    if (!st.ok()) {
      (void)db->Exec("ROLLBACK");
      return st;
    }
    absl::Status commit = db->Exec("COMMIT");
    if (!commit.ok()) (void)db->Exec("ROLLBACK");
    return commit;
  }

  std::string path_;
  SqliteOptions options_;
  std::mutex write_mu_;
  std::unique_ptr<Db> writer_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> readers_;
};

absl::Status Migrate(Db* db) {
  RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
  auto fail = [&](absl::Status st) {
    (void)db->Exec("ROLLBACK");
    return st;
  };
  auto version = db->Prepare("PRAGMA user_version");
  if (!version.ok()) return fail(version.status());
  auto row = (*version)->Step();
  if (!row.ok()) return fail(row.status());
  int64_t current = (*version)->Int(0);
  version->reset();
  const int64_t target = SqliteSchemaVersion();
  if (current > target) {
    return fail(absl::FailedPreconditionError(
        fmt::format("Database schema version {} is newer than this build's {}", current, target)));
  }
  for (int64_t v = current; v < target; ++v) {
    if (auto st = db->Exec(kMigrations[v]); !st.ok()) return fail(st);
  }
  if (current != target) {
    std::string pragma = fmt::format("PRAGMA user_version = {}", target);
    if (auto st = db->Exec(pragma.c_str()); !st.ok()) return fail(st);
  }
  return db->Exec("COMMIT");
}

}  // namespace

int SqliteSchemaVersion() { return int(std::size(kMigrations)); }

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                       SqliteOptions options) {
  ASSIGN_OR_RETURN(auto db, Db::Open(path, options.busy_timeout_ms));
  if (path != ":memory:") {
    RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL"));
  }
  RETURN_IF_ERROR(db->Exec(options.synchronous_full ? "PRAGMA synchronous = FULL"
                                                    : "PRAGMA synchronous = NORMAL"));
  RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys = ON"));
  RETURN_IF_ERROR(Migrate(db.get()));
  return std::unique_ptr<Store>(new SqliteStore(path, options, std::move(db)));
}

}  // namespace kumo::store
