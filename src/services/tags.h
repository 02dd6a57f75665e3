// Tags for every resource family: TagSpecifications on create actions, CreateTags, DeleteTags,
// DescribeTags, and EC2's limits (50 tags per resource, 128-character keys, 256-character
// values, the reserved "aws:" prefix).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/caller.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr size_t kMaxTagsPerResource = 50;

struct TagInput {
  std::string key;
  std::string value;
};

// The tags from TagSpecifications meant for resource_type. A specification for another type, a
// repeated type, or an invalid tag is InvalidParameterValue, so nothing is created half-tagged.
absl::StatusOr<std::vector<TagInput>> TagsFromSpecifications(const nlohmann::json& specs,
                                                             std::string_view resource_type);

// Adds or overwrites tags on a resource the caller owns (in the same transaction as its creation
// when called from a create action).
absl::Status ApplyTags(store::Tx& tx, const Caller& caller, const std::string& resource_id,
                       const std::string& resource_type, const std::vector<TagInput>& tags);

// The EC2 NotFound error for a missing resource of the id's type ("InvalidKeyPair.NotFound").
absl::Status ResourceNotFound(std::string_view id);

// Both answer {"Return": true}.
absl::StatusOr<nlohmann::json> CreateTags(store::Tx& tx, const Caller& caller,
                                          const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DeleteTags(store::Tx& tx, const Caller& caller,
                                          const nlohmann::json& input);
absl::StatusOr<nlohmann::json> DescribeTags(store::Tx& tx, const Caller& caller,
                                            const nlohmann::json& input);

// {"Key": …, "Value": …} objects for a resource's tag set in a response.
nlohmann::json TagSetJson(const std::vector<store::Tag>& tags);

}  // namespace kumo::services
