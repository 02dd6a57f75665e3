// Key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair. The private key of a
// created pair is returned once and never stored; what is stored is the public key and the
// fingerprint.
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "common/ids.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kKeyPairType = "key-pair";

// Key material is generated before the write transaction (RSA generation takes tens of
// milliseconds, which must not be spent holding the database's write lock).
struct PreparedKeyPair {
  std::string name;
  std::string key_type;  // "rsa" | "ed25519" | "ecdsa"
  std::string public_key;
  std::string fingerprint;
  std::string private_key;  // empty for imports
};

absl::StatusOr<PreparedKeyPair> PrepareCreateKeyPair(const nlohmann::json& input);
absl::StatusOr<PreparedKeyPair> PrepareImportKeyPair(const nlohmann::json& input);

// Stores a prepared pair (with its TagSpecifications) and returns the action's result.
absl::StatusOr<nlohmann::json> StoreKeyPair(store::Tx& tx, const Caller& caller, IdGenerator& ids,
                                            const PreparedKeyPair& key, const nlohmann::json& input,
                                            bool imported);

absl::StatusOr<nlohmann::json> DescribeKeyPairs(store::Tx& tx, const Caller& caller,
                                                const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteKeyPair(store::Tx& tx, const Caller& caller,
                                             const nlohmann::json& input);

// The public key of a pair the caller owns, by name: for later issues (instances).
absl::StatusOr<store::Resource> FindKeyPairByName(store::Tx& tx, const Caller& caller,
                                                  std::string_view name);

}  // namespace kumo::services
