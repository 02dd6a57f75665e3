#include "common/ids.h"

#include <fmt/format.h>

#include "common/encoding.h"
#include "common/hash.h"

namespace kumo {

std::string RandomIdGenerator::ResourceId(std::string_view prefix) {
  // 17 hex digits = 68 bits; take 9 random bytes and drop the first nibble.
  return std::string(prefix) + "-" + HexEncode(RandomBytes(9)).substr(1);
}

std::string RandomIdGenerator::RequestId() {
  std::string h = HexEncode(RandomBytes(16));
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

std::string RandomIdGenerator::AccountId() {
  std::string bytes = RandomBytes(12);
  std::string out;
  // The first digit is never 0, so the id keeps its 12 digits wherever it is parsed as a number.
  out.push_back(char('1' + uint8_t(bytes[0]) % 9));
  for (size_t i = 1; i < 12; ++i) out.push_back(char('0' + uint8_t(bytes[i]) % 10));
  return out;
}

std::string RandomIdGenerator::AccessKeyId() {
  static constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string bytes = RandomBytes(16);
  std::string out = "AKIA";
  for (unsigned char c : bytes) out.push_back(kBase32[c & 31]);
  return out;
}

std::string RandomIdGenerator::SecretAccessKey() {
  // 40 characters like AWS's; base64 of 30 random bytes has exactly 40.
  return Base64Encode(RandomBytes(30));
}

std::string SequentialIdGenerator::ResourceId(std::string_view prefix) {
  return fmt::format("{}-{:017x}", prefix, next_++);
}
std::string SequentialIdGenerator::RequestId() {
  return fmt::format("00000000-0000-0000-0000-{:012x}", next_++);
}
std::string SequentialIdGenerator::AccountId() { return fmt::format("1{:011d}", next_++); }
std::string SequentialIdGenerator::AccessKeyId() { return fmt::format("AKIATEST{:012d}", next_++); }
std::string SequentialIdGenerator::SecretAccessKey() {
  return fmt::format("secret{:034d}", next_++);
}

std::string_view ResourceTypeOfId(std::string_view id) {
  struct Prefix {
    std::string_view prefix, type;
  };
  static constexpr Prefix kPrefixes[] = {
      {"key-", "key-pair"},
      {"i-", "instance"},
      {"ami-", "image"},
      {"sg-", "security-group"},
      {"vol-", "volume"},
      {"snap-", "snapshot"},
      {"vpc-cidr-assoc-", "vpc-cidr-block-association"},
      {"vpc-", "vpc"},
      {"subnet-", "subnet"},
      {"sir-", "spot-instances-request"},
      {"igw-", "internet-gateway"},
      {"rtb-", "route-table"},
      {"eni-", "network-interface"},
      {"acl-", "network-acl"},
      {"dopt-", "dhcp-options"},
      {"eipalloc-", "elastic-ip"},
      {"r-", "reservation"},
      {"sgr-", "security-group-rule"},
  };
  for (const auto& p : kPrefixes) {
    if (id.substr(0, p.prefix.size()) == p.prefix) return p.type;
  }
  return "";
}

}  // namespace kumo
