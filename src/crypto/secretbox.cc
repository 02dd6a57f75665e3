#include "crypto/secretbox.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/encoding.h"
#include "common/hash.h"

namespace kumo::crypto {
namespace {

constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
constexpr std::string_view kPrefix = "v1:";

template <typename T>
unsigned char* u(T* p) {
  return reinterpret_cast<unsigned char*>(const_cast<std::remove_const_t<T>*>(p));
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

absl::Status ReadAll(int fd, std::string* out) {
  char buf[256];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("Failed to read key file: ", strerror(errno)));
    }
    if (n == 0) return absl::OkStatus();
    out->append(buf, size_t(n));
  }
}

}  // namespace

absl::StatusOr<SecretBox> SecretBox::FromKeyFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // O_EXCL makes concurrent first starts (kumod and kumo at once) agree on one key.
    std::string key = RandomBytes(kKeySize);
    int wfd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd >= 0) {
      bool ok = write(wfd, key.data(), key.size()) == ssize_t(key.size()) && fsync(wfd) == 0;
      close(wfd);
      if (!ok) return absl::InternalError(absl::StrCat("Failed to write key file ", path));
      return SecretBox(std::move(key));
    }
    if (errno != EEXIST) {
      return absl::InternalError(
          absl::StrCat("Failed to create key file ", path, ": ", strerror(errno)));
    }
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("Failed to open key file ", path, ": ", strerror(errno)));
  }
  std::string key;
  absl::Status st = ReadAll(fd, &key);
  close(fd);
  if (!st.ok()) return st;
  return FromKey(std::move(key));
}

absl::StatusOr<SecretBox> SecretBox::FromKey(std::string key) {
  if (key.size() != kKeySize) {
    return absl::FailedPreconditionError(
        absl::StrCat("Secret key must be ", kKeySize, " bytes, got ", key.size()));
  }
  return SecretBox(std::move(key));
}

std::string SecretBox::Seal(std::string_view plaintext) const {
  std::string nonce = RandomBytes(kNonce);
  std::string out = nonce;
  out.resize(kNonce + plaintext.size() + kTag);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key_.data()), u(nonce.data())) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), u(out.data() + kNonce), &len, u(plaintext.data()),
                        int(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), u(out.data() + kNonce + len), &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                          out.data() + kNonce + plaintext.size()) != 1) {
    std::abort();  // only fails on allocation failure or a broken OpenSSL
  }
  return std::string(kPrefix) + Base64Encode(out);
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view sealed) const {
  if (sealed.substr(0, kPrefix.size()) != kPrefix) {
    return absl::DataLossError("Sealed secret has an unknown format");
  }
  auto raw = Base64Decode(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonce + kTag) return absl::DataLossError("Sealed secret is corrupt");
  size_t ct_len = raw->size() - kNonce - kTag;
  std::string out(ct_len, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key_.data()), u(raw->data())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), u(out.data()), &len, u(raw->data() + kNonce), int(ct_len)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, raw->data() + kNonce + ct_len) !=
          1 ||
      EVP_DecryptFinal_ex(ctx.get(), u(out.data() + len), &fin) != 1) {
    return absl::DataLossError("Sealed secret failed authentication (wrong key file?)");
  }
  return out;
}

}  // namespace kumo::crypto
