#include "services/instance_types.h"

#include <fmt/format.h>

#include <fstream>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/filters.h"
#include "services/pagination.h"

namespace kumo::services {

extern const char kEmbeddedInstanceTypes[];  // catalog/instance_types.json, compiled in

using nlohmann::json;

const char* InstanceTypeCatalog::EmbeddedJson() { return kEmbeddedInstanceTypes; }

absl::StatusOr<std::unique_ptr<InstanceTypeCatalog>> InstanceTypeCatalog::FromJson(
    std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("types") || !j["types"].is_array()) {
    return absl::InvalidArgumentError("Instance-type catalog is not JSON with a 'types' array");
  }
  auto c = std::make_unique<InstanceTypeCatalog>();
  try {
    for (const auto& t : j["types"]) {
      InstanceType it;
      it.name = t.at("name").get<std::string>();
      it.vcpus = t.at("vcpus").get<int>();
      it.memory_mib = t.at("memory_mib").get<int64_t>();
      it.current_generation = t.value("current_generation", true);
      it.burstable = t.value("burstable", false);
      it.free_tier = t.value("free_tier", false);
      if (t.contains("gpus")) {
        it.gpu_count = t["gpus"].value("count", 0);
        it.gpu_manufacturer = t["gpus"].value("manufacturer", "");
        it.gpu_name = t["gpus"].value("name", "");
        it.gpu_memory_mib = t["gpus"].value("memory_mib", int64_t(0));
        it.gpu_fixed_model = t["gpus"].value("fixed_model", false);
      }
      const json prices = t.value("price_per_hour", json::object());
      for (const auto& [region, price] : prices.items()) {
        it.price_per_hour[region] = price.get<double>();
      }
      if (it.name.empty() || it.vcpus < 1 || it.memory_mib < 1 || it.price_per_hour.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("Catalog entry '{}' needs vcpus, memory_mib and a price", it.name));
      }
      c->types_.push_back(std::move(it));
    }
    c->default_type_ = j.value("default_type", "m1.small");
    const json volume_prices = j.value("volume_price_per_gib_month", json::object());
    for (const auto& [type, by_region] : volume_prices.items()) {
      for (const auto& [region, price] : by_region.items()) {
        c->volume_prices_[type][region] = price.get<double>();
      }
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(fmt::format("Instance-type catalog: {}", e.what()));
  }
  if (!c->Find(c->default_type_)) {
    return absl::InvalidArgumentError(
        fmt::format("Catalog default_type '{}' is not in the catalog", c->default_type_));
  }
  return c;
}

void InstanceTypeCatalog::UseHostGpus(const std::string& model, int64_t memory_mib) {
  for (auto& t : types_) {
    if (t.gpu_count == 0 || t.gpu_fixed_model) continue;
    t.gpu_name = model;
    if (memory_mib > 0) t.gpu_memory_mib = memory_mib;
  }
}

absl::StatusOr<std::unique_ptr<InstanceTypeCatalog>> InstanceTypeCatalog::Load(
    const std::string& override_path) {
  std::ifstream in(override_path);
  if (!in) return FromJson(EmbeddedJson());
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = FromJson(ss.str());
  if (!c.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", override_path, std::string(c.status().message())));
  }
  return c;
}

const InstanceType* InstanceTypeCatalog::Find(std::string_view name) const {
  for (const auto& t : types_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

double InstanceTypeCatalog::PricePerHour(const InstanceType& type,
                                         const std::string& region) const {
  return PriceIn(type.price_per_hour, region);
}

double InstanceTypeCatalog::PriceIn(const std::map<std::string, double>& by_region,
                                    const std::string& region) {
  if (by_region.empty()) return 0;
  if (auto it = by_region.find(region); it != by_region.end()) return it->second;
  if (auto it = by_region.find("default"); it != by_region.end()) return it->second;
  return by_region.begin()->second;
}

absl::StatusOr<json> InstanceTypeCatalog::DescribeInstanceTypes(const json& input) const {
  static const std::set<std::string, std::less<>> kNames = {"instance-type",
                                                            "current-generation",
                                                            "free-tier-eligible",
                                                            "burstable-performance-supported",
                                                            "vcpu-info.default-vcpus",
                                                            "memory-info.size-in-mib",
                                                            "processor-info.supported-architecture",
                                                            "bare-metal",
                                                            "hypervisor"};
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), kNames, /*taggable=*/false));
  std::set<std::string> wanted;
  for (const auto& n : input.value("InstanceTypes", json::array())) {
    std::string name = n.get<std::string>();
    if (!Find(name)) {
      return InvalidParameterValue(
          fmt::format("The following supplied instance types do not exist: [{}]", name));
    }
    wanted.insert(name);
  }
  ASSIGN_OR_RETURN(PageRequest page_req, ParsePageRequest(input, 5, 100));
  ASSIGN_OR_RETURN(PageBounds bounds, DecodePage(page_req));
  std::vector<const InstanceType*> matched;
  for (const auto& t : types_) {
    if (!wanted.empty() && !wanted.count(t.name)) continue;
    auto b = [](bool v) { return std::string(v ? "true" : "false"); };
    FilterFields f = {{"instance-type", t.name},
                      {"current-generation", b(t.current_generation)},
                      {"free-tier-eligible", b(t.free_tier)},
                      {"burstable-performance-supported", b(t.burstable)},
                      {"vcpu-info.default-vcpus", std::to_string(t.vcpus)},
                      {"memory-info.size-in-mib", std::to_string(t.memory_mib)},
                      {"processor-info.supported-architecture", "x86_64"},
                      {"bare-metal", "false"},
                      {"hypervisor", "xen"}};
    if (filters.Matches(f, {})) matched.push_back(&t);
  }
  std::sort(matched.begin(), matched.end(),
            [](const InstanceType* a, const InstanceType* b) { return a->name < b->name; });
  std::string next;
  auto page = TakePage(
      std::move(matched), bounds, [](const InstanceType* t) { return t->name; }, &next);
  json out = {{"InstanceTypes", json::array()}};
  for (const InstanceType* t : page) {
    json info = {
        {"InstanceType", t->name},
        {"CurrentGeneration", t->current_generation},
        {"FreeTierEligible", t->free_tier},
        {"BurstablePerformanceSupported", t->burstable},
        {"BareMetal", false},
        {"Hypervisor", "xen"},
        {"SupportedUsageClasses", {"on-demand", "spot"}},
        {"SupportedRootDeviceTypes", {"ebs"}},
        {"SupportedVirtualizationTypes", {"hvm"}},
        {"InstanceStorageSupported", false},
        {"ProcessorInfo", {{"SupportedArchitectures", {"x86_64"}}}},
        {"VCpuInfo",
         {{"DefaultVCpus", t->vcpus}, {"DefaultCores", t->vcpus}, {"DefaultThreadsPerCore", 1}}},
        {"MemoryInfo", {{"SizeInMiB", t->memory_mib}}}};
    if (t->gpu_count > 0) {
      info["GpuInfo"] = {{"Gpus",
                          {{{"Name", t->gpu_name},
                            {"Manufacturer", t->gpu_manufacturer},
                            {"Count", t->gpu_count},
                            {"MemoryInfo", {{"SizeInMiB", t->gpu_memory_mib}}}}}},
                         {"TotalGpuMemoryInMiB", t->gpu_memory_mib * t->gpu_count}};
    }
    out["InstanceTypes"].push_back(std::move(info));
  }
  if (!next.empty()) out["NextToken"] = next;
  return out;
}

}  // namespace kumo::services
