// Security groups as nftables rules in a VPC's namespace (the script; linux_network.cc applies
// it). Two tables, rebuilt whole in one transaction on every change, so a change is atomic and
// conntrack's established connections survive it:
//
//   bridge kumo_port   each instance port, on the bridge, before anything else sees a frame:
//                      anti-spoofing (the port's MAC; ARP and IPv4 from its own address only;
//                      nothing but ARP and IPv4) and the packet mark = the port's private
//                      address, which the metadata service reads from its accepted sockets
//                      (tcp_fwmark_accept) to know the caller by its port, never by an address.
//                      A port the firewall does not know yet drops everything. Routes to an
//                      instance: a frame of the subnet for such a destination gets the target
//                      port's MAC and bridges straight to it, as EC2's VPC router hands it to
//                      the instance (no hop through the router namespace, whose conntrack
//                      would see the flow twice). The destination check: a port receives only
//                      unicast IPv4 for its own addresses. A port with the source/destination
//                      check off (a NAT instance) may send from any source and receive for
//                      any destination.
//   inet kumo_sg       the security groups, stateful, in the forward hook. Bridged traffic
//                      between instances reaches it through br_netfilter (this kernel has no
//                      conntrack in the bridge family); routed traffic (the uplink) directly.
//                      Egress of the source instance, then ingress of the destination; an
//                      address of the VPC that no instance holds is dropped. Instances may
//                      reach the VPC's own services (DNS at +2, metadata, ping the router),
//                      which EC2's security groups do not filter either, and nothing else there.
//
// The sender is known by the packet mark (its port), not by its source address, which a port
// with the source/destination check off may choose: its egress chain and the source groups it
// matches (sets of their members' marks) are its port's. Destinations are known by address: a
// frame reaches only the port that holds its destination (the destination check), or the one a
// route sends it to. Where EC2 differs: traffic routed to an instance is filtered by its
// sender's outbound rules and, once the instance forwards it, by the instance's own; the routing
// instance's inbound rules do not see it (this kernel has no conntrack in the bridge family,
// where the frame is redirected).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/status_macros.h"
#include "host/network/network_internal.h"

namespace kumo::host::netinternal {
namespace {

constexpr char kPortTable[] = "bridge kumo_port";
constexpr char kSgTable[] = "inet kumo_sg";

// A peer CIDR as nft wants it: host bits cleared (EC2 accepts "1.2.3.4/24" and means /24).
absl::StatusOr<std::string> PeerCidr(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) {
    return absl::InvalidArgumentError(fmt::format("Bad firewall CIDR '{}'", text));
  }
  ASSIGN_OR_RETURN(uint32_t ip, ParseIpv4(text.substr(0, slash)));
  int len = -1;
  try {
    size_t used = 0;
    len = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) len = -1;
  } catch (...) {
    len = -1;
  }
  if (len < 0 || len > 32) {
    return absl::InvalidArgumentError(fmt::format("Bad firewall CIDR '{}'", text));
  }
  Cidr c{0, len};
  c.base = ip & c.Mask();
  return c.ToString();
}

bool ValidSetName(const std::string& name) {
  if (name.empty() || name.size() > 31 || name[0] != 'g') return false;
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  }
  return true;
}

// One rule's match and verdict; peer is "saddr" (ingress) or "daddr" (egress). A source group
// matches its members' ports (the set of their marks, "<set>_m"), a destination group their
// addresses.
absl::StatusOr<std::string> RuleLine(const FirewallRule& r, const char* peer, const char* verdict,
                                     const std::set<std::string>& sets) {
  std::string match;
  if (!r.peer_set.empty()) {
    if (!sets.count(r.peer_set)) {
      return absl::InvalidArgumentError(fmt::format("Unknown peer set '{}'", r.peer_set));
    }
    match = std::string_view(peer) == "saddr" ? fmt::format("meta mark @{}_m ", r.peer_set)
                                              : fmt::format("ip {} @{} ", peer, r.peer_set);
  } else {
    ASSIGN_OR_RETURN(std::string cidr, PeerCidr(r.cidr));
    if (cidr != "0.0.0.0/0") match = fmt::format("ip {} {} ", peer, cidr);
  }
  auto in_range = [](int v, int max) { return v >= -1 && v <= max; };
  if (r.protocol == "tcp" || r.protocol == "udp") {
    if (!in_range(r.from, 65535) || !in_range(r.to, 65535) || (r.from < 0) != (r.to < 0) ||
        r.from > r.to) {
      return absl::InvalidArgumentError(fmt::format("Bad port range {}-{}", r.from, r.to));
    }
    if (r.from < 0 || (r.from == 0 && r.to == 65535)) {
      match += fmt::format("meta l4proto {} ", r.protocol);
    } else if (r.from == r.to) {
      match += fmt::format("{} dport {} ", r.protocol, r.from);
    } else {
      match += fmt::format("{} dport {}-{} ", r.protocol, r.from, r.to);
    }
  } else if (r.protocol == "icmp") {
    if (!in_range(r.from, 255) || !in_range(r.to, 255)) {
      return absl::InvalidArgumentError(fmt::format("Bad ICMP type {} code {}", r.from, r.to));
    }
    match += "meta l4proto icmp ";
    if (r.from >= 0) match += fmt::format("icmp type {} ", r.from);
    if (r.from >= 0 && r.to >= 0) match += fmt::format("icmp code {} ", r.to);
  } else if (r.protocol != "-1") {
    return absl::InvalidArgumentError(fmt::format("Bad firewall protocol '{}'", r.protocol));
  }
  return match + verdict;
}

// The route chains "route_<n>", one per subnet with routes (see above), and which chain each
// subnet's ports jump to (by the subnet's CIDR).
absl::StatusOr<std::string> RouteChains(const VpcFirewall& fw, const std::vector<Cidr>& blocks,
                                        std::vector<std::pair<Cidr, std::string>>* chains) {
  std::map<std::string, const PortFirewall*> port_of;
  for (const auto& p : fw.ports) port_of[p.instance_id] = &p;
  struct Entry {
    Cidr dest;
    int order;  // at one prefix length: the VPC's blocks first
    std::string verdict;
  };
  std::map<std::string, std::vector<Entry>> by_subnet;
  for (const VpcRoute& r : fw.routes) {
    ASSIGN_OR_RETURN(std::string subnet_text, PeerCidr(r.subnet_cidr));
    ASSIGN_OR_RETURN(Cidr subnet, ParseCidr(subnet_text));
    if (!InVpc(blocks, subnet)) {
      return absl::InvalidArgumentError(fmt::format("Bad route subnet {}", r.subnet_cidr));
    }
    ASSIGN_OR_RETURN(std::string dest_text, PeerCidr(r.destination));
    ASSIGN_OR_RETURN(Cidr dest, ParseCidr(dest_text));
    std::string verdict;
    if (r.target.empty()) {
      verdict = "return";
    } else if (r.target == "blackhole") {
      verdict = "drop";
    } else {
      auto it = port_of.find(r.target);
      if (it == port_of.end()) {
        return absl::InvalidArgumentError(fmt::format("Route to unknown port '{}'", r.target));
      }
      verdict = fmt::format("ether daddr set {} return", it->second->mac);
    }
    auto& entries = by_subnet[subnet.ToString()];
    if (entries.empty()) {
      // The VPC's own blocks (a route to one of its subnets, longer, wins over them), and
      // never its services: the subnets' routers, its resolver and its metadata service.
      for (const Cidr& b : blocks) entries.push_back({b, 0, "return"});
      for (const auto& s : fw.vpc.subnet_cidrs) {
        if (auto c = ParseCidr(s); c.ok()) entries.push_back({Cidr{c->base + 1, 32}, 0, "return"});
      }
      entries.push_back({Cidr{blocks.at(0).base + 2, 32}, 0, "return"});
      entries.push_back({Cidr{*ParseIpv4(kMetadataIp), 32}, 0, "return"});
    }
    entries.push_back({dest, 1, verdict});
  }
  std::string out;
  int n = 0;
  for (auto& [subnet_text, entries] : by_subnet) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.dest.prefix_len != b.dest.prefix_len ? a.dest.prefix_len > b.dest.prefix_len
                                                    : a.order < b.order;
    });
    std::string chain = fmt::format("route_{}", n++);
    out += fmt::format("add chain {} {}\n", kPortTable, chain);
    for (const Entry& e : entries) {
      out += fmt::format("add rule {} {} ip daddr {} {}\n", kPortTable, chain, e.dest.ToString(),
                         e.verdict);
    }
    chains->push_back({*ParseCidr(subnet_text), chain});
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> FirewallScript(const VpcFirewall& fw) {
  RETURN_IF_ERROR(ValidateVpc(fw.vpc));
  const std::vector<Cidr> blocks = VpcBlocks(fw.vpc);
  std::set<std::string> sets;
  std::string out;
  // Replaced whole: adding first makes the delete succeed on the first run.
  for (const char* t : {kPortTable, kSgTable}) {
    out += fmt::format("add table {0}\ndelete table {0}\nadd table {0}\n", t);
  }
  // Every address of a port → the port's mark (its primary address).
  std::map<uint32_t, uint32_t> mark_of;
  for (const PortFirewall& p : fw.ports) {
    auto primary = ParseIpv4(p.private_ip);
    if (!primary.ok()) continue;  // refused with the port below
    mark_of[*primary] = *primary;
    for (const auto& s : p.secondary_ips) {
      if (auto ip = ParseIpv4(s); ip.ok()) mark_of[*ip] = *primary;
    }
  }
  for (const auto& [name, members] : fw.peer_sets) {
    if (!ValidSetName(name) || name.size() > 29) {
      return absl::InvalidArgumentError(fmt::format("Bad set '{}'", name));
    }
    sets.insert(name);
    out +=
        fmt::format("add set {t} {n} {{ type ipv4_addr; }}\nadd set {t} {n}_m {{ type mark; }}\n",
                    fmt::arg("t", kSgTable), fmt::arg("n", name));
    std::vector<std::string> ips;
    std::set<std::string> marks;
    for (const auto& m : members) {
      ASSIGN_OR_RETURN(uint32_t ip, ParseIpv4(m));
      ips.push_back(FormatIpv4(ip));
      if (auto it = mark_of.find(ip); it != mark_of.end()) {
        marks.insert(fmt::format("0x{:08x}", it->second));
      }
    }
    if (!ips.empty()) {
      out += fmt::format("add element {} {} {{ {} }}\n", kSgTable, name, fmt::join(ips, ", "));
    }
    if (!marks.empty()) {
      out += fmt::format("add element {} {}_m {{ {} }}\n", kSgTable, name, fmt::join(marks, ", "));
    }
  }

  std::vector<std::pair<Cidr, std::string>> route_chains;
  ASSIGN_OR_RETURN(std::string routes, RouteChains(fw, blocks, &route_chains));
  out += routes;
  std::string port_map, out_map, in_map, dst_map;
  std::set<std::string> seen_ips;
  for (const PortFirewall& p : fw.ports) {
    if (!ValidResourceId(p.instance_id, "i") && !ValidResourceId(p.instance_id, "eni")) {
      return absl::InvalidArgumentError(fmt::format("Bad instance id '{}'", p.instance_id));
    }
    RETURN_IF_ERROR(ParseMac(p.mac).status());
    ASSIGN_OR_RETURN(uint32_t ip, ParseIpv4(p.private_ip));
    if (!InVpc(blocks, Cidr{ip, 32}) || !seen_ips.insert(FormatIpv4(ip)).second) {
      return absl::InvalidArgumentError(fmt::format("Bad port address {}", p.private_ip));
    }
    std::string tag = IdTag(p.instance_id), ip_text = FormatIpv4(ip);
    std::string port = PortVpcName(p.instance_id);
    // The port's own addresses: the primary one and any secondary ones assigned to it.
    std::vector<std::string> own = {ip_text};
    for (const auto& s : p.secondary_ips) {
      ASSIGN_OR_RETURN(uint32_t sip, ParseIpv4(s));
      if (!InVpc(blocks, Cidr{sip, 32}) || !seen_ips.insert(FormatIpv4(sip)).second) {
        return absl::InvalidArgumentError(fmt::format("Bad secondary address {}", s));
      }
      own.push_back(FormatIpv4(sip));
    }
    std::string addrs = own.size() == 1 ? own[0] : fmt::format("{{ {} }}", fmt::join(own, ", "));
    out += fmt::format(
        "add chain {t} port_{tag}\n"
        "add rule {t} port_{tag} ether saddr != {mac} drop\n"
        "add rule {t} port_{tag} meta mark set 0x{ip:08x}\n"
        "add rule {t} port_{tag} ether type arp arp saddr ether {mac} arp saddr ip {addr} accept\n",
        fmt::arg("t", kPortTable), fmt::arg("tag", tag), fmt::arg("mac", p.mac), fmt::arg("ip", ip),
        fmt::arg("addr", addrs));
    for (const auto& [subnet, chain] : route_chains) {
      if (!subnet.Contains(ip)) continue;
      out += fmt::format(
          "add rule {} port_{} ether type ip meta pkttype != {{ broadcast, multicast }} jump {}\n",
          kPortTable, tag, chain);
    }
    out += fmt::format("add rule {} port_{} ether type ip {}accept\n", kPortTable, tag,
                       p.source_dest_check ? fmt::format("ip saddr {} ", addrs) : "");
    out += fmt::format("add rule {} port_{} drop\n", kPortTable, tag);
    port_map += fmt::format("{}\"{}\" : jump port_{}", port_map.empty() ? "" : ", ", port, tag);
    if (p.source_dest_check) {
      out += fmt::format(
          "add chain {t} dst_{tag}\n"
          "add rule {t} dst_{tag} ether type ip meta pkttype != {{ broadcast, multicast }} "
          "ip daddr != {addr} drop\n",
          fmt::arg("t", kPortTable), fmt::arg("tag", tag), fmt::arg("addr", addrs));
      dst_map += fmt::format("{}\"{}\" : jump dst_{}", dst_map.empty() ? "" : ", ", port, tag);
    }

    out += fmt::format("add chain {} out_{}\nadd chain {} in_{}\n", kSgTable, tag, kSgTable, tag);
    for (const FirewallRule& r : p.egress) {
      ASSIGN_OR_RETURN(std::string line, RuleLine(r, "daddr", "return", sets));
      out += fmt::format("add rule {} out_{} {}\n", kSgTable, tag, line);
    }
    out += fmt::format("add rule {} out_{} drop\n", kSgTable, tag);
    for (const FirewallRule& r : p.ingress) {
      ASSIGN_OR_RETURN(std::string line, RuleLine(r, "saddr", "accept", sets));
      out += fmt::format("add rule {} in_{} {}\n", kSgTable, tag, line);
    }
    out += fmt::format("add rule {} in_{} drop\n", kSgTable, tag);
    out_map += fmt::format("{}0x{:08x} : jump out_{}", out_map.empty() ? "" : ", ", ip, tag);
    for (const auto& a : own) {
      in_map += fmt::format("{}{} : jump in_{}", in_map.empty() ? "" : ", ", a, tag);
    }
  }

  // Bridge: before br_netfilter's hooks (priority 0) and the NAT of the inet family.
  out += fmt::format(
      "add chain {t} prerouting {{ type filter hook prerouting priority -300; policy accept; }}\n",
      fmt::arg("t", kPortTable));
  if (!port_map.empty()) {
    out += fmt::format("add rule {} prerouting iifname vmap {{ {} }}\n", kPortTable, port_map);
  }
  out += fmt::format("add rule {} prerouting iifname \"p*\" drop\n", kPortTable);
  // Between ports: the destination check (frames from the router reach a port by the output
  // hook, addressed to it after the router's own NAT).
  out += fmt::format(
      "add chain {t} forward {{ type filter hook forward priority -300; policy accept; }}\n",
      fmt::arg("t", kPortTable));
  if (!dst_map.empty()) {
    out += fmt::format("add rule {} forward oifname vmap {{ {} }}\n", kPortTable, dst_map);
  }

  std::string dns = FormatIpv4(blocks.at(0).base + 2);
  // All of the VPC's blocks: one prefix, or an anonymous set of them.
  std::vector<std::string> block_texts;
  for (const Cidr& b : blocks) block_texts.push_back(b.ToString());
  std::string vpc_blocks = block_texts.size() == 1
                               ? block_texts[0]
                               : fmt::format("{{ {} }}", fmt::join(block_texts, ", "));
  out += fmt::format(
      "add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}\n"
      "add rule {t} forward ct state established,related accept\n"
      "add rule {t} forward ct state invalid drop\n",
      fmt::arg("t", kSgTable));
  // A source of the VPC that no port holds; then the source's egress, whose chain returns here
  // when a rule allows the packet.
  if (seen_ips.empty()) {
    out += fmt::format("add rule {} forward ip saddr {} drop\n", kSgTable, vpc_blocks);
  } else {
    out += fmt::format("add rule {} forward ip saddr {} ip saddr != {{ {} }} drop\n", kSgTable,
                       vpc_blocks, fmt::join(seen_ips, ", "));
    out += fmt::format("add rule {} forward meta mark vmap {{ {} }}\n", kSgTable, out_map);
  }
  if (!in_map.empty()) {
    out += fmt::format("add rule {} forward ip daddr vmap {{ {} }}\n", kSgTable, in_map);
  }
  out += fmt::format("add rule {} forward ip daddr {} drop\n", kSgTable, vpc_blocks);
  out += fmt::format(
      "add chain {t} input {{ type filter hook input priority filter; policy accept; }}\n"
      "add rule {t} input ct state established,related accept\n"
      "add rule {t} input iifname != \"{br}\" ip daddr {md} drop\n"
      "add rule {t} input iifname != \"{br}\" accept\n"
      "add rule {t} input ip daddr {dns} meta l4proto {{ tcp, udp }} th dport 53 accept\n"
      "add rule {t} input ip daddr {md} tcp dport {md_port} accept\n"
      "add rule {t} input icmp type echo-request accept\n"
      "add rule {t} input drop\n",
      fmt::arg("t", kSgTable), fmt::arg("br", "br0"), fmt::arg("dns", dns),
      fmt::arg("md", kMetadataIp), fmt::arg("md_port", kMetadataPort));
  return out;
}

}  // namespace kumo::host::netinternal
