// The Store is the single source of truth: desired state and everything that happens to money.
// Every mutation runs inside one Write() transaction, so a crash leaves either all or none of it.
//
// Threading: a Store is safe to use from many threads; a Tx belongs to the callback it was
// handed to and must not escape it. Several processes (kumod and the kumo CLI) may open the same
// database at once; writes serialize, reads see a consistent snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kumo::store {

struct Account {
  std::string id;  // 12 digits
  std::string name;
  std::string email;
  std::string status = "active";  // "active" | "suspended"
  int64_t created_ms = 0;
};

struct AccessKey {
  std::string id;  // "AKIA…"
  std::string account_id;
  std::string sealed_secret;      // crypto::SecretBox output, never the plain secret
  std::string status = "Active";  // "Active" | "Inactive", as IAM names them
  int64_t created_ms = 0;
};

// A tenant resource. Type-specific fields live in `data` so that adding a resource family does
// not need a schema migration; what must be unique or looked up fast is a column.
struct Resource {
  std::string id;
  std::string account_id;
  std::string region;
  std::string type;  // "key-pair", …: EC2's resource-type names
  std::string name;  // unique per (account, region, type) when not empty
  nlohmann::json data = nlohmann::json::object();
  int64_t version = 0;  // bumped by every update; updates are conditional on it
  int64_t created_ms = 0;
};

struct ResourceVersion {
  std::string id;
  std::string account_id;
  std::string region;
  int64_t version = 0;
};

// One committed change of a resource row, from the store's change feed.
struct ResourceChange {
  int64_t seq = 0;  // increases in commit order
  std::string type;
  std::string account_id;
  std::string region;
  std::string id;
  int64_t version = 0;  // the row's version after the change; 0: deleted
};

struct ChangeFeed {
  // False when changes after `after` have been pruned (or `after` < 0): the caller must re-read
  // everything it caches, then continue from last_seq.
  bool complete = false;
  int64_t last_seq = 0;  // pass as `after` next time
  std::vector<ResourceChange> changes;
};

// Something that happened to money (issue 7): appended in the transaction of the change that
// causes it and never changed afterwards, so a bill can always be recomputed from these.
struct MeterEvent {
  int64_t seq = 0;  // assigned by the store, increasing in commit order
  int64_t at_ms = 0;
  std::string account_id;
  std::string region;
  std::string subject;  // what is metered: an instance id, or the key of a price
  std::string kind;
  nlohmann::json data = nlohmann::json::object();
};

// Which events to list; empty strings match anything. Ordered by seq.
struct MeterQuery {
  std::string account_id;
  std::string region;
  std::string subject;
  std::string kind;
  int64_t before_ms = INT64_MAX;  // at_ms < before_ms
  int64_t after_seq = 0;          // seq > after_seq
  int64_t limit = 0;              // 0: all
};

struct Tag {
  std::string resource_id;
  std::string resource_type;
  std::string key;
  std::string value;
};

struct IdempotencyRecord {
  std::string account_id;
  std::string region;
  std::string token;
  std::string action;
  std::string params_hash;
  std::string response;  // the first response's body, with its request id
  int64_t created_ms = 0;
};

class Tx {
 public:
  virtual ~Tx() = default;

  // Accounts. Insert fails with AlreadyExists when the id or the name is taken.
  virtual absl::Status InsertAccount(const Account& account) = 0;
  virtual absl::StatusOr<Account> GetAccount(std::string_view id) = 0;
  virtual absl::StatusOr<Account> GetAccountByName(std::string_view name) = 0;
  virtual absl::StatusOr<std::vector<Account>> ListAccounts() = 0;
  virtual absl::Status UpdateAccount(const Account& account) = 0;

  virtual absl::Status InsertAccessKey(const AccessKey& key) = 0;
  virtual absl::StatusOr<AccessKey> GetAccessKey(std::string_view id) = 0;
  virtual absl::StatusOr<std::vector<AccessKey>> ListAccessKeys(std::string_view account_id) = 0;
  virtual absl::Status UpdateAccessKey(const AccessKey& key) = 0;
  virtual absl::Status DeleteAccessKey(std::string_view id) = 0;

  // Resources are always addressed within one account and region: another tenant's id is
  // NotFound exactly like a missing one.
  virtual absl::Status InsertResource(const Resource& resource) = 0;
  virtual absl::StatusOr<Resource> GetResource(std::string_view account_id, std::string_view region,
                                               std::string_view id) = 0;
  virtual absl::StatusOr<std::optional<Resource>> FindResourceByName(std::string_view account_id,
                                                                     std::string_view region,
                                                                     std::string_view type,
                                                                     std::string_view name) = 0;
  // Ordered by id.
  virtual absl::StatusOr<std::vector<Resource>> ListResources(std::string_view account_id,
                                                              std::string_view region,
                                                              std::string_view type) = 0;
  // Every account's and region's resources of one type, ordered by id: for the reconciler and
  // for what is shared across tenants (host capacity, the public address pool).
  virtual absl::StatusOr<std::vector<Resource>> ListAllResources(std::string_view type) = 0;
  // Every resource of a type without its data: enough for a cache to re-read only what changed.
  virtual absl::StatusOr<std::vector<ResourceVersion>> ListResourceVersions(
      std::string_view type) = 0;
  // Every insert, update and delete of a resource (any type) committed after `after`, in commit
  // order: a cache follows these instead of listing every row.
  virtual absl::StatusOr<ChangeFeed> ListChangesSince(int64_t after) = 0;
  // Forgets all but the newest `keep` changes.
  virtual absl::Status PruneChanges(int64_t keep) = 0;
  // Succeeds only if the stored version equals resource.version (then stores version + 1);
  // otherwise Aborted, so a read-modify-write never loses a concurrent update.
  virtual absl::Status UpdateResource(const Resource& resource) = 0;
  virtual absl::Status DeleteResource(std::string_view account_id, std::string_view region,
                                      std::string_view id) = 0;

  // Tags of one resource, or of every resource of the account in the region when resource_id is
  // empty; ordered by (resource_id, key).
  virtual absl::StatusOr<std::vector<Tag>> ListTags(std::string_view account_id,
                                                    std::string_view region,
                                                    std::string_view resource_id) = 0;
  virtual absl::Status PutTag(std::string_view account_id, std::string_view region,
                              const Tag& tag) = 0;
  virtual absl::Status DeleteTag(std::string_view account_id, std::string_view region,
                                 std::string_view resource_id, std::string_view key) = 0;

  // The ledger: append-only.
  virtual absl::Status AppendMeterEvent(const MeterEvent& event) = 0;
  virtual absl::StatusOr<std::vector<MeterEvent>> ListMeterEvents(const MeterQuery& query) = 0;
  // The same events, one at a time (the event passed is reused: copy what must outlive the call).
  using MeterEventFn = std::function<absl::Status(const MeterEvent&)>;
  virtual absl::Status ScanMeterEvents(const MeterQuery& query, const MeterEventFn& fn) = 0;

  virtual absl::StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view account_id, std::string_view region, std::string_view token) = 0;
  virtual absl::Status PutIdempotency(const IdempotencyRecord& record) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  using TxFn = std::function<absl::Status(Tx&)>;
  // Runs fn on a consistent snapshot; writes through it fail.
  virtual absl::Status Read(const TxFn& fn) = 0;
  // Runs fn in one transaction: committed (durably) if fn returns OK, rolled back otherwise.
  virtual absl::Status Write(const TxFn& fn) = 0;
};

}  // namespace kumo::store
