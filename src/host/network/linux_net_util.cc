#include "host/network/linux_net_util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/status_macros.h"

namespace kumo::host::linuxnet {

namespace ni = netinternal;
using ni::Cidr;

absl::Status ErrnoError(std::string_view what) {
  return absl::InternalError(fmt::format("{}: {}", what, strerror(errno)));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, const std::string& value) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 || write(fd.get(), value.data(), value.size()) < 0) {
    return ErrnoError(fmt::format("Failed to write {}", path));
  }
  return absl::OkStatus();
}

// ---- Namespaces ----

bool IsNetns(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

absl::Status InNetns(const std::string& ns_path, const std::function<absl::Status()>& fn) {
  absl::Status result;
  std::thread([&] {
    Fd ns(open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (ns.get() < 0 || setns(ns.get(), CLONE_NEWNET) != 0) {
      result = ErrnoError(fmt::format("Failed to enter network namespace {}", ns_path));
      return;
    }
    result = fn();
  }).join();
  return result;
}

// As `ip netns add` does: /run/netns becomes a shared mount, so namespaces mounted later show
// up in mount namespaces (containers' included) cloned from ours.
static absl::Status PrepareNetnsDir() {
  if (mkdir(kNetnsDir, 0755) != 0 && errno != EEXIST) {
    return ErrnoError("Failed to create /run/netns");
  }
  if (mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return absl::OkStatus();
  if (errno != EINVAL) return ErrnoError("Failed to make /run/netns shared");
  if (mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) != 0 ||
      mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
    return ErrnoError("Failed to make /run/netns a shared mount point");
  }
  return absl::OkStatus();
}

absl::Status EnsureNetns(const std::string& path) {
  if (IsNetns(path)) return absl::OkStatus();
  // A leftover mount point whose namespace is gone (a crash between create and mount).
  umount2(path.c_str(), MNT_DETACH);
  unlink(path.c_str());
  RETURN_IF_ERROR(PrepareNetnsDir());
  {
    Fd f(open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
    if (f.get() < 0) return ErrnoError(fmt::format("Failed to create {}", path));
  }
  absl::Status result;
  std::thread([&] {
    // The namespace outlives this thread through the bind mount.
    if (unshare(CLONE_NEWNET) != 0 ||
        mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      result = ErrnoError(fmt::format("Failed to create network namespace {}", path));
    }
  }).join();
  if (!result.ok()) unlink(path.c_str());
  return result;
}

// ---- Netlink ----

static absl::Status NlError(int err, std::string_view what) {
  return absl::InternalError(fmt::format("{}: {}", what, nl_geterror(err)));
}
static bool NlNotFound(int err) {
  return err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV || err == -NLE_NOADDR;
}

absl::StatusOr<NlSock> OpenRoute() {
  NlSock s(nl_socket_alloc());
  if (!s) return absl::ResourceExhaustedError("Failed to allocate a netlink socket");
  if (int err = nl_connect(s.get(), NETLINK_ROUTE); err < 0) {
    return NlError(err, "Failed to open a route netlink socket");
  }
  return s;
}

static NlAddr Ipv4Addr(uint32_t ip, int prefix_len) {
  in_addr a{htonl(ip)};
  NlAddr addr(nl_addr_build(AF_INET, &a, sizeof a));
  nl_addr_set_prefixlen(addr.get(), prefix_len);
  return addr;
}

absl::StatusOr<Link> FindLink(nl_sock* s, const std::string& name) {
  rtnl_link* link = nullptr;
  int err = rtnl_link_get_kernel(s, 0, name.c_str(), &link);
  if (NlNotFound(err)) return Link();
  if (err < 0) return NlError(err, fmt::format("Failed to look up link {}", name));
  return Link(link);
}

absl::Status SetUp(nl_sock* s, rtnl_link* link) {
  if (rtnl_link_get_flags(link) & IFF_UP) return absl::OkStatus();
  Link change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(s, link, change.get(), 0); err < 0) {
    return NlError(err, fmt::format("Failed to set {} up", rtnl_link_get_name(link)));
  }
  return absl::OkStatus();
}

absl::Status DeleteLink(nl_sock* s, const std::string& name) {
  Link link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(s, link.get());
  if (err < 0 && !NlNotFound(err)) return NlError(err, fmt::format("Failed to delete {}", name));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListLinks(nl_sock* s) {
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(s, AF_UNSPEC, &raw); err < 0) {
    return NlError(err, "Failed to list links");
  }
  Cache cache(raw);
  std::vector<std::pair<std::string, std::string>> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* link = reinterpret_cast<rtnl_link*>(o);
    const char* type = rtnl_link_get_type(link);
    out.emplace_back(rtnl_link_get_name(link), type ? type : "");
  }
  return out;
}

// An IPv4 address on an interface, as rtnl_addr_add and rtnl_addr_delete take it.
static Addr AddressObject(int ifindex, uint32_t ip, int prefix_len) {
  Addr addr(rtnl_addr_alloc());
  NlAddr local = Ipv4Addr(ip, prefix_len);
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), AF_INET);
  rtnl_addr_set_local(addr.get(), local.get());
  rtnl_addr_set_prefixlen(addr.get(), prefix_len);
  return addr;
}

// The kernel replaces rather than duplicates an existing address with NLM_F_REPLACE.
absl::Status AddAddress(nl_sock* s, int ifindex, uint32_t ip, int prefix_len) {
  Addr addr = AddressObject(ifindex, ip, prefix_len);
  if (int err = rtnl_addr_add(s, addr.get(), NLM_F_REPLACE); err < 0) {
    return NlError(err, fmt::format("Failed to add {}/{}", ni::FormatIpv4(ip), prefix_len));
  }
  return absl::OkStatus();
}

absl::Status DeleteAddress(nl_sock* s, int ifindex, uint32_t ip, int prefix_len) {
  Addr addr = AddressObject(ifindex, ip, prefix_len);
  int err = rtnl_addr_delete(s, addr.get(), 0);
  if (err < 0 && !NlNotFound(err)) {
    return NlError(err, fmt::format("Failed to delete {}/{}", ni::FormatIpv4(ip), prefix_len));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Cidr>> Addresses(nl_sock* s, int ifindex) {
  nl_cache* raw = nullptr;
  if (int err = rtnl_addr_alloc_cache(s, &raw); err < 0) {
    return NlError(err, "Failed to list addresses");
  }
  Cache cache(raw);
  std::vector<Cidr> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(o);
    nl_addr* local = rtnl_addr_get_local(addr);
    if (rtnl_addr_get_ifindex(addr) != ifindex || rtnl_addr_get_family(addr) != AF_INET || !local ||
        nl_addr_get_len(local) != 4) {
      continue;
    }
    uint32_t ip;
    memcpy(&ip, nl_addr_get_binary_addr(local), 4);
    // A Cidr here is an address with its prefix length, host bits kept.
    out.push_back({ntohl(ip), rtnl_addr_get_prefixlen(addr)});
  }
  return out;
}

absl::Status ReplaceRoute(nl_sock* s, const Cidr& dst, int ifindex, uint32_t gateway) {
  Route route(rtnl_route_alloc());
  NlAddr d = Ipv4Addr(dst.base, dst.prefix_len);
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_scope(route.get(), gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtnl_route_set_dst(route.get(), d.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex);
  if (gateway) {
    NlAddr gw = Ipv4Addr(gateway, 32);
    rtnl_route_nh_set_gateway(nh, gw.get());
    rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
  }
  rtnl_route_add_nexthop(route.get(), nh);
  if (int err = rtnl_route_add(s, route.get(), NLM_F_REPLACE); err < 0) {
    return NlError(err, fmt::format("Failed to add route to {}", dst.ToString()));
  }
  return absl::OkStatus();
}

namespace {
Route UnreachableRoute(const Cidr& dst) {
  Route route(rtnl_route_alloc());
  NlAddr d = Ipv4Addr(dst.base, dst.prefix_len);
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_type(route.get(), RTN_UNREACHABLE);
  rtnl_route_set_dst(route.get(), d.get());
  return route;
}
}  // namespace

absl::Status ReplaceUnreachableRoute(nl_sock* s, const Cidr& dst) {
  Route route = UnreachableRoute(dst);
  if (int err = rtnl_route_add(s, route.get(), NLM_F_REPLACE); err < 0) {
    return NlError(err, fmt::format("Failed to add unreachable route to {}", dst.ToString()));
  }
  return absl::OkStatus();
}

absl::Status DeleteUnreachableRoute(nl_sock* s, const Cidr& dst) {
  Route route = UnreachableRoute(dst);
  int err = rtnl_route_delete(s, route.get(), 0);
  if (err < 0 && !NlNotFound(err)) {
    return NlError(err, fmt::format("Failed to delete route to {}", dst.ToString()));
  }
  return absl::OkStatus();
}

absl::Status DeleteRoute(nl_sock* s, const Cidr& dst, int ifindex) {
  Route route(rtnl_route_alloc());
  NlAddr d = Ipv4Addr(dst.base, dst.prefix_len);
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_dst(route.get(), d.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_add_nexthop(route.get(), nh);
  int err = rtnl_route_delete(s, route.get(), 0);
  if (err < 0 && !NlNotFound(err)) {
    return NlError(err, fmt::format("Failed to delete route to {}", dst.ToString()));
  }
  return absl::OkStatus();
}

absl::Status AddVeth(nl_sock* s, const std::string& name, const std::string& peer_name,
                     int peer_ns_fd, const std::array<uint8_t, 6>* peer_mac, int master) {
  Link link(rtnl_link_veth_alloc());
  if (!link) return absl::ResourceExhaustedError("Failed to allocate a veth link");
  rtnl_link_set_name(link.get(), name.c_str());
  if (master) rtnl_link_set_master(link.get(), master);
  rtnl_link_set_flags(link.get(), IFF_UP);
  Link peer(rtnl_link_veth_get_peer(link.get()));
  rtnl_link_set_name(peer.get(), peer_name.c_str());
  rtnl_link_set_ns_fd(peer.get(), peer_ns_fd);
  if (peer_mac) {
    NlAddr mac(nl_addr_build(AF_LLC, peer_mac->data(), peer_mac->size()));
    rtnl_link_set_addr(peer.get(), mac.get());
  }
  if (int err = rtnl_link_add(s, link.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    return NlError(err, fmt::format("Failed to create veth pair {}/{}", name, peer_name));
  }
  return absl::OkStatus();
}

absl::StatusOr<Link> EnsureBridge(nl_sock* s, const std::string& name) {
  ASSIGN_OR_RETURN(Link br, FindLink(s, name));
  if (!br) {
    Link add(rtnl_link_bridge_alloc());
    rtnl_link_set_name(add.get(), name.c_str());
    rtnl_link_set_flags(add.get(), IFF_UP);
    if (int err = rtnl_link_add(s, add.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
      return NlError(err, fmt::format("Failed to create bridge {}", name));
    }
    ASSIGN_OR_RETURN(br, FindLink(s, name));
    if (!br) return absl::InternalError(fmt::format("Bridge {} vanished", name));
  }
  RETURN_IF_ERROR(SetUp(s, br.get()));
  return br;
}

// ---- nftables ----

absl::StatusOr<std::string> Nft(const std::string& script) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return absl::ResourceExhaustedError("Failed to create an nftables context");
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  int rc = nft_run_cmd_from_buffer(ctx, script.c_str());
  const char* out = nft_ctx_get_output_buffer(ctx);
  const char* err = nft_ctx_get_error_buffer(ctx);
  std::string output = out ? out : "", error = err ? err : "";
  nft_ctx_free(ctx);
  if (rc != 0) {
    while (!error.empty() && std::isspace(static_cast<unsigned char>(error.back()))) {
      error.pop_back();
    }
    return absl::InternalError(fmt::format("nftables: {}", error));
  }
  return output;
}

bool NftNotFound(const absl::Status& s) {
  return std::string(s.message()).find("No such file or directory") != std::string::npos;
}

}  // namespace kumo::host::linuxnet
