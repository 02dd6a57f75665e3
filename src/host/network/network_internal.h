// Parsing, validation and naming shared by the Linux network, the fake and the pool claim, so
// both implementations reject the same inputs with the same codes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ipv4.h"
#include "host/network/network.h"

namespace kumo::host::netinternal {

// IPv4 parsing lives in common (the services allocate addresses too).
using ::kumo::Cidr;
using ::kumo::FormatIpv4;
using ::kumo::ParseCidr;
using ::kumo::ParseIpv4;

absl::StatusOr<std::array<uint8_t, 6>> ParseMac(const std::string& text);

// "<prefix>-" + 8 or 17 lower-case hex digits, as EC2 ids are.
bool ValidResourceId(std::string_view id, std::string_view prefix);

// The 7 hex digits that name an id's interfaces: the last ones, so that sequential ids (a
// zero-padded counter) stay distinct as well as random ones.
std::string IdTag(std::string_view id);

absl::Status ValidateOptions(const NetworkOptions& options);
absl::Status ValidateVpc(const VpcNet& vpc);
// The VPC's blocks (primary and secondary), and whether c lies inside one of them.
std::vector<Cidr> VpcBlocks(const VpcNet& vpc);
bool InVpc(const std::vector<Cidr>& blocks, const Cidr& c);
// public_ip, when set, must be a host address of the pool (not its network, gateway or
// broadcast address).
absl::Status ValidatePort(const InstancePort& port, const Cidr& pool);

// The nft script that replaces a VPC's firewall (firewall.cc), validated: the fields come over
// the host agent's wire.
absl::StatusOr<std::string> FirewallScript(const VpcFirewall& fw);

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
