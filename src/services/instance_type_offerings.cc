// DescribeInstanceTypeOfferings: which catalog types this daemon can place, by region, zone or
// zone id. One host serves every zone, so a type is offered everywhere or nowhere: where the
// host could fit one instance of it (its GPUs, its vCPUs and memory after the allocation ratios).
#include <fmt/format.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/filters.h"
#include "services/instance_types.h"
#include "services/instances.h"
#include "services/pagination.h"
#include "services/placement.h"
#include "services/regions.h"

namespace kumo::services {

using nlohmann::json;

bool HostCanPlace(const InstanceType& t, const InstanceEnv& env) {
  return t.gpu_count <= int64_t(env.gpus.size()) &&
         t.vcpus <= int64_t(double(env.host_cpus) * env.cpu_ratio) &&
         t.memory_mib <= int64_t(double(env.host_memory_mib) * env.ram_ratio);
}

absl::StatusOr<json> DescribeInstanceTypeOfferings(const InstanceEnv& env, const Regions& regions,
                                                   const Caller& caller, const json& input) {
  std::string location_type = input.value("LocationType", "region");
  std::vector<std::string> locations;
  if (location_type == "region") {
    locations.push_back(caller.region);
  } else if (location_type == "availability-zone" || location_type == "availability-zone-id") {
    auto zones = regions.Zones(caller.region);
    for (size_t i = 0; i < zones.size(); ++i) {
      locations.push_back(
          location_type == "availability-zone" ? zones[i] : Regions::ZoneId(caller.region, int(i)));
    }
  } else {
    return InvalidParameterValue(
        fmt::format("Value ({}) for parameter locationType is invalid. Valid values are region, "
                    "availability-zone, availability-zone-id",
                    location_type));
  }
  ASSIGN_OR_RETURN(FilterSet filters, FilterSet::Parse(input.value("Filters", json()),
                                                       {"instance-type", "location"}, false));
  ASSIGN_OR_RETURN(PageRequest page, ParsePageRequest(input, 5, 1000));
  ASSIGN_OR_RETURN(PageBounds bounds, DecodePage(page));
  std::vector<std::pair<std::string, json>> items;  // sorted by "<location>/<type>"
  for (const auto& t : env.catalog->types()) {
    if (!HostCanPlace(t, env)) continue;
    for (const auto& where : locations) {
      if (!filters.Matches({{"instance-type", t.name}, {"location", where}}, {})) continue;
      items.push_back(
          {where + "/" + t.name,
           {{"InstanceType", t.name}, {"LocationType", location_type}, {"Location", where}}});
    }
  }
  std::sort(items.begin(), items.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string next;
  auto taken = TakePage(
      std::move(items), bounds, [](const auto& i) { return i.first; }, &next);
  json out = json::array();
  for (auto& [key, offering] : taken) out.push_back(std::move(offering));
  json result = {{"InstanceTypeOfferings", out}};
  if (!next.empty()) result["NextToken"] = next;
  return result;
}

}  // namespace kumo::services
