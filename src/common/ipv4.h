// IPv4 addresses and CIDR blocks, shared by the services (address allocation) and the host's
// network.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kumo {

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

}  // namespace kumo
