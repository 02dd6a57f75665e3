#include "crypto/identity.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "common/encoding.h"
#include "crypto/ossl_ptr.h"

namespace kumo::crypto {
namespace {

namespace fs = std::filesystem;

// Pretty-printed as EC2 prints it, newlines included: the signature must cover them as they are.
constexpr std::string_view kDoc =
    "{\n  \"accountId\" : \"123456789012\",\n  \"region\" : \"eu-west-1\"\n}";

using Cert = OsslPtr<X509, X509_free>;
using Pkey = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using Bio = OsslPtr<BIO, BIO_free_all>;
using MdCtx = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using Pkcs7 = OsslPtr<PKCS7, PKCS7_free>;
using Store = OsslPtr<X509_STORE, X509_STORE_free>;
// The stack does not own the certificates pushed onto it.
void FreeCertStack(STACK_OF(X509) * s) { sk_X509_free(s); }
using CertStack = OsslPtr<STACK_OF(X509), FreeCertStack>;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kumo-identity-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

Cert ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), int(pem.size())));
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string CommonName(X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

bool SignatureVerifies(const std::string& cert_pem, std::string_view doc,
                       const std::string& sig_b64) {
  Cert cert = ParseCert(cert_pem);
  if (!cert) return false;
  auto sig = Base64Decode(sig_b64);
  if (!sig) return false;
  Pkey pub(X509_get_pubkey(cert.get()));
  MdCtx ctx(EVP_MD_CTX_new());
  bool ok =
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pub.get(), nullptr) ==
          1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(doc.data()), doc.size()) == 1;
  ERR_clear_error();
  return ok;
}

// trust: verify the signer's chain against the certificate as the only trust anchor; otherwise
// only the signature (PKCS7_NOVERIFY), as `openssl smime -verify -noverify` does.
bool Pkcs7Verifies(const std::string& cert_pem, std::string_view doc, const std::string& p7_b64,
                   bool trust) {
  Cert cert = ParseCert(cert_pem);
  auto der = Base64Decode(p7_b64);
  if (!cert || !der) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  Pkcs7 p7(d2i_PKCS7(nullptr, &p, long(der->size())));
  if (!p7) return false;
  Store store(X509_STORE_new());
  CertStack certs(sk_X509_new_null());
  sk_X509_push(certs.get(), cert.get());
  X509_STORE_add_cert(store.get(), cert.get());
  Bio content(BIO_new_mem_buf(doc.data(), int(doc.size())));
  int flags = PKCS7_BINARY | (trust ? 0 : PKCS7_NOVERIFY);
  bool ok = PKCS7_verify(p7.get(), certs.get(), store.get(), content.get(), nullptr, flags) == 1;
  ERR_clear_error();
  return ok;
}

TEST(IdentitySignerTest, CreatesKeyAndCertificate) {
  TempDir dir;
  auto signer = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(signer->region(), "eu-west-1");
  std::string key_path = dir.path() + "/identity-eu-west-1.key";
  std::string cert_path = dir.path() + "/identity-eu-west-1.pem";
  struct stat st;
  ASSERT_EQ(stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_NE(ReadAll(key_path).find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(ReadAll(cert_path), signer->CertificatePem());
  // Nothing temporary left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 2);

  Cert cert = ParseCert(signer->CertificatePem());
  ASSERT_TRUE(cert);
  EXPECT_EQ(CommonName(cert.get()), "Kumo instance identity eu-west-1");
  Pkey pub(X509_get_pubkey(cert.get()));
  EXPECT_EQ(EVP_PKEY_get_base_id(pub.get()), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(pub.get()), 2048);
  // Ten years, give or take leap days.
  int days = 0, secs = 0;
  ASSERT_EQ(
      ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())),
      1);
  EXPECT_EQ(days, 3650);
}

TEST(IdentitySignerTest, ReloadKeepsTheCertificate) {
  TempDir dir;
  auto first = IdentitySigner::LoadOrCreate(dir.path(), "us-east-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto sig = first->SignatureBase64(kDoc);
  ASSERT_TRUE(sig.ok()) << sig.status();

  auto again = IdentitySigner::LoadOrCreate(dir.path(), "us-east-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->CertificatePem(), first->CertificatePem());
  // The reloaded key is the same key: an old signature checks against the new certificate.
  EXPECT_TRUE(SignatureVerifies(again->CertificatePem(), kDoc, *sig));

  auto other = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->CertificatePem(), first->CertificatePem());
  EXPECT_FALSE(SignatureVerifies(other->CertificatePem(), kDoc, *sig));
}

TEST(IdentitySignerTest, SignatureVerifiesWithTheCertificate) {
  TempDir dir;
  auto signer = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto sig = signer->SignatureBase64(kDoc);
  ASSERT_TRUE(sig.ok()) << sig.status();
  for (size_t i = 0; i < sig->size(); i += 65) {
    EXPECT_LE(sig->find('\n', i) == std::string::npos ? sig->size() - i : sig->find('\n', i) - i,
              64u);
  }
  EXPECT_NE(sig->back(), '\n');
  EXPECT_EQ(Base64Decode(*sig)->size(), 256u);
  EXPECT_TRUE(SignatureVerifies(signer->CertificatePem(), kDoc, *sig));

  std::string tampered(kDoc);
  tampered[tampered.find("eu-west-1")] = 'E';
  EXPECT_FALSE(SignatureVerifies(signer->CertificatePem(), tampered, *sig));
  // Newlines are signed as they are (no CRLF canonicalization).
  std::string crlf;
  for (char c : kDoc) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_FALSE(SignatureVerifies(signer->CertificatePem(), crlf, *sig));
}

TEST(IdentitySignerTest, Pkcs7VerifiesDetachedOverTheDocument) {
  TempDir dir;
  auto signer = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto p7 = signer->Pkcs7Base64(kDoc);
  ASSERT_TRUE(p7.ok()) << p7.status();
  EXPECT_EQ(p7->find("-----"), std::string::npos);
  EXPECT_NE(p7->back(), '\n');
  EXPECT_TRUE(Pkcs7Verifies(signer->CertificatePem(), kDoc, *p7, /*trust=*/false));
  EXPECT_TRUE(Pkcs7Verifies(signer->CertificatePem(), kDoc, *p7, /*trust=*/true));

  std::string tampered(kDoc);
  tampered.back() = ']';
  EXPECT_FALSE(Pkcs7Verifies(signer->CertificatePem(), tampered, *p7, false));
  auto other = IdentitySigner::LoadOrCreate(dir.path(), "eu-central-1");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(Pkcs7Verifies(other->CertificatePem(), kDoc, *p7, true));
}

// EC2's documented check, with the openssl CLI, when there is one.
TEST(IdentitySignerTest, Pkcs7VerifiesWithOpensslSmime) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  TempDir dir;
  auto signer = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto p7 = signer->Pkcs7Base64(kDoc);
  ASSERT_TRUE(p7.ok()) << p7.status();
  WriteAll(dir.path() + "/document", kDoc);
  WriteAll(dir.path() + "/cert.pem", signer->CertificatePem());
  // As the AWS docs assemble it: BEGIN line, the body, an added newline, END line.
  WriteAll(dir.path() + "/pkcs7", "-----BEGIN PKCS7-----\n" + *p7 + "\n-----END PKCS7-----\n");
  std::string cmd = "cd '" + dir.path() +
                    "' && openssl smime -verify -in pkcs7 -inform PEM -content document "
                    "-certfile cert.pem -noverify >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  WriteAll(dir.path() + "/document", std::string(kDoc) + " ");
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

TEST(IdentitySignerTest, KeyWithoutCertificateGetsOne) {
  TempDir dir;
  auto first = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto sig = first->SignatureBase64(kDoc);
  ASSERT_TRUE(sig.ok());
  // What a crash between writing the key and the certificate leaves.
  fs::remove(dir.path() + "/identity-eu-west-1.pem");
  auto again = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(SignatureVerifies(again->CertificatePem(), kDoc, *sig));
}

TEST(IdentitySignerTest, RejectsMismatchedOrBrokenFiles) {
  TempDir dir;
  ASSERT_TRUE(IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1").ok());
  ASSERT_TRUE(IdentitySigner::LoadOrCreate(dir.path(), "us-east-1").ok());
  fs::copy_file(dir.path() + "/identity-us-east-1.pem", dir.path() + "/identity-eu-west-1.pem",
                fs::copy_options::overwrite_existing);
  auto mismatched = IdentitySigner::LoadOrCreate(dir.path(), "eu-west-1");
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kFailedPrecondition);

  WriteAll(dir.path() + "/identity-us-east-1.key", "not a key");
  auto broken = IdentitySigner::LoadOrCreate(dir.path(), "us-east-1");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IdentitySignerTest, RejectsRegionsThatAreNotNames) {
  TempDir dir;
  for (const char* bad : {"", "../etc", "eu/west", "EU-WEST-1", "-x"}) {
    EXPECT_EQ(IdentitySigner::LoadOrCreate(dir.path(), bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_FALSE(IdentitySigner::LoadOrCreate(dir.path() + "/missing", "eu-west-1").ok());
}

}  // namespace
}  // namespace kumo::crypto
