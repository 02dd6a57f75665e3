#include "services/tags.h"

#include <fmt/format.h>

#include <map>

#include "common/errors.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "services/filters.h"
#include "services/pagination.h"

namespace kumo::services {
namespace {

using nlohmann::json;

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

absl::StatusOr<TagInput> ParseTag(const json& tag) {
  TagInput t{tag.value("Key", ""), tag.value("Value", "")};
  if (t.key.empty()) return InvalidParameterValue("Tag keys must not be empty");
  if (Utf8Length(t.key) > 128) {
    return InvalidParameterValue(
        fmt::format("Tag key exceeds the maximum length of 128 characters"));
  }
  if (Utf8Length(t.value) > 256) {
    return InvalidParameterValue("Tag value exceeds the maximum length of 256 characters");
  }
  if (t.key.rfind("aws:", 0) == 0) {
    return InvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use");
  }
  return t;
}

absl::StatusOr<std::vector<TagInput>> ParseTags(const json& tags) {
  std::vector<TagInput> out;
  if (tags.is_null()) return out;
  for (const auto& tag : tags) {
    ASSIGN_OR_RETURN(TagInput t, ParseTag(tag));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

absl::Status ResourceNotFound(std::string_view id) {
  std::string_view type = ResourceTypeOfId(id);
  if (type == "key-pair") {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidKeyPair.NotFound",
                    fmt::format("The key pair ID '{}' does not exist", id));
  }
  if (type == "instance") {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidInstanceID.NotFound",
                    fmt::format("The instance ID '{}' does not exist", id));
  }
  if (type == "vpc") {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidVpcID.NotFound",
                    fmt::format("The vpc ID '{}' does not exist", id));
  }
  if (type == "subnet") {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidSubnetID.NotFound",
                    fmt::format("The subnet ID '{}' does not exist", id));
  }
  if (type == "internet-gateway") {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidInternetGatewayID.NotFound",
                    fmt::format("The internetGateway ID '{}' does not exist", id));
  }
  if (type == "route-table") {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidRouteTableID.NotFound",
                    fmt::format("The routeTable ID '{}' does not exist", id));
  }
  if (type == "security-group") {
    return Ec2Error(absl::StatusCode::kNotFound, "InvalidGroup.NotFound",
                    fmt::format("The security group '{}' does not exist", id));
  }
  if (type.empty()) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidID",
                    fmt::format("The ID '{}' is not valid", id));
  }
  return Ec2Error(absl::StatusCode::kNotFound, "InvalidID",
                  fmt::format("The ID '{}' does not exist", id));
}

absl::StatusOr<std::vector<TagInput>> TagsFromSpecifications(const json& specs,
                                                             std::string_view resource_type) {
  std::vector<TagInput> out;
  if (specs.is_null()) return out;
  bool seen = false;
  for (const auto& spec : specs) {
    std::string type = spec.value("ResourceType", "");
    if (type != resource_type) {
      return InvalidParameterValue(
          fmt::format("'{}' is not a valid taggable resource type for this operation.", type));
    }
    if (seen) {
      return InvalidParameterValue(
          fmt::format("The resource type '{}' appears in more than one tag specification", type));
    }
    seen = true;
    ASSIGN_OR_RETURN(auto tags, ParseTags(spec.value("Tags", json())));
    std::map<std::string, std::string> unique;
    for (auto& t : tags) unique[t.key] = t.value;
    if (unique.size() > kMaxTagsPerResource) {
      return Ec2Error(
          absl::StatusCode::kInvalidArgument, "TagLimitExceeded",
          fmt::format("The maximum number of tags per resource is {}", kMaxTagsPerResource));
    }
    out = std::move(tags);
  }
  return out;
}

absl::Status ApplyTags(store::Tx& tx, const Caller& caller, const std::string& resource_id,
                       const std::string& resource_type, const std::vector<TagInput>& tags) {
  for (const auto& t : tags) {
    RETURN_IF_ERROR(
        tx.PutTag(caller.account_id, caller.region, {resource_id, resource_type, t.key, t.value}));
  }
  ASSIGN_OR_RETURN(auto all, tx.ListTags(caller.account_id, caller.region, resource_id));
  if (all.size() > kMaxTagsPerResource) {
    return Ec2Error(
        absl::StatusCode::kInvalidArgument, "TagLimitExceeded",
        fmt::format("The maximum number of tags per resource is {}", kMaxTagsPerResource));
  }
  return absl::OkStatus();
}

absl::StatusOr<json> CreateTags(store::Tx& tx, const Caller& caller, const json& input) {
  ASSIGN_OR_RETURN(auto tags, ParseTags(input.value("Tags", json())));
  for (const auto& id : input.at("Resources")) {
    const std::string& rid = id.get_ref<const std::string&>();
    auto r = tx.GetResource(caller.account_id, caller.region, rid);
    if (absl::IsNotFound(r.status())) return ResourceNotFound(rid);
    if (!r.ok()) return r.status();
    RETURN_IF_ERROR(ApplyTags(tx, caller, rid, r->type, tags));
  }
  return json{{"Return", true}};
}

absl::StatusOr<json> DeleteTags(store::Tx& tx, const Caller& caller, const json& input) {
  // A Tag without Value deletes the key whatever its value; with Value (even "") only on a match.
  struct Deletion {
    std::string key;
    std::optional<std::string> value;
  };
  std::vector<Deletion> deletions;
  if (auto it = input.find("Tags"); it != input.end()) {
    for (const auto& t : *it) {
      Deletion d{t.value("Key", ""), std::nullopt};
      if (d.key.empty()) return InvalidParameterValue("Tag keys must not be empty");
      if (t.contains("Value")) d.value = t["Value"].get<std::string>();
      deletions.push_back(std::move(d));
    }
  }
  for (const auto& id : input.at("Resources")) {
    const std::string& rid = id.get_ref<const std::string&>();
    auto r = tx.GetResource(caller.account_id, caller.region, rid);
    if (absl::IsNotFound(r.status())) return ResourceNotFound(rid);
    if (!r.ok()) return r.status();
    ASSIGN_OR_RETURN(auto existing, tx.ListTags(caller.account_id, caller.region, rid));
    for (const auto& tag : existing) {
      bool remove = deletions.empty();  // no Tag parameters: delete every tag
      for (const auto& d : deletions) {
        remove = remove || (d.key == tag.key && (!d.value || *d.value == tag.value));
      }
      if (remove) RETURN_IF_ERROR(tx.DeleteTag(caller.account_id, caller.region, rid, tag.key));
    }
  }
  return json{{"Return", true}};
}

absl::StatusOr<json> DescribeTags(store::Tx& tx, const Caller& caller, const json& input) {
  static const std::set<std::string, std::less<>> kNames = {"key", "value", "resource-id",
                                                            "resource-type"};
  ASSIGN_OR_RETURN(FilterSet filters,
                   FilterSet::Parse(input.value("Filters", json()), kNames, /*taggable=*/true));
  ASSIGN_OR_RETURN(PageRequest page_req, ParsePageRequest(input, 5, 1000));
  ASSIGN_OR_RETURN(PageBounds bounds, DecodePage(page_req));
  ASSIGN_OR_RETURN(auto tags, tx.ListTags(caller.account_id, caller.region, ""));
  std::vector<store::Tag> matched;
  for (auto& t : tags) {
    FilterFields f = {{"key", t.key},
                      {"value", t.value},
                      {"resource-id", t.resource_id},
                      {"resource-type", t.resource_type}};
    // tag:<k> on DescribeTags matches the tag row itself.
    if (filters.Matches(f, {t})) matched.push_back(std::move(t));
  }
  std::string next;
  auto page = TakePage(
      std::move(matched), bounds,
      [](const store::Tag& t) { return t.resource_id + '\x01' + t.key; }, &next);
  json out = {{"Tags", json::array()}};
  for (const auto& t : page) {
    out["Tags"].push_back({{"ResourceId", t.resource_id},
                           {"ResourceType", t.resource_type},
                           {"Key", t.key},
                           {"Value", t.value}});
  }
  if (!next.empty()) out["NextToken"] = next;
  return out;
}

json TagSetJson(const std::vector<store::Tag>& tags) {
  json out = json::array();
  for (const auto& t : tags) out.push_back({{"Key", t.key}, {"Value", t.value}});
  return out;
}

}  // namespace kumo::services
