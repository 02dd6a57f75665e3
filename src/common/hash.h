// Digests and MACs over OpenSSL 3's EVP interface. Outputs are raw bytes.
#pragma once

#include <string>
#include <string_view>

namespace kumo {

std::string Sha256(std::string_view data);
std::string Sha1(std::string_view data);
std::string Md5(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
std::string HmacSha1(std::string_view key, std::string_view data);
// Cryptographically secure random bytes.
std::string RandomBytes(size_t n);
// Constant-time comparison for secrets and signatures.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace kumo
