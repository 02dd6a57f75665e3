#include "host/network/network_internal.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cctype>

namespace kumo::host::netinternal {

absl::StatusOr<std::array<uint8_t, 6>> ParseMac(const std::string& text) {
  std::array<uint8_t, 6> mac{};
  auto bad = [&] { return absl::InvalidArgumentError(fmt::format("Bad MAC address '{}'", text)); };
  if (text.size() != 17) return bad();
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return bad();
    int v = 0;
    for (int j = 0; j < 2; ++j) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i * 3 + j])));
      if (c >= '0' && c <= '9') {
        v = v * 16 + (c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v = v * 16 + (c - 'a' + 10);
      } else {
        return bad();
      }
    }
    mac[i] = static_cast<uint8_t>(v);
  }
  // A multicast source address would be dropped by every bridge on the way.
  if (mac[0] & 1) return bad();
  return mac;
}

bool ValidResourceId(std::string_view id, std::string_view prefix) {
  if (id.size() <= prefix.size() + 1 || id.substr(0, prefix.size()) != prefix ||
      id[prefix.size()] != '-') {
    return false;
  }
  std::string_view hex = id.substr(prefix.size() + 1);
  if (hex.size() != 8 && hex.size() != 17) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string IdTag(std::string_view id) {
  size_t dash = id.find('-');
  std::string_view hex = dash == std::string_view::npos ? id : id.substr(dash + 1);
  if (hex.size() > 7) hex = hex.substr(hex.size() - 7);
  return std::string(hex);
}

absl::Status ValidateOptions(const NetworkOptions& options) {
  const std::string& id = options.daemon_id;
  bool hex = id.size() == 6;
  for (char c : id) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) {
    return absl::InvalidArgumentError(fmt::format("Bad daemon id '{}' (6 hex digits)", id));
  }
  auto pool = ParseCidr(options.public_cidr);
  if (!pool.ok()) return pool.status();
  if (pool->prefix_len < 8 || pool->prefix_len > 29) {
    return absl::InvalidArgumentError(
        fmt::format("Public pool {} must be between /8 and /29", options.public_cidr));
  }
  if (options.state_dir.empty() || options.state_dir[0] != '/') {
    return absl::InvalidArgumentError(
        fmt::format("State directory '{}' must be an absolute path", options.state_dir));
  }
  return absl::OkStatus();
}

static bool ValidDomain(const std::string& d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  char prev = '.';
  for (char c : d) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

bool InVpc(const std::vector<Cidr>& blocks, const Cidr& c) {
  for (const Cidr& b : blocks) {
    if (c.prefix_len >= b.prefix_len && b.Contains(c.base)) return true;
  }
  return false;
}

std::vector<Cidr> VpcBlocks(const VpcNet& vpc) {
  std::vector<Cidr> out;
  if (auto c = ParseCidr(vpc.cidr); c.ok()) out.push_back(*c);
  for (const auto& s : vpc.secondary_cidrs) {
    if (auto c = ParseCidr(s); c.ok()) out.push_back(*c);
  }
  return out;
}

absl::Status ValidateVpc(const VpcNet& vpc) {
  if (!ValidResourceId(vpc.vpc_id, "vpc")) {
    return absl::InvalidArgumentError(fmt::format("Bad VPC id '{}'", vpc.vpc_id));
  }
  auto cidr = ParseCidr(vpc.cidr);
  if (!cidr.ok()) return cidr.status();
  if (cidr->prefix_len < 8 || cidr->prefix_len > 28) {
    return absl::InvalidArgumentError(
        fmt::format("VPC CIDR {} must be between /8 and /28", vpc.cidr));
  }
  std::vector<Cidr> blocks{*cidr};
  for (const std::string& s : vpc.secondary_cidrs) {
    auto block = ParseCidr(s);
    if (!block.ok()) return block.status();
    if (block->prefix_len < 8 || block->prefix_len > 28) {
      return absl::InvalidArgumentError(fmt::format("VPC CIDR {} must be between /8 and /28", s));
    }
    blocks.push_back(*block);
  }
  for (const std::string& s : vpc.subnet_cidrs) {
    auto subnet = ParseCidr(s);
    if (!subnet.ok()) return subnet.status();
    if (subnet->prefix_len > 28 || !InVpc(blocks, *subnet)) {
      return absl::InvalidArgumentError(
          fmt::format("Subnet {} is not a /28 or larger inside VPC {}", s, vpc.cidr));
    }
  }
  if (!ValidDomain(vpc.dns_domain)) {
    return absl::InvalidArgumentError(fmt::format("Bad DNS domain '{}'", vpc.dns_domain));
  }
  return absl::OkStatus();
}

absl::Status ValidatePort(const InstancePort& port, const Cidr& pool) {
  if (!ValidResourceId(port.instance_id, port.device_index == 0 ? "i" : "eni") ||
      port.device_index < 0 || port.device_index > 15) {
    return absl::InvalidArgumentError(fmt::format("Bad instance id '{}'", port.instance_id));
  }
  if (!ValidResourceId(port.vpc_id, "vpc")) {
    return absl::InvalidArgumentError(fmt::format("Bad VPC id '{}'", port.vpc_id));
  }
  auto mac = ParseMac(port.mac);
  if (!mac.ok()) return mac.status();
  auto ip = ParseIpv4(port.private_ip);
  if (!ip.ok()) return ip.status();
  if (port.prefix_len < 8 || port.prefix_len > 30) {
    return absl::InvalidArgumentError(fmt::format("Bad prefix length {}", port.prefix_len));
  }
  auto gw = ParseIpv4(port.gateway);
  if (!gw.ok()) return gw.status();
  Cidr subnet{*ip & Cidr{0, port.prefix_len}.Mask(), port.prefix_len};
  if (!subnet.Contains(*gw) || *gw == *ip) {
    return absl::InvalidArgumentError(fmt::format("Gateway {} is not a neighbour of {}/{}",
                                                  port.gateway, port.private_ip, port.prefix_len));
  }
  if (!port.public_ip.empty()) {
    auto pub = ParseIpv4(port.public_ip);
    if (!pub.ok()) return pub.status();
    if (!pool.Contains(*pub) || *pub == pool.base || *pub == pool.base + 1 || *pub == pool.Last()) {
      return absl::InvalidArgumentError(
          fmt::format("Public address {} is not a host address of the pool {}", port.public_ip,
                      pool.ToString()));
    }
  }
  return absl::OkStatus();
}

}  // namespace kumo::host::netinternal

namespace kumo::host {

std::string VpcNamespacePath(std::string_view daemon_id, std::string_view vpc_id) {
  return fmt::format(
      "{}/{}", "/run/netns",
      netinternal::NamespaceName(netinternal::Prefix(std::string(daemon_id)), vpc_id));
}

}  // namespace kumo::host
