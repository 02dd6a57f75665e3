#include "services/describe.h"

#include <map>

#include "common/status_macros.h"
#include "services/pagination.h"
#include "services/tags.h"

namespace kumo::services {

using nlohmann::json;

absl::StatusOr<std::map<std::string, std::vector<store::Tag>>> TagsByResource(
    store::Tx& tx, const Caller& caller) {
  ASSIGN_OR_RETURN(auto tags, tx.ListTags(caller.account_id, caller.region, ""));
  std::map<std::string, std::vector<store::Tag>> out;
  for (auto& t : tags) out[t.resource_id].push_back(std::move(t));
  return out;
}

absl::StatusOr<json> DescribeResources(store::Tx& tx, const Caller& caller, const json& input,
                                       const DescribeSpec& spec) {
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), spec.filter_names));
  std::set<std::string> ids;
  if (!spec.ids_member.empty()) {
    for (const auto& id : input.value(std::string(spec.ids_member), json::array())) {
      ids.insert(id.get<std::string>());
    }
  }
  // The model has already bounded MaxResults; absent bounds here mean "any".
  ASSIGN_OR_RETURN(PageRequest page_req, ParsePageRequest(input, 1, INT32_MAX));
  ASSIGN_OR_RETURN(PageBounds bounds, DecodePage(page_req));
  ASSIGN_OR_RETURN(auto all, tx.ListResources(caller.account_id, caller.region, spec.type));
  ASSIGN_OR_RETURN(auto tags, TagsByResource(tx, caller));

  std::set<std::string> found;
  std::vector<store::Resource> matched;
  for (auto& r : all) {
    if (spec.scope && !spec.scope(r)) continue;
    if (!ids.empty() && !ids.count(r.id)) continue;
    found.insert(r.id);
    if (!filters.Matches(spec.fields(r), tags[r.id])) continue;
    matched.push_back(std::move(r));
  }
  for (const auto& id : ids) {
    if (!found.count(id)) return spec.not_found(id);
  }
  std::string next;
  if (spec.paged) {
    matched = TakePage(
        std::move(matched), bounds, [](const store::Resource& r) { return r.id; }, &next);
  }
  json out = {{std::string(spec.output_member), json::array()}};
  for (const auto& r : matched)
    out[std::string(spec.output_member)].push_back(spec.render(r, tags[r.id]));
  if (!next.empty()) out["NextToken"] = next;
  return out;
}

}  // namespace kumo::services
