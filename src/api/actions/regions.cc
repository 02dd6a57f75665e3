// DescribeRegions, DescribeAvailabilityZones, DescribeAccountAttributes.
#include "services/regions.h"

#include "api/action.h"

namespace kumo::api {

using nlohmann::json;

void RegisterRegionActions(ActionTable& t) {
  t["DescribeRegions"] = {
      [](ActionContext& ctx, const json& in) { return ctx.deps().regions->DescribeRegions(in); },
      false};
  t["DescribeAvailabilityZones"] = {[](ActionContext& ctx, const json& in) {
                                      return ctx.deps().regions->DescribeAvailabilityZones(
                                          ctx.caller(), in);
                                    },
                                    false};
  t["DescribeAccountAttributes"] = ReadAction(services::DescribeAccountAttributes);
}

}  // namespace kumo::api
