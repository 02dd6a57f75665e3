#include "crypto/keypair.h"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "common/encoding.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "crypto/ossl_ptr.h"

namespace kumo::crypto {
namespace {

// EC2's InvalidKey.Format text; EC2 gives the same answer whatever is wrong with the key, and so do
// we, so that clients matching on it keep working.
constexpr std::string_view kInvalidKeyFormat = "Key is not in valid OpenSSH public key format";
// A 16384-bit RSA key is about 3 KiB in any accepted format; the slack allows long comments and
// headers while keeping hostile inputs cheap.
constexpr size_t kMaxMaterial = 64 * 1024;
constexpr size_t kMaxBlob = 16 * 1024;
constexpr int kMinRsaBits = 1024;
constexpr int kMaxRsaBits = 16384;
constexpr int kGeneratedRsaBits = 2048;

using Pkey = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtx = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
// Some of these hold private exponents and primes.
using Bn = OsslPtr<BIGNUM, BN_clear_free>;
using ParamBld = OsslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using Params = OsslPtr<OSSL_PARAM, OSSL_PARAM_free>;
using EncoderCtx = OsslPtr<OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free>;

// Best effort only: copies made by std::string growth are not reached, but the long-lived
// intermediates (private blobs, DER) do not linger in freed heap.
class ScopedCleanse {
 public:
  explicit ScopedCleanse(std::string* s) : s_(s) {}
  ~ScopedCleanse() {
    if (!s_->empty()) OPENSSL_cleanse(s_->data(), s_->size());
  }
  ScopedCleanse(const ScopedCleanse&) = delete;
  ScopedCleanse& operator=(const ScopedCleanse&) = delete;

 private:
  std::string* s_;
};

const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* U(char* p) { return reinterpret_cast<unsigned char*>(p); }

absl::Status InvalidKey() {
  return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidKey.Format", kInvalidKeyFormat);
}

absl::Status OpenSslFailure(std::string_view what) {
  return absl::InternalError(fmt::format("OpenSSL failed to {}", what));
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Comments end up in one-line OpenSSH keys, PPK headers and authorized_keys files, where a control
// character would split or corrupt the line.
bool HasControlChars(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string Wrap(std::string_view text, size_t width) {
  std::string out;
  for (size_t i = 0; i < text.size(); i += width) {
    out.append(text.substr(i, width));
    out.push_back('\n');
  }
  return out;
}

// --- SSH wire format (RFC 4251 section 5) ---

void PutU32(std::string* out, uint32_t v) {
  out->push_back(char(v >> 24));
  out->push_back(char(v >> 16));
  out->push_back(char(v >> 8));
  out->push_back(char(v));
}

void PutString(std::string* out, std::string_view s) {
  PutU32(out, uint32_t(s.size()));
  out->append(s);
}

// Unsigned magnitudes need a leading zero byte when the top bit is set, or they read as negative.
void PutMpint(std::string* out, const BIGNUM* bn) {
  std::string mag(size_t(BN_num_bytes(bn)) + 1, '\0');
  BN_bn2bin(bn, U(mag.data() + 1));
  std::string_view v(mag);
  if (v.size() == 1 || (uint8_t(v[1]) & 0x80) == 0) v.remove_prefix(1);
  PutString(out, v);
  OPENSSL_cleanse(mag.data(), mag.size());
}

// Reads untrusted blobs: every length is checked against what is left before use.
class SshReader {
 public:
  explicit SshReader(std::string_view data) : rest_(data) {}

  bool ReadString(std::string_view* out) {
    if (rest_.size() < 4) return false;
    uint32_t len = (uint32_t(uint8_t(rest_[0])) << 24) | (uint32_t(uint8_t(rest_[1])) << 16) |
                   (uint32_t(uint8_t(rest_[2])) << 8) | uint32_t(uint8_t(rest_[3]));
    rest_.remove_prefix(4);
    if (len > rest_.size()) return false;
    *out = rest_.substr(0, len);
    rest_.remove_prefix(len);
    return true;
  }

  // Key components are never negative, so a set sign bit means a malformed key.
  bool ReadPositiveMpint(Bn* out) {
    std::string_view v;
    if (!ReadString(&v)) return false;
    if (!v.empty() && (uint8_t(v[0]) & 0x80) != 0) return false;
    out->reset(BN_bin2bn(U(v.data()), int(v.size()), nullptr));
    return *out != nullptr;
  }

  bool AtEnd() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

struct SshAlgo {
  std::string_view name;  // key type in the blob and the OpenSSH line
  KeyType type;
  std::string_view curve;       // ecdsa: the curve identifier inside the blob
  std::string_view group;       // ecdsa: OpenSSL's group name
  std::string_view nist_group;  // ecdsa: the alias OpenSSL may report instead
  size_t field_bytes;           // ecdsa: size of one coordinate
};

constexpr SshAlgo kAlgos[] = {
    {"ssh-rsa", KeyType::kRsa, "", "", "", 0},
    {"ssh-ed25519", KeyType::kEd25519, "", "", "", 0},
    {"ecdsa-sha2-nistp256", KeyType::kEcdsa, "nistp256", "prime256v1", "P-256", 32},
    {"ecdsa-sha2-nistp384", KeyType::kEcdsa, "nistp384", "secp384r1", "P-384", 48},
    {"ecdsa-sha2-nistp521", KeyType::kEcdsa, "nistp521", "secp521r1", "P-521", 66},
};
const SshAlgo& kRsaAlgo = kAlgos[0];
const SshAlgo& kEd25519Algo = kAlgos[1];

const SshAlgo* FindAlgo(std::string_view name) {
  for (const SshAlgo& a : kAlgos) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const SshAlgo* FindAlgoByGroup(std::string_view group) {
  for (const SshAlgo& a : kAlgos) {
    if (a.type == KeyType::kEcdsa && (a.group == group || a.nist_group == group)) return &a;
  }
  return nullptr;
}

// --- EVP_PKEY <-> SSH public blob ---

Bn GetBn(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return nullptr;
  return Bn(bn);
}

absl::StatusOr<Pkey> PkeyFromParams(const char* algorithm, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return InvalidKey();
  }
  return Pkey(raw);
}

struct SshKey {
  const SshAlgo* algo;
  Pkey key;
};

absl::StatusOr<SshKey> RsaFromBlob(SshReader& r) {
  Bn e, n;
  if (!r.ReadPositiveMpint(&e) || !r.ReadPositiveMpint(&n) || !r.AtEnd()) return InvalidKey();
  int bits = BN_num_bits(n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return InvalidKey();
  // Cheap sanity that rules out keys no RSA implementation would produce.
  if (!BN_is_odd(n.get()) || !BN_is_odd(e.get()) || BN_num_bits(e.get()) < 2 ||
      BN_cmp(e.get(), n.get()) >= 0) {
    return InvalidKey();
  }
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return OpenSslFailure("build RSA parameters");
  }
  ASSIGN_OR_RETURN(Pkey key, PkeyFromParams("RSA", bld.get()));
  return SshKey{&kRsaAlgo, std::move(key)};
}

absl::StatusOr<SshKey> Ed25519FromBlob(SshReader& r) {
  std::string_view pk;
  if (!r.ReadString(&pk) || pk.size() != 32 || !r.AtEnd()) return InvalidKey();
  Pkey key(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, U(pk.data()), pk.size()));
  if (!key) return InvalidKey();
  return SshKey{&kEd25519Algo, std::move(key)};
}

absl::StatusOr<SshKey> EcdsaFromBlob(const SshAlgo* algo, SshReader& r) {
  std::string_view curve, q;
  if (!r.ReadString(&curve) || curve != algo->curve || !r.ReadString(&q) || !r.AtEnd()) {
    return InvalidKey();
  }
  // OpenSSH only writes uncompressed points.
  if (q.size() != 1 + 2 * algo->field_bytes || q[0] != 0x04) return InvalidKey();
  std::string group(algo->group);
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, q.data(), q.size()) !=
          1) {
    return OpenSslFailure("build EC parameters");
  }
  ASSIGN_OR_RETURN(Pkey key, PkeyFromParams("EC", bld.get()));
  // A point off the curve would be an invalid-curve attack vector for anyone who later uses it.
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return InvalidKey();
  return SshKey{algo, std::move(key)};
}

absl::StatusOr<SshKey> KeyFromBlob(std::string_view blob) {
  if (blob.size() > kMaxBlob) return InvalidKey();
  SshReader r(blob);
  std::string_view name;
  if (!r.ReadString(&name)) return InvalidKey();
  const SshAlgo* algo = FindAlgo(name);
  if (algo == nullptr) return InvalidKey();
  switch (algo->type) {
    case KeyType::kRsa:
      return RsaFromBlob(r);
    case KeyType::kEd25519:
      return Ed25519FromBlob(r);
    case KeyType::kEcdsa:
      return EcdsaFromBlob(algo, r);
  }
  return InvalidKey();
}

absl::StatusOr<std::string> EcdsaBlob(EVP_PKEY* key) {
  char group[64] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &group_len) != 1) {
    return InvalidKey();  // explicit curve parameters, which OpenSSH cannot express
  }
  const SshAlgo* algo = FindAlgoByGroup(std::string_view(group, group_len));
  if (algo == nullptr) return InvalidKey();
  // Coordinates rather than the encoded point, which keeps whatever compression the input had.
  Bn x = GetBn(key, OSSL_PKEY_PARAM_EC_PUB_X);
  Bn y = GetBn(key, OSSL_PKEY_PARAM_EC_PUB_Y);
  if (!x || !y) return InvalidKey();
  std::string q(1 + 2 * algo->field_bytes, '\0');
  q[0] = 0x04;
  int n = int(algo->field_bytes);
  if (BN_bn2binpad(x.get(), U(q.data() + 1), n) != n ||
      BN_bn2binpad(y.get(), U(q.data() + 1 + n), n) != n) {
    return InvalidKey();
  }
  std::string blob;
  PutString(&blob, algo->name);
  PutString(&blob, algo->curve);
  PutString(&blob, q);
  return blob;
}

// Accepts only the key types EC2 (and our ecdsa extension) take; DSA and the rest end here.
absl::StatusOr<std::string> BlobFromKey(EVP_PKEY* key) {
  std::string blob;
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: {
      Bn n = GetBn(key, OSSL_PKEY_PARAM_RSA_N);
      Bn e = GetBn(key, OSSL_PKEY_PARAM_RSA_E);
      if (!n || !e) return InvalidKey();
      PutString(&blob, kRsaAlgo.name);
      PutMpint(&blob, e.get());
      PutMpint(&blob, n.get());
      return blob;
    }
    case EVP_PKEY_ED25519: {
      unsigned char pk[32];
      size_t len = sizeof pk;
      if (EVP_PKEY_get_raw_public_key(key, pk, &len) != 1 || len != sizeof pk) {
        return InvalidKey();
      }
      PutString(&blob, kEd25519Algo.name);
      PutString(&blob, std::string_view(reinterpret_cast<char*>(pk), len));
      return blob;
    }
    case EVP_PKEY_EC:
      return EcdsaBlob(key);
    default:
      return InvalidKey();
  }
}

absl::StatusOr<std::string> Encode(const EVP_PKEY* key, int selection, const char* type,
                                   const char* structure) {
  EncoderCtx ctx(OSSL_ENCODER_CTX_new_for_pkey(key, selection, type, structure, nullptr));
  unsigned char* data = nullptr;
  size_t len = 0;
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0 ||
      OSSL_ENCODER_to_data(ctx.get(), &data, &len) != 1) {
    return OpenSslFailure(fmt::format("encode a key as {} {}", type, structure));
  }
  std::string out(reinterpret_cast<char*>(data), len);
  OPENSSL_clear_free(data, len);
  return out;
}

absl::StatusOr<std::string> SpkiDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return OpenSslFailure("encode a SubjectPublicKeyInfo");
  std::string out(reinterpret_cast<char*>(der), size_t(len));
  OPENSSL_free(der);
  return out;
}

// The form `ssh-keygen -l` prints after "SHA256:", but with the '=' padding EC2 keeps.
std::string Sha256Fingerprint(std::string_view blob) { return Base64Encode(Sha256(blob)); }

std::string OpenSshLine(const SshAlgo& algo, std::string_view blob, std::string_view comment) {
  std::string line = std::string(algo.name) + " " + Base64Encode(blob);
  if (!comment.empty()) line += " " + std::string(comment);
  return line;
}

// --- Private key files ---

// PuTTY-User-Key-File-2 as puttygen writes it unencrypted: the MAC key is SHA-1 of the fixed
// string plus an empty passphrase, and no padding is added to the private blob.
std::string Ppk(std::string_view algo, std::string_view comment, std::string_view pub_blob,
                std::string_view priv_blob) {
  std::string mac_data;
  ScopedCleanse wipe_mac_data(&mac_data);
  PutString(&mac_data, algo);
  PutString(&mac_data, "none");
  PutString(&mac_data, comment);
  PutString(&mac_data, pub_blob);
  PutString(&mac_data, priv_blob);
  std::string mac = HexEncode(HmacSha1(Sha1("putty-private-key-file-mac-key"), mac_data));

  std::string pub64 = Base64Encode(pub_blob);
  std::string priv64 = Base64Encode(priv_blob);
  ScopedCleanse wipe_priv64(&priv64);
  constexpr size_t kLine = 64;
  std::string out =
      fmt::format("PuTTY-User-Key-File-2: {}\nEncryption: none\nComment: {}\n", algo, comment);
  out += fmt::format("Public-Lines: {}\n", (pub64.size() + kLine - 1) / kLine);
  out += Wrap(pub64, kLine);
  out += fmt::format("Private-Lines: {}\n", (priv64.size() + kLine - 1) / kLine);
  out += Wrap(priv64, kLine);
  out += "Private-MAC: " + mac + "\n";
  return out;
}

// PROTOCOL.key from OpenSSH: unencrypted, so cipher and KDF are "none" and the private section is
// padded with 1, 2, 3, … to the 8-byte block size "none" implies.
std::string OpenSshEd25519PrivateKey(std::string_view pub_blob, std::string_view pk,
                                     std::string_view seed, std::string_view comment) {
  std::string section;
  ScopedCleanse wipe_section(&section);
  // The check pair only detects a wrong passphrase; it need not be secret, just equal.
  std::string check = RandomBytes(4);
  section += check;
  section += check;
  PutString(&section, kEd25519Algo.name);
  PutString(&section, pk);
  std::string secret = std::string(seed) + std::string(pk);  // OpenSSH stores seed || public
  ScopedCleanse wipe_secret(&secret);
  PutString(&section, secret);
  PutString(&section, comment);
  for (uint8_t pad = 1; section.size() % 8 != 0; ++pad) section.push_back(char(pad));

  std::string body("openssh-key-v1", sizeof("openssh-key-v1"));  // keeps the trailing NUL
  ScopedCleanse wipe_body(&body);
  PutString(&body, "none");
  PutString(&body, "none");
  PutString(&body, "");
  PutU32(&body, 1);
  PutString(&body, pub_blob);
  PutString(&body, section);
  std::string b64 = Base64Encode(body);
  ScopedCleanse wipe_b64(&b64);
  return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + Wrap(b64, 70) +
         "-----END OPENSSH PRIVATE KEY-----\n";
}

absl::StatusOr<GeneratedKeyPair> GenerateRsa(KeyFormat format, std::string_view comment) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{kGeneratedRsaBits}));
  if (!key) return OpenSslFailure("generate an RSA key");
  GeneratedKeyPair out{KeyType::kRsa, "", "", ""};
  ASSIGN_OR_RETURN(std::string blob, BlobFromKey(key.get()));
  out.public_openssh = OpenSshLine(kRsaAlgo, blob, comment);
  // What `openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c` prints for the key file.
  ASSIGN_OR_RETURN(std::string pkcs8, Encode(key.get(), EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo"));
  ScopedCleanse wipe_pkcs8(&pkcs8);
  out.fingerprint = HexColons(Sha1(pkcs8));
  if (format == KeyFormat::kPem) {
    // "type-specific" is PKCS#1, the "BEGIN RSA PRIVATE KEY" EC2 hands out.
    ASSIGN_OR_RETURN(out.private_key, Encode(key.get(), EVP_PKEY_KEYPAIR, "PEM", "type-specific"));
    return out;
  }
  Bn d = GetBn(key.get(), OSSL_PKEY_PARAM_RSA_D);
  Bn p = GetBn(key.get(), OSSL_PKEY_PARAM_RSA_FACTOR1);
  Bn q = GetBn(key.get(), OSSL_PKEY_PARAM_RSA_FACTOR2);
  // OpenSSL's first CRT coefficient is q^-1 mod p, which is PuTTY's iqmp.
  Bn iqmp = GetBn(key.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  if (!d || !p || !q || !iqmp) return OpenSslFailure("export RSA private components");
  std::string priv;
  ScopedCleanse wipe_priv(&priv);
  PutMpint(&priv, d.get());
  PutMpint(&priv, p.get());
  PutMpint(&priv, q.get());
  PutMpint(&priv, iqmp.get());
  out.private_key = Ppk(kRsaAlgo.name, comment, blob, priv);
  return out;
}

absl::StatusOr<GeneratedKeyPair> GenerateEd25519(KeyFormat format, std::string_view comment) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return OpenSslFailure("generate an Ed25519 key");
  std::string pk(32, '\0'), seed(32, '\0');
  ScopedCleanse wipe_seed(&seed);
  size_t pk_len = pk.size(), seed_len = seed.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), U(pk.data()), &pk_len) != 1 ||
      EVP_PKEY_get_raw_private_key(key.get(), U(seed.data()), &seed_len) != 1 || pk_len != 32 ||
      seed_len != 32) {
    return OpenSslFailure("export an Ed25519 key");
  }
  std::string blob;
  PutString(&blob, kEd25519Algo.name);
  PutString(&blob, pk);
  GeneratedKeyPair out{KeyType::kEd25519, "", OpenSshLine(kEd25519Algo, blob, comment),
                       Sha256Fingerprint(blob)};
  if (format == KeyFormat::kPem) {
    out.private_key = OpenSshEd25519PrivateKey(blob, pk, seed, comment);
  } else {
    std::string priv;
    ScopedCleanse wipe_priv(&priv);
    PutString(&priv, seed);
    out.private_key = Ppk(kEd25519Algo.name, comment, blob, priv);
  }
  return out;
}

// --- Import formats ---

// Whole-input DER: SubjectPublicKeyInfo, or PKCS#1 RSAPublicKey for RSA. Trailing bytes fail, so
// two keys glued together are not silently cut to the first.
absl::StatusOr<Pkey> KeyFromDer(std::string_view der) {
  if (der.empty()) return InvalidKey();
  const unsigned char* end = U(der.data()) + der.size();
  const unsigned char* p = U(der.data());
  Pkey key(d2i_PUBKEY(nullptr, &p, long(der.size())));
  if (key && p == end) return key;
  p = U(der.data());
  key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, long(der.size())));
  if (key && p == end) return key;
  return InvalidKey();
}

// One PEM block filling the whole input. Only public labels: "PRIVATE KEY" blocks and the OpenSSH
// private format fall out here.
absl::StatusOr<std::string> BlobFromPem(std::string_view text) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  constexpr std::string_view kDashes = "-----";
  size_t label_end = text.find(kDashes, kBegin.size());
  if (label_end == std::string_view::npos) return InvalidKey();
  std::string_view label = text.substr(kBegin.size(), label_end - kBegin.size());
  if (label != "PUBLIC KEY" && label != "RSA PUBLIC KEY") return InvalidKey();
  std::string end_marker = "-----END " + std::string(label) + "-----";
  std::string_view body = text.substr(label_end + kDashes.size());
  if (body.size() < end_marker.size() ||
      body.substr(body.size() - end_marker.size()) != end_marker) {
    return InvalidKey();
  }
  body.remove_suffix(end_marker.size());
  auto der = Base64Decode(body);  // header lines (Proc-Type:…) fail here, as they should
  if (!der) return InvalidKey();
  ASSIGN_OR_RETURN(Pkey key, KeyFromDer(*der));
  return BlobFromKey(key.get());
}

// RFC 4716: header lines "Tag: value" (a trailing backslash continues the value on the next line),
// then base64 body lines, inside BEGIN/END markers.
absl::Status ParseRfc4716(std::string_view text, std::string* blob, std::string* comment) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    lines.push_back(Trim(text.substr(0, nl)));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  if (lines.size() < 2 || lines.front() != "---- BEGIN SSH2 PUBLIC KEY ----" ||
      lines.back() != "---- END SSH2 PUBLIC KEY ----") {
    return InvalidKey();
  }
  std::string body;
  bool in_headers = true;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t colon = line.find(':');
    if (in_headers && colon != std::string_view::npos) {
      std::string_view tag = line.substr(0, colon);
      if (tag.empty() || tag.size() > 64) return InvalidKey();
      std::string value(Trim(line.substr(colon + 1)));
      while (!value.empty() && value.back() == '\\') {
        value.pop_back();
        if (++i + 1 >= lines.size()) return InvalidKey();
        value += lines[i];
      }
      if (EqualsIgnoreCase(tag, "Comment")) {
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        *comment = std::move(value);
      }
      continue;
    }
    in_headers = false;
    body += line;
  }
  auto decoded = Base64Decode(body);
  if (!decoded) return InvalidKey();
  *blob = std::move(*decoded);
  return absl::OkStatus();
}

// "type base64[ comment]" on one line.
absl::Status ParseOpenSshLine(std::string_view text, std::string* blob, std::string* comment) {
  if (text.find_first_of("\r\n") != std::string_view::npos) return InvalidKey();
  size_t sp = text.find_first_of(" \t");
  if (sp == std::string_view::npos) return InvalidKey();
  std::string_view type = text.substr(0, sp);
  std::string_view rest = Trim(text.substr(sp));
  size_t end = rest.find_first_of(" \t");
  auto decoded = Base64Decode(rest.substr(0, end));
  if (!decoded) return InvalidKey();
  SshReader r(*decoded);
  std::string_view inner;
  // A line whose type word disagrees with its blob is how mangled copies usually look.
  if (!r.ReadString(&inner) || inner != type) return InvalidKey();
  *blob = std::move(*decoded);
  *comment = end == std::string_view::npos ? "" : std::string(Trim(rest.substr(end)));
  return absl::OkStatus();
}

absl::StatusOr<ImportedPublicKey> Import(std::string_view material) {
  if (material.size() > kMaxMaterial) return InvalidKey();
  std::string_view text = Trim(material);
  if (text.empty()) return InvalidKey();
  std::string blob, comment;
  std::string_view first_word = text.substr(0, text.find_first_of(" \t"));
  if (text.substr(0, 11) == "-----BEGIN ") {
    ASSIGN_OR_RETURN(blob, BlobFromPem(text));
  } else if (text.substr(0, 19) == "---- BEGIN SSH2 PUB") {
    RETURN_IF_ERROR(ParseRfc4716(text, &blob, &comment));
  } else if (FindAlgo(first_word) != nullptr) {
    RETURN_IF_ERROR(ParseOpenSshLine(text, &blob, &comment));
  } else if (auto der = Base64Decode(text)) {
    ASSIGN_OR_RETURN(Pkey key, KeyFromDer(*der));
    ASSIGN_OR_RETURN(blob, BlobFromKey(key.get()));
  } else {
    // A DER file passed through as is: PublicKeyMaterial was the base64 of the binary file.
    ASSIGN_OR_RETURN(Pkey key, KeyFromDer(material));
    ASSIGN_OR_RETURN(blob, BlobFromKey(key.get()));
  }
  if (HasControlChars(comment)) return InvalidKey();

  // Every format converges on the SSH blob; rebuilding the key from it applies one set of checks
  // and normalizes encodings (leading zeros, compressed points) before anything is hashed.
  ASSIGN_OR_RETURN(SshKey parsed, KeyFromBlob(blob));
  ASSIGN_OR_RETURN(std::string canonical, BlobFromKey(parsed.key.get()));
  ImportedPublicKey out{parsed.algo->type, OpenSshLine(*parsed.algo, canonical, comment), ""};
  if (parsed.algo->type == KeyType::kEd25519) {
    out.fingerprint = Sha256Fingerprint(canonical);
  } else {
    // EC2 documents this as `openssl rsa -pubout -outform DER | openssl md5 -c`.
    ASSIGN_OR_RETURN(std::string spki, SpkiDer(parsed.key.get()));
    out.fingerprint = HexColons(Md5(spki));
  }
  return out;
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "rsa";
    case KeyType::kEd25519:
      return "ed25519";
    case KeyType::kEcdsa:
      return "ecdsa";
  }
  return "";
}

absl::StatusOr<GeneratedKeyPair> GenerateKeyPair(KeyType type, KeyFormat format,
                                                 std::string_view comment) {
  if (HasControlChars(comment)) {
    return InvalidParameterValue("Key pair name must not contain control characters");
  }
  absl::StatusOr<GeneratedKeyPair> out = InvalidParameterValue(
      fmt::format("Key type {} cannot be created, only imported", KeyTypeName(type)));
  switch (type) {
    case KeyType::kRsa:
      out = GenerateRsa(format, comment);
      break;
    case KeyType::kEd25519:
      out = GenerateEd25519(format, comment);
      break;
    case KeyType::kEcdsa:
      break;
  }
  // Keep OpenSSL's thread-local error queue from leaking into unrelated later calls.
  ERR_clear_error();
  return out;
}

absl::StatusOr<ImportedPublicKey> ImportPublicKey(std::string_view material) {
  absl::StatusOr<ImportedPublicKey> out = Import(material);
  // Failed d2i attempts are expected here and leave entries on the thread's error queue.
  ERR_clear_error();
  return out;
}

}  // namespace kumo::crypto
