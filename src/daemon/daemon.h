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
};

// "HOST:PORT" → host, port ("[::1]:80" for IPv6).
absl::Status ParseListen(const std::string& listen, Options* options);

// Runs until SIGTERM or SIGINT. Returns OK on a clean stop.
absl::Status Run(const Options& options);

}  // namespace kumo::daemon
