// kumo identity-certificate: the certificate that verifies a region's instance identity
// documents (/latest/dynamic/instance-identity/{pkcs7,signature}), to publish to whoever checks
// them, as AWS publishes its own per region.
#include "crypto/identity.h"

#include <iostream>

#include "cli/commands.h"

namespace kumo::cli {

void AddIdentityCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("identity-certificate",
                                 "Print a region's instance identity certificate (PEM)");
  static std::string region = "eu-west-1";
  cmd->add_option("--region", region, "The region (default eu-west-1)");
  cmd->callback([&g] {
    // The same files kumod signs with; made here if kumod has not made them yet.
    auto signer = crypto::IdentitySigner::LoadOrCreate(g.data_dir, region);
    if (!signer.ok()) Fail(std::string(signer.status().message()));
    std::cout << signer->CertificatePem();
  });
}

}  // namespace kumo::cli
