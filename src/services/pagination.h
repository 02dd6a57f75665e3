// MaxResults/NextToken over id-ordered lists, as botocore's paginators drive them: the token is
// opaque to clients and names the last id returned, so pages stay stable while items are added
// or removed between calls.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kumo::services {

struct PageRequest {
  std::optional<int64_t> max_results;
  std::string next_token;
};

// Reads MaxResults and NextToken from a decoded request; MaxResults outside [min, max] is
// InvalidParameterValue.
absl::StatusOr<PageRequest> ParsePageRequest(const nlohmann::json& input, int64_t min, int64_t max);

struct PageBounds {
  std::string after_id;  // start strictly after this id ("" = from the start)
  size_t limit;          // SIZE_MAX when MaxResults is absent
};
absl::StatusOr<PageBounds> DecodePage(const PageRequest& req);
std::string EncodeNextToken(const std::string& last_id);

// Cuts sorted items (by key(item)) to one page; sets *next_token when more remain.
template <typename T, typename KeyFn>
std::vector<T> TakePage(std::vector<T> items, const PageBounds& b, KeyFn key,
                        std::string* next_token) {
  std::vector<T> out;
  next_token->clear();
  for (auto& item : items) {
    if (!b.after_id.empty() && !(key(item) > b.after_id)) continue;
    if (out.size() == b.limit) {
      *next_token = EncodeNextToken(key(out.back()));
      break;
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace kumo::services
