// Public pool claims: one file per claimed /24 under claims_dir, named after the pool
// ("100.64.7.0_24") and holding the daemon id. A claim is made by link(2)ing a complete
// temporary file to that name, which fails with EEXIST for every racer but one.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/files.h"
#include "host/network/network.h"
#include "host/network/network_internal.h"

namespace kumo::host {
namespace {

namespace ni = netinternal;

// Ranges the host already uses: interface networks and routes other than default routes.
std::vector<ni::Cidr> HostRanges() {
  std::vector<ni::Cidr> out;
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask) continue;
      uint32_t ip = ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
      uint32_t mask = ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr);
      out.push_back({ip & mask, __builtin_popcount(mask)});
    }
    freeifaddrs(ifs);
  }
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream in(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(in >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    // The kernel prints the raw network-order word in hex.
    uint32_t d = ntohl(static_cast<uint32_t>(std::strtoul(dest.c_str(), nullptr, 16)));
    uint32_t m = ntohl(static_cast<uint32_t>(std::strtoul(mask.c_str(), nullptr, 16)));
    if (m == 0) continue;
    out.push_back({d & m, __builtin_popcount(m)});
  }
  return out;
}

std::string ClaimFileName(const ni::Cidr& pool) {
  return fmt::format("{}_{}", ni::FormatIpv4(pool.base), pool.prefix_len);
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

absl::StatusOr<std::string> ClaimPublicPool(const std::string& claims_dir,
                                            const std::string& daemon_id) {
  // The pool and state dir here are placeholders: only the daemon id is checked.
  if (auto s = ni::ValidateOptions({daemon_id, "100.64.0.0/24", "/"}); !s.ok()) return s;
  if (auto s = MakeDirs(claims_dir); !s.ok()) return s;

  std::vector<ni::Cidr> taken;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(claims_dir, ec)) {
    std::string name = entry.path().filename().string();
    size_t us = name.find('_');
    if (name.empty() || name[0] == '.' || us == std::string::npos) continue;
    auto pool = ni::ParseCidr(name.substr(0, us) + "/" + name.substr(us + 1));
    if (!pool.ok()) continue;
    if (ReadTrimmed(entry.path().string()) == daemon_id) return pool->ToString();
    taken.push_back(*pool);
  }
  if (ec) {
    return absl::InternalError(
        fmt::format("Failed to list pool claims in {}: {}", claims_dir, ec.message()));
  }

  std::vector<ni::Cidr> used = HostRanges();
  std::string tmp = fmt::format("{}/.tmp-{}-{}", claims_dir, daemon_id, getpid());
  {
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InternalError(fmt::format("Failed to create {}: {}", tmp, strerror(errno)));
    }
    std::string content = daemon_id + "\n";
    bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
              fsync(fd) == 0;
    close(fd);
    if (!ok) {
      unlink(tmp.c_str());
      return absl::InternalError(fmt::format("Failed to write {}", tmp));
    }
  }

  const ni::Cidr shared{(100u << 24) | (64u << 16), 10};  // 100.64.0.0/10
  // 100.64.0.0/24 is left alone: it is the block other CGNAT users pick first.
  for (uint32_t base = shared.base + 256; base < shared.Last(); base += 256) {
    ni::Cidr pool{base, 24};
    bool busy = false;
    for (const auto& c : used) busy = busy || c.Overlaps(pool);
    for (const auto& c : taken) busy = busy || c.Overlaps(pool);
    if (busy) continue;
    std::string path = claims_dir + "/" + ClaimFileName(pool);
    if (link(tmp.c_str(), path.c_str()) == 0) {
      unlink(tmp.c_str());
      return pool.ToString();
    }
    if (errno != EEXIST) {
      int err = errno;
      unlink(tmp.c_str());
      return absl::InternalError(fmt::format("Failed to claim {}: {}", path, strerror(err)));
    }
  }
  unlink(tmp.c_str());
  return absl::ResourceExhaustedError("No free /24 left in 100.64.0.0/10 for a public pool");
}

}  // namespace kumo::host
