// The key that signs instance identity documents, one per region as in EC2: instances (and the
// services they talk to) verify /latest/dynamic/instance-identity/{signature,pkcs7,rsa2048}
// against the region's certificate, which therefore has to stay the same across restarts.
//
// On disk, beside the other daemon state:
//   <dir>/identity-<region>.key   PKCS#8 PEM RSA-2048 private key, mode 0600
//   <dir>/identity-<region>.pem   self-signed X.509 certificate, CN "Kumo instance identity
//                                 <region>", valid for 10 years
// Each file is written to a temporary name, fsynced, then linked into place without replacing
// an existing file, so a crash or a concurrent start never leaves a half-written or mismatched
// pair: a key without a certificate gets a certificate on the next start.
//
// Threading: a loaded signer is immutable; its methods may be called from many threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kumo::crypto {

class IdentitySigner {
 public:
  // Loads the region's key and certificate from dir (which must exist), creating them when
  // missing. region must look like an AWS region name ([a-z0-9-]), since it is part of the file
  // names.
  static absl::StatusOr<IdentitySigner> LoadOrCreate(const std::string& dir,
                                                     const std::string& region);

  // Base64 (wrapped at 64 columns, no trailing newline) of the RSA PKCS#1 v1.5 SHA-256
  // signature of doc: what `openssl dgst -sha256 -verify pubkey -signature sig.bin` checks.
  absl::StatusOr<std::string> SignatureBase64(std::string_view doc) const;

  // Base64 DER (wrapped at 64 columns, no trailing newline, no BEGIN/END lines, as EC2 returns
  // it) of a detached PKCS#7 signedData over the exact bytes of doc, SHA-256 with RSA, without
  // the certificate. Framed with "-----BEGIN PKCS7-----"/"-----END PKCS7-----" lines it verifies
  // with `openssl smime -verify -inform PEM -content doc -certfile cert.pem -noverify` (or
  // `openssl cms -verify -binary …`).
  absl::StatusOr<std::string> Pkcs7Base64(std::string_view doc) const;

  // The certificate, PEM ("-----BEGIN CERTIFICATE-----…"), as stored.
  const std::string& CertificatePem() const;
  const std::string& region() const;

 private:
  struct State;
  explicit IdentitySigner(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

}  // namespace kumo::crypto
