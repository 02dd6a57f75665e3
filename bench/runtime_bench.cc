// The floor under RunInstances → running: plain liblxc through kumo's Runtime, on the default
// image with an overlay, no networking. N sequential containers: create, start (until RUNNING),
// first command inside (init up enough to exec), stop (clean systemd halt), destroy.
//
// Needs root and the default image (scripts/build-image.sh). Prints JSON with p50/p99 per step.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "host/runtime/runtime.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"Runtime (liblxc) lifecycle benchmark"};
  int n = 20;
  std::string image = "/var/lib/kumo/images/debian-12/rootfs";
  app.add_option("-n", n, "Containers, one after another");
  app.add_option("--rootfs", image, "Image root filesystem");
  CLI11_PARSE(app, argc, argv);

  char tmpl[] = "/tmp/kumo-runtime-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  std::string dir = tmpl;
  if (auto st = kumo::host::EnsureLxcfs(); !st.ok()) std::cerr << st << "\n";
  auto rt = kumo::host::NewLxcRuntime(dir + "/lxc");
  std::map<std::string, std::vector<double>> ms;
  auto step = [&](const char* name, auto fn) {
    auto t0 = Clock::now();
    auto st = fn();
    ms[name].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!st.ok()) {
      std::cerr << name << ": " << st << "\n";
      std::exit(1);
    }
  };
  for (int i = 0; i < n; ++i) {
    kumo::host::ContainerSpec s;
    s.name = "kumobench-" + std::to_string(getpid()) + "-" + std::to_string(i);
    s.rootfs = image;
    s.upper_dir = dir + "/upper-" + std::to_string(i);
    s.hostname = "ip-172-31-0-" + std::to_string(i + 10);
    s.memory_bytes = 1ll << 30;
    step("create", [&] { return rt->Create(s); });
    step("start", [&] { return rt->Start(s.name); });
    step("first_exec", [&] { return rt->Exec(s.name, {"/bin/true"}).status(); });
    step("stop", [&] { return rt->Stop(s.name, std::chrono::seconds(20)); });
    step("destroy", [&] { return rt->Destroy(s.name); });
  }
  nlohmann::json out = {{"containers", n}};
  for (auto& [name, v] : ms) {
    std::sort(v.begin(), v.end());
    out[name] = {{"p50_ms", v[v.size() / 2]},
                 {"p99_ms", v[std::min(v.size() - 1, v.size() * 99 / 100)]}};
  }
  std::cout << out.dump() << std::endl;
  std::string cmd = "rm -rf '" + dir + "'";
  return std::system(cmd.c_str()) == 0 ? 0 : 1;
}
