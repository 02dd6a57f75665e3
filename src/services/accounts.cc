#include "services/accounts.h"

#include <fmt/format.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/images.h"

namespace kumo::services {

absl::StatusOr<store::Account> Accounts::GetIn(store::Tx& tx, const std::string& name_or_id) {
  auto a = tx.GetAccountByName(name_or_id);
  if (a.ok() || !absl::IsNotFound(a.status())) return a;
  a = tx.GetAccount(name_or_id);
  if (absl::IsNotFound(a.status())) {
    return absl::NotFoundError(fmt::format("No account named or numbered '{}'", name_or_id));
  }
  return a;
}

absl::StatusOr<Accounts::NewKey> Accounts::AddKey(store::Tx& tx, const store::Account& account) {
  ASSIGN_OR_RETURN(auto keys, tx.ListAccessKeys(account.id));
  if (keys.size() >= kMaxAccessKeysPerAccount) {
    return absl::ResourceExhaustedError(fmt::format(
        "Account {} already has {} access keys; delete one first", account.name, keys.size()));
  }
  NewKey k{account, ids_.AccessKeyId(), ids_.SecretAccessKey()};
  store::AccessKey row{k.access_key_id, account.id, box_.Seal(k.secret_access_key), "Active",
                       UnixMillis(clock_.Now())};
  RETURN_IF_ERROR(tx.InsertAccessKey(row));
  return k;
}

absl::StatusOr<Accounts::NewKey> Accounts::Create(const std::string& name, const std::string& email,
                                                  const std::string& account_id) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+=") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        "Account names are 1 to 64 characters of letters, digits and ._-@+=");
  }
  // All digits would be ambiguous with account ids wherever either is accepted.
  if (name.find_first_not_of("0123456789") == std::string::npos) {
    return absl::InvalidArgumentError("Account names must not be all digits");
  }
  store::Account a{account_id.empty() ? ids_.AccountId() : account_id, name, email, "active",
                   UnixMillis(clock_.Now())};
  if (a.id.size() != 12 || a.id.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError("Account ids are exactly 12 digits");
  }
  if (a.id == kOperatorOwnerId) {
    return absl::InvalidArgumentError("Account id 000000000000 is the operator's (image owner)");
  }
  NewKey out;
  RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> absl::Status {
    if (tx.GetAccountByName(name).ok()) {
      return absl::AlreadyExistsError(fmt::format("An account named '{}' already exists", name));
    }
    if (tx.GetAccount(a.id).ok()) {
      return absl::AlreadyExistsError(fmt::format("Account id {} is already taken", a.id));
    }
    RETURN_IF_ERROR(tx.InsertAccount(a));
    ASSIGN_OR_RETURN(out, AddKey(tx, a));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<store::Account>> Accounts::List() {
  std::vector<store::Account> out;
  RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, tx.ListAccounts());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<store::Account> Accounts::Get(const std::string& name_or_id) {
  store::Account out;
  RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(out, GetIn(tx, name_or_id));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Accounts::SetStatus(const std::string& name_or_id, const std::string& status) {
  if (status != "active" && status != "suspended") {
    return absl::InvalidArgumentError("Account status is 'active' or 'suspended'");
  }
  return store_.Write([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(store::Account a, GetIn(tx, name_or_id));
    a.status = status;
    return tx.UpdateAccount(a);
  });
}

absl::StatusOr<Accounts::NewKey> Accounts::CreateKey(const std::string& name_or_id) {
  NewKey out;
  RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(store::Account a, GetIn(tx, name_or_id));
    ASSIGN_OR_RETURN(out, AddKey(tx, a));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<store::AccessKey>> Accounts::ListKeys(const std::string& name_or_id) {
  std::vector<store::AccessKey> out;
  RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(store::Account a, GetIn(tx, name_or_id));
    ASSIGN_OR_RETURN(out, tx.ListAccessKeys(a.id));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Accounts::SetKeyStatus(const std::string& access_key_id, bool active) {
  return store_.Write([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(store::AccessKey k, tx.GetAccessKey(access_key_id));
    k.status = active ? "Active" : "Inactive";
    return tx.UpdateAccessKey(k);
  });
}

absl::Status Accounts::DeleteKey(const std::string& access_key_id) {
  return store_.Write([&](store::Tx& tx) { return tx.DeleteAccessKey(access_key_id); });
}

absl::StatusOr<Accounts::Credential> Accounts::Lookup(const std::string& access_key_id) {
  Credential c;
  RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> absl::Status {
    ASSIGN_OR_RETURN(c.key, tx.GetAccessKey(access_key_id));
    ASSIGN_OR_RETURN(c.account, tx.GetAccount(c.key.account_id));
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(c.secret, box_.Open(c.key.sealed_secret));
  return c;
}

}  // namespace kumo::services
