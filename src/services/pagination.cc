#include "services/pagination.h"

#include <fmt/format.h>

#include <cstdint>

#include "common/encoding.h"
#include "common/errors.h"

namespace kumo::services {

namespace {
constexpr std::string_view kTokenPrefix = "kumo1:";
}

absl::StatusOr<PageRequest> ParsePageRequest(const nlohmann::json& input, int64_t min,
                                             int64_t max) {
  PageRequest r;
  if (auto it = input.find("MaxResults"); it != input.end()) {
    int64_t n = it->get<int64_t>();
    if (n < min || n > max) {
      return InvalidParameterValue(fmt::format(
          "Value ( {} ) for parameter maxResults is invalid. Expecting a value between {} and {}",
          n, min, max));
    }
    r.max_results = n;
  }
  if (auto it = input.find("NextToken"); it != input.end()) r.next_token = it->get<std::string>();
  return r;
}

absl::StatusOr<PageBounds> DecodePage(const PageRequest& req) {
  PageBounds b{"", req.max_results ? size_t(*req.max_results) : SIZE_MAX};
  if (!req.next_token.empty()) {
    auto raw = Base64Decode(req.next_token);
    if (!raw || raw->rfind(kTokenPrefix, 0) != 0 || raw->size() == kTokenPrefix.size()) {
      return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidPaginationToken",
                      fmt::format("The pagination token '{}' is not valid", req.next_token));
    }
    b.after_id = raw->substr(kTokenPrefix.size());
  }
  return b;
}

std::string EncodeNextToken(const std::string& last_id) {
  return Base64Encode(std::string(kTokenPrefix) + last_id);
}

}  // namespace kumo::services
