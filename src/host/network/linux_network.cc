// The Linux Network: namespaces, libnl-route-3 for links/addresses/routes, libnftables for NAT,
// one dnsmasq per VPC. Work inside a VPC namespace runs on a short-lived thread that setns()es
// into it (a netlink socket or nft context opened there stays bound to that namespace); the
// calling thread never changes namespace.
//
// State on the host, all named after the prefix "k<daemon id>":
//   /run/netns/<prefix>-<vpc-id>        the VPC namespace (bind mount of an nsfs inode)
//   <prefix>u<tag>                      host end of a VPC's uplink, <pool gateway>/32
//   <prefix>i<tag>                      host end of an instance port, until liblxc takes it
//   nft table inet <prefix>             outbound masquerade and forward accepts
//   <state_dir>/<vpc-id>/dnsmasq.*      pid, log and startup errors of the VPC's dnsmasq
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/files.h"
#include "common/status_macros.h"
#include "host/network/linux_net_util.h"
#include "host/network/network.h"
#include "host/network/network_internal.h"

namespace kumo::host {
namespace {

namespace ni = netinternal;
using linuxnet::AddAddress;
using linuxnet::Addresses;
using linuxnet::AddVeth;
using linuxnet::DeleteAddress;
using linuxnet::DeleteLink;
using linuxnet::DeleteRoute;
using linuxnet::EnsureBridge;
using linuxnet::EnsureNetns;
using linuxnet::ErrnoError;
using linuxnet::Fd;
using linuxnet::FindLink;
using linuxnet::InNetns;
using linuxnet::IsNetns;
using linuxnet::kNetnsDir;
using linuxnet::Link;
using linuxnet::ListLinks;
using linuxnet::Nft;
using linuxnet::NftNotFound;
using linuxnet::NlSock;
using linuxnet::OpenRoute;
using linuxnet::ReadFile;
using linuxnet::ReplaceRoute;
using linuxnet::SetUp;
using linuxnet::WriteFile;
using ni::Cidr;

constexpr char kBridge[] = "br0";
constexpr char kUplinkVpcEnd[] = "up0";
constexpr char kDnsmasq[] = "/usr/sbin/dnsmasq";

constexpr char kNatTable[] = "ip kumo_nat";

// 1:1 NAT in the VPC namespace. Rules are rewritten (flush + add) in one transaction; the maps
// and their elements survive, so re-running keeps the published addresses.
std::string NatTableScript() {
  return fmt::format(
      R"(add table {t}
add map {t} dnat_map {{ type ipv4_addr : ipv4_addr; }}
add map {t} snat_map {{ type ipv4_addr : ipv4_addr; }}
add chain {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add chain {t} output {{ type nat hook output priority -100; policy accept; }}
add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
flush chain {t} prerouting
flush chain {t} output
flush chain {t} postrouting
add rule {t} prerouting iifname "{up}" dnat to ip daddr map @dnat_map
add rule {t} output dnat to ip daddr map @dnat_map
add rule {t} postrouting oifname "{up}" snat to ip saddr map @snat_map
add rule {t} postrouting oifname "{up}" masquerade
)",
      fmt::arg("t", kNatTable), fmt::arg("up", kUplinkVpcEnd));
}

// The value a NAT map holds for key, if any.
std::optional<uint32_t> NatLookup(const std::string& map, uint32_t key) {
  auto out = Nft(fmt::format("get element {} {} {{ {} }}", kNatTable, map, ni::FormatIpv4(key)));
  if (!out.ok()) return std::nullopt;
  size_t at = out->find(" : ", out->find("elements"));
  if (at == std::string::npos) return std::nullopt;
  size_t start = at + 3, end = out->find_first_of(" ,}\n", start);
  auto ip = ni::ParseIpv4(out->substr(start, end - start));
  return ip.ok() ? std::optional<uint32_t>(*ip) : std::nullopt;
}

absl::Status NatDelete(const std::string& map, uint32_t key) {
  auto out = Nft(fmt::format("delete element {} {} {{ {} }}", kNatTable, map, ni::FormatIpv4(key)));
  if (!out.ok() && !NftNotFound(out.status())) return out.status();
  return absl::OkStatus();
}

// Entry names, read whole before the caller changes the directory; none if it is missing.
std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) out.push_back(e->d_name);
    }
    closedir(d);
  }
  return out;
}

// ---- Processes ----

// Zombies count as dead: a daemonized dnsmasq's parent may be an init that never reaps.
bool ProcessAlive(pid_t pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

std::optional<ino_t> NetnsInode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

// Every dnsmasq whose command line contains needle or that lives in the namespace at ns_path.
std::vector<pid_t> FindDnsmasqs(const std::string& needle, const std::string& ns_path) {
  std::optional<ino_t> ns = ns_path.empty() ? std::nullopt : NetnsInode(ns_path);
  std::vector<pid_t> out;
  for (const std::string& name : ListDir("/proc")) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string dir = "/proc/" + name;
    if (ReadFile(dir + "/comm") != "dnsmasq\n") continue;
    std::string cmdline = ReadFile(dir + "/cmdline");
    bool match = !needle.empty() && cmdline.find(needle) != std::string::npos;
    if (!match && ns) match = NetnsInode(dir + "/ns/net") == ns;
    pid_t pid = static_cast<pid_t>(std::strtol(name.c_str(), nullptr, 10));
    if (match && ProcessAlive(pid)) out.push_back(pid);
  }
  return out;
}

bool WaitGone(const std::vector<pid_t>& pids, std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    bool any = std::any_of(pids.begin(), pids.end(), ProcessAlive);
    if (!any) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

absl::Status Terminate(const std::vector<pid_t>& pids) {
  if (pids.empty()) return absl::OkStatus();
  for (pid_t p : pids) kill(p, SIGTERM);
  if (WaitGone(pids, std::chrono::seconds(3))) return absl::OkStatus();
  for (pid_t p : pids) {
    if (ProcessAlive(p)) kill(p, SIGKILL);
  }
  if (WaitGone(pids, std::chrono::seconds(2))) return absl::OkStatus();
  return absl::InternalError(fmt::format("dnsmasq (pid {}) did not exit", pids.front()));
}

// ---- The network ----

class LinuxNetwork : public Network {
 public:
  explicit LinuxNetwork(const NetworkOptions& options)
      : options_(options),
        options_status_(ni::ValidateOptions(options)),
        prefix_(ni::Prefix(options.daemon_id)) {
    if (options_status_.ok()) pool_ = *ni::ParseCidr(options.public_cidr);
    gateway_ = pool_.base + 1;
  }

  absl::Status EnsureHost() override {
    RETURN_IF_ERROR(options_status_);
    RETURN_IF_ERROR(WriteFile("/proc/sys/net/ipv4/ip_forward", "1"));
    // Private addresses never leave an uplink: without a public address on up0 the VPC's
    // masquerade has nothing to hide them behind.
    std::string script = fmt::format(
        R"(add table {t}
add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
flush chain {t} postrouting
add rule {t} postrouting ip saddr {pool} oifname != "{p}*" masquerade
add chain {t} forward {{ type filter hook forward priority filter - 10; policy accept; }}
flush chain {t} forward
add rule {t} forward iifname "{p}u*" ip saddr != {pool} drop
add rule {t} forward iifname "{p}*" accept
add rule {t} forward oifname "{p}*" accept
)",
        fmt::arg("t", "inet " + prefix_), fmt::arg("p", prefix_),
        fmt::arg("pool", pool_.ToString()));
    RETURN_IF_ERROR(Nft(script).status());
    // A pool address not (or not yet) published must not follow the host's default route out
    // (a client racing a launch would talk to whatever is there); it fails at once instead.
    // Published addresses are /32 routes to their VPC's uplink, which win over this.
    ASSIGN_OR_RETURN(NlSock host, OpenRoute());
    RETURN_IF_ERROR(linuxnet::ReplaceUnreachableRoute(host.get(), pool_));
    // An accept in our table cannot overrule a drop in another: say so, once per start.
    if (auto chains = Nft("list chains"); chains.ok()) {
      std::istringstream in(*chains);
      for (std::string line; std::getline(in, line);) {
        if (line.find("hook forward") != std::string::npos &&
            line.find("policy drop") != std::string::npos) {
          spdlog::warn(
              "A host forward chain drops by default; VPC traffic through the host "
              "needs it to accept interfaces {}*",
              prefix_);
          break;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status EnsureVpc(const VpcNet& vpc) override {
    RETURN_IF_ERROR(options_status_);
    RETURN_IF_ERROR(ni::ValidateVpc(vpc));
    Cidr cidr = *ni::ParseCidr(vpc.cidr);
    std::vector<Cidr> want;  // addresses of br0
    for (const std::string& s : vpc.subnet_cidrs) {
      Cidr subnet = *ni::ParseCidr(s);
      want.push_back({subnet.base + 1, subnet.prefix_len});
    }
    want.push_back({cidr.base + 2, 32});

    std::string ns = NsPath(vpc.vpc_id);
    RETURN_IF_ERROR(EnsureNetns(ns));
    ASSIGN_OR_RETURN(NlSock host, OpenRoute());
    Fd host_ns(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (host_ns.get() < 0) return ErrnoError("Failed to open the host network namespace");
    std::string uplink = ni::UplinkName(prefix_, vpc.vpc_id);

    RETURN_IF_ERROR(InNetns(ns, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(NlSock s, OpenRoute());
      RETURN_IF_ERROR(WriteFile("/proc/sys/net/ipv4/ip_forward", "1"));
      // Bridged traffic between instances through the inet hooks (conntrack: stateful groups),
      // and the packet mark of a connection's SYN (its port) onto the accepted socket, which
      // is how the metadata service knows its caller.
      RETURN_IF_ERROR(WriteFile("/proc/sys/net/bridge/bridge-nf-call-iptables", "1"));
      RETURN_IF_ERROR(WriteFile("/proc/sys/net/ipv4/tcp_fwmark_accept", "1"));
      ASSIGN_OR_RETURN(Link lo, FindLink(s.get(), "lo"));
      if (!lo) return absl::InternalError("The VPC namespace has no loopback");
      RETURN_IF_ERROR(SetUp(s.get(), lo.get()));
      // The metadata address lives only in the VPC's namespace, never on a host interface.
      RETURN_IF_ERROR(
          AddAddress(s.get(), rtnl_link_get_ifindex(lo.get()), *ni::ParseIpv4(kMetadataIp), 32));

      ASSIGN_OR_RETURN(Link br, EnsureBridge(s.get(), kBridge));
      int br_index = rtnl_link_get_ifindex(br.get());
      // A NAT instance hands replies back to the router with outside sources on br0: no
      // reverse-path filter here (a new namespace copies the host's, strict on some systems).
      // The bridge's port table is what checks sources.
      for (const char* conf : {"all", "default", kBridge}) {
        RETURN_IF_ERROR(WriteFile(fmt::format("/proc/sys/net/ipv4/conf/{}/rp_filter", conf), "0"));
      }
      ASSIGN_OR_RETURN(std::vector<Cidr> have, Addresses(s.get(), br_index));
      auto same = [](const Cidr& a, const Cidr& b) {
        return a.base == b.base && a.prefix_len == b.prefix_len;
      };
      for (const Cidr& h : have) {
        if (std::none_of(want.begin(), want.end(), [&](const Cidr& w) { return same(h, w); })) {
          RETURN_IF_ERROR(DeleteAddress(s.get(), br_index, h.base, h.prefix_len));
        }
      }
      for (const Cidr& w : want) {
        if (std::none_of(have.begin(), have.end(), [&](const Cidr& h) { return same(h, w); })) {
          RETURN_IF_ERROR(AddAddress(s.get(), br_index, w.base, w.prefix_len));
        }
      }

      // A pair missing either end is recreated whole.
      ASSIGN_OR_RETURN(Link up, FindLink(s.get(), kUplinkVpcEnd));
      ASSIGN_OR_RETURN(Link host_end, FindLink(host.get(), uplink));
      if (!up || !host_end) {
        RETURN_IF_ERROR(DeleteLink(s.get(), kUplinkVpcEnd));
        RETURN_IF_ERROR(DeleteLink(host.get(), uplink));
        RETURN_IF_ERROR(AddVeth(s.get(), kUplinkVpcEnd, uplink, host_ns.get(), nullptr, 0));
        ASSIGN_OR_RETURN(up, FindLink(s.get(), kUplinkVpcEnd));
        ASSIGN_OR_RETURN(host_end, FindLink(host.get(), uplink));
        if (!up || !host_end) return absl::InternalError(fmt::format("Uplink {} vanished", uplink));
      }
      RETURN_IF_ERROR(SetUp(s.get(), up.get()));
      int host_index = rtnl_link_get_ifindex(host_end.get());
      RETURN_IF_ERROR(AddAddress(host.get(), host_index, gateway_, 32));
      RETURN_IF_ERROR(SetUp(host.get(), host_end.get()));
      RETURN_IF_ERROR(ReplaceRoute(s.get(), {0, 0}, rtnl_link_get_ifindex(up.get()), gateway_));
      return Nft(NatTableScript()).status();
    }));
    return EnsureDnsmasq(vpc, ns);
  }

  absl::Status RemoveVpc(std::string_view vpc_id) override {
    RETURN_IF_ERROR(options_status_);
    if (!ni::ValidResourceId(vpc_id, "vpc")) {
      return absl::InvalidArgumentError(fmt::format("Bad VPC id '{}'", vpc_id));
    }
    return DropVpc(std::string(vpc_id));
  }

  absl::StatusOr<std::vector<std::string>> ListVpcs() override {
    RETURN_IF_ERROR(options_status_);
    std::vector<std::string> out;
    std::string ns_prefix = prefix_ + "-";
    for (const std::string& name : ListDir(kNetnsDir)) {
      if (name.rfind(ns_prefix, 0) == 0) out.push_back(name.substr(ns_prefix.size()));
    }
    return out;
  }

  absl::StatusOr<std::string> EnsurePort(const InstancePort& port) override {
    RETURN_IF_ERROR(CheckPort(port));
    std::string host_name = HostPortName(port.instance_id);
    ASSIGN_OR_RETURN(NlSock host, OpenRoute());
    ASSIGN_OR_RETURN(Link existing, FindLink(host.get(), host_name));
    if (existing) return host_name;

    std::array<uint8_t, 6> mac = *ni::ParseMac(port.mac);
    Fd host_ns(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (host_ns.get() < 0) return ErrnoError("Failed to open the host network namespace");
    RETURN_IF_ERROR(InNetns(NsPath(port.vpc_id), [&]() -> absl::Status {
      ASSIGN_OR_RETURN(NlSock s, OpenRoute());
      ASSIGN_OR_RETURN(Link br, FindLink(s.get(), kBridge));
      if (!br) {
        return absl::FailedPreconditionError(fmt::format("VPC {} has no bridge", port.vpc_id));
      }
      // The VPC end of a pair whose host end died with its container, or of a half-made pair.
      std::string vpc_name = ni::PortVpcName(port.instance_id);
      RETURN_IF_ERROR(DeleteLink(s.get(), vpc_name));
      return AddVeth(s.get(), vpc_name, host_name, host_ns.get(), &mac,
                     rtnl_link_get_ifindex(br.get()));
    }));
    return host_name;
  }

  absl::Status SetInterfaces(const std::string& instance_ns,
                             const std::vector<InstancePort>& interfaces) override {
    RETURN_IF_ERROR(options_status_);
    std::map<std::string, const InstancePort*> want;  // eth<N> → its interface
    for (const auto& p : interfaces) {
      if (p.device_index < 1) return absl::InvalidArgumentError("Not an attached interface");
      RETURN_IF_ERROR(CheckPort(p));
      want[fmt::format("eth{}", p.device_index)] = &p;
    }
    if (!IsNetns(instance_ns)) {
      return absl::FailedPreconditionError(fmt::format("No namespace at {}", instance_ns));
    }
    // Inside: what is attached but no longer wanted (or wanted with another address) goes,
    // and its pair with it.
    std::set<std::string> present;
    RETURN_IF_ERROR(InNetns(instance_ns, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(NlSock s, OpenRoute());
      ASSIGN_OR_RETURN(auto links, ListLinks(s.get()));
      for (const auto& [name, kind] : links) {
        if (name.size() < 4 || name.rfind("eth", 0) != 0 || name == "eth0") continue;
        auto it = want.find(name);
        bool keep = false;
        if (it != want.end()) {
          ASSIGN_OR_RETURN(Link l, FindLink(s.get(), name));
          char buf[32] = {};
          nl_addr* mac = l ? rtnl_link_get_addr(l.get()) : nullptr;
          keep = mac && it->second->mac == nl_addr2str(mac, buf, sizeof(buf));
        }
        if (keep) {
          present.insert(name);
        } else {
          RETURN_IF_ERROR(DeleteLink(s.get(), name));
        }
      }
      return absl::OkStatus();
    }));
    Fd inside(open(instance_ns.c_str(), O_RDONLY | O_CLOEXEC));
    if (inside.get() < 0) return ErrnoError("Failed to open the instance's network namespace");
    for (const auto& entry : want) {
      // Named, not structured bindings: lambdas capture these.
      const std::string& name = entry.first;
      const InstancePort* p = entry.second;
      if (present.count(name)) continue;
      std::array<uint8_t, 6> mac = *ni::ParseMac(p->mac);
      RETURN_IF_ERROR(InNetns(NsPath(p->vpc_id), [&]() -> absl::Status {
        ASSIGN_OR_RETURN(NlSock s, OpenRoute());
        ASSIGN_OR_RETURN(Link br, FindLink(s.get(), kBridge));
        if (!br)
          return absl::FailedPreconditionError(fmt::format("VPC {} has no bridge", p->vpc_id));
        std::string vpc_name = ni::PortVpcName(p->instance_id);
        RETURN_IF_ERROR(DeleteLink(s.get(), vpc_name));  // a pair half made, or attached elsewhere
        return AddVeth(s.get(), vpc_name, name, inside.get(), &mac,
                       rtnl_link_get_ifindex(br.get()));
      }));
      uint32_t ip = *ni::ParseIpv4(p->private_ip);
      RETURN_IF_ERROR(InNetns(instance_ns, [&]() -> absl::Status {
        ASSIGN_OR_RETURN(NlSock s, OpenRoute());
        ASSIGN_OR_RETURN(Link l, FindLink(s.get(), name));
        if (!l) return absl::InternalError(fmt::format("{} did not arrive", name));
        RETURN_IF_ERROR(AddAddress(s.get(), rtnl_link_get_ifindex(l.get()), ip, p->prefix_len));
        return SetUp(s.get(), l.get());
      }));
    }
    return absl::OkStatus();
  }

  absl::Status Publish(const InstancePort& port) override {
    RETURN_IF_ERROR(CheckPort(port));
    if (port.public_ip.empty()) return absl::OkStatus();
    uint32_t pub = *ni::ParseIpv4(port.public_ip), priv = *ni::ParseIpv4(port.private_ip);
    ASSIGN_OR_RETURN(NlSock host, OpenRoute());
    ASSIGN_OR_RETURN(Link uplink, FindLink(host.get(), ni::UplinkName(prefix_, port.vpc_id)));
    if (!uplink) {
      return absl::FailedPreconditionError(fmt::format("VPC {} has no uplink", port.vpc_id));
    }
    std::optional<uint32_t> old_pub;  // the instance's previous public address
    RETURN_IF_ERROR(InNetns(NsPath(port.vpc_id), [&]() -> absl::Status {
      ASSIGN_OR_RETURN(NlSock s, OpenRoute());
      ASSIGN_OR_RETURN(Link up, FindLink(s.get(), kUplinkVpcEnd));
      if (!up) return absl::FailedPreconditionError(fmt::format("VPC {} has no up0", port.vpc_id));
      int up_index = rtnl_link_get_ifindex(up.get());
      RETURN_IF_ERROR(AddAddress(s.get(), up_index, pub, 32));
      // The kernel drops every IPv4 route of an interface whose last address goes, so the
      // default route is gone whenever the VPC's last public address was released (a stop).
      RETURN_IF_ERROR(ReplaceRoute(s.get(), {0, 0}, up_index, gateway_));
      std::string add = fmt::format(
          "add element {t} dnat_map {{ {pub} : {priv} }}\n"
          "add element {t} snat_map {{ {priv} : {pub} }}\n",
          fmt::arg("t", kNatTable), fmt::arg("pub", port.public_ip),
          fmt::arg("priv", port.private_ip));
      if (Nft(add).ok()) return absl::OkStatus();
      // Either key is mapped elsewhere: the instance had another public address, or this
      // address belonged to another instance. The new mapping wins.
      old_pub = NatLookup("snat_map", priv);
      if (old_pub && *old_pub != pub) {
        RETURN_IF_ERROR(NatDelete("dnat_map", *old_pub));
        RETURN_IF_ERROR(DeleteAddress(s.get(), up_index, *old_pub, 32));
      } else {
        old_pub.reset();
      }
      RETURN_IF_ERROR(NatDelete("snat_map", priv));
      if (std::optional<uint32_t> old_priv = NatLookup("dnat_map", pub)) {
        RETURN_IF_ERROR(NatDelete("snat_map", *old_priv));
      }
      RETURN_IF_ERROR(NatDelete("dnat_map", pub));
      return Nft(add).status();
    }));
    int uplink_index = rtnl_link_get_ifindex(uplink.get());
    if (old_pub) RETURN_IF_ERROR(DeleteRoute(host.get(), {*old_pub, 32}, uplink_index));
    return ReplaceRoute(host.get(), {pub, 32}, uplink_index, 0);
  }

  absl::Status RemovePort(const InstancePort& port) override {
    RETURN_IF_ERROR(options_status_);
    RETURN_IF_ERROR(ni::ValidatePort(port, pool_));
    ASSIGN_OR_RETURN(NlSock host, OpenRoute());
    RETURN_IF_ERROR(DeleteLink(host.get(), HostPortName(port.instance_id)));
    return DropPublic(port, /*remove_links=*/true);
  }

  absl::Status Unpublish(const InstancePort& port) override {
    RETURN_IF_ERROR(options_status_);
    RETURN_IF_ERROR(ni::ValidatePort(port, pool_));
    InstancePort none = port;
    none.public_ip.clear();  // whatever the NAT maps to the instance goes, not the address given
    return DropPublic(none, /*remove_links=*/false);
  }

  // Unmaps the instance's public address(es): NAT, the uplink's address and the host route,
  // except an address that has moved on to another instance since.
  absl::Status DropPublic(const InstancePort& port, bool remove_links) {
    uint32_t priv = *ni::ParseIpv4(port.private_ip);
    std::set<uint32_t> pubs;
    if (!port.public_ip.empty()) pubs.insert(*ni::ParseIpv4(port.public_ip));
    ASSIGN_OR_RETURN(NlSock host, OpenRoute());
    std::string ns = NsPath(port.vpc_id);
    if (IsNetns(ns)) {
      RETURN_IF_ERROR(InNetns(ns, [&]() -> absl::Status {
        ASSIGN_OR_RETURN(NlSock s, OpenRoute());
        if (remove_links) RETURN_IF_ERROR(DeleteLink(s.get(), ni::PortVpcName(port.instance_id)));
        if (std::optional<uint32_t> mapped = NatLookup("snat_map", priv)) pubs.insert(*mapped);
        RETURN_IF_ERROR(NatDelete("snat_map", priv));
        ASSIGN_OR_RETURN(Link up, FindLink(s.get(), kUplinkVpcEnd));
        for (auto it = pubs.begin(); it != pubs.end();) {
          // An address published for another instance since is that instance's now.
          if (std::optional<uint32_t> owner = NatLookup("dnat_map", *it); owner && *owner != priv) {
            it = pubs.erase(it);
            continue;
          }
          RETURN_IF_ERROR(NatDelete("dnat_map", *it));
          if (up) RETURN_IF_ERROR(DeleteAddress(s.get(), rtnl_link_get_ifindex(up.get()), *it, 32));
          ++it;
        }
        return absl::OkStatus();
      }));
    }
    ASSIGN_OR_RETURN(Link uplink, FindLink(host.get(), ni::UplinkName(prefix_, port.vpc_id)));
    if (uplink) {
      for (uint32_t pub : pubs) {
        RETURN_IF_ERROR(DeleteRoute(host.get(), {pub, 32}, rtnl_link_get_ifindex(uplink.get())));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ApplyFirewall(const VpcFirewall& fw) override {
    RETURN_IF_ERROR(options_status_);
    ASSIGN_OR_RETURN(std::string script, ni::FirewallScript(fw));
    std::string ns = NsPath(fw.vpc.vpc_id);
    if (!IsNetns(ns)) {
      return absl::FailedPreconditionError(fmt::format("VPC {} is not set up", fw.vpc.vpc_id));
    }
    return InNetns(ns, [&]() -> absl::Status { return Nft(script).status(); });
  }

  absl::StatusOr<bool> ProbeTcp(std::string_view vpc_id, std::string_view ip, int port,
                                std::chrono::milliseconds timeout) override {
    RETURN_IF_ERROR(options_status_);
    if (!ni::ValidResourceId(vpc_id, "vpc")) {
      return absl::InvalidArgumentError(fmt::format("Bad VPC id '{}'", vpc_id));
    }
    ASSIGN_OR_RETURN(uint32_t addr, ni::ParseIpv4(std::string(ip)));
    if (port <= 0 || port > 65535 || timeout.count() < 0) {
      return absl::InvalidArgumentError(fmt::format("Bad probe port {} or timeout", port));
    }
    std::string ns = NsPath(vpc_id);
    if (!IsNetns(ns)) {
      return absl::FailedPreconditionError(fmt::format("VPC {} is not set up", vpc_id));
    }
    return ConnectIn(ns, addr, port, timeout);
  }

  absl::StatusOr<bool> ProbeLocalTcp(const std::string& ns_path, int port,
                                     std::chrono::milliseconds timeout) override {
    if (port <= 0 || port > 65535 || timeout.count() < 0) {
      return absl::InvalidArgumentError(fmt::format("Bad probe port {} or timeout", port));
    }
    if (!IsNetns(ns_path) && access(ns_path.c_str(), F_OK) != 0) {
      return absl::FailedPreconditionError(fmt::format("No network namespace at {}", ns_path));
    }
    return ConnectIn(ns_path, 0x7f000001, port, timeout);
  }

  // A non-blocking connect from a thread inside the namespace at ns; true once accepted.
  static absl::StatusOr<bool> ConnectIn(const std::string& ns, uint32_t addr, int port,
                                        std::chrono::milliseconds timeout) {
    bool connected = false;
    RETURN_IF_ERROR(InNetns(ns, [&]() -> absl::Status {
      Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (fd.get() < 0) return ErrnoError("Failed to create a socket");
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      sa.sin_addr.s_addr = htonl(addr);
      if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        connected = true;
        return absl::OkStatus();
      }
      if (errno != EINPROGRESS) return absl::OkStatus();
      auto until = std::chrono::steady_clock::now() + timeout;
      while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        pollfd p{fd.get(), POLLOUT, 0};
        int n = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return absl::OkStatus();
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        connected = err == 0;
        return absl::OkStatus();
      }
    }));
    return connected;
  }

  absl::Status Teardown() override {
    RETURN_IF_ERROR(options_status_);
    absl::Status first;
    auto note = [&](absl::Status s) {
      if (!s.ok()) {
        spdlog::warn("Network teardown: {}", std::string(s.message()));
        if (first.ok()) first = s;
      }
    };
    std::string ns_prefix = prefix_ + "-";
    for (const std::string& name : ListDir(kNetnsDir)) {
      if (name.rfind(ns_prefix, 0) == 0) note(DropVpc(name.substr(ns_prefix.size())));
    }
    // dnsmasqs whose namespace mount is already gone, and their state.
    note(Terminate(FindDnsmasqs("--pid-file=" + options_.state_dir + "/", "")));
    for (const std::string& name : ListDir(options_.state_dir)) {
      if (ni::ValidResourceId(name, "vpc")) note(RemoveTree(VpcDir(name)));
    }
    auto host = OpenRoute();
    if (host.ok()) {
      auto links = ListLinks(host->get());
      if (links.ok()) {
        for (const auto& [name, kind] : *links) {
          if (name.rfind(prefix_, 0) == 0) note(DeleteLink(host->get(), name));
        }
      } else {
        note(links.status());
      }
    } else {
      note(host.status());
    }
    if (auto h = OpenRoute(); h.ok()) note(linuxnet::DeleteUnreachableRoute(h->get(), pool_));
    // Creating it first makes the delete succeed whether or not it was there.
    note(Nft(fmt::format("add table inet {0}\ndelete table inet {0}\n", prefix_)).status());
    return first;
  }

  std::string HostPortName(std::string_view instance_id) const override {
    return ni::PortHostName(prefix_, instance_id);
  }

 private:
  std::string NsPath(std::string_view vpc_id) const {
    return fmt::format("{}/{}", kNetnsDir, ni::NamespaceName(prefix_, vpc_id));
  }
  std::string VpcDir(std::string_view vpc_id) const {
    return fmt::format("{}/{}", options_.state_dir, vpc_id);
  }

  absl::Status CheckPort(const InstancePort& port) const {
    RETURN_IF_ERROR(options_status_);
    RETURN_IF_ERROR(ni::ValidatePort(port, pool_));
    if (!IsNetns(NsPath(port.vpc_id))) {
      return absl::FailedPreconditionError(fmt::format("VPC {} is not set up", port.vpc_id));
    }
    return absl::OkStatus();
  }

  std::vector<std::string> DnsmasqArgs(const VpcNet& vpc) const {
    Cidr cidr = *ni::ParseCidr(vpc.cidr);
    std::string dir = VpcDir(vpc.vpc_id);
    // Only the DNS address: not lo (no 127.0.0.1 in a VPC) and never the uplink.
    std::vector<std::string> args = {kDnsmasq,
                                     "--conf-file=/dev/null",
                                     "--pid-file=" + dir + "/dnsmasq.pid",
                                     "--log-facility=" + dir + "/dnsmasq.log",
                                     "--listen-address=" + ni::FormatIpv4(cidr.base + 2),
                                     "--bind-interfaces",
                                     "--except-interface=lo",
                                     "--no-hosts",
                                     "--no-dhcp-interface=" + std::string(kBridge),
                                     "--domain=" + vpc.dns_domain,
                                     "--local=/" + vpc.dns_domain + "/",
                                     "--synth-domain=" + vpc.dns_domain + "," + vpc.cidr + ",ip-",
                                     "--domain-needed",
                                     "--bogus-priv",
                                     "--resolv-file=/etc/resolv.conf",
                                     "--cache-size=256"};
    for (const auto& block : vpc.secondary_cidrs) {
      args.push_back("--synth-domain=" + vpc.dns_domain + "," + block + ",ip-");
    }
    return args;
  }

  absl::Status EnsureDnsmasq(const VpcNet& vpc, const std::string& ns) {
    std::vector<std::string> args = DnsmasqArgs(vpc);
    std::string dir = VpcDir(vpc.vpc_id), pid_file = dir + "/dnsmasq.pid";
    std::string want_cmdline;
    for (const auto& a : args) want_cmdline += a + '\0';
    std::string pid_text = ReadFile(pid_file);
    pid_t pid = static_cast<pid_t>(std::strtol(pid_text.c_str(), nullptr, 10));
    if (pid > 0 && ProcessAlive(pid) &&
        ReadFile(fmt::format("/proc/{}/cmdline", pid)) == want_cmdline &&
        NetnsInode(fmt::format("/proc/{}/ns/net", pid)) == NetnsInode(ns)) {
      return absl::OkStatus();
    }
    // One with other settings, or in this namespace without a pid file, holds port 53. So may
    // one still dying: its command line is already gone but its socket is not yet closed.
    std::vector<pid_t> old = FindDnsmasqs("--pid-file=" + pid_file, ns);
    if (pid > 0 && ProcessAlive(pid) &&
        ReadFile(fmt::format("/proc/{}/comm", pid)) == "dnsmasq\n" &&
        ReadFile(fmt::format("/proc/{}/cmdline", pid)).empty()) {
      old.push_back(pid);
    }
    RETURN_IF_ERROR(Terminate(old));
    RETURN_IF_ERROR(MakeDirs(dir));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string err_path = dir + "/dnsmasq.err";
    Fd ns_fd(open(ns.c_str(), O_RDONLY | O_CLOEXEC));
    Fd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
    Fd err_fd(open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (ns_fd.get() < 0 || null_fd.get() < 0 || err_fd.get() < 0) {
      return ErrnoError("Failed to prepare dnsmasq's namespace and stdio");
    }
    pid_t child = fork();
    if (child < 0) return ErrnoError("Failed to fork dnsmasq");
    if (child == 0) {
      // Only async-signal-safe calls between fork and exec.
      if (setns(ns_fd.get(), CLONE_NEWNET) != 0) _exit(126);
      dup2(null_fd.get(), 0);
      dup2(null_fd.get(), 1);
      dup2(err_fd.get(), 2);
      close_range(3, ~0U, 0);
      execv(kDnsmasq, argv.data());
      _exit(127);
    }
    // dnsmasq's first process exits once the daemon is serving, or with its startup error.
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::string err = ReadFile(err_path);
      while (!err.empty() && std::isspace(static_cast<unsigned char>(err.back()))) err.pop_back();
      return absl::InternalError(
          fmt::format("dnsmasq for {} failed to start (status {}): {}", vpc.vpc_id, status, err));
    }
    return absl::OkStatus();
  }

  // RemoveVpc without the validation, for Teardown too.
  absl::Status DropVpc(const std::string& vpc_id) {
    std::string ns = NsPath(vpc_id);
    bool valid_id = ni::ValidResourceId(vpc_id, "vpc");
    std::string needle = valid_id ? "--pid-file=" + VpcDir(vpc_id) + "/dnsmasq.pid" : "";
    RETURN_IF_ERROR(Terminate(FindDnsmasqs(needle, ns)));
    if (IsNetns(ns)) {
      // Deleting the VPC ends takes their host ends (ports, uplink and its routes) now; a
      // namespace's own teardown happens whenever the kernel gets to it.
      RETURN_IF_ERROR(InNetns(ns, [&]() -> absl::Status {
        ASSIGN_OR_RETURN(NlSock s, OpenRoute());
        ASSIGN_OR_RETURN(auto links, ListLinks(s.get()));
        for (const auto& [name, kind] : links) {
          if (kind == "veth") RETURN_IF_ERROR(DeleteLink(s.get(), name));
        }
        return absl::OkStatus();
      }));
    }
    if (valid_id) {
      ASSIGN_OR_RETURN(NlSock host, OpenRoute());
      RETURN_IF_ERROR(DeleteLink(host.get(), ni::UplinkName(prefix_, vpc_id)));
    }
    if (umount2(ns.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      return ErrnoError(fmt::format("Failed to unmount {}", ns));
    }
    if (unlink(ns.c_str()) != 0 && errno != ENOENT) {
      return ErrnoError(fmt::format("Failed to remove {}", ns));
    }
    return valid_id ? RemoveTree(VpcDir(vpc_id)) : absl::OkStatus();
  }

  NetworkOptions options_;
  absl::Status options_status_;
  std::string prefix_;
  Cidr pool_;
  uint32_t gateway_ = 0;
};

}  // namespace

std::unique_ptr<Network> NewLinuxNetwork(const NetworkOptions& options) {
  return std::make_unique<LinuxNetwork>(options);
}

}  // namespace kumo::host
