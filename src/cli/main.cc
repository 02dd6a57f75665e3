// kumo: the operator's and the tenant's command line. Flags → command.
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"

namespace kumo::cli {

void Fail(const std::string& message, int code) {
  std::cerr << "kumo: " << message << std::endl;
  std::exit(code);
}

}  // namespace kumo::cli

int main(int argc, char** argv) {
  CLI::App app{"kumo: manage a Kumo cloud (accounts, keys, the daemon)"};
  kumo::cli::Globals g;
  const char* env = std::getenv("KUMO_DATA_DIR");
  g.data_dir = env && *env ? env : "/var/lib/kumo/data";
  app.add_option("--data-dir", g.data_dir, "kumod's data directory (env KUMO_DATA_DIR)");
  app.require_subcommand(1);
  kumo::cli::AddAccountCommands(app, g);
  kumo::cli::AddDaemonCommands(app, g);
  kumo::cli::AddImageCommands(app, g);
  kumo::cli::AddSshConfigCommand(app);
  kumo::cli::AddIdentityCommand(app, g);
  kumo::cli::AddSpotCommands(app, g);
  kumo::cli::AddBillCommands(app, g);
  kumo::cli::AddBudgetCommands(app, g);
  kumo::cli::AddIdleStopCommands(app, g);
  kumo::cli::AddAdminCommands(app, g);
  kumo::cli::AddAdminBillingCommands(app, g);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
