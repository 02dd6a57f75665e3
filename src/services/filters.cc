#include "services/filters.h"

#include <fmt/format.h>

#include "common/errors.h"

namespace kumo::services {

bool WildcardMatch(std::string_view p, std::string_view t) {
  // Iterative matcher with single-star backtracking: linear in practice, no recursion to blow.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '\\' && pi + 1 < p.size()) {
      if (p[pi + 1] == t[ti]) {
        pi += 2;
        ++ti;
        continue;
      }
    } else if (pi < p.size() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti]))) {
      ++pi;
      ++ti;
      continue;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
      continue;
    }
    if (star == std::string_view::npos) return false;
    pi = star + 1;
    ti = ++mark;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

absl::StatusOr<FilterSet> FilterSet::Parse(const nlohmann::json& filters,
                                           const std::set<std::string, std::less<>>& names,
                                           bool taggable) {
  FilterSet out;
  if (filters.is_null()) return out;
  for (const auto& f : filters) {
    std::string name = f.value("Name", "");
    if (name.empty()) return InvalidParameterValue("The filter name must not be empty");
    bool tag_filter = name.rfind("tag:", 0) == 0 || name == "tag-key" || name == "tag-value";
    if (!(names.count(name) || (taggable && tag_filter))) {
      return InvalidParameterValue(fmt::format("The filter '{}' is invalid", name));
    }
    if (name == "tag:") return InvalidParameterValue("The filter 'tag:' needs a tag key");
    Filter filter{name, {}};
    if (auto v = f.find("Values"); v != f.end()) {
      for (const auto& value : *v) filter.values.push_back(value.get<std::string>());
    }
    if (filter.values.empty()) {
      return InvalidParameterValue(fmt::format("The filter '{}' needs at least one value", name));
    }
    if (filter.values.size() > 200) {
      return InvalidParameterValue(fmt::format("The filter '{}' has more than 200 values", name));
    }
    out.filters_.push_back(std::move(filter));
  }
  return out;
}

bool FilterSet::Matches(const FilterFields& fields, const std::vector<store::Tag>& tags) const {
  auto any_value = [](const std::vector<std::string>& patterns, std::string_view text) {
    for (const auto& p : patterns) {
      if (WildcardMatch(p, text)) return true;
    }
    return false;
  };
  for (const auto& f : filters_) {
    bool matched = false;
    if (f.name.rfind("tag:", 0) == 0) {
      std::string_view key = std::string_view(f.name).substr(4);
      for (const auto& t : tags)
        matched = matched || (t.key == key && any_value(f.values, t.value));
    } else if (f.name == "tag-key") {
      for (const auto& t : tags) matched = matched || any_value(f.values, t.key);
    } else if (f.name == "tag-value") {
      for (const auto& t : tags) matched = matched || any_value(f.values, t.value);
    } else {
      auto [lo, hi] = fields.equal_range(f.name);
      for (auto it = lo; it != hi && !matched; ++it) matched = any_value(f.values, it->second);
    }
    if (!matched) return false;
  }
  return true;
}

}  // namespace kumo::services
