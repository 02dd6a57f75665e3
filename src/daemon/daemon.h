// kumod's wiring: open the data directory, the store and the secrets, build the services and the
// API, and serve until asked to stop. Kept out of main() so tests and benchmarks can run a daemon
// in-process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/data_dir.h"

namespace kumo::daemon {

struct Options {
  std::string data_dir;
  std::string listen_host = "127.0.0.1";
  int listen_port = 8787;
  std::vector<std::string> regions;  // first is home; empty → {"eu-west-1"}
  int threads = 0;                   // 0 → one per core
  std::string image_dir = "/var/lib/kumo/images";
  // Host-side state (instance storage, liblxc definitions, network state) goes under
  // host_root/<daemon id>, never under the data dir.
  std::string host_root = "/var/lib/kumo";
  std::string public_cidr;  // empty: claim a free /24 in 100.64.0.0/10
  // Host-wide, whatever host_root says: every daemon on the host claims its pool here.
  std::string pool_dir = "/var/lib/kumo/pools";
  // The system clock plus an offset the admin API advances (tests of the spot market and
  // billing); the offset is kept in the data dir across restarts.
  bool simulated_clock = false;
  // What the scheduler and the spot market count as the host's size (before the allocation
  // ratios); 0 = the machine's cores and memory. Operators set less to keep headroom.
  int host_cpus = 0;
  int64_t host_memory_mib = 0;
  // The built web console, served under /console/.
  std::string console_dir;  // empty: <kumod's dir>/../share/kumo/console
  // TEST FACILITY, off by default: character devices named nvidia0, nvidia1, … in this
  // directory stand in for the host's GPUs (see host/gpu/gpu.h), and nothing else is probed.
  std::string test_stand_in_gpus;
};

// What the host agent and teardown need to build this daemon's LocalHost.
struct HostOptions {
  std::string daemon_id;
  std::string host_dir;
  std::string public_cidr;
  std::string test_stand_in_gpus;  // Options::test_stand_in_gpus
};

// `kumod --host-agent FD`: serves the host seam on FD until kumod goes away.
int RunHostAgent(int fd, const HostOptions& options);
// What `kumod --print-gpus` prints: the host's GPU inventory as the agent would find it.
std::string FindGpusJson(const std::string& test_stand_in_dir);
// `kumod --teardown`: removes everything the daemon of options.data_dir created on this host.
absl::Status Teardown(const Options& options);

// "HOST:PORT" → host, port ("[::1]:80" for IPv6).
absl::Status ParseListen(const std::string& listen, Options* options);

// Runs until SIGTERM or SIGINT. Returns OK on a clean stop.
absl::Status Run(const Options& options);

}  // namespace kumo::daemon
