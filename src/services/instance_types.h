// The operator's instance-type catalog: AWS names, sizes, GPUs and On-Demand prices (per region).
// The default ships inside the binary (catalog/instance_types.json); DATA_DIR/instance-types.json
// replaces it when present.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kumo::services {

struct InstanceType {
  std::string name;
  int vcpus = 1;
  int64_t memory_mib = 0;
  bool current_generation = true;
  bool burstable = false;
  bool free_tier = false;
  int gpu_count = 0;
  std::string gpu_manufacturer, gpu_name;
  int64_t gpu_memory_mib = 0;
  bool gpu_fixed_model = false;
  std::map<std::string, double> price_per_hour;  // region → USD
};

class InstanceTypeCatalog {
 public:
  static absl::StatusOr<std::unique_ptr<InstanceTypeCatalog>> FromJson(std::string_view text);
  static const char* EmbeddedJson();
  // The operator's file if it exists, else the embedded catalog.
  static absl::StatusOr<std::unique_ptr<InstanceTypeCatalog>> Load(
      const std::string& override_path);

  const InstanceType* Find(std::string_view name) const;
  const std::string& default_type() const { return default_type_; }
  const std::vector<InstanceType>& types() const { return types_; }
  // USD per hour in region ("default" entry, else the first listed, when the region has none).
  double PricePerHour(const InstanceType& type, const std::string& region) const;
  // EBS storage, USD per GiB-month by volume type and region (same fallbacks).
  const std::map<std::string, std::map<std::string, double>>& volume_prices() const {
    return volume_prices_;
  }
  static double PriceIn(const std::map<std::string, double>& by_region, const std::string& region);

  absl::StatusOr<nlohmann::json> DescribeInstanceTypes(const nlohmann::json& input) const;

  // The AWS GPU types (g4dn.*, p3.*, …) name the GPU AWS fits; on this host an instance gets
  // the host's GPU, and DescribeInstanceTypes says so. Types whose "gpus" entry has
  // "fixed_model": true (an operator's own) keep their model. memory_mib 0: keep the memory.
  void UseHostGpus(const std::string& model, int64_t memory_mib);

 private:
  std::vector<InstanceType> types_;
  std::string default_type_;
  std::map<std::string, std::map<std::string, double>> volume_prices_;
};

}  // namespace kumo::services
