#include "api/query.h"

#include <fmt/format.h>

#include <unordered_set>

#include "common/encoding.h"
#include "common/errors.h"

namespace kumo::api {

absl::Status AppendForm(std::string_view text, Params* out_ptr) {
  Params& out = *out_ptr;
  size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) amp = text.size();
    std::string_view pair = text.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) {
      if (amp == text.size()) break;
      continue;
    }
    if (out.size() >= kMaxParameters) {
      return InvalidParameterValue(
          fmt::format("The request has more than {} parameters", kMaxParameters));
    }
    size_t eq = pair.find('=');
    std::string_view raw_name = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    auto name = PercentDecode(raw_name, true);
    auto value = PercentDecode(raw_value, true);
    if (!name || !value)
      return InvalidParameterValue("The request has a malformed percent-encoding");
    if (name->empty()) return InvalidParameterValue("The request has a parameter without a name");
    if (name->size() > kMaxParameterNameLength) {
      return InvalidParameterValue("The request has a parameter name that is too long");
    }
    if (!IsValidUtf8(*name) || !IsValidUtf8(*value)) {
      return InvalidParameterValue("The request contains invalid UTF-8");
    }
    out.emplace_back(std::move(*name), std::move(*value));
    if (amp == text.size()) break;
  }
  return absl::OkStatus();
}

absl::Status CheckUnique(const Params& params) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(params.size());
  for (const auto& [k, v] : params) {
    if (!seen.insert(k).second) {
      return InvalidParameterValue(fmt::format("The parameter {} is given more than once", k));
    }
  }
  return absl::OkStatus();
}

const std::string* FindParam(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace kumo::api
