// The kumo CLI's command families. Each registers its subcommands on the app.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace kumo::cli {

struct Globals {
  std::string data_dir;
};

void AddAccountCommands(CLI::App& app, Globals& g);
void AddDaemonCommands(CLI::App& app, Globals& g);
void AddImageCommands(CLI::App& app, Globals& g);
void AddSshConfigCommand(CLI::App& app);
void AddIdentityCommand(CLI::App& app, Globals& g);
void AddSpotCommands(CLI::App& app, Globals& g);
void AddAdminCommands(CLI::App& app, Globals& g);
void AddBillCommands(CLI::App& app, Globals& g);
void AddBudgetCommands(CLI::App& app, Globals& g);
void AddIdleStopCommands(CLI::App& app, Globals& g);
// After AddAdminCommands: kumo admin billing ….
void AddAdminBillingCommands(CLI::App& app, Globals& g);

// Calls an operation of the running kumod's admin API with the data dir's operator credentials;
// its JSON answer (errors end the program).
nlohmann::json Admin(const Globals& g, const std::string& op, const nlohmann::json& body);

// Writes the [profile] into the AWS shared credentials and config files (honouring
// AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE), replacing an existing section of that name.
bool WriteAwsProfile(const std::string& profile, const std::string& access_key_id,
                     const std::string& secret, const std::string& region,
                     const std::string& endpoint, std::string* error);

// Prints one JSON document on stdout; errors go to stderr with exit code 1.
[[noreturn]] void Fail(const std::string& message, int code = 1);

}  // namespace kumo::cli
