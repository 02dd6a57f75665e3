// Secrets at rest (tenants' secret access keys) are sealed with AES-256-GCM under a key that lives
// in a file beside the database, so a copy of the database alone does not let anyone sign as a
// tenant. Sealed form: "v1:" + base64(nonce[12] || ciphertext || tag[16]).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kumo::crypto {

class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;

  // Reads the 32-byte key from path, creating it (mode 0600) with random bytes if missing.
  static absl::StatusOr<SecretBox> FromKeyFile(const std::string& path);
  static absl::StatusOr<SecretBox> FromKey(std::string key);

  std::string Seal(std::string_view plaintext) const;
  absl::StatusOr<std::string> Open(std::string_view sealed) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace kumo::crypto
