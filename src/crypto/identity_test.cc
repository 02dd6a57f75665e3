#include "crypto/identity.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "absl/strings/str_replace.h"
#include "common/encoding.h"
#include "common/files.h"

namespace kumo::crypto {
namespace {

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kumo-identity-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)RemoveTree(dir_); }
  std::string dir_;
};

X509* Cert(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), int(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return x;
}

TEST_F(IdentityTest, StableKeyAndVerifiableSignatures) {
  auto a = IdentitySigner::LoadOrCreate(dir_, "eu-west-1");
  ASSERT_TRUE(a.ok()) << a.status();
  auto again = IdentitySigner::LoadOrCreate(dir_, "eu-west-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(a->CertificatePem(), again->CertificatePem());
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/identity-eu-west-1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto other = IdentitySigner::LoadOrCreate(dir_, "us-east-1");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->CertificatePem(), a->CertificatePem());
  EXPECT_FALSE(IdentitySigner::LoadOrCreate(dir_, "../etc").ok());

  const std::string doc = "{\n  \"instanceId\" : \"i-1\"\n}";
  X509* cert = Cert(a->CertificatePem());
  ASSERT_NE(cert, nullptr);
  EVP_PKEY* pub = X509_get0_pubkey(cert);

  auto sig = a->SignatureBase64(doc);
  ASSERT_TRUE(sig.ok());
  auto raw = Base64Decode(absl::StrReplaceAll(*sig, {{"\n", ""}}));
  ASSERT_TRUE(raw.has_value());
  auto verify = [&](const std::string& data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pub);
    int ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(raw->data()), raw->size(),
                              reinterpret_cast<const unsigned char*>(data.data()), data.size());
    EVP_MD_CTX_free(ctx);
    return ok == 1;
  };
  EXPECT_TRUE(verify(doc));
  EXPECT_FALSE(verify(doc + " "));

  auto p7b64 = a->Pkcs7Base64(doc);
  ASSERT_TRUE(p7b64.ok());
  auto der = Base64Decode(absl::StrReplaceAll(*p7b64, {{"\n", ""}}));
  ASSERT_TRUE(der.has_value());
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  PKCS7* p7 = d2i_PKCS7(nullptr, &p, long(der->size()));
  ASSERT_NE(p7, nullptr);
  STACK_OF(X509)* certs = sk_X509_new_null();
  sk_X509_push(certs, cert);
  auto p7verify = [&](const std::string& data) {
    BIO* in = BIO_new_mem_buf(data.data(), int(data.size()));
    int ok = PKCS7_verify(p7, certs, nullptr, in, nullptr, PKCS7_NOVERIFY | PKCS7_BINARY);
    BIO_free(in);
    return ok == 1;
  };
  EXPECT_TRUE(p7verify(doc));
  EXPECT_FALSE(p7verify(doc + "x"));
  sk_X509_free(certs);
  PKCS7_free(p7);
  X509_free(cert);
}

}  // namespace
}  // namespace kumo::crypto
