// Parsing, validation and naming shared by the Linux network, the fake and the pool claim, so
// both implementations reject the same inputs with the same codes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "host/network/network.h"

namespace kumo::host::netinternal {

// IPv4 addresses are host-order integers here; text goes through inet_pton/inet_ntop.
absl::StatusOr<uint32_t> ParseIpv4(const std::string& text);
std::string FormatIpv4(uint32_t ip);

struct Cidr {
  uint32_t base = 0;
  int prefix_len = 0;

  uint32_t Mask() const { return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len); }
  uint32_t Last() const { return base | ~Mask(); }
  bool Contains(uint32_t ip) const { return (ip & Mask()) == base; }
  bool Overlaps(const Cidr& o) const { return base <= o.Last() && o.base <= Last(); }
  std::string ToString() const;
};

// "a.b.c.d/n" with no host bits set.
absl::StatusOr<Cidr> ParseCidr(const std::string& text);

absl::StatusOr<std::array<uint8_t, 6>> ParseMac(const std::string& text);

// "<prefix>-" + 8 or 17 lower-case hex digits, as EC2 ids are.
bool ValidResourceId(std::string_view id, std::string_view prefix);

// The 7 hex digits that name an id's interfaces: the last ones, so that sequential ids (a
// zero-padded counter) stay distinct as well as random ones.
std::string IdTag(std::string_view id);

absl::Status ValidateOptions(const NetworkOptions& options);
absl::Status ValidateVpc(const VpcNet& vpc);
// public_ip, when set, must be a host address of the pool (not its network, gateway or
// broadcast address).
absl::Status ValidatePort(const InstancePort& port, const Cidr& pool);

inline std::string Prefix(const std::string& daemon_id) { return "k" + daemon_id; }
inline std::string NamespaceName(const std::string& prefix, std::string_view vpc_id) {
  return prefix + "-" + std::string(vpc_id);
}
inline std::string UplinkName(const std::string& prefix, std::string_view vpc_id) {
  return prefix + "u" + IdTag(vpc_id);
}
inline std::string PortHostName(const std::string& prefix, std::string_view instance_id) {
  return prefix + "i" + IdTag(instance_id);
}
inline std::string PortVpcName(std::string_view instance_id) { return "p" + IdTag(instance_id); }

}  // namespace kumo::host::netinternal
