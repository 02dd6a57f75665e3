#include "crypto/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <memory>
#include <optional>

#include "common/encoding.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "crypto/ossl_ptr.h"

namespace kumo::crypto {
namespace {

constexpr int kRsaBits = 2048;
constexpr long kValidityDays = 3650;
constexpr size_t kMaxFile = 64 * 1024;  // a PEM key or certificate is a few KiB

using Pkey = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using Cert = OsslPtr<X509, X509_free>;
using Bio = OsslPtr<BIO, BIO_free_all>;
using MdCtx = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using Pkcs7 = OsslPtr<PKCS7, PKCS7_free>;
using Bn = OsslPtr<BIGNUM, BN_free>;
using Name = OsslPtr<X509_NAME, X509_NAME_free>;

const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

absl::Status OpenSslFailure(std::string_view what) {
  return absl::InternalError(fmt::format("OpenSSL failed to {}", what));
}

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(fmt::format("Failed to {} '{}': {}", what, path, strerror(errno)));
}

// EC2 hands out base64 bodies in 64-column lines, as `openssl base64` writes them; the last
// line has no newline (the AWS docs append one before "-----END PKCS7-----").
std::string WrappedBase64(std::string_view bytes) {
  std::string b64 = Base64Encode(bytes);
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 64) {
    if (i > 0) out.push_back('\n');
    out.append(b64, i, 64);
  }
  return out;
}

bool ValidRegion(const std::string& region) {
  if (region.empty() || region.size() > 64 || region.front() == '-') return false;
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// nullopt when the file does not exist.
absl::StatusOr<std::optional<std::string>> ReadIfExists(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Errno("open", path);
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status st = Errno("read", path);
      close(fd);
      return st;
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > kMaxFile) {
      close(fd);
      return absl::FailedPreconditionError(fmt::format("'{}' is too large", path));
    }
  }
  close(fd);
  return std::optional<std::string>(std::move(out));
}

absl::Status FsyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir);
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return Errno("fsync", dir);
  return absl::OkStatus();
}

// Writes a temporary file, fsyncs it and links it to path; link(2), unlike rename(2), never
// replaces what another process put there first. AlreadyExists when path exists.
absl::Status WriteNew(const std::string& dir, const std::string& path, std::string_view content,
                      mode_t mode) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkstemp(tmp.data());  // 0600 until fchmod
  if (fd < 0) return Errno("create a temporary file for", path);
  auto fail = [&](std::string_view what) {
    absl::Status st = Errno(what, tmp);
    close(fd);
    unlink(tmp.c_str());
    return st;
  };
  for (size_t done = 0; done < content.size();) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += size_t(n);
  }
  if (fchmod(fd, mode) != 0) return fail("chmod");
  if (fsync(fd) != 0) return fail("fsync");
  if (close(fd) != 0) {
    absl::Status st = Errno("close", tmp);
    unlink(tmp.c_str());
    return st;
  }
  int rc = link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  unlink(tmp.c_str());
  if (rc != 0) {
    if (link_errno == EEXIST) return absl::AlreadyExistsError(path);
    errno = link_errno;
    return Errno("link", path);
  }
  return FsyncDir(dir);
}

// Creates path with content unless it exists; either way returns what path now holds.
absl::StatusOr<std::string> CreateOrRead(const std::string& dir, const std::string& path,
                                         std::string content, mode_t mode) {
  absl::Status st = WriteNew(dir, path, content, mode);
  if (st.ok()) return content;
  if (!absl::IsAlreadyExists(st)) return st;
  ASSIGN_OR_RETURN(std::optional<std::string> existing, ReadIfExists(path));
  if (!existing) return absl::InternalError(fmt::format("'{}' vanished while loading", path));
  return std::move(*existing);
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted.
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslFailure("encode the identity key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, size_t(n));
  OPENSSL_cleanse(data, size_t(n));
  return out;
}

absl::StatusOr<Pkey> ParseKey(const std::string& pem, const std::string& path) {
  Bio bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return absl::FailedPreconditionError(fmt::format("'{}' is not an RSA private key", path));
  }
  return key;
}

absl::StatusOr<std::string> NewCertificatePem(EVP_PKEY* key, const std::string& region) {
  Cert cert(X509_new());
  if (!cert) return OpenSslFailure("allocate a certificate");
  // A random positive 127-bit serial, so certificates of recreated keys never collide.
  std::string serial = RandomBytes(16);
  serial[0] = char(uint8_t(serial[0]) & 0x7f);
  Bn bn(BN_bin2bn(U(serial.data()), int(serial.size()), nullptr));
  Name name(X509_NAME_new());
  std::string cn = "Kumo instance identity " + region;
  if (!bn || !name || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidityDays, 0, nullptr) == nullptr ||
      X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC, U("Kumo"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, U(cn.c_str()), -1, -1, 0) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), name.get()) != 1 || X509_set_pubkey(cert.get(), key) != 1 ||
      X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return OpenSslFailure("build the identity certificate");
  }
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
    return OpenSslFailure("encode the identity certificate");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size_t(n));
}

absl::StatusOr<Cert> ParseCertificate(const std::string& pem, const std::string& path) {
  Bio bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  Cert cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return absl::FailedPreconditionError(fmt::format("'{}' is not a certificate", path));
  return cert;
}

}  // namespace

struct IdentitySigner::State {
  std::string region;
  Pkey key;
  Cert cert;
  std::string cert_pem;
};

absl::StatusOr<IdentitySigner> IdentitySigner::LoadOrCreate(const std::string& dir,
                                                            const std::string& region) {
  if (!ValidRegion(region)) {
    return absl::InvalidArgumentError(fmt::format("Bad region name '{}'", region));
  }
  std::string key_path = fmt::format("{}/identity-{}.key", dir, region);
  std::string cert_path = fmt::format("{}/identity-{}.pem", dir, region);
  auto state = std::make_shared<State>();
  state->region = region;

  auto load = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<std::string> key_pem, ReadIfExists(key_path));
    if (!key_pem) {
      Pkey fresh(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{kRsaBits}));
      if (!fresh) return OpenSslFailure("generate the identity key");
      ASSIGN_OR_RETURN(std::string pem, KeyPem(fresh.get()));
      auto stored = CreateOrRead(dir, key_path, pem, 0600);
      OPENSSL_cleanse(pem.data(), pem.size());
      if (!stored.ok()) return stored.status();
      key_pem = std::move(*stored);
    }
    auto key = ParseKey(*key_pem, key_path);
    OPENSSL_cleanse(key_pem->data(), key_pem->size());
    if (!key.ok()) return key.status();
    state->key = std::move(*key);

    ASSIGN_OR_RETURN(std::optional<std::string> cert_pem, ReadIfExists(cert_path));
    if (!cert_pem) {
      // Also the path after a crash between the two files: the surviving key gets its
      // certificate now.
      ASSIGN_OR_RETURN(std::string pem, NewCertificatePem(state->key.get(), region));
      ASSIGN_OR_RETURN(cert_pem, CreateOrRead(dir, cert_path, std::move(pem), 0644));
    }
    ASSIGN_OR_RETURN(state->cert, ParseCertificate(*cert_pem, cert_path));
    if (X509_check_private_key(state->cert.get(), state->key.get()) != 1) {
      return absl::FailedPreconditionError(
          fmt::format("'{}' does not certify the key in '{}'", cert_path, key_path));
    }
    state->cert_pem = std::move(*cert_pem);
    return absl::OkStatus();
  };
  absl::Status st = load();
  ERR_clear_error();
  if (!st.ok()) return st;
  return IdentitySigner(std::move(state));
}

absl::StatusOr<std::string> IdentitySigner::SignatureBase64(std::string_view doc) const {
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  std::string sig;
  bool ok = ctx &&
            EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, state_->key.get(),
                                  nullptr) == 1 &&
            EVP_DigestSign(ctx.get(), nullptr, &len, U(doc.data()), doc.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                        U(doc.data()), doc.size()) == 1;
    sig.resize(len);
  }
  ERR_clear_error();
  if (!ok) return OpenSslFailure("sign the identity document");
  return WrappedBase64(sig);
}

absl::StatusOr<std::string> IdentitySigner::Pkcs7Base64(std::string_view doc) const {
  if (doc.size() > size_t(INT_MAX)) return absl::InvalidArgumentError("Document too large");
  // BINARY: the document's bytes are signed as they are, not turned into CRLF text first, which
  // is what `openssl smime -verify -content document` (EC2's documented check) digests.
  const int flags = PKCS7_BINARY | PKCS7_DETACHED | PKCS7_NOCERTS | PKCS7_PARTIAL;
  Bio in(BIO_new_mem_buf(doc.data(), int(doc.size())));
  Pkcs7 p7(PKCS7_sign(nullptr, nullptr, nullptr, nullptr, flags));
  std::string der;
  bool ok = in && p7 &&
            PKCS7_sign_add_signer(p7.get(), state_->cert.get(), state_->key.get(), EVP_sha256(),
                                  flags) != nullptr &&
            PKCS7_final(p7.get(), in.get(), flags) == 1;
  if (ok) {
    int n = i2d_PKCS7(p7.get(), nullptr);
    ok = n > 0;
    if (ok) {
      der.resize(size_t(n));
      unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
      ok = i2d_PKCS7(p7.get(), &p) == n;
    }
  }
  ERR_clear_error();
  if (!ok) return OpenSslFailure("build the identity PKCS#7");
  return WrappedBase64(der);
}

const std::string& IdentitySigner::CertificatePem() const { return state_->cert_pem; }
const std::string& IdentitySigner::region() const { return state_->region; }

}  // namespace kumo::crypto
