// The Network contract, run against the fake and (as root) the Linux implementation. The Linux
// half sends real traffic: two VPCs with the same CIDR, one emulated instance in each (a
// namespace holding the port's host end as eth0, as liblxc would), reached by public address
// from the host, probed from the VPC, resolving its name through the VPC's dnsmasq.
#include "host/network/network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "common/files.h"
#include "host/network/network_internal.h"

namespace kumo::host {
namespace {

namespace ni = netinternal;
using std::chrono::milliseconds;

constexpr char kDomain[] = "test.kumo.internal";
constexpr int kAppPort = 8080;

std::string DaemonId() { return fmt::format("{:06x}", getpid() & 0xffffff); }

std::string Output(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs fn on a thread inside the named namespace (empty: the host's).
void InNs(const std::string& name, const std::function<void()>& fn) {
  std::thread([&] {
    if (!name.empty()) {
      int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0) << name;
      ASSERT_EQ(setns(fd, CLONE_NEWNET), 0) << name;
      close(fd);
    }
    fn();
  }).join();
}

sockaddr_in SockAddr(const std::string& ip, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  return sa;
}

// A TCP server that answers every connection with a tag and remembers who connected.
class Listener {
 public:
  Listener(const std::string& ns, const std::string& ip, int port, std::string tag)
      : tag_(std::move(tag)) {
    std::promise<bool> ready;
    auto ready_future = ready.get_future();
    thread_ = std::thread([this, ns, ip, port, &ready] {
      if (!ns.empty()) {
        int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) return ready.set_value(false);
        close(nsfd);
      }
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa = SockAddr(ip, port);
      bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 && listen(fd, 16) == 0;
      ready.set_value(ok);
      while (ok && !stop_) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int c = accept4(fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (c < 0) continue;
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof buf);
        {
          std::lock_guard<std::mutex> lock(mu_);
          peers_.push_back(buf);
        }
        (void)!write(c, tag_.data(), tag_.size());
        close(c);
      }
      close(fd);
    });
    ok_ = ready_future.get();
  }
  ~Listener() {
    stop_ = true;
    thread_.join();
  }
  bool ok() const { return ok_; }
  std::vector<std::string> peers() {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_;
  }

 private:
  std::string tag_;
  std::atomic<bool> stop_{false};
  bool ok_ = false;
  std::mutex mu_;
  std::vector<std::string> peers_;
  std::thread thread_;
};

// Connects from the calling thread's namespace (from source when given) and returns what the
// server says ("" if nothing within wait_ms).
std::string Fetch(const std::string& ip, int port, const std::string& source = "",
                  int wait_ms = 2000) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa = SockAddr(ip, port);
  std::string out;
  if (!source.empty()) {
    sockaddr_in from = SockAddr(source, 0);
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      close(fd);
      return out;
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    close(fd);
    return out;
  }
  pollfd p{fd, POLLIN, 0};
  char buf[64];
  while (poll(&p, 1, wait_ms) > 0) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

// A minimal DNS A query over UDP; returns the address of the (single) answer, or "".
std::string ResolveA(const std::string& server, const std::string& name) {
  std::string q = {'\x4b', '\x55', 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q += static_cast<char>(dot - start);
    q += name.substr(start, dot - start);
    start = dot + 1;
  }
  q += std::string("\0\0\1\0\1", 5);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa = SockAddr(server, 53);
  sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  pollfd p{fd, POLLIN, 0};
  unsigned char r[512];
  ssize_t n = poll(&p, 1, 2000) > 0 ? recv(fd, r, sizeof r, 0) : -1;
  close(fd);
  // No error, one answer or more, and the answer's rdata (an A record) ends the message.
  if (n < 16 || r[0] != 0x4b || (r[3] & 0xf) != 0 || (r[6] << 8 | r[7]) < 1) return "";
  return fmt::format("{}.{}.{}.{}", r[n - 4], r[n - 3], r[n - 2], r[n - 1]);
}

bool HostLinkExists(const std::string& name) { return if_nametoindex(name.c_str()) != 0; }

class NetworkTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    linux_ = GetParam() == "linux";
    if (linux_ && geteuid() != 0) GTEST_SKIP() << "The Linux network needs root";
    char tmpl[] = "/tmp/kumo-net-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string pool = "100.64.7.0/24";
    if (linux_) {
      auto claimed = ClaimPublicPool(dir_ + "/claims", DaemonId());
      ASSERT_TRUE(claimed.ok()) << claimed.status();
      pool = *claimed;
    }
    options_ = {DaemonId(), pool, dir_ + "/state"};
    pool_ = *ni::ParseCidr(pool);
    net_ = linux_ ? NewLinuxNetwork(options_) : NewFakeNetwork(options_);
  }

  void TearDown() override {
    for (const auto& ns : emulated_) Sh(fmt::format("ip netns del {} 2>/dev/null", ns));
    if (net_) {
      absl::Status s = net_->Teardown();
      EXPECT_TRUE(s.ok()) << s;
    }
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }

  std::string Prefix() const { return "k" + options_.daemon_id; }
  std::string Public(int host) const { return ni::FormatIpv4(pool_.base + host); }

  static VpcNet Vpc(const std::string& id) {
    return {id, "172.31.0.0/16", {"172.31.0.0/20", "172.31.16.0/20"}, kDomain};
  }
  InstancePort Port(const std::string& id, const std::string& vpc, const std::string& mac,
                    const std::string& ip, int public_host) const {
    return {id, vpc, mac, ip, 20, "172.31.0.1", public_host ? Public(public_host) : ""};
  }

  // What liblxc does with lxc.net.0.type = phys: the host end becomes the instance's eth0.
  void EmulateInstance(const std::string& ns, const std::string& host_end,
                       const InstancePort& port) {
    emulated_.push_back(ns);
    ASSERT_EQ(Sh(fmt::format("ip netns add {}", ns)), 0);
    ASSERT_EQ(Sh(fmt::format("ip link set {} netns {}", host_end, ns)), 0);
    ASSERT_EQ(Sh(fmt::format("ip -n {0} link set {1} name eth0 && ip -n {0} link set lo up && "
                             "ip -n {0} addr add {2}/{3} dev eth0 && ip -n {0} link set eth0 up "
                             "&& ip -n {0} route add default via {4}",
                             ns, host_end, port.private_ip, port.prefix_len, port.gateway)),
              0);
  }

  bool linux_ = false;
  std::string dir_;
  NetworkOptions options_;
  ni::Cidr pool_;
  std::unique_ptr<Network> net_;
  std::vector<std::string> emulated_;
};

const char kVpcA[] = "vpc-0000000000000a000";
const char kVpcB[] = "vpc-0000000000000b000";

TEST_P(NetworkTest, RejectsBadInput) {
  auto invalid = [](const absl::Status& s) { return absl::IsInvalidArgument(s); };
  VpcNet vpc = Vpc(kVpcA);
  vpc.vpc_id = "vpc-xyz";
  EXPECT_TRUE(invalid(net_->EnsureVpc(vpc)));
  vpc = Vpc(kVpcA);
  vpc.cidr = "172.31.0.1/16";
  EXPECT_TRUE(invalid(net_->EnsureVpc(vpc)));
  vpc = Vpc(kVpcA);
  vpc.subnet_cidrs = {"10.0.0.0/24"};
  EXPECT_TRUE(invalid(net_->EnsureVpc(vpc)));
  vpc = Vpc(kVpcA);
  vpc.dns_domain = "a,b";
  EXPECT_TRUE(invalid(net_->EnsureVpc(vpc)));
  EXPECT_TRUE(invalid(net_->RemoveVpc("vpc-../../etc")));

  InstancePort port = Port("i-0000000000000a001", kVpcA, "02:00:00:00:0a:01", "172.31.0.10", 10);
  for (auto mutate : std::vector<std::function<void(InstancePort&)>>{
           [](InstancePort& p) { p.instance_id = "i-nothex"; },
           [](InstancePort& p) { p.mac = "01:00:00:00:00:01"; },
           [](InstancePort& p) { p.private_ip = "172.31.0.300"; },
           [](InstancePort& p) { p.gateway = "10.0.0.1"; },
           [this](InstancePort& p) { p.public_ip = Public(1); },  // the pool's gateway
           [](InstancePort& p) { p.public_ip = "8.8.8.8"; }}) {
    InstancePort bad = port;
    mutate(bad);
    EXPECT_TRUE(invalid(net_->EnsurePort(bad).status()));
    EXPECT_TRUE(invalid(net_->Publish(bad)));
    EXPECT_TRUE(invalid(net_->RemovePort(bad)));
  }
  EXPECT_TRUE(invalid(net_->ProbeTcp(kVpcA, "nope", 80, milliseconds(10)).status()));
  EXPECT_TRUE(invalid(net_->ProbeTcp(kVpcA, "172.31.0.10", 0, milliseconds(10)).status()));

  auto bad_net = (linux_ ? NewLinuxNetwork : NewFakeNetwork)({"xyz", "100.64.7.0/24", "/tmp"});
  EXPECT_TRUE(invalid(bad_net->EnsureHost()));
  EXPECT_TRUE(invalid(bad_net->Teardown()));
}

TEST_P(NetworkTest, NeedsTheVpcFirst) {
  InstancePort port = Port("i-0000000000000a001", kVpcA, "02:00:00:00:0a:01", "172.31.0.10", 10);
  EXPECT_TRUE(absl::IsFailedPrecondition(net_->EnsurePort(port).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(net_->Publish(port)));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      net_->ProbeTcp(kVpcA, "172.31.0.10", 80, milliseconds(10)).status()));
  // Removing what is not there is fine.
  EXPECT_TRUE(net_->RemovePort(port).ok());
  EXPECT_TRUE(net_->RemoveVpc(kVpcA).ok());
  EXPECT_TRUE(net_->Teardown().ok());
}

TEST_P(NetworkTest, EverythingIsIdempotent) {
  std::string name = net_->HostPortName("i-0000000000000a001");
  EXPECT_EQ(name, Prefix() + "i000a001");
  EXPECT_LE(name.size(), size_t{IFNAMSIZ - 1});

  InstancePort port = Port("i-0000000000000a001", kVpcA, "02:00:00:00:0a:01", "172.31.0.10", 10);
  std::string pid_file = fmt::format("{}/{}/dnsmasq.pid", options_.state_dir, kVpcA);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(net_->EnsureHost().ok());
    std::string pid = ReadAll(pid_file);
    absl::Status s = net_->EnsureVpc(Vpc(kVpcA));
    ASSERT_TRUE(s.ok()) << s;
    // The same dnsmasq keeps serving.
    if (linux_ && i == 1) {
      EXPECT_EQ(ReadAll(pid_file), pid);
    }
  }
  if (linux_) {
    // A dead dnsmasq is started again.
    std::string pid = ReadAll(pid_file);
    ASSERT_EQ(kill(std::stoi(pid), SIGKILL), 0);
    for (int i = 0; i < 200; ++i) {  // until it is a zombie (our init may never reap it) or gone
      std::string stat = ReadAll(fmt::format("/proc/{}/stat", std::stoi(pid)));
      if (stat.empty() || stat[stat.rfind(')') + 2] == 'Z') break;
      std::this_thread::sleep_for(milliseconds(10));
    }
    absl::Status s = net_->EnsureVpc(Vpc(kVpcA));
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_NE(ReadAll(pid_file), pid);
    EXPECT_EQ(ReadAll(fmt::format("/proc/{}/comm", std::stoi(ReadAll(pid_file)))), "dnsmasq\n");
  }
  for (int i = 0; i < 2; ++i) {
    auto got = net_->EnsurePort(port);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, name);
    absl::Status s = net_->Publish(port);
    ASSERT_TRUE(s.ok()) << s;
  }
  if (linux_) {
    EXPECT_TRUE(HostLinkExists(name));
    EXPECT_EQ(ReadAll("/sys/class/net/" + name + "/address"), port.mac + "\n");
    EXPECT_EQ(ReadAll("/sys/class/net/" + name + "/operstate"), "down\n");
    // The container took the host end; a new EnsurePort makes a fresh pair.
    std::string ns = fmt::format("kt{}a", options_.daemon_id);
    ASSERT_NO_FATAL_FAILURE(EmulateInstance(ns, name, port));
    ASSERT_FALSE(HostLinkExists(name));
    auto again = net_->EnsurePort(port);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(HostLinkExists(name));
    EXPECT_NE(Sh(fmt::format("ip -n {} link show eth0 >/dev/null 2>&1", ns)), 0);
  }
  for (int i = 0; i < 2; ++i) {
    absl::Status s = net_->RemovePort(port);
    ASSERT_TRUE(s.ok()) << s;
  }
  if (linux_) {
    EXPECT_FALSE(HostLinkExists(name));
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(net_->RemoveVpc(kVpcA).ok());
    if (linux_) {
      EXPECT_FALSE(std::filesystem::exists(fmt::format("/run/netns/{}-{}", Prefix(), kVpcA)));
      EXPECT_FALSE(HostLinkExists(ni::UplinkName(Prefix(), kVpcA)));
      EXPECT_FALSE(std::filesystem::exists(pid_file));
    }
    ASSERT_TRUE(net_->Teardown().ok());
  }
}

TEST_P(NetworkTest, TwoVpcsWithTheSameCidr) {
  std::string routes_before = Output("ip -4 route show table all 2>/dev/null | grep 172.31.");
  ASSERT_TRUE(net_->EnsureHost().ok());
  InstancePort a = Port("i-0000000000000a001", kVpcA, "02:00:00:00:0a:01", "172.31.0.10", 10);
  InstancePort b = Port("i-0000000000000b001", kVpcB, "02:00:00:00:0b:01", "172.31.0.10", 11);
  std::map<std::string, std::string> host_end;
  for (const InstancePort* p : {&a, &b}) {
    auto t0 = std::chrono::steady_clock::now();
    absl::Status s = net_->EnsureVpc(Vpc(p->vpc_id));
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(s.ok()) << s;
    auto name = net_->EnsurePort(*p);
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_TRUE(name.ok()) << name.status();
    s = net_->Publish(*p);
    auto t3 = std::chrono::steady_clock::now();
    ASSERT_TRUE(s.ok()) << s;
    host_end[p->instance_id] = *name;
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    fmt::print("[{}] EnsureVpc {:.1f} ms, EnsurePort {:.1f} ms, Publish {:.1f} ms\n", GetParam(),
               ms(t1 - t0), ms(t2 - t1), ms(t3 - t2));
  }
  if (!linux_) {
    EXPECT_TRUE(*net_->ProbeTcp(kVpcA, "172.31.0.10", kAppPort, milliseconds(100)));
    EXPECT_TRUE(*net_->ProbeTcp(kVpcB, Public(10), kAppPort, milliseconds(100)));
    ASSERT_TRUE(
        net_->RemovePort(Port("i-0000000000000a00f", kVpcA, "02:00:00:00:0a:0f", "172.31.0.99", 10))
            .ok());
    EXPECT_TRUE(*net_->ProbeTcp(kVpcB, Public(10), kAppPort, milliseconds(100)));
    EXPECT_FALSE(*net_->ProbeTcp(kVpcA, "172.31.0.99", kAppPort, milliseconds(100)));
    ASSERT_TRUE(net_->RemovePort(a).ok());
    EXPECT_FALSE(*net_->ProbeTcp(kVpcA, "172.31.0.10", kAppPort, milliseconds(100)));
    EXPECT_TRUE(*net_->ProbeTcp(kVpcB, "172.31.0.10", kAppPort, milliseconds(100)));
    return;
  }

  std::string ns_a = fmt::format("kt{}a", options_.daemon_id);
  std::string ns_b = fmt::format("kt{}b", options_.daemon_id);
  ASSERT_NO_FATAL_FAILURE(EmulateInstance(ns_a, host_end[a.instance_id], a));
  ASSERT_NO_FATAL_FAILURE(EmulateInstance(ns_b, host_end[b.instance_id], b));
  auto app_a = std::make_unique<Listener>(ns_a, "0.0.0.0", kAppPort, "A");
  Listener app_b(ns_b, "0.0.0.0", kAppPort, "B");
  ASSERT_TRUE(app_a->ok() && app_b.ok());

  // The host reaches each instance by its own public address.
  EXPECT_EQ(Fetch(Public(10), kAppPort), "A");
  EXPECT_EQ(Fetch(Public(11), kAppPort), "B");
  // Instances leave by their public address (the host sees them behind the 1:1 NAT).
  Listener host_app("", Public(1), kAppPort, "H");
  ASSERT_TRUE(host_app.ok());
  InNs(ns_a, [&] { EXPECT_EQ(Fetch(Public(1), kAppPort), "H"); });
  InNs(ns_b, [&] { EXPECT_EQ(Fetch(Public(1), kAppPort), "H"); });
  EXPECT_EQ(host_app.peers(), (std::vector<std::string>{Public(10), Public(11)}));
  // An instance without a public address leaves behind the VPC's first one.
  InstancePort c = Port("i-0000000000000a002", kVpcA, "02:00:00:00:0a:02", "172.31.0.11", 0);
  auto c_end = net_->EnsurePort(c);
  ASSERT_TRUE(c_end.ok()) << c_end.status();
  ASSERT_TRUE(net_->Publish(c).ok());
  std::string ns_c = fmt::format("kt{}c", options_.daemon_id);
  ASSERT_NO_FATAL_FAILURE(EmulateInstance(ns_c, *c_end, c));
  InNs(ns_c, [&] { EXPECT_EQ(Fetch(Public(1), kAppPort), "H"); });
  EXPECT_EQ(host_app.peers().back(), Public(10));
  // From inside the VPC: the private address, its public one, and nothing where nothing is.
  EXPECT_TRUE(*net_->ProbeTcp(kVpcA, "172.31.0.10", kAppPort, milliseconds(2000)));
  EXPECT_TRUE(*net_->ProbeTcp(kVpcA, Public(10), kAppPort, milliseconds(2000)));
  EXPECT_FALSE(*net_->ProbeTcp(kVpcA, "172.31.0.10", kAppPort + 1, milliseconds(2000)));
  EXPECT_FALSE(*net_->ProbeTcp(kVpcA, "172.31.0.99", kAppPort, milliseconds(300)));
  // From inside the instance itself (its loopback), as status checks probe.
  EXPECT_TRUE(*net_->ProbeLocalTcp("/run/netns/" + ns_a, kAppPort, milliseconds(2000)));
  EXPECT_FALSE(*net_->ProbeLocalTcp("/run/netns/" + ns_a, kAppPort + 1, milliseconds(300)));
  EXPECT_EQ(net_->ProbeLocalTcp("/run/netns/nope", kAppPort, milliseconds(10)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Each VPC's dnsmasq answers its synthesized names.
  InNs(ns_a, [&] {
    EXPECT_EQ(ResolveA("172.31.0.2", fmt::format("ip-172-31-0-10.{}", kDomain)), "172.31.0.10");
    EXPECT_EQ(ResolveA("172.31.0.2", fmt::format("ip-172-31-18-5.{}", kDomain)), "172.31.18.5");
  });
  InNs(ns_b, [&] {
    EXPECT_EQ(ResolveA("172.31.0.2", fmt::format("ip-172-31-0-10.{}", kDomain)), "172.31.0.10");
  });
  EXPECT_EQ(Output("ip -4 route show table all 2>/dev/null | grep 172.31."), routes_before);

  // A new public address for A replaces the old one.
  InstancePort a2 = a;
  a2.public_ip = Public(12);
  ASSERT_TRUE(net_->Publish(a2).ok());
  EXPECT_EQ(Fetch(Public(12), kAppPort), "A");
  EXPECT_EQ(Output(fmt::format("ip -4 route show {}", Public(10))), "");

  // A stale RemovePort for an address that has moved on leaves its new owner alone.
  ASSERT_TRUE(
      net_->RemovePort(Port("i-0000000000000a00f", kVpcA, "02:00:00:00:0a:0f", "172.31.0.99", 12))
          .ok());
  EXPECT_EQ(Fetch(Public(12), kAppPort), "A");

  // RemovePort takes the pair (the instance's eth0 with it), the NAT and the host route.
  app_a.reset();
  ASSERT_TRUE(net_->RemovePort(a2).ok());
  EXPECT_NE(Sh(fmt::format("ip -n {} link show eth0 >/dev/null 2>&1", ns_a)), 0);
  std::string nat =
      Output(fmt::format("ip netns exec {}-{} nft list table ip kumo_nat", Prefix(), kVpcA));
  EXPECT_NE(nat.find("dnat_map"), std::string::npos) << nat;
  EXPECT_EQ(nat.find("172.31.0.10"), std::string::npos) << nat;
  EXPECT_EQ(Output(fmt::format("ip -4 route show {}", Public(12))), "");
  EXPECT_EQ(Fetch(Public(11), kAppPort), "B");

  ASSERT_TRUE(net_->Teardown().ok());
  EXPECT_EQ(Output(fmt::format("ls /run/netns | grep '^{}-'", Prefix())), "");
  EXPECT_EQ(Output(fmt::format("ip -br link | grep '^{}'", Prefix())), "");
  EXPECT_EQ(Output(fmt::format("nft list tables | grep -w {}", Prefix())), "");
  EXPECT_EQ(Output(fmt::format("pgrep -a dnsmasq | grep -F '{}'", options_.state_dir)), "");
  EXPECT_EQ(Output("ip -4 route show table all 2>/dev/null | grep 172.31."), routes_before);
}

// Security groups in force with real traffic: source-group and CIDR rules, stateful replies,
// anti-spoofing, and the mark that tells the metadata service which port a connection came in on.
TEST_P(NetworkTest, FirewallEnforcesGroups) {
  ASSERT_TRUE(net_->EnsureHost().ok());
  ASSERT_TRUE(net_->EnsureVpc(Vpc(kVpcA)).ok());
  InstancePort a = Port("i-0000000000000a011", kVpcA, "02:00:00:00:0a:11", "172.31.0.20", 20);
  InstancePort b = Port("i-0000000000000a012", kVpcA, "02:00:00:00:0a:12", "172.31.0.21", 21);
  InstancePort c = Port("i-0000000000000a013", kVpcA, "02:00:00:00:0a:13", "172.31.0.22", 0);
  FirewallRule from_peers{"tcp", kAppPort, kAppPort, "", "gpeers"};
  FirewallRule all_out{"-1", -1, -1, "0.0.0.0/0", ""};
  VpcFirewall fw{Vpc(kVpcA),
                 {{a.instance_id, a.mac, a.private_ip, {from_peers}, {all_out}},
                  {b.instance_id, b.mac, b.private_ip, {}, {all_out}},
                  {c.instance_id, c.mac, c.private_ip, {}, {all_out}}},
                 {{"gpeers", {b.private_ip}}}};
  // The firewall goes in before the ports exist, as the reconciler applies it before a launch.
  absl::Status applied = net_->ApplyFirewall(fw);
  ASSERT_TRUE(applied.ok()) << applied;
  VpcFirewall bad = fw;
  bad.ports[0].ingress[0].peer_set = "gnope";
  EXPECT_TRUE(absl::IsInvalidArgument(net_->ApplyFirewall(bad)));
  bad = fw;
  bad.ports[0].ingress[0].from = 70000;
  EXPECT_TRUE(absl::IsInvalidArgument(net_->ApplyFirewall(bad)));
  VpcFirewall unknown = fw;
  unknown.vpc = Vpc(kVpcB);
  EXPECT_TRUE(absl::IsFailedPrecondition(net_->ApplyFirewall(unknown)));
  if (!linux_) return;

  std::map<std::string, std::string> ns;
  for (const InstancePort* p : {&a, &b, &c}) {
    auto end = net_->EnsurePort(*p);
    ASSERT_TRUE(end.ok()) << end.status();
    ASSERT_TRUE(net_->Publish(*p).ok());
    ns[p->instance_id] = fmt::format("kt{}{}", options_.daemon_id, p->instance_id.back());
    ASSERT_NO_FATAL_FAILURE(EmulateInstance(ns[p->instance_id], *end, *p));
  }
  Listener app_a(ns[a.instance_id], "0.0.0.0", kAppPort, "A");
  Listener app_b(ns[b.instance_id], "0.0.0.0", kAppPort, "B");
  ASSERT_TRUE(app_a.ok() && app_b.ok());

  // b is in the peer group a admits; a is in no group b admits; the host matches no CIDR.
  InNs(ns[b.instance_id], [&] { EXPECT_EQ(Fetch(a.private_ip, kAppPort), "A"); });
  InNs(ns[a.instance_id], [&] { EXPECT_EQ(Fetch(b.private_ip, kAppPort, "", 500), ""); });
  EXPECT_EQ(Fetch(a.public_ip, kAppPort, "", 500), "");
  // The VPC's own services stay reachable whatever the groups say.
  InNs(ns[a.instance_id], [&] {
    EXPECT_EQ(ResolveA("172.31.0.2", fmt::format("ip-172-31-0-21.{}", kDomain)), "172.31.0.21");
  });

  // c borrowing b's address is dropped on c's own port, though a admits b.
  ASSERT_EQ(Sh(fmt::format("ip -n {} addr add {}/32 dev eth0", ns[c.instance_id], b.private_ip)),
            0);
  InNs(ns[c.instance_id], [&] {
    EXPECT_EQ(Fetch(a.private_ip, kAppPort, b.private_ip, 500), "");
    EXPECT_EQ(Fetch(a.private_ip, kAppPort, "", 500), "");
  });
  InNs(ns[b.instance_id], [&] { EXPECT_EQ(Fetch(a.private_ip, kAppPort), "A"); });

  // The metadata mark: a connection to the metadata address carries its port's address.
  int md_fd = -1;
  InNs(fmt::format("{}-{}", Prefix(), kVpcA), [&] {
    md_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(md_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa = SockAddr(kMetadataIp, kMetadataPort);
    ASSERT_EQ(bind(md_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(listen(md_fd, 4), 0);
  });
  ASSERT_GE(md_fd, 0);
  std::atomic<uint32_t> mark{0};
  std::thread md([&] {
    pollfd p{md_fd, POLLIN, 0};
    if (poll(&p, 1, 3000) > 0) {
      int c = accept4(md_fd, nullptr, nullptr, SOCK_CLOEXEC);
      uint32_t m = 0;
      socklen_t len = sizeof m;
      getsockopt(c, SOL_SOCKET, SO_MARK, &m, &len);
      mark = m;
      (void)!write(c, "M", 1);
      close(c);
    }
  });
  InNs(ns[a.instance_id], [&] { EXPECT_EQ(Fetch(kMetadataIp, kMetadataPort), "M"); });
  md.join();
  close(md_fd);
  EXPECT_EQ(mark.load(), *ni::ParseIpv4(a.private_ip));

  // A rule change is in force at once, and an established connection survives it.
  fw.ports[0].ingress.push_back({"tcp", kAppPort, kAppPort, "0.0.0.0/0", ""});
  ASSERT_TRUE(net_->ApplyFirewall(fw).ok());
  EXPECT_EQ(Fetch(a.public_ip, kAppPort), "A");
  fw.peer_sets["gpeers"].clear();
  fw.ports[0].ingress.resize(1);
  ASSERT_TRUE(net_->ApplyFirewall(fw).ok());
  EXPECT_EQ(Fetch(a.public_ip, kAppPort, "", 500), "");
  InNs(ns[b.instance_id], [&] { EXPECT_EQ(Fetch(a.private_ip, kAppPort, "", 500), ""); });
}

INSTANTIATE_TEST_SUITE_P(Backends, NetworkTest, ::testing::Values("fake", "linux"),
                         [](const auto& info) { return info.param; });

TEST(ClaimPublicPoolTest, DistinctPoolsAndStableClaims) {
  char tmpl[] = "/tmp/kumo-pool-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto a = ClaimPublicPool(dir, "aaaaaa");
  auto b = ClaimPublicPool(dir, "bbbbbb");
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*ClaimPublicPool(dir, "aaaaaa"), *a);
  for (const std::string& p : {*a, *b}) {
    auto c = ni::ParseCidr(p);
    ASSERT_TRUE(c.ok()) << p;
    EXPECT_EQ(c->prefix_len, 24);
    EXPECT_TRUE((ni::Cidr{0x64400000, 10}.Contains(c->base))) << p;
    EXPECT_NE(p, "100.64.0.0/24");
  }
  EXPECT_TRUE(absl::IsInvalidArgument(ClaimPublicPool(dir, "nope").status()));

  // Racing daemons never share a pool.
  std::vector<std::string> pools(8);
  std::vector<std::thread> racers;
  for (int i = 0; i < 8; ++i) {
    racers.emplace_back([&, i] {
      auto p = ClaimPublicPool(dir, fmt::format("c0000{}", i));
      if (p.ok()) pools[i] = *p;
    });
  }
  for (auto& t : racers) t.join();
  std::set<std::string> distinct(pools.begin(), pools.end());
  distinct.insert(*a);
  distinct.insert(*b);
  EXPECT_EQ(distinct.size(), 10u);
  (void)RemoveTree(dir);
}

TEST(NetworkInternalTest, ParsesAndNames) {
  EXPECT_EQ(ni::ParseCidr("172.31.0.0/16")->ToString(), "172.31.0.0/16");
  EXPECT_FALSE(ni::ParseCidr("172.31.0.0/33").ok());
  EXPECT_FALSE(ni::ParseCidr("172.31.0.0").ok());
  EXPECT_FALSE(ni::ParseCidr("1.2.3.4/8").ok());
  EXPECT_FALSE(ni::ParseIpv4("1.2.3").ok());
  EXPECT_EQ(ni::FormatIpv4(*ni::ParseIpv4("100.64.7.9")), "100.64.7.9");
  EXPECT_TRUE(ni::ParseMac("02:AB:cd:00:00:01").ok());
  EXPECT_FALSE(ni::ParseMac("02:ab:cd:00:00").ok());
  EXPECT_TRUE(ni::ValidResourceId("i-0123456789abcdef0", "i"));
  EXPECT_TRUE(ni::ValidResourceId("vpc-01234567", "vpc"));
  EXPECT_FALSE(ni::ValidResourceId("vpc-0123456789ABCDEF0", "vpc"));
  EXPECT_EQ(ni::UplinkName("k00abcd", "vpc-0123456789abcdef0"), "k00abcduabcdef0");
}

TEST(NetworkInternalTest, SecondaryBlocksAreTheVpcsToo) {
  VpcNet vpc{"vpc-0123456789abcdef0", "10.10.0.0/16", {"10.10.1.0/24", "10.11.3.0/24"}, kDomain};
  // A subnet outside the primary block is refused until the block it is in is the VPC's.
  EXPECT_FALSE(ni::ValidateVpc(vpc).ok());
  vpc.secondary_cidrs = {"10.11.0.0/16"};
  EXPECT_TRUE(ni::ValidateVpc(vpc).ok());
  VpcFirewall fw{vpc, {{"i-0123456789abcdef0", "02:00:00:00:00:01", "10.11.3.4", {}, {}}}, {}};
  auto script = ni::FirewallScript(fw);
  ASSERT_TRUE(script.ok()) << script.status();
  // Unheld sources and unmatched destinations of either block are dropped.
  EXPECT_NE(script->find("ip daddr { 10.10.0.0/16, 10.11.0.0/16 } drop"), std::string::npos);
  fw.vpc.secondary_cidrs.clear();
  EXPECT_FALSE(ni::FirewallScript(fw).ok());
  // Secondary addresses are the port's own too: its sources, and destinations of its chain.
  fw.vpc = vpc;
  fw.ports[0].secondary_ips = {"10.11.3.5"};
  auto with_secondary = ni::FirewallScript(fw);
  ASSERT_TRUE(with_secondary.ok()) << with_secondary.status();
  EXPECT_NE(with_secondary->find("ip saddr { 10.11.3.4, 10.11.3.5 } accept"), std::string::npos);
  fw.ports[0].secondary_ips = {"10.11.3.4"};  // its primary address again
  EXPECT_FALSE(ni::FirewallScript(fw).ok());
  fw.ports[0].secondary_ips.clear();
  // An attached interface is a port too.
  fw.vpc = vpc;
  fw.ports.push_back({"eni-0123456789abcdef1", "02:00:00:00:00:02", "10.10.1.9", {}, {}});
  EXPECT_TRUE(ni::FirewallScript(fw).ok());
}

TEST(NetworkInternalTest, RoutesToInstancesAndSourceDestCheck) {
  VpcNet vpc{"vpc-0123456789abcdef0", "10.10.0.0/16", {"10.10.1.0/24", "10.10.2.0/24"}, kDomain};
  VpcFirewall fw{vpc,
                 {{"i-0123456789abcdef0", "02:00:00:00:00:01", "10.10.1.4", {}, {}},
                  {"i-0123456789abcdef1", "02:00:00:00:00:02", "10.10.2.4", {}, {}}},
                 {}};
  fw.ports[0].source_dest_check = false;  // the NAT instance
  // The NAT instance may claim any source: a source group matches by its port's mark.
  fw.peer_sets["gpeers"] = {"10.10.1.4"};
  fw.ports[1].ingress.push_back({"-1", -1, -1, "", "gpeers"});
  // The private subnet: the internet through the NAT instance, one block through the router.
  fw.routes = {{"10.10.2.0/24", "0.0.0.0/0", "i-0123456789abcdef0"},
               {"10.10.2.0/24", "192.168.0.0/16", ""},
               {"10.10.2.0/24", "172.16.0.0/12", "blackhole"}};
  auto script = ni::FirewallScript(fw);
  ASSERT_TRUE(script.ok()) << script.status();
  // Longest prefix first, the VPC's own block before anything else.
  size_t local = script->find("add rule bridge kumo_port route_0 ip daddr 10.10.0.0/16 return");
  size_t router = script->find("add rule bridge kumo_port route_0 ip daddr 192.168.0.0/16 return");
  size_t hole = script->find("add rule bridge kumo_port route_0 ip daddr 172.16.0.0/12 drop");
  size_t nat = script->find(
      "add rule bridge kumo_port route_0 ip daddr 0.0.0.0/0 ether daddr set 02:00:00:00:00:01 "
      "return");
  ASSERT_NE(nat, std::string::npos) << *script;
  EXPECT_LT(local, router);
  EXPECT_LT(router, hole);
  EXPECT_LT(hole, nat);
  // The subnets' routers and the resolver are never routed elsewhere.
  EXPECT_NE(script->find("route_0 ip daddr 10.10.2.1/32 return"), std::string::npos);
  EXPECT_NE(script->find("route_0 ip daddr 10.10.0.2/32 return"), std::string::npos);
  // Senders are known by their ports' marks.
  EXPECT_NE(script->find("forward meta mark vmap { 0x0a0a0104 : jump out_abcdef0, 0x0a0a0204 : "
                         "jump out_abcdef1 }"),
            std::string::npos)
      << *script;
  EXPECT_NE(script->find("add element inet kumo_sg gpeers_m { 0x0a0a0104 }"), std::string::npos);
  EXPECT_NE(script->find("in_abcdef1 meta mark @gpeers_m accept"), std::string::npos);
  // Only the private subnet's port jumps there.
  EXPECT_NE(script->find("port_abcdef1 ether type ip meta pkttype != { broadcast, multicast } "
                         "jump route_0"),
            std::string::npos);
  EXPECT_EQ(script->find("port_abcdef0 ether type ip meta pkttype != { broadcast, multicast } "
                         "jump route_0"),
            std::string::npos);
  // The NAT instance sends from any source and receives for any destination; the other is
  // checked both ways.
  EXPECT_NE(script->find("add rule bridge kumo_port port_abcdef0 ether type ip accept"),
            std::string::npos);
  EXPECT_NE(script->find("port_abcdef1 ether type ip ip saddr 10.10.2.4 accept"),
            std::string::npos);
  EXPECT_EQ(script->find("chain bridge kumo_port dst_abcdef0"), std::string::npos);
  EXPECT_NE(script->find("dst_abcdef1 ether type ip meta pkttype != { broadcast, multicast } ip "
                         "daddr != 10.10.2.4 drop"),
            std::string::npos);
  // A route to a port the firewall does not know, or from outside the VPC, is refused.
  fw.routes.push_back({"10.10.2.0/24", "10.0.0.0/8", "i-0123456789abcdef9"});
  EXPECT_FALSE(ni::FirewallScript(fw).ok());
  fw.routes.back() = {"10.99.2.0/24", "10.0.0.0/8", ""};
  EXPECT_FALSE(ni::FirewallScript(fw).ok());
}

}  // namespace
}  // namespace kumo::host
