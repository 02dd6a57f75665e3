// EC2's describe filters, built once for every resource family: Filter.N.Name / Filter.N.Value.M,
// ANDed across names and ORed across values, with '*' and '?' wildcards and tag:<key>, tag-key
// and tag-value on taggable resources.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace kumo::services {

// EC2's wildcard match: '*' any run, '?' one character, '\' escapes the next character.
bool WildcardMatch(std::string_view pattern, std::string_view text);

// What one resource offers to filters: filter name → its values ("key-name" → {"mykey"}).
using FilterFields = std::multimap<std::string, std::string, std::less<>>;

class FilterSet {
 public:
  // filters is the decoded Filters member (a JSON array of {Name, Values}) or null. Names outside
  // `names` (and the tag filters when taggable) are refused with InvalidParameterValue.
  static absl::StatusOr<FilterSet> Parse(const nlohmann::json& filters,
                                         const std::set<std::string, std::less<>>& names,
                                         bool taggable = true);

  bool Matches(const FilterFields& fields, const std::vector<store::Tag>& tags) const;
  bool empty() const { return filters_.empty(); }

 private:
  struct Filter {
    std::string name;
    std::vector<std::string> values;
  };
  std::vector<Filter> filters_;
};

}  // namespace kumo::services
