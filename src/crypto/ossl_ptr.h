// Owning pointers for OpenSSL objects: OsslPtr<EVP_PKEY, EVP_PKEY_free> frees with the given
// function, so each file names its types in one line instead of a deleter struct each.
#pragma once

#include <memory>

namespace kumo::crypto {

template <typename T, void (*F)(T*)>
struct OsslFree {
  void operator()(T* p) const { F(p); }
};
template <typename T, void (*F)(T*)>
using OsslPtr = std::unique_ptr<T, OsslFree<T, F>>;

}  // namespace kumo::crypto
