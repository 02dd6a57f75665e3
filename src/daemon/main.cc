// kumod: flags → daemon::Run.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "daemon/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"kumod: the Kumo daemon, an EC2-compatible compute cloud"};
  kumo::daemon::Options opts;
  std::string listen = "127.0.0.1:8787";
  std::string log_level = "info";
  app.add_option("--data-dir", opts.data_dir, "Data directory (created if missing)")->required();
  app.add_option("--listen", listen, "HOST:PORT to serve the EC2 API on");
  app.add_option("--region", opts.regions, "Region to serve (repeatable; the first is home)");
  app.add_option("--threads", opts.threads, "I/O threads (default: one per core)");
  app.add_option("--image-dir", opts.image_dir, "Host-wide image store");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("kumod");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (auto st = kumo::daemon::ParseListen(listen, &opts); !st.ok()) {
    spdlog::error("{}", std::string(st.message()));
    return 2;
  }
  absl::Status st = kumo::daemon::Run(opts);
  if (!st.ok()) {
    spdlog::error("{}", st.ToString());
    return 1;
  }
  return 0;
}
