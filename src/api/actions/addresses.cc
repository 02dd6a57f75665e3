// Elastic IPs: AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress,
// DescribeAddresses. Association changes what the reconciler publishes, so those wake it.
#include "services/addresses.h"

#include "api/action.h"

namespace kumo::api {

using nlohmann::json;

void RegisterAddressActions(ActionTable& t) {
  t["AllocateAddress"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::AllocateAddress(tx, ctx.caller(), *ctx.deps().ids, *ctx.deps().instance_env,
                                     in);
  });
  t["AssociateAddress"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::AssociateAddress(tx, ctx.caller(), *ctx.deps().ids, *ctx.deps().instance_env,
                                      in);
  });
  t["DisassociateAddress"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::DisassociateAddress(tx, ctx.caller(), *ctx.deps().instance_env, in);
  });
  t["ReleaseAddress"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::ReleaseAddress(tx, ctx.caller(), in);
  });
  t["DescribeAddresses"] = ReadAction(services::DescribeAddresses);
  t["DescribeNetworkInterfaces"] = ReadAction(services::DescribeNetworkInterfaces);
}

}  // namespace kumo::api
