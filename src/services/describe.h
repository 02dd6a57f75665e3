// The shape every Describe* action shares: the caller's resources of one type, narrowed by ids
// (a missing id is that type's NotFound error, even when others match), by filters (with tags),
// then paged with MaxResults/NextToken.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/caller.h"
#include "services/filters.h"
#include "store/store.h"

namespace kumo::services {

struct DescribeSpec {
  std::string_view type;           // resource type in the store
  std::string_view ids_member;     // input member listing ids ("VpcIds"), or empty
  std::string_view output_member;  // output list member ("Vpcs")
  std::set<std::string, std::less<>> filter_names;
  std::function<FilterFields(const store::Resource&)> fields;
  std::function<nlohmann::json(const store::Resource&, const std::vector<store::Tag>&)> render;
  std::function<absl::Status(std::string_view id)> not_found;
  bool paged = true;
  // When set, only resources it accepts are listed at all (e.g. subnets of one VPC).
  std::function<bool(const store::Resource&)> scope;
};

absl::StatusOr<nlohmann::json> DescribeResources(store::Tx& tx, const Caller& caller,
                                                 const nlohmann::json& input,
                                                 const DescribeSpec& spec);

// Every tag of the caller's resources in the region, by resource id.
absl::StatusOr<std::map<std::string, std::vector<store::Tag>>> TagsByResource(store::Tx& tx,
                                                                              const Caller& caller);

}  // namespace kumo::services
