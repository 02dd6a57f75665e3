// libnss_kumo decodes every host name any process on the host looks up.
#include <cstddef>
#include <cstdint>
#include <string>

#include "host/nss/kumo_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string name(reinterpret_cast<const char*>(data), size);  // NUL-terminated copy
  uint8_t out[4];
  if (kumo_decode_public_name(name.c_str(), out) && (out[0] != 100 || (out[1] & 0xc0) != 64)) {
    __builtin_trap();  // only the shared address space may ever be answered
  }
  return 0;
}
