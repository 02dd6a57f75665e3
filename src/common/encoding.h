// Byte encodings used across the API: hex, base64, URI percent-encoding, UTF-8 checks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kumo {

std::string HexEncode(std::string_view bytes);
// "aa:bb:cc" as EC2 prints key fingerprints.
std::string HexColons(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
// Accepts padded or unpadded standard base64 and ignores ASCII whitespace; nullopt on any other
// character.
std::optional<std::string> Base64Decode(std::string_view text);
// RFC 3986 percent-decoding; '+' becomes ' ' when form is true. nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, bool form);
// SigV4's URI encoding: unreserved characters stay, everything else is %XX (upper case).
std::string UriEncode(std::string_view text, bool encode_slash);
bool IsValidUtf8(std::string_view text);

}  // namespace kumo
