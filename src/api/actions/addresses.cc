// Elastic IPs (AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress,
// DescribeAddresses) and network interfaces (Create/Delete/Attach/Detach/Describe,
// Modify/Describe/ResetNetworkInterfaceAttribute): what an instance's addresses and interfaces are.
// Changes wake the reconciler, which publishes addresses and plugs interfaces.
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
  t["CreateNetworkInterface"] =
      ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
        return services::CreateNetworkInterface(tx, ctx.caller(), *ctx.deps().ids, in);
      });
  t["DeleteNetworkInterface"] = ReconciledWrite(services::DeleteNetworkInterface);
  t["AttachNetworkInterface"] =
      ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
        return services::AttachNetworkInterface(tx, ctx.caller(), *ctx.deps().ids, in);
      });
  t["DetachNetworkInterface"] = ReconciledWrite(services::DetachNetworkInterface);
  t["DescribeNetworkInterfaceAttribute"] = ReadAction(services::DescribeNetworkInterfaceAttribute);
  t["ResetNetworkInterfaceAttribute"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx,
                                                           const json& in) {
    return services::ResetNetworkInterfaceAttribute(tx, ctx.caller(), *ctx.deps().instance_env, in);
  });
  t["AssignPrivateIpAddresses"] = ReconciledWrite(services::AssignPrivateIpAddresses);
  t["UnassignPrivateIpAddresses"] = ReconciledWrite(services::UnassignPrivateIpAddresses);
  t["ModifyNetworkInterfaceAttribute"] =
      ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
        return services::ModifyNetworkInterfaceAttribute(tx, ctx.caller(), *ctx.deps().instance_env,
                                                         in);
      });
}

}  // namespace kumo::api
