#include "crypto/keypair.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"

namespace kumo::crypto {
namespace {

// --- Helpers: shell tools, files, SSH wire encoding written independently of keypair.cc ---

struct CmdResult {
  int status;
  std::string out;
};

CmdResult Shell(const std::string& cmd) {
  CmdResult r{-1, ""};
  FILE* f = popen(("(" + cmd + ") 2>/dev/null").c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  int st = pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool HaveTool(const std::string& name) {
  return Shell("command -v " + name + " >/dev/null").status == 0;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// "SHA1(stdin)= aa:bb:…" → "aa:bb:…"
std::string DigestOutput(const std::string& out) {
  size_t eq = out.rfind("= ");
  return eq == std::string::npos ? "" : Trimmed(out.substr(eq + 2));
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kumo-keypair-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  chmod(path.c_str(), 0600);  // ssh-keygen refuses group/world-readable private keys
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Field(const std::string& line, int index) {
  std::istringstream in(line);
  std::string word;
  for (int i = 0; i <= index; ++i) {
    if (!(in >> word)) return "";
  }
  return word;
}

std::string BlobOf(const std::string& openssh_line) {
  return Base64Decode(Field(openssh_line, 1)).value_or("");
}

std::string U32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }
std::string Str(const std::string& s) { return U32(uint32_t(s.size())) + s; }
std::string Mpint(const BIGNUM* bn) {
  std::string mag(size_t(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(mag.data()));
  if (!mag.empty() && (uint8_t(mag[0]) & 0x80)) mag.insert(mag.begin(), '\0');
  return Str(mag);
}

std::string PemBody(const std::string& pem) {
  std::istringstream in(pem);
  std::string line, body;
  while (std::getline(in, line)) {
    if (line.rfind("-----", 0) != 0) body += line + "\n";
  }
  return body;
}

std::string Sha1OfPkcs8(EVP_PKEY* key) {
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(key);
  unsigned char* der = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  std::string out = HexColons(Sha1(std::string(reinterpret_cast<char*>(der), size_t(len))));
  OPENSSL_free(der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  return out;
}

std::string Md5OfSpki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  std::string out = HexColons(Md5(std::string(reinterpret_cast<char*>(der), size_t(len))));
  OPENSSL_free(der);
  return out;
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using TestKey = std::unique_ptr<EVP_PKEY, PkeyFree>;

TestKey ReadPrivatePem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  TestKey key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

TestKey ReadPublicPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  TestKey key(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

std::string TakeBio(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, size_t(len));
  BIO_free(bio);
  return out;
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  return TakeBio(bio);
}

std::string Pkcs8Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  return TakeBio(bio);
}

void ExpectInvalidKey(std::string_view material, const std::string& what) {
  auto r = ImportPublicKey(material);
  ASSERT_FALSE(r.ok()) << what << " was accepted as " << r->public_openssh;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << what;
  EXPECT_EQ(r.status().message(), "Key is not in valid OpenSSH public key format") << what;
  EXPECT_EQ(Ec2CodeOf(r.status()), "InvalidKey.Format") << what;
}

struct Ppk {
  std::map<std::string, std::string> headers;
  std::string pub, priv;  // decoded blobs
};

Ppk ParsePpk(const std::string& text) {
  Ppk ppk;
  std::istringstream in(text);
  std::string line, pub64, priv64;
  while (std::getline(in, line)) {
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon), value = line.substr(colon + 2);
    ppk.headers[key] = value;
    std::string* dest = key == "Public-Lines" ? &pub64 : key == "Private-Lines" ? &priv64 : nullptr;
    if (dest == nullptr) continue;
    for (int i = std::stoi(value); i > 0 && std::getline(in, line); --i) *dest += line;
  }
  ppk.pub = Base64Decode(pub64).value_or("");
  ppk.priv = Base64Decode(priv64).value_or("");
  return ppk;
}

void ExpectPpkMacValid(const Ppk& ppk) {
  std::string alg = ppk.headers.at("PuTTY-User-Key-File-2");
  std::string data = Str(alg) + Str(ppk.headers.at("Encryption")) + Str(ppk.headers.at("Comment")) +
                     Str(ppk.pub) + Str(ppk.priv);
  EXPECT_EQ(ppk.headers.at("Private-MAC"),
            HexEncode(HmacSha1(Sha1("putty-private-key-file-mac-key"), data)));
}

// Reads SSH mpints for the test's own consistency checks.
BIGNUM* TakeMpint(std::string* blob) {
  uint32_t len = (uint32_t(uint8_t((*blob)[0])) << 24) | (uint32_t(uint8_t((*blob)[1])) << 16) |
                 (uint32_t(uint8_t((*blob)[2])) << 8) | uint32_t(uint8_t((*blob)[3]));
  BIGNUM* bn =
      BN_bin2bn(reinterpret_cast<const unsigned char*>(blob->data() + 4), int(len), nullptr);
  blob->erase(0, 4 + len);
  return bn;
}

// --- Generation ---

TEST(KeyPairTest, KeyTypeNames) {
  EXPECT_EQ(KeyTypeName(KeyType::kRsa), "rsa");
  EXPECT_EQ(KeyTypeName(KeyType::kEd25519), "ed25519");
  EXPECT_EQ(KeyTypeName(KeyType::kEcdsa), "ecdsa");
}

TEST(KeyPairTest, RsaPem) {
  auto g = GenerateKeyPair(KeyType::kRsa, KeyFormat::kPem, "my-key");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->type, KeyType::kRsa);
  EXPECT_EQ(g->private_key.rfind("-----BEGIN RSA PRIVATE KEY-----\n", 0), 0u);
  EXPECT_TRUE(g->private_key.ends_with("-----END RSA PRIVATE KEY-----\n"));
  EXPECT_EQ(g->public_openssh.rfind("ssh-rsa AAAAB3NzaC1yc2E", 0), 0u);
  EXPECT_TRUE(g->public_openssh.ends_with(" my-key"));
  EXPECT_EQ(g->fingerprint.size(), 59u);  // 20 bytes as hex pairs with colons

  TestKey key = ReadPrivatePem(g->private_key);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 2048);
  EXPECT_EQ(g->fingerprint, Sha1OfPkcs8(key.get()));
  // Reimporting the public half gives EC2's import fingerprint (MD5), not the create one.
  auto imported = ImportPublicKey(g->public_openssh);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->fingerprint, Md5OfSpki(key.get()));
  EXPECT_EQ(imported->public_openssh, g->public_openssh);

  TempDir dir;
  WriteFile(dir.File("k.pem"), g->private_key);
  if (HaveTool("openssl")) {
    // The commands from EC2's "Verify the fingerprint of your key pair".
    EXPECT_EQ(DigestOutput(Shell("openssl pkcs8 -in " + dir.File("k.pem") +
                                 " -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c")
                               .out),
              g->fingerprint);
    EXPECT_EQ(DigestOutput(Shell("openssl rsa -in " + dir.File("k.pem") +
                                 " -pubout -outform DER | openssl md5 -c")
                               .out),
              imported->fingerprint);
  }
  if (HaveTool("ssh-keygen")) {
    CmdResult r = Shell("ssh-keygen -y -f " + dir.File("k.pem"));
    ASSERT_EQ(r.status, 0);
    EXPECT_EQ(BlobOf(r.out), BlobOf(g->public_openssh));
  }
}

TEST(KeyPairTest, Ed25519Pem) {
  auto g = GenerateKeyPair(KeyType::kEd25519, KeyFormat::kPem, "my-ed-key");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->type, KeyType::kEd25519);
  EXPECT_EQ(g->private_key.rfind("-----BEGIN OPENSSH PRIVATE KEY-----\n", 0), 0u);
  EXPECT_TRUE(g->private_key.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
  EXPECT_EQ(g->public_openssh.rfind("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", 0), 0u);
  EXPECT_TRUE(g->public_openssh.ends_with(" my-ed-key"));
  // base64 of 32 bytes keeps one '=' of padding, as EC2 shows it.
  ASSERT_EQ(g->fingerprint.size(), 44u);
  EXPECT_EQ(g->fingerprint.back(), '=');
  EXPECT_EQ(g->fingerprint, Base64Encode(Sha256(BlobOf(g->public_openssh))));
  // EC2: created and imported ed25519 keys share one fingerprint.
  auto imported = ImportPublicKey(g->public_openssh);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->fingerprint, g->fingerprint);

  // The body is OpenSSH's format, unencrypted.
  auto body = Base64Decode(PemBody(g->private_key));
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->substr(0, 15), std::string("openssh-key-v1\0", 15));
  EXPECT_EQ(body->substr(15, 16), Str("none") + Str("none"));

  if (!HaveTool("ssh-keygen")) GTEST_SKIP() << "ssh-keygen not installed";
  TempDir dir;
  WriteFile(dir.File("k"), g->private_key);
  WriteFile(dir.File("k.pub"), g->public_openssh + "\n");
  CmdResult y = Shell("ssh-keygen -y -f " + dir.File("k"));
  ASSERT_EQ(y.status, 0) << "ssh-keygen could not load the private key";
  EXPECT_EQ(Trimmed(y.out), g->public_openssh);
  CmdResult l = Shell("ssh-keygen -l -E sha256 -f " + dir.File("k"));
  ASSERT_EQ(l.status, 0);
  // ssh-keygen drops the padding; EC2 keeps it.
  std::string fp = g->fingerprint;
  fp.pop_back();
  EXPECT_EQ(Field(l.out, 1), "SHA256:" + fp);
  // A signature made with the private half verifies with the public half.
  WriteFile(dir.File("msg"), "hello");
  ASSERT_EQ(Shell("ssh-keygen -Y sign -f " + dir.File("k") + " -n file " + dir.File("msg")).status,
            0);
  EXPECT_EQ(Shell("ssh-keygen -Y check-novalidate -n file -f " + dir.File("k.pub") + " -s " +
                  dir.File("msg.sig") + " < " + dir.File("msg"))
                .status,
            0);
}

TEST(KeyPairTest, RsaPpk) {
  auto g = GenerateKeyPair(KeyType::kRsa, KeyFormat::kPpk, "putty-key");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->private_key.rfind("PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\n"
                                 "Comment: putty-key\nPublic-Lines: ",
                                 0),
            0u);
  Ppk ppk = ParsePpk(g->private_key);
  EXPECT_EQ(ppk.pub, BlobOf(g->public_openssh));
  ExpectPpkMacValid(ppk);

  // d, p, q, iqmp must belong to the public n, e.
  std::string pub = ppk.pub.substr(4 + 7), priv = ppk.priv;
  BIGNUM *e = TakeMpint(&pub), *n = TakeMpint(&pub);
  BIGNUM *d = TakeMpint(&priv), *p = TakeMpint(&priv), *q = TakeMpint(&priv);
  BIGNUM* iqmp = TakeMpint(&priv);
  EXPECT_TRUE(priv.empty());
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM *t = BN_new(), *pm1 = BN_dup(p);
  BN_mul(t, p, q, ctx);
  EXPECT_EQ(BN_cmp(t, n), 0);
  BN_mod_mul(t, iqmp, q, p, ctx);
  EXPECT_TRUE(BN_is_one(t));
  BN_sub_word(pm1, 1);
  BN_mod_mul(t, d, e, pm1, ctx);
  EXPECT_TRUE(BN_is_one(t));
  for (BIGNUM* b : {e, n, d, p, q, iqmp, t, pm1}) BN_free(b);
  BN_CTX_free(ctx);

  if (!HaveTool("puttygen")) GTEST_SKIP() << "puttygen not installed";
  TempDir dir;
  WriteFile(dir.File("k.ppk"), g->private_key);
  ASSERT_EQ(
      Shell("puttygen " + dir.File("k.ppk") + " -O public-openssh -o " + dir.File("k.pub")).status,
      0);
  EXPECT_EQ(BlobOf(ReadFile(dir.File("k.pub"))), BlobOf(g->public_openssh));
  ASSERT_EQ(
      Shell("puttygen " + dir.File("k.ppk") + " -O private-openssh -o " + dir.File("k.pem")).status,
      0);
  TestKey key = ReadPrivatePem(ReadFile(dir.File("k.pem")));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(Sha1OfPkcs8(key.get()), g->fingerprint);
}

TEST(KeyPairTest, Ed25519Ppk) {
  auto g = GenerateKeyPair(KeyType::kEd25519, KeyFormat::kPpk, "putty-ed");
  ASSERT_TRUE(g.ok()) << g.status();
  Ppk ppk = ParsePpk(g->private_key);
  EXPECT_EQ(ppk.headers["PuTTY-User-Key-File-2"], "ssh-ed25519");
  EXPECT_EQ(ppk.headers["Comment"], "putty-ed");
  EXPECT_EQ(ppk.pub, BlobOf(g->public_openssh));
  EXPECT_EQ(ppk.priv.size(), 4u + 32u);
  ExpectPpkMacValid(ppk);
  // The 32-byte private key derives the public key.
  TestKey key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(ppk.priv.data() + 4), 32));
  ASSERT_NE(key, nullptr);
  unsigned char pk[32];
  size_t len = sizeof pk;
  EVP_PKEY_get_raw_public_key(key.get(), pk, &len);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(pk), len), ppk.pub.substr(ppk.pub.size() - 32));

  if (!HaveTool("puttygen")) GTEST_SKIP() << "puttygen not installed";
  TempDir dir;
  WriteFile(dir.File("k.ppk"), g->private_key);
  CmdResult r = Shell("puttygen " + dir.File("k.ppk") + " -O public-openssh");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(BlobOf(r.out), BlobOf(g->public_openssh));
  ASSERT_EQ(
      Shell("puttygen " + dir.File("k.ppk") + " -O private-openssh -o " + dir.File("k")).status, 0);
  if (!HaveTool("ssh-keygen")) return;
  chmod(dir.File("k").c_str(), 0600);
  CmdResult l = Shell("ssh-keygen -l -E sha256 -f " + dir.File("k"));
  ASSERT_EQ(l.status, 0);
  EXPECT_EQ(Field(l.out, 1) + "=", "SHA256:" + g->fingerprint);
}

TEST(KeyPairTest, GenerateRejects) {
  EXPECT_EQ(GenerateKeyPair(KeyType::kEcdsa, KeyFormat::kPem, "k").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateKeyPair(KeyType::kRsa, KeyFormat::kPem, "a\nb").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto empty = GenerateKeyPair(KeyType::kEd25519, KeyFormat::kPem, "");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Field(empty->public_openssh, 2), "");  // no dangling comment
  EXPECT_FALSE(empty->public_openssh.ends_with(" "));
}

// --- Import ---

class ImportTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTool("ssh-keygen")) GTEST_SKIP() << "ssh-keygen not installed";
  }
  // Returns the .pub line.
  std::string Keygen(const std::string& name, const std::string& args) {
    std::string path = dir_.File(name);
    EXPECT_EQ(Shell("ssh-keygen -q " + args + " -N '' -C " + name + "@example -f " + path).status,
              0);
    return ReadFile(path + ".pub");
  }
  std::string Export(const std::string& name, const std::string& format) {
    return Shell("ssh-keygen -e -m " + format + " -f " + dir_.File(name) + ".pub").out;
  }
  void ExpectImports(const std::string& material, KeyType type, const std::string& blob,
                     const std::string& fingerprint, const std::string& what) {
    auto r = ImportPublicKey(material);
    ASSERT_TRUE(r.ok()) << what << ": " << r.status();
    EXPECT_EQ(r->type, type) << what;
    EXPECT_EQ(BlobOf(r->public_openssh), blob) << what;
    EXPECT_EQ(r->fingerprint, fingerprint) << what;
  }
  TempDir dir_;
};

TEST_F(ImportTest, RsaFormats) {
  std::string pub = Keygen("rsa", "-t rsa -b 2048");
  std::string blob = BlobOf(pub);
  std::string pkcs8 = Export("rsa", "PKCS8");
  TestKey key = ReadPublicPem(pkcs8);
  ASSERT_NE(key, nullptr);
  std::string fp = Md5OfSpki(key.get());
  if (HaveTool("openssl")) {
    // EC2's documented command for keys made with OpenSSH 7.8+.
    EXPECT_EQ(DigestOutput(Shell("ssh-keygen -ef " + dir_.File("rsa") +
                                 " -m PEM | openssl rsa -RSAPublicKey_in -outform DER | "
                                 "openssl md5 -c")
                               .out),
              fp);
  }
  auto r = ImportPublicKey(pub);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->public_openssh, Trimmed(pub));
  EXPECT_EQ(r->public_openssh.substr(r->public_openssh.rfind(' ') + 1), "rsa@example");

  ExpectImports(pub, KeyType::kRsa, blob, fp, "openssh");
  ExpectImports("\r\n  ssh-rsa\t" + Field(pub, 1) + " \t a comment \n\n", KeyType::kRsa, blob, fp,
                "openssh with whitespace");
  ExpectImports("ssh-rsa " + Field(pub, 1), KeyType::kRsa, blob, fp, "openssh without comment");
  ExpectImports(Export("rsa", "RFC4716"), KeyType::kRsa, blob, fp, "RFC 4716");
  ExpectImports(pkcs8, KeyType::kRsa, blob, fp, "PEM PUBLIC KEY");
  std::string pkcs1 = Export("rsa", "PEM");
  ASSERT_EQ(pkcs1.rfind("-----BEGIN RSA PUBLIC KEY-----", 0), 0u);
  ExpectImports(pkcs1, KeyType::kRsa, blob, fp, "PEM RSA PUBLIC KEY");
  ExpectImports(PemBody(pkcs8), KeyType::kRsa, blob, fp, "base64 DER");
  ExpectImports(*Base64Decode(PemBody(pkcs8)), KeyType::kRsa, blob, fp, "raw DER");

  auto bare = ImportPublicKey(pkcs8);
  EXPECT_EQ(bare->public_openssh, "ssh-rsa " + Field(pub, 1));
  auto ws = ImportPublicKey("  ssh-rsa " + Field(pub, 1) + "   a  comment \n");
  EXPECT_EQ(ws->public_openssh, "ssh-rsa " + Field(pub, 1) + " a  comment");
}

TEST_F(ImportTest, RsaSizeLimits) {
  std::string pub1024 = Keygen("rsa1024", "-t rsa -b 1024");
  EXPECT_TRUE(ImportPublicKey(pub1024).ok());
  std::string pub4096 = Keygen("rsa4096", "-t rsa -b 4096");
  EXPECT_TRUE(ImportPublicKey(pub4096).ok());

  // Moduli need not be real for the size rule: odd numbers of the given width.
  BIGNUM* e = BN_new();
  BN_set_word(e, 65537);
  for (int bits : {1023, 1024, 16384, 16385}) {
    BIGNUM* n = BN_new();
    BN_set_bit(n, bits - 1);
    BN_set_bit(n, 0);
    std::string line = "ssh-rsa " + Base64Encode(Str("ssh-rsa") + Mpint(e) + Mpint(n));
    bool want_ok = bits == 1024 || bits == 16384;
    EXPECT_EQ(ImportPublicKey(line).ok(), want_ok) << bits;
    BN_free(n);
  }
  BN_free(e);

  // A real 512-bit key, in SSH and SPKI form.
  TestKey small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{512}));
  ASSERT_NE(small, nullptr);
  BIGNUM *n = nullptr, *e2 = nullptr;
  EVP_PKEY_get_bn_param(small.get(), OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(small.get(), OSSL_PKEY_PARAM_RSA_E, &e2);
  ExpectInvalidKey("ssh-rsa " + Base64Encode(Str("ssh-rsa") + Mpint(e2) + Mpint(n)), "512 ssh");
  ExpectInvalidKey(PublicPem(small.get()), "512 PEM");
  BN_free(n);
  BN_free(e2);
}

TEST_F(ImportTest, Ed25519Formats) {
  std::string pub = Keygen("ed", "-t ed25519");
  std::string blob = BlobOf(pub);
  CmdResult l = Shell("ssh-keygen -l -E sha256 -f " + dir_.File("ed.pub"));
  std::string fp = Field(l.out, 1).substr(7) + "=";  // "SHA256:…" plus EC2's padding
  ExpectImports(pub, KeyType::kEd25519, blob, fp, "openssh");
  ExpectImports(Export("ed", "RFC4716"), KeyType::kEd25519, blob, fp, "RFC 4716");

  // RFC 4716 by hand: extra headers, a quoted comment continued over lines, CRLF endings.
  std::string b64 = Field(pub, 1);
  std::string ssh2 =
      "---- BEGIN SSH2 PUBLIC KEY ----\r\nSubject: alice\r\n"
      "Comment: \"a long \\\r\ncomment, continued\"\r\nx-tag: one\\\r\ntwo\r\n" +
      b64.substr(0, 40) + "\r\n" + b64.substr(40) + "\r\n---- END SSH2 PUBLIC KEY ----\r\n";
  auto r = ImportPublicKey(ssh2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->public_openssh, "ssh-ed25519 " + b64 + " a long comment, continued");
  EXPECT_EQ(r->fingerprint, fp);
}

TEST(ImportDocTest, AwsDocumentedEd25519Key) {
  // The public key shown in EC2's "Describe your key pairs" example output. The docs give no
  // fingerprint for it; ssh-keygen -l prints SHA256:mdGGvnd87Q4EfJ5efcpqV9indjop9jLo4snlUxkm9Lc.
  auto r = ImportPublicKey(
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIj7azlDjVHAsSxgcpCRZ3oWnTm0nAFM64y9jd22ioI/ "
      "my-key-pair");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, KeyType::kEd25519);
  EXPECT_EQ(r->fingerprint, "mdGGvnd87Q4EfJ5efcpqV9indjop9jLo4snlUxkm9Lc=");
}

TEST(ImportDocTest, Ed25519Spki) {
  TestKey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(key, nullptr);
  unsigned char pk[32];
  size_t len = sizeof pk;
  EVP_PKEY_get_raw_public_key(key.get(), pk, &len);
  std::string blob = Str("ssh-ed25519") + Str(std::string(reinterpret_cast<char*>(pk), len));
  std::string pem = PublicPem(key.get());
  for (const std::string& material : {pem, PemBody(pem)}) {
    auto r = ImportPublicKey(material);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->type, KeyType::kEd25519);
    EXPECT_EQ(r->public_openssh, "ssh-ed25519 " + Base64Encode(blob));
    EXPECT_EQ(r->fingerprint, Base64Encode(Sha256(blob)));
  }
}

TEST_F(ImportTest, EcdsaFormats) {
  for (int bits : {256, 384, 521}) {
    std::string name = "ec" + std::to_string(bits);
    std::string pub = Keygen(name, "-t ecdsa -b " + std::to_string(bits));
    std::string blob = BlobOf(pub);
    std::string pkcs8 = Export(name, "PKCS8");
    TestKey key = ReadPublicPem(pkcs8);
    ASSERT_NE(key, nullptr) << bits;
    std::string fp = Md5OfSpki(key.get());
    ExpectImports(pub, KeyType::kEcdsa, blob, fp, name + " openssh");
    ExpectImports(Export(name, "RFC4716"), KeyType::kEcdsa, blob, fp, name + " RFC 4716");
    ExpectImports(pkcs8, KeyType::kEcdsa, blob, fp, name + " PEM");
    ExpectImports(PemBody(pkcs8), KeyType::kEcdsa, blob, fp, name + " base64 DER");
    if (HaveTool("openssl")) {
      EXPECT_EQ(DigestOutput(Shell("ssh-keygen -e -m PKCS8 -f " + dir_.File(name) +
                                   ".pub | openssl pkey -pubin -outform DER | openssl md5 -c")
                                 .out),
                fp);
      // Compressed points are normalized to OpenSSH's uncompressed form before hashing.
      WriteFile(dir_.File(name + ".pem"), pkcs8);
      CmdResult c = Shell("openssl ec -pubin -in " + dir_.File(name + ".pem") +
                          " -conv_form compressed -pubout");
      if (c.status == 0) ExpectImports(c.out, KeyType::kEcdsa, blob, fp, name + " compressed");
    }
  }
}

TEST_F(ImportTest, RejectsDsa) {
  ExpectInvalidKey("ssh-dss " + Base64Encode(Str("ssh-dss") + Str("\x01") + Str("\x01") +
                                             Str("\x01") + Str("\x01")),
                   "crafted ssh-dss");
  if (Shell("ssh-keygen -q -t dsa -N '' -f " + dir_.File("dsa")).status != 0) {
    GTEST_SKIP() << "this ssh-keygen cannot make DSA keys";
  }
  std::string pub = ReadFile(dir_.File("dsa.pub"));
  ExpectInvalidKey(pub, "ssh-dss");
  ExpectInvalidKey(Export("dsa", "RFC4716"), "DSA RFC 4716");
  std::string pem = Export("dsa", "PKCS8");
  ExpectInvalidKey(pem, "DSA PEM");
  ExpectInvalidKey(PemBody(pem), "DSA base64 DER");
}

TEST_F(ImportTest, RejectsPrivateKeys) {
  Keygen("priv", "-t ed25519");
  ExpectInvalidKey(ReadFile(dir_.File("priv")), "OpenSSH private key");
  for (KeyType type : {KeyType::kRsa, KeyType::kEd25519}) {
    for (KeyFormat format : {KeyFormat::kPem, KeyFormat::kPpk}) {
      auto g = GenerateKeyPair(type, format, "k");
      ASSERT_TRUE(g.ok());
      ExpectInvalidKey(g->private_key, "generated private key");
      ExpectInvalidKey(PemBody(g->private_key), "private key body");
    }
  }
  auto g = GenerateKeyPair(KeyType::kRsa, KeyFormat::kPem, "k");
  TestKey key = ReadPrivatePem(g->private_key);
  ASSERT_NE(key, nullptr);
  std::string pkcs8 = Pkcs8Pem(key.get());
  ASSERT_EQ(pkcs8.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  ExpectInvalidKey(pkcs8, "PKCS#8 PEM");
  ExpectInvalidKey(PemBody(pkcs8), "PKCS#8 base64 DER");
  ExpectInvalidKey(*Base64Decode(PemBody(pkcs8)), "PKCS#8 raw DER");
}

TEST(ImportRejectTest, Garbage) {
  for (std::string bad :
       std::vector<std::string>{"", "   \n", "hello", "ssh-rsa", "ssh-rsa ", "ssh-rsa !!!!",
                                "ssh-rsa AAAA", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
                                "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----",
                                "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----",
                                "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END RSA PUBLIC KEY-----",
                                "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n",
                                "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
                                std::string("\x30\x82\xff\xff", 4), std::string(100000, 'A')}) {
    ExpectInvalidKey(bad, "'" + bad.substr(0, 60) + "'");
  }
}

TEST(ImportRejectTest, MalformedBlobs) {
  auto g = GenerateKeyPair(KeyType::kRsa, KeyFormat::kPem, "k");
  ASSERT_TRUE(g.ok());
  std::string blob = BlobOf(g->public_openssh);
  for (size_t cut = 0; cut < blob.size(); cut += 7) {
    ExpectInvalidKey("ssh-rsa " + Base64Encode(blob.substr(0, cut)), "truncated");
  }
  auto line = [](const std::string& b) { return "ssh-rsa " + Base64Encode(b); };
  ExpectInvalidKey(line(U32(0xffffffff) + blob.substr(4)), "type length past the end");
  std::string longer = blob;
  longer[4 + 7 + 3] = char(uint8_t(longer[4 + 7 + 3]) + 1);  // e's length, one too many
  ExpectInvalidKey(line(longer), "mpint length past the end");
  std::string huge = blob;
  huge.replace(4 + 7, 4, U32(0x7fffffff));
  ExpectInvalidKey(line(huge), "huge mpint length");
  ExpectInvalidKey(line(blob + "x"), "trailing byte");
  ExpectInvalidKey("ssh-ed25519 " + Base64Encode(blob), "type word disagrees with blob");
  ExpectInvalidKey(line(Str("ssh-rsa") + Str("\x80\x01") + blob.substr(4 + 7 + 4 + 3)),
                   "negative exponent");
  std::string ed = Str("ssh-ed25519") + Str(std::string(31, 'k'));
  ExpectInvalidKey("ssh-ed25519 " + Base64Encode(ed), "short ed25519 key");
  std::string off_curve = "\x04" + std::string(64, '\x01');
  ExpectInvalidKey("ecdsa-sha2-nistp256 " +
                       Base64Encode(Str("ecdsa-sha2-nistp256") + Str("nistp256") + Str(off_curve)),
                   "point off the curve");
  ExpectInvalidKey("ecdsa-sha2-nistp256 " +
                       Base64Encode(Str("ecdsa-sha2-nistp256") + Str("nistp384") + Str(off_curve)),
                   "curve mismatch");
}

TEST(ImportRejectTest, UnsupportedShapes) {
  auto g = GenerateKeyPair(KeyType::kEd25519, KeyFormat::kPem, "k");
  ASSERT_TRUE(g.ok());
  std::string b64 = Field(g->public_openssh, 1);
  ExpectInvalidKey("sk-ssh-ed25519@openssh.com " + b64, "security key type");
  ExpectInvalidKey("from=\"10.0.0.1\" ssh-ed25519 " + b64, "authorized_keys options");
  ExpectInvalidKey(g->public_openssh + "\n" + g->public_openssh, "two keys");
  ExpectInvalidKey("ssh-ed25519 " + b64 + " bad\x01comment", "control character in comment");
}

// The same properties a fuzzer checks, on a budget: mutations of every accepted format and of raw
// blobs must come back as a status, never a crash or a sanitizer report.
TEST(ImportFuzzTest, MutatedInputs) {
  auto rsa = GenerateKeyPair(KeyType::kRsa, KeyFormat::kPem, "fuzz");
  auto ed = GenerateKeyPair(KeyType::kEd25519, KeyFormat::kPem, "fuzz");
  ASSERT_TRUE(rsa.ok() && ed.ok());
  TestKey key = ReadPrivatePem(rsa->private_key);
  ASSERT_NE(key, nullptr);
  std::string pem = PublicPem(key.get());
  std::string ec_blob =
      Str("ecdsa-sha2-nistp256") + Str("nistp256") + Str("\x04" + std::string(64, 'x'));
  std::vector<std::string> seeds = {rsa->public_openssh,
                                    ed->public_openssh,
                                    pem,
                                    PemBody(pem),
                                    *Base64Decode(PemBody(pem)),
                                    "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"x\\\ny\"\n" +
                                        Field(ed->public_openssh, 1) +
                                        "\n---- END SSH2 PUBLIC KEY ----\n"};
  std::vector<std::string> blobs = {BlobOf(rsa->public_openssh), BlobOf(ed->public_openssh),
                                    ec_blob};
  std::mt19937 rng(20240601);
  auto mutate = [&rng](std::string s) {
    int edits = 1 + int(rng() % 4);
    for (int i = 0; i < edits && !s.empty(); ++i) {
      size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0:
          s[at] = char(rng());
          break;
        case 1:
          s.resize(at);
          break;
        case 2:
          s.insert(at, 1, char(rng()));
          break;
        default:
          s[at] = char(uint8_t(s[at]) ^ (1u << (rng() % 8)));
          break;
      }
    }
    return s;
  };
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string& seed = seeds[size_t(i) % seeds.size()];
    accepted += ImportPublicKey(mutate(seed)).ok();
    const std::string& blob = blobs[size_t(i) % blobs.size()];
    std::string m = mutate(blob);
    std::string type = std::string(blob.substr(4, uint8_t(blob[3])));
    accepted += ImportPublicKey(type + " " + Base64Encode(m)).ok();
    std::string noise(rng() % 256, '\0');
    for (char& c : noise) c = char(rng());
    accepted += ImportPublicKey(noise).ok();
  }
  // Most mutations break the key; some land in comments or base64 padding and still parse.
  EXPECT_LT(accepted, 9000);
}

}  // namespace
}  // namespace kumo::crypto
