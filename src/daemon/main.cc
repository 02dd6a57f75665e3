// kumod: flags → daemon::Run.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "daemon/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"kumod: the Kumo daemon, an EC2-compatible compute cloud"};
  kumo::daemon::Options opts;
  std::string listen = "127.0.0.1:8787";
  std::string log_level = "info";
  auto* data_dir =
      app.add_option("--data-dir", opts.data_dir, "Data directory (created if missing)");
  app.add_option("--listen", listen, "HOST:PORT to serve the EC2 API on");
  app.add_option("--region", opts.regions, "Region to serve (repeatable; the first is home)");
  app.add_option("--threads", opts.threads, "I/O threads (default: one per core)");
  app.add_option("--image-dir", opts.image_dir, "Host-wide image store");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("--host-root", opts.host_root,
                 "Where host-side state goes, under <host-root>/<daemon id>");
  app.add_option("--public-cidr", opts.public_cidr,
                 "Public address pool (default: a free /24 in 100.64.0.0/10)");
  app.add_option("--pool-dir", opts.pool_dir, "Where daemons on this host claim public pools");
  app.add_flag("--simulated-clock", opts.simulated_clock,
               "Let the admin API advance time (for tests: the spot market, billing)");
  app.add_option("--host-cpus", opts.host_cpus,
                 "Cores instances may use (default: all of this machine's)");
  app.add_option("--host-memory-mib", opts.host_memory_mib,
                 "Memory instances may use, MiB (default: all of this machine's)");
  app.add_option("--test-stand-in-gpus", opts.test_stand_in_gpus,
                 "TEST FACILITY: treat the character devices DIR/nvidia0, nvidia1, ... as this "
                 "host's GPUs (for testing GPU assignment on machines without GPUs)");
  app.add_option("--console-dir", opts.console_dir,
                 "The built web console, served under /console/ (default: "
                 "<kumod's dir>/../share/kumo/console)");
  bool print_gpus = false;
  app.add_flag("--print-gpus", print_gpus,
               "Print the GPUs (and driver files) instances would get on this host, as JSON, and "
               "exit");
  bool teardown = false;
  app.add_flag("--teardown", teardown,
               "Remove everything this daemon created on the host (containers, network, storage)");
  // Internal: kumod starts itself as its host agent (see host/agent/host.h).
  int agent_fd = -1;
  kumo::daemon::HostOptions agent;
  app.add_option("--host-agent", agent_fd)->group("");
  app.add_option("--daemon-id", agent.daemon_id)->group("");
  app.add_option("--host-dir", agent.host_dir)->group("");
  CLI11_PARSE(app, argc, argv);
  if (print_gpus) {
    std::puts(kumo::daemon::FindGpusJson(opts.test_stand_in_gpus).c_str());
    return 0;
  }
  if (data_dir->count() == 0 && agent_fd < 0) {
    std::fputs("--data-dir is required\n", stderr);
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("kumod");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (auto st = kumo::daemon::ParseListen(listen, &opts); !st.ok()) {
    spdlog::error("{}", std::string(st.message()));
    return 2;
  }
  if (agent_fd >= 0) {
    agent.public_cidr = opts.public_cidr;
    agent.test_stand_in_gpus = opts.test_stand_in_gpus;
    return kumo::daemon::RunHostAgent(agent_fd, agent);
  }
  absl::Status st = teardown ? kumo::daemon::Teardown(opts) : kumo::daemon::Run(opts);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return 1;
  }
  return 0;
}
