#include "common/ipv4.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cctype>

namespace kumo {

absl::StatusOr<uint32_t> ParseIpv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
    return absl::InvalidArgumentError(fmt::format("Bad IPv4 address '{}'", text));
  }
  return ntohl(a.s_addr);
}

std::string FormatIpv4(uint32_t ip) {
  in_addr a{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string Cidr::ToString() const { return fmt::format("{}/{}", FormatIpv4(base), prefix_len); }

absl::StatusOr<Cidr> ParseCidr(const std::string& text) {
  auto bad = [&] { return absl::InvalidArgumentError(fmt::format("Bad IPv4 CIDR '{}'", text)); };
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash + 1 >= text.size() || text.size() - slash > 3) {
    return bad();
  }
  int len = 0;
  for (size_t i = slash + 1; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad();
    len = len * 10 + (text[i] - '0');
  }
  if (len > 32) return bad();
  auto ip = ParseIpv4(text.substr(0, slash));
  if (!ip.ok()) return bad();
  Cidr c{*ip, len};
  if ((c.base & ~c.Mask()) != 0) {
    return absl::InvalidArgumentError(fmt::format("CIDR '{}' has host bits set", text));
  }
  return c;
}

}  // namespace kumo
