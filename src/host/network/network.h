// The Network seam: EC2-shaped networking on this host, driven by desired state (idempotent).
//
// Shape (see ../shared/ARCHITECTURE.md "Networking shape"):
//   - Every VPC is its own network namespace, named "<prefix>-<vpc-id>" (in /run/netns), acting
//     as the VPC's router: a bridge "br0" carrying each subnet's router address (+1) and the
//     VPC's DNS address (VPC base +2, where a dnsmasq answers ip-a-b-c-d.<domain> names and
//     forwards the rest to the host's resolver).
//   - An uplink veth joins the VPC namespace to the host: host end "<prefix>u<hex>" (unnumbered
//     but for the public pool's gateway address, e.g. 100.64.7.1/32), VPC end "up0". The VPC's
//     default route goes to the host; the host routes each published public address (/32) to
//     the VPC's uplink. Nothing of the VPC's private CIDR enters the host's routing table.
//   - 1:1 NAT like EC2's internet gateway, in an nftables table inside the VPC namespace:
//     public → private (DNAT) for traffic arriving on up0, private → public (SNAT) leaving up0;
//     the public address is a /32 on up0 so the VPC answers ARP for it. Instances without a
//     public address are masqueraded behind the VPC's first public address, if any.
//   - Outbound NAT through the host: the host masquerades the pool's addresses leaving by any
//     interface that is not this daemon's, in the nftables table "<prefix>" (inet family) on
//     the host; IPv4 forwarding is enabled on the host.
//   - An instance's port is a veth pair: one end "p<hex>" on the VPC bridge, the other left in
//     the host namespace as "<prefix>i<hex>" for liblxc to move into the container as eth0
//     (lxc.net.0.type = phys), where liblxc sets its address and gateway before init runs.
//
// <prefix> is "k" + the daemon id (6 hex digits), so several daemons coexist on one host and
// Teardown() removes exactly one daemon's state. Host interface names fit IFNAMSIZ (15).
//
// Threading: not thread-safe; the host agent calls it from one thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kumo::host {

struct VpcNet {
  std::string vpc_id;                        // "vpc-…" (17 hex)
  std::string cidr;                          // "172.31.0.0/16"
  std::vector<std::string> subnet_cidrs;     // "172.31.0.0/20", …; router at +1 of each
  std::string dns_domain;                    // "eu-west-1.compute.internal"
  std::vector<std::string> secondary_cidrs;  // AssociateVpcCidrBlock's blocks
};

struct InstancePort {
  std::string instance_id;  // "i-…" (17 hex)
  std::string vpc_id;
  std::string mac;         // "02:xx:…", stable per instance
  std::string private_ip;  // "172.31.3.7"
  int prefix_len = 20;     // of its subnet
  std::string gateway;     // the subnet's +1
  std::string public_ip;   // "100.64.7.9" or empty
  // 0: the instance's primary port (instance_id "i-…"). N ≥ 1: a network interface attached to
  // it (instance_id is then the interface's "eni-…" id), eth<N> inside the instance.
  int device_index = 0;
};

// A security-group rule as the firewall enforces it, for one direction of one instance.
struct FirewallRule {
  std::string protocol = "-1";  // "tcp" | "udp" | "icmp" | "-1" (all)
  int from = -1;                // port range, or ICMP type (from) and code (to); -1: any
  int to = -1;
  std::string cidr;      // the peer: an IPv4 CIDR ("0.0.0.0/0", host bits allowed) …
  std::string peer_set;  // … or the name of a peer set of VpcFirewall (a source group)
};

// What one instance's port lets through: anti-spoofing (its MAC and address only) and the
// union of its security groups' rules; everything else is dropped.
struct PortFirewall {
  std::string instance_id;
  std::string mac;
  std::string private_ip;
  std::vector<FirewallRule> ingress;
  std::vector<FirewallRule> egress;
  // AssignPrivateIpAddresses' addresses: the port may use them as its own too.
  std::vector<std::string> secondary_ips;
  // EC2's source/destination check. Off: the port may send IPv4 from any source and receive
  // traffic for any destination (a NAT instance, a router).
  bool source_dest_check = true;
};

// A route of a subnet's route table that the VPC's bridge carries out itself: IPv4 traffic from
// the subnet's ports to `destination` goes to the port `target` (an instance or interface id: a
// NAT instance, a router); target "" leaves it to the VPC's router (a gateway's route, listed so
// that the longest prefix wins) and "blackhole" drops it (the target instance is not running).
// Only subnets whose route table has a route to an instance carry any.
struct VpcRoute {
  std::string subnet_cidr;
  std::string destination;
  std::string target;
};

// The whole firewall of one VPC, replaced atomically by ApplyFirewall.
struct VpcFirewall {
  VpcNet vpc;
  std::vector<PortFirewall> ports;
  // Source groups: set name ("g" + hex of the group id) → the members' private addresses.
  std::map<std::string, std::vector<std::string>> peer_sets;
  std::vector<VpcRoute> routes;
};

// The address every instance reaches its metadata service at, and its port.
inline constexpr char kMetadataIp[] = "169.254.169.254";
inline constexpr int kMetadataPort = 80;

class Network {
 public:
  virtual ~Network() = default;

  // The daemon-wide pieces: host nftables table, forwarding, pool gateway address. Idempotent.
  virtual absl::Status EnsureHost() = 0;
  // Namespace, bridge, router and DNS addresses, uplink, NAT table, dnsmasq. Idempotent.
  virtual absl::Status EnsureVpc(const VpcNet& vpc) = 0;
  virtual absl::Status RemoveVpc(std::string_view vpc_id) = 0;
  // The VPCs set up on the host (their namespaces), for removing those no longer wanted.
  virtual absl::StatusOr<std::vector<std::string>> ListVpcs() = 0;

  // Creates (or finds) the instance's veth pair and returns the host-side interface name to
  // hand to liblxc. Call before every start: the pair goes away when the container stops.
  virtual absl::StatusOr<std::string> EnsurePort(const InstancePort& port) = 0;
  // Makes the running instance whose network namespace is at instance_ns have exactly these
  // attached interfaces (device_index ≥ 1, no public address): a veth pair each, its VPC end on
  // the bridge and eth<N> inside with its address; any other eth<N> (N ≥ 1) inside goes.
  virtual absl::Status SetInterfaces(const std::string& instance_ns,
                                     const std::vector<InstancePort>& interfaces) = 0;
  // Makes the public address reach the instance (1:1 NAT, host route). Idempotent.
  virtual absl::Status Publish(const InstancePort& port) = 0;
  // Unmaps whatever public address the instance has (NAT, host route), keeping its port: the
  // running instance has none now, or its address moved to another one. Idempotent.
  virtual absl::Status Unpublish(const InstancePort& port) = 0;
  // Removes the port (if still there), the NAT rules and the host route. Idempotent.
  virtual absl::Status RemovePort(const InstancePort& port) = 0;

  // Replaces the VPC's firewall (security groups, anti-spoofing, metadata marks) in one nft
  // transaction: connections already established survive. The VPC must be set up.
  virtual absl::Status ApplyFirewall(const VpcFirewall& fw) = 0;

  // Tries a TCP connection to ip:port from inside the VPC's namespace (not across any
  // firewall between host and VPC); true when it is accepted within timeout.
  virtual absl::StatusOr<bool> ProbeTcp(std::string_view vpc_id, std::string_view ip, int port,
                                        std::chrono::milliseconds timeout) = 0;

  // Tries a TCP connection to 127.0.0.1:port inside the network namespace at ns_path (an
  // instance's own, /proc/<init pid>/ns/net): what answers there answers whatever a firewall
  // between the instance and its VPC says, so status checks do not depend on security groups.
  virtual absl::StatusOr<bool> ProbeLocalTcp(const std::string& ns_path, int port,
                                             std::chrono::milliseconds timeout) = 0;

  // Removes everything this daemon created on the host: namespaces (and their dnsmasqs),
  // host-side interfaces, routes, the host nftables table. Idempotent.
  virtual absl::Status Teardown() = 0;

  // The host-side interface name the port of this instance has ("<prefix>i" + 7 hex).
  virtual std::string HostPortName(std::string_view instance_id) const = 0;
};

struct NetworkOptions {
  std::string daemon_id;    // 6 hex digits
  std::string public_cidr;  // the pool, e.g. "100.64.7.0/24"; its .1 is the host-side gateway
  std::string state_dir;    // for dnsmasq pid/lease/config files, e.g. /var/lib/kumo/<id>/net
};

// The network namespace of a daemon's VPC (/run/netns/k<daemon id>-<vpc id>), for what serves
// inside it from kumod (the metadata service).
std::string VpcNamespacePath(std::string_view daemon_id, std::string_view vpc_id);

// Linux: netlink (libnl-route-3), network namespaces, libnftables, dnsmasq. Needs root.
std::unique_ptr<Network> NewLinuxNetwork(const NetworkOptions& options);
// Records desired state in memory, for tests of what drives the network.
std::unique_ptr<Network> NewFakeNetwork(const NetworkOptions& options);

// A free /24 in 100.64.0.0/10 for a new daemon's pool: one no local address or route uses and no
// other daemon on this host claims (claims are files under claims_dir, one per pool).
absl::StatusOr<std::string> ClaimPublicPool(const std::string& claims_dir,
                                            const std::string& daemon_id);

}  // namespace kumo::host
