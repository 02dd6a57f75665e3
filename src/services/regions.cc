#include "services/regions.h"

#include <fmt/format.h>

#include <set>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/filters.h"
#include "services/vpcs.h"

namespace kumo::services {

using nlohmann::json;

Regions::Regions(std::vector<std::string> names, std::string endpoint_host)
    : names_(std::move(names)), endpoint_host_(std::move(endpoint_host)) {}

bool Regions::Serves(std::string_view region) const {
  for (const auto& n : names_) {
    if (n == region) return true;
  }
  return false;
}

std::vector<std::string> Regions::Zones(std::string_view region) const {
  std::vector<std::string> out;
  for (char c : {'a', 'b', 'c'}) out.push_back(std::string(region) + c);
  return out;
}

std::string Regions::ZoneId(std::string_view region, int index) {
  // AWS abbreviates "eu-west-1" as "euw1" and "ap-southeast-2" as "apse2".
  static const std::vector<std::pair<std::string_view, std::string_view>> kCompass = {
      {"northeast", "ne"}, {"northwest", "nw"}, {"southeast", "se"},
      {"southwest", "sw"}, {"north", "n"},      {"south", "s"},
      {"east", "e"},       {"west", "w"},       {"central", "c"}};
  std::string out;
  size_t start = 0;
  int part = 0;
  while (start <= region.size()) {
    size_t dash = region.find('-', start);
    std::string_view p = region.substr(start, dash == std::string_view::npos ? dash : dash - start);
    if (part == 1) {
      std::string_view abbrev = p.substr(0, 1);
      for (const auto& [word, a] : kCompass) {
        if (p == word) {
          abbrev = a;
          break;
        }
      }
      out += abbrev;
    } else {
      out += p;
    }
    ++part;
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  return fmt::format("{}-az{}", out, index + 1);
}

absl::StatusOr<json> Regions::DescribeRegions(const json& input) const {
  static const std::set<std::string, std::less<>> kNames = {"endpoint", "region-name",
                                                            "opt-in-status"};
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), kNames, /*taggable=*/false));
  std::set<std::string> wanted;
  for (const auto& n : input.value("RegionNames", json::array())) {
    std::string name = n.get<std::string>();
    if (!Serves(name)) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue",
                      fmt::format("Invalid region: {}", name));
    }
    wanted.insert(name);
  }
  json out = {{"Regions", json::array()}};
  for (const auto& name : names_) {
    if (!wanted.empty() && !wanted.count(name)) continue;
    FilterFields f = {{"region-name", name},
                      {"endpoint", endpoint_host_},
                      {"opt-in-status", "opt-in-not-required"}};
    if (!filters.Matches(f, {})) continue;
    out["Regions"].push_back({{"RegionName", name},
                              {"Endpoint", endpoint_host_},
                              {"OptInStatus", "opt-in-not-required"}});
  }
  return out;
}

absl::StatusOr<json> Regions::DescribeAvailabilityZones(const Caller& caller,
                                                        const json& input) const {
  static const std::set<std::string, std::less<>> kNames = {
      "group-name", "message",   "opt-in-status", "region-name",         "state",
      "zone-id",    "zone-name", "zone-type",     "network-border-group"};
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), kNames, /*taggable=*/false));
  std::set<std::string> names, ids;
  for (const auto& n : input.value("ZoneNames", json::array())) names.insert(n.get<std::string>());
  for (const auto& n : input.value("ZoneIds", json::array())) ids.insert(n.get<std::string>());
  std::set<std::string> found;
  json out = {{"AvailabilityZones", json::array()}};
  auto zones = Zones(caller.region);
  for (size_t i = 0; i < zones.size(); ++i) {
    const std::string& zone = zones[i];
    std::string id = ZoneId(caller.region, int(i));
    if (!names.empty() && !names.count(zone)) continue;
    if (!ids.empty() && !ids.count(id)) continue;
    found.insert(zone);
    found.insert(id);
    FilterFields f = {{"group-name", caller.region},
                      {"opt-in-status", "opt-in-not-required"},
                      {"region-name", caller.region},
                      {"state", "available"},
                      {"zone-id", id},
                      {"zone-name", zone},
                      {"zone-type", "availability-zone"},
                      {"network-border-group", caller.region}};
    if (!filters.Matches(f, {})) continue;
    out["AvailabilityZones"].push_back({{"ZoneName", zone},
                                        {"ZoneId", id},
                                        {"State", "available"},
                                        {"RegionName", caller.region},
                                        {"GroupName", caller.region},
                                        {"NetworkBorderGroup", caller.region},
                                        {"OptInStatus", "opt-in-not-required"},
                                        {"ZoneType", "availability-zone"},
                                        {"Messages", json::array()}});
  }
  for (const auto& n : names) {
    if (!found.count(n)) {
      return InvalidParameterValue(fmt::format("Invalid availability zone: [{}]", n));
    }
  }
  for (const auto& n : ids) {
    if (!found.count(n)) return InvalidParameterValue(fmt::format("Invalid zone id: [{}]", n));
  }
  return out;
}

absl::StatusOr<json> DescribeAccountAttributes(store::Tx& tx, const Caller& caller,
                                               const json& input) {
  auto vpc = DefaultVpcId(tx, caller);
  const std::vector<std::pair<std::string, std::vector<std::string>>> kAttributes = {
      {"supported-platforms", {"VPC"}}, {"default-vpc", {vpc.ok() ? *vpc : std::string("none")}},
      {"max-instances", {"20"}},        {"vpc-max-security-groups-per-interface", {"5"}},
      {"max-elastic-ips", {"5"}},       {"vpc-max-elastic-ips", {"5"}},
  };
  std::set<std::string> wanted;
  for (const auto& n : input.value("AttributeNames", json::array())) {
    std::string name = n.get<std::string>();
    bool known = false;
    for (const auto& [k, v] : kAttributes) known = known || k == name;
    if (!known) {
      return InvalidParameterValue(
          fmt::format("Value ({}) for parameter attributeName is invalid", name));
    }
    wanted.insert(name);
  }
  json out = {{"AccountAttributes", json::array()}};
  for (const auto& [name, values] : kAttributes) {
    if (!wanted.empty() && !wanted.count(name)) continue;
    json vals = json::array();
    for (const auto& v : values) vals.push_back({{"AttributeValue", v}});
    out["AccountAttributes"].push_back({{"AttributeName", name}, {"AttributeValues", vals}});
  }
  return out;
}

}  // namespace kumo::services
