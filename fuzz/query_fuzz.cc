// The query parser and the model-driven decoder get whatever bytes a client sends.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/model.h"
#include "api/query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kumo::api::Params params;
  if (!kumo::api::AppendForm(text, &params).ok()) return 0;
  if (!kumo::api::CheckUnique(params).ok()) return 0;
  const auto& model = kumo::api::Ec2Model::Embedded();
  for (const char* action :
       {"DescribeKeyPairs", "CreateKeyPair", "ImportKeyPair", "DescribeTags", "CreateTags",
        "DescribeRegions", "AuthorizeSecurityGroupIngress", "DescribeSecurityGroups",
        "DescribeInstanceTypes", "DescribeImages", "DescribeSubnets", "RunInstances",
        "DescribeInstances", "DescribeInstanceStatus", "ModifyInstanceAttribute",
        "StopInstances"}) {
    auto decoded = model.DecodeRequest(action, params);
    if (decoded.ok()) (void)model.RenderResponse(action, *decoded, "fuzz");
  }
  return 0;
}
