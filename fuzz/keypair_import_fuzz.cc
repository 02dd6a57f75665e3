// ImportKeyPair's PublicKeyMaterial is arbitrary bytes from a tenant.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/keypair.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)kumo::crypto::ImportPublicKey(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
