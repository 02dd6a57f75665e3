// Tenant accounts and their access keys (at most two per account, as IAM allows). Secrets are
// sealed with the data directory's key before they reach the store.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/ids.h"
#include "crypto/secretbox.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr size_t kMaxAccessKeysPerAccount = 2;

class Accounts {
 public:
  Accounts(store::Store& store, const crypto::SecretBox& box, IdGenerator& ids, const Clock& clock)
      : store_(store), box_(box), ids_(ids), clock_(clock) {}

  struct NewKey {
    store::Account account;
    std::string access_key_id;
    std::string secret_access_key;
  };
  // account_id empty → random 12 digits.
  absl::StatusOr<NewKey> Create(const std::string& name, const std::string& email,
                                const std::string& account_id);
  absl::StatusOr<std::vector<store::Account>> List();
  // name_or_id: an account name or its 12-digit id.
  absl::StatusOr<store::Account> Get(const std::string& name_or_id);
  absl::Status SetStatus(const std::string& name_or_id, const std::string& status);

  absl::StatusOr<NewKey> CreateKey(const std::string& name_or_id);
  absl::StatusOr<std::vector<store::AccessKey>> ListKeys(const std::string& name_or_id);
  absl::Status SetKeyStatus(const std::string& access_key_id, bool active);
  absl::Status DeleteKey(const std::string& access_key_id);

  struct Credential {
    store::Account account;
    store::AccessKey key;
    std::string secret;
  };
  // For SigV4: NotFound for an unknown key id; a disabled key or suspended account is returned
  // as is, for the caller to decide.
  absl::StatusOr<Credential> Lookup(const std::string& access_key_id);

 private:
  absl::StatusOr<store::Account> GetIn(store::Tx& tx, const std::string& name_or_id);
  absl::StatusOr<NewKey> AddKey(store::Tx& tx, const store::Account& account);

  store::Store& store_;
  const crypto::SecretBox& box_;
  IdGenerator& ids_;
  const Clock& clock_;
};

}  // namespace kumo::services
