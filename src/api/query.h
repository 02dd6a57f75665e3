// The EC2 Query protocol's parameters: "Action=DescribeKeyPairs&KeyName.1=a&Filter.1.Value.1=b",
// form-encoded in a POST body or in a GET query string.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kumo::api {

inline constexpr size_t kMaxParameters = 2000;
inline constexpr size_t kMaxParameterNameLength = 256;

using Params = std::vector<std::pair<std::string, std::string>>;

// Decodes "a=b&c=d" and appends the pairs to out, in order. Errors (InvalidParameterValue) on
// malformed escapes, invalid UTF-8, empty or overlong names and more than kMaxParameters pairs in
// all, so nothing downstream sees them.
absl::Status AppendForm(std::string_view text, Params* out);
// Duplicate names are ambiguous (which one wins?), so they are refused rather than guessed at.
absl::Status CheckUnique(const Params& params);

// The value of a parameter, or nullptr.
const std::string* FindParam(const Params& params, std::string_view name);

}  // namespace kumo::api
