// In-memory Network: the same validation, preconditions and idempotency as the Linux one, so
// tests of the host agent see the errors it would see on a real host.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "host/network/network.h"
#include "host/network/network_internal.h"

namespace kumo::host {
namespace {

namespace ni = netinternal;

class FakeNetwork : public Network {
 public:
  explicit FakeNetwork(const NetworkOptions& options)
      : options_status_(ni::ValidateOptions(options)), prefix_(ni::Prefix(options.daemon_id)) {
    if (options_status_.ok()) pool_ = *ni::ParseCidr(options.public_cidr);
  }

  absl::Status EnsureHost() override { return options_status_; }

  absl::Status EnsureVpc(const VpcNet& vpc) override {
    if (!options_status_.ok()) return options_status_;
    if (auto s = ni::ValidateVpc(vpc); !s.ok()) return s;
    vpcs_[vpc.vpc_id] = vpc;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListVpcs() override {
    std::vector<std::string> out;
    for (const auto& [id, v] : vpcs_) out.push_back(id);
    return out;
  }

  absl::Status RemoveVpc(std::string_view vpc_id) override {
    if (!options_status_.ok()) return options_status_;
    if (!ni::ValidResourceId(vpc_id, "vpc")) {
      return absl::InvalidArgumentError(fmt::format("Bad VPC id '{}'", vpc_id));
    }
    vpcs_.erase(std::string(vpc_id));
    firewalls_.erase(std::string(vpc_id));
    // The namespace takes its ports' pairs and NAT with it.
    std::erase_if(ports_, [&](const auto& p) { return p.second.vpc_id == vpc_id; });
    std::erase_if(published_, [&](const auto& p) { return p.second.vpc_id == vpc_id; });
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> EnsurePort(const InstancePort& port) override {
    if (auto s = Check(port); !s.ok()) return s;
    ports_[port.instance_id] = port;
    return HostPortName(port.instance_id);
  }

  absl::Status Publish(const InstancePort& port) override {
    if (auto s = Check(port); !s.ok()) return s;
    if (port.public_ip.empty()) return absl::OkStatus();
    // A new public address for the instance replaces its old one; a public address taken
    // from another instance moves, as the real NAT maps do.
    std::erase_if(published_, [&](const auto& p) {
      return p.second.vpc_id == port.vpc_id && p.second.private_ip == port.private_ip;
    });
    published_[port.public_ip] = port;
    return absl::OkStatus();
  }

  absl::Status RemovePort(const InstancePort& port) override {
    if (!options_status_.ok()) return options_status_;
    if (auto s = ni::ValidatePort(port, pool_); !s.ok()) return s;
    ports_.erase(port.instance_id);
    // Only the instance's own publications: an address that moved on belongs to its new owner.
    std::erase_if(published_, [&](const auto& p) {
      return p.second.vpc_id == port.vpc_id && p.second.private_ip == port.private_ip;
    });
    return absl::OkStatus();
  }

  absl::Status SetInterfaces(const std::string& instance_ns,
                             const std::vector<InstancePort>& interfaces) override {
    for (const auto& p : interfaces) {
      if (auto s = Check(p); !s.ok()) return s;
    }
    interfaces_[instance_ns] = interfaces;
    return absl::OkStatus();
  }

  absl::Status Unpublish(const InstancePort& port) override {
    if (auto s = Check(port); !s.ok()) return s;
    std::erase_if(published_, [&](const auto& p) {
      return p.second.vpc_id == port.vpc_id && p.second.private_ip == port.private_ip;
    });
    return absl::OkStatus();
  }

  absl::Status ApplyFirewall(const VpcFirewall& fw) override {
    if (!options_status_.ok()) return options_status_;
    if (auto script = ni::FirewallScript(fw); !script.ok()) return script.status();
    if (!vpcs_.count(fw.vpc.vpc_id)) {
      return absl::FailedPreconditionError(fmt::format("VPC {} is not set up", fw.vpc.vpc_id));
    }
    firewalls_[fw.vpc.vpc_id] = fw;
    return absl::OkStatus();
  }

  absl::StatusOr<bool> ProbeLocalTcp(const std::string& ns_path, int port,
                                     std::chrono::milliseconds timeout) override {
    if (port <= 0 || port > 65535 || timeout.count() < 0) {
      return absl::InvalidArgumentError(fmt::format("Bad probe port {} or timeout", port));
    }
    return !ns_path.empty();  // the fake's instances answer as soon as they run
  }
  absl::StatusOr<bool> ProbeTcp(std::string_view vpc_id, std::string_view ip, int port,
                                std::chrono::milliseconds timeout) override {
    if (!options_status_.ok()) return options_status_;
    if (!ni::ValidResourceId(vpc_id, "vpc")) {
      return absl::InvalidArgumentError(fmt::format("Bad VPC id '{}'", vpc_id));
    }
    if (auto a = ni::ParseIpv4(std::string(ip)); !a.ok()) return a.status();
    if (port <= 0 || port > 65535 || timeout.count() < 0) {
      return absl::InvalidArgumentError(fmt::format("Bad probe port {} or timeout", port));
    }
    if (!vpcs_.count(std::string(vpc_id))) {
      return absl::FailedPreconditionError(fmt::format("VPC {} is not set up", vpc_id));
    }
    for (const auto& [id, p] : ports_) {
      if (p.vpc_id == vpc_id && p.private_ip == ip) return true;
    }
    auto it = published_.find(std::string(ip));
    return it != published_.end() && ports_.count(it->second.instance_id) > 0;
  }

  absl::Status Teardown() override {
    if (!options_status_.ok()) return options_status_;
    vpcs_.clear();
    ports_.clear();
    published_.clear();
    firewalls_.clear();
    return absl::OkStatus();
  }

  std::string HostPortName(std::string_view instance_id) const override {
    return ni::PortHostName(prefix_, instance_id);
  }

 private:
  absl::Status Check(const InstancePort& port) const {
    if (!options_status_.ok()) return options_status_;
    if (auto s = ni::ValidatePort(port, pool_); !s.ok()) return s;
    if (!vpcs_.count(port.vpc_id)) {
      return absl::FailedPreconditionError(fmt::format("VPC {} is not set up", port.vpc_id));
    }
    // The real bridge has a router address per subnet; a port whose gateway is missing there
    // has no way out.
    const VpcNet& vpc = vpcs_.at(port.vpc_id);
    auto gw = ni::ParseIpv4(port.gateway);
    bool routed =
        std::any_of(vpc.subnet_cidrs.begin(), vpc.subnet_cidrs.end(), [&](const std::string& s) {
          auto c = ni::ParseCidr(s);
          return c.ok() && gw.ok() && c->base + 1 == *gw;
        });
    if (!routed) {
      return absl::FailedPreconditionError(
          fmt::format("VPC {} has no router at {}", port.vpc_id, port.gateway));
    }
    return absl::OkStatus();
  }

  absl::Status options_status_;
  std::string prefix_;
  ni::Cidr pool_;
  std::map<std::string, VpcNet> vpcs_;
  std::map<std::string, InstancePort> ports_;                    // by instance id
  std::map<std::string, InstancePort> published_;                // by public address
  std::map<std::string, std::vector<InstancePort>> interfaces_;  // by instance namespace
  std::map<std::string, VpcFirewall> firewalls_;                 // by VPC id
};

}  // namespace

std::unique_ptr<Network> NewFakeNetwork(const NetworkOptions& options) {
  return std::make_unique<FakeNetwork>(options);
}

}  // namespace kumo::host
