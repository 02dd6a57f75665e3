// DescribeSpotPriceHistory, RequestSpotInstances, DescribeSpotInstanceRequests,
// CancelSpotInstanceRequests.
#include "services/spot.h"

#include "api/action.h"

namespace kumo::api {

using nlohmann::json;

void RegisterSpotActions(ActionTable& t) {
  t["DescribeSpotPriceHistory"] = ReadAction(services::DescribeSpotPriceHistory);
  t["DescribeSpotInstanceRequests"] = ReadAction(services::DescribeSpotInstanceRequests);
  // The market round fulfils what these leave open: it is woken like the reconciler.
  t["RequestSpotInstances"] =
      ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
        return services::RequestSpotInstances(tx, ctx.caller(), *ctx.deps().ids,
                                              *ctx.deps().instance_env, in);
      });
  t["CancelSpotInstanceRequests"] =
      ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
        return services::CancelSpotInstanceRequests(tx, ctx.caller(), in);
      });
}

}  // namespace kumo::api
