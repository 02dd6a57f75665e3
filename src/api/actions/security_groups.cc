// CreateSecurityGroup, DeleteSecurityGroup, DescribeSecurityGroups, DescribeSecurityGroupRules,
// Authorize/RevokeSecurityGroupIngress/Egress, ModifySecurityGroupRules.
#include "services/security_groups.h"

#include "api/action.h"

namespace kumo::api {
namespace {

using nlohmann::json;

// Rule changes reach the firewall of running instances on the reconciler's next pass, which
// they start at once.
ActionSpec Authorize(bool egress) {
  return ReconciledWrite([egress](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::AuthorizeSecurityGroupRules(tx, ctx.caller(), *ctx.deps().ids, in, egress);
  });
}

ActionSpec Revoke(bool egress) {
  return ReconciledWrite([egress](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::RevokeSecurityGroupRules(tx, ctx.caller(), in, egress);
  });
}

}  // namespace

void RegisterSecurityGroupActions(ActionTable& t) {
  t["CreateSecurityGroup"] = {[](ActionContext& ctx, const json& in) {
                                return ctx.Write([&](store::Tx& tx) {
                                  return services::CreateSecurityGroup(tx, ctx.caller(),
                                                                       *ctx.deps().ids, in);
                                });
                              },
                              true};
  t["DeleteSecurityGroup"] = WriteAction(services::DeleteSecurityGroup);
  t["DescribeSecurityGroups"] = ReadAction(services::DescribeSecurityGroups);
  t["DescribeSecurityGroupRules"] = ReadAction(services::DescribeSecurityGroupRules);
  t["AuthorizeSecurityGroupIngress"] = Authorize(false);
  t["AuthorizeSecurityGroupEgress"] = Authorize(true);
  t["RevokeSecurityGroupIngress"] = Revoke(false);
  t["RevokeSecurityGroupEgress"] = Revoke(true);
  t["ModifySecurityGroupRules"] = ReconciledWrite(services::ModifySecurityGroupRules);
}

}  // namespace kumo::api
