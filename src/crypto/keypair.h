// EC2 key pairs: CreateKeyPair's generated keys (PEM or PuTTY PPK), ImportKeyPair's parsing of the
// public key formats EC2 accepts, and fingerprints computed exactly as EC2 computes them, since
// tooling (and users) compare them byte for byte with what `openssl` / `ssh-keygen` print.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kumo::crypto {

enum class KeyType { kRsa, kEd25519, kEcdsa };
enum class KeyFormat { kPem, kPpk };

// EC2's KeyType values: "rsa", "ed25519", and "ecdsa" for our import-only extension.
std::string_view KeyTypeName(KeyType type);

struct GeneratedKeyPair {
  KeyType type;
  // The KeyMaterial EC2 returns. rsa+pem: PKCS#1 "BEGIN RSA PRIVATE KEY"; ed25519+pem:
  // unencrypted "BEGIN OPENSSH PRIVATE KEY"; ppk: PuTTY-User-Key-File-2, unencrypted.
  std::string private_key;
  // "ssh-rsa AAAA… comment" / "ssh-ed25519 AAAA… comment" (no comment part when comment is empty).
  std::string public_openssh;
  // rsa: SHA-1 of the PKCS#8 DER private key, hex with colons. ed25519: base64 SHA-256 of the SSH
  // public key blob, with EC2's trailing '=' padding.
  std::string fingerprint;
};

// rsa is 2048-bit. comment (the key name) becomes the OpenSSH public key comment and the PPK
// Comment; it may not hold control characters. kEcdsa is rejected: EC2 only creates rsa/ed25519.
absl::StatusOr<GeneratedKeyPair> GenerateKeyPair(KeyType type, KeyFormat format,
                                                 std::string_view comment);

struct ImportedPublicKey {
  KeyType type;
  std::string public_openssh;  // normalized "ssh-… AAAA…[ comment]"
  // rsa and ecdsa: MD5 of the DER SubjectPublicKeyInfo, hex with colons. ed25519: as created keys.
  std::string fingerprint;
};

// material is the user's public key file: the ImportKeyPair PublicKeyMaterial after the API layer
// has base64-decoded it once. Accepted: an OpenSSH one-line public key (ssh-rsa, ssh-ed25519,
// ecdsa-sha2-nistp256/384/521), DER SubjectPublicKeyInfo (raw or base64), PEM "PUBLIC KEY" or
// "RSA PUBLIC KEY", and RFC 4716 "SSH2 PUBLIC KEY". RSA must have 1024 to 16384 bits. Anything else
// (DSA, private keys, garbage) is InvalidArgument carrying EC2 code InvalidKey.Format. Safe on
// arbitrary bytes.
absl::StatusOr<ImportedPublicKey> ImportPublicKey(std::string_view material);

}  // namespace kumo::crypto
