// The regions one daemon serves (--region, repeatable; the first is home) and their
// availability zones, plus the account-level attributes scripts ask for first.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services {

class Regions {
 public:
  Regions(std::vector<std::string> names, std::string endpoint_host);

  bool Serves(std::string_view region) const;
  const std::string& home() const { return names_.front(); }
  const std::vector<std::string>& names() const { return names_; }
  // "eu-west-1" → {"eu-west-1a", "eu-west-1b", "eu-west-1c"}.
  std::vector<std::string> Zones(std::string_view region) const;
  // AWS-style zone id: "eu-west-1a" → "euw1-az1".
  static std::string ZoneId(std::string_view region, int index);

  absl::StatusOr<nlohmann::json> DescribeRegions(const nlohmann::json& input) const;
  absl::StatusOr<nlohmann::json> DescribeAvailabilityZones(const Caller& caller,
                                                           const nlohmann::json& input) const;

 private:
  std::vector<std::string> names_;
  std::string endpoint_host_;
};

absl::StatusOr<nlohmann::json> DescribeAccountAttributes(store::Tx& tx, const Caller& caller,
                                                         const nlohmann::json& input);

}  // namespace kumo::services
