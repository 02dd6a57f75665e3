// kumo ssh-config: the stanza old EC2 guides tell people to write by hand, for Kumo's public
// names, kept in a marked block of ~/.ssh/config that re-running replaces.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"

namespace kumo::cli {
namespace {

constexpr char kBegin[] = "# >>> kumo (managed by `kumo ssh-config`; edits inside are replaced)";
constexpr char kEnd[] = "# <<< kumo";

std::string Home() {
  const char* h = std::getenv("HOME");
  return h && *h ? h : "/root";
}

}  // namespace

void AddSshConfigCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("ssh-config", "Write the ssh config stanza for Kumo instances");
  static std::string identity, user = "admin", file;
  cmd->add_option("--identity-file,-i", identity, "Private key (e.g. ~/.ssh/mykey.pem)")
      ->required();
  cmd->add_option("--user", user, "Login user (the default image's is admin)");
  cmd->add_option("--file", file, "ssh config file (default ~/.ssh/config)");
  cmd->callback([] {
    std::string path = file.empty() ? Home() + "/.ssh/config" : file;
    // A symlinked config (dotfile managers) is updated where it points, not replaced by a file.
    std::error_code ec;
    if (std::filesystem::is_symlink(path, ec)) path = std::filesystem::canonical(path, ec).string();
    if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
      mkdir(path.substr(0, slash).c_str(), 0700);
    }
    std::stringstream kept;
    {
      std::ifstream in(path);
      bool inside = false;
      for (std::string line; std::getline(in, line);) {
        if (line == kBegin) inside = true;
        if (!inside) kept << line << "\n";
        if (line == kEnd) inside = false;
      }
      // A begin marker without its end: rather than guess where Kumo's block stopped (and drop
      // the user's lines after it), refuse.
      if (inside) Fail(path + " has \"" + kBegin + "\" without \"" + kEnd + "\"; fix it by hand");
    }
    // Public addresses come back to the pool and are handed to new instances, each with new host
    // keys: a known_hosts of Kumo's own keeps those changes away from the user's other hosts.
    std::stringstream block;
    block << kBegin << "\n"
          << "Host ec2-*.compute.kumo\n"
          << "    User " << user << "\n"
          << "    IdentityFile " << identity << "\n"
          << "    IdentitiesOnly yes\n"
          << "    StrictHostKeyChecking accept-new\n"
          << "    UserKnownHostsFile ~/.ssh/known_hosts_kumo\n"
          << kEnd << "\n";
    // ssh uses the first value it finds for each option, so Kumo's block goes first.
    std::string tmp = path + ".kumo-tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << block.str() << kept.str();
      if (!out) Fail("Cannot write " + tmp);
    }
    chmod(tmp.c_str(), 0600);
    if (rename(tmp.c_str(), path.c_str()) != 0) Fail("Cannot replace " + path);
    std::cout
        << nlohmann::json{{"File", path}, {"Host", "ec2-*.compute.kumo"}, {"User", user}}.dump()
        << std::endl;
  });
}

}  // namespace kumo::cli
