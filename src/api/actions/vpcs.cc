// DescribeVpcs, DescribeSubnets, DescribeInstanceTypes: what a launch draws on.
#include "services/vpcs.h"

#include "api/action.h"

namespace kumo::api {

void RegisterVpcActions(ActionTable& t) {
  t["DescribeVpcs"] = ReadAction(services::DescribeVpcs);
  t["DescribeSubnets"] = ReadAction(services::DescribeSubnets);
  t["DescribeInstanceTypes"] = {[](ActionContext& ctx, const nlohmann::json& in) {
                                  return ctx.deps().catalog->DescribeInstanceTypes(in);
                                },
                                false};
}

}  // namespace kumo::api
