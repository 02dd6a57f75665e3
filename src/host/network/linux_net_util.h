// Linux primitives behind LinuxNetwork: network namespaces, libnl-route-3 links/addresses/
// routes, libnftables. Netlink sockets and nft contexts belong to the namespace of the thread
// that opens them, so work inside a namespace opens them on the thread InNetns gives it.
#pragma once

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "host/network/network_internal.h"

namespace kumo::host::linuxnet {

inline constexpr char kNetnsDir[] = "/run/netns";

absl::Status ErrnoError(std::string_view what);

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);
absl::Status WriteFile(const std::string& path, const std::string& value);

// ---- Namespaces ----

// A mounted namespace (not a leftover empty mount point).
bool IsNetns(const std::string& path);
// Runs fn on a new thread joined to the namespace at ns_path: setns() changes only the calling
// thread, and the caller's own thread must never change namespace.
absl::Status InNetns(const std::string& ns_path, const std::function<absl::Status()>& fn);
// Creates and mounts the namespace at path (under kNetnsDir) unless it is there.
absl::Status EnsureNetns(const std::string& path);

// ---- Netlink ----

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using NlSock = std::unique_ptr<nl_sock, Free<nl_sock, nl_socket_free>>;
using Link = std::unique_ptr<rtnl_link, Free<rtnl_link, rtnl_link_put>>;
using Addr = std::unique_ptr<rtnl_addr, Free<rtnl_addr, rtnl_addr_put>>;
using Route = std::unique_ptr<rtnl_route, Free<rtnl_route, rtnl_route_put>>;
using NlAddr = std::unique_ptr<nl_addr, Free<nl_addr, nl_addr_put>>;
using Cache = std::unique_ptr<nl_cache, Free<nl_cache, nl_cache_free>>;

// Bound to the namespace of the calling thread for its whole life.
absl::StatusOr<NlSock> OpenRoute();
// Null when there is no such link.
absl::StatusOr<Link> FindLink(nl_sock* s, const std::string& name);
absl::Status SetUp(nl_sock* s, rtnl_link* link);
// Absent is fine. Deleting one end of a veth deletes both.
absl::Status DeleteLink(nl_sock* s, const std::string& name);
// Every link of the namespace: name and kind ("veth", "bridge", "" for none).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListLinks(nl_sock* s);
// Idempotent: an existing address is replaced.
absl::Status AddAddress(nl_sock* s, int ifindex, uint32_t ip, int prefix_len);
// Absent is fine.
absl::Status DeleteAddress(nl_sock* s, int ifindex, uint32_t ip, int prefix_len);
// The link's IPv4 addresses; each Cidr is an address with its prefix length, host bits kept.
absl::StatusOr<std::vector<netinternal::Cidr>> Addresses(nl_sock* s, int ifindex);
// dst via gateway (onlink), or straight onto the link when gateway is 0; replaces any route
// to dst in the main table.
absl::Status ReplaceRoute(nl_sock* s, const netinternal::Cidr& dst, int ifindex, uint32_t gateway);
// An "unreachable" route for dst (no link): what no more specific route covers fails at once
// with EHOSTUNREACH instead of following the default route. Absent is fine for the delete.
absl::Status ReplaceUnreachableRoute(nl_sock* s, const netinternal::Cidr& dst);
absl::Status DeleteUnreachableRoute(nl_sock* s, const netinternal::Cidr& dst);
// Absent is fine.
absl::Status DeleteRoute(nl_sock* s, const netinternal::Cidr& dst, int ifindex);
// A veth pair created (up) in s's namespace whose peer is born (down) in the namespace of
// peer_ns_fd: one RTM_NEWLINK, so no half-moved pair is ever visible. master: 0 for none.
absl::Status AddVeth(nl_sock* s, const std::string& name, const std::string& peer_name,
                     int peer_ns_fd, const std::array<uint8_t, 6>* peer_mac, int master);
// The bridge, created if needed, up.
absl::StatusOr<Link> EnsureBridge(nl_sock* s, const std::string& name);

// ---- nftables ----

// Runs an nft script as one transaction in the calling thread's namespace; returns its output.
absl::StatusOr<std::string> Nft(const std::string& script);
// The error nft gives for a missing table, set or element.
bool NftNotFound(const absl::Status& s);

}  // namespace kumo::host::linuxnet
