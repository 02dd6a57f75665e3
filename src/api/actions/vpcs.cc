// VPCs and subnets (CreateVpc, DeleteVpc, Modify/DescribeVpcAttribute, DescribeVpcs, CreateSubnet,
// DeleteSubnet, ModifySubnetAttribute, DescribeSubnets) and DescribeInstanceTypes: what a launch
// draws on.
#include "services/vpcs.h"

#include "api/action.h"
#include "services/placement.h"

namespace kumo::api {
namespace {

using nlohmann::json;

// A write that needs the id generator (and for subnets the region's zones).
template <typename Fn>
ActionSpec WriteWithDeps(Fn fn) {
  return {[fn](ActionContext& ctx, const json& in) {
            return ctx.Write([&](store::Tx& tx) { return fn(ctx, tx, in); });
          },
          true};
}

}  // namespace

void RegisterVpcActions(ActionTable& t) {
  t["CreateVpc"] = WriteWithDeps([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::CreateVpc(tx, ctx.caller(), *ctx.deps().ids, in);
  });
  t["DeleteVpc"] = WriteWithDeps([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::DeleteVpc(tx, ctx.caller(), *ctx.deps().ids, in);
  });
  t["ModifyVpcAttribute"] = WriteAction(services::ModifyVpcAttribute);
  t["DescribeVpcAttribute"] = ReadAction(services::DescribeVpcAttribute);
  t["DescribeVpcs"] = ReadAction(services::DescribeVpcs);
  t["AssociateVpcCidrBlock"] = WriteWithDeps([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::AssociateVpcCidrBlock(tx, ctx.caller(), *ctx.deps().ids, in);
  });
  t["DisassociateVpcCidrBlock"] = WriteAction(services::DisassociateVpcCidrBlock);
  t["CreateSubnet"] = WriteWithDeps([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::CreateSubnet(tx, ctx.caller(), *ctx.deps().regions, *ctx.deps().ids, in);
  });
  t["DeleteSubnet"] = WriteAction(services::DeleteSubnet);
  t["ModifySubnetAttribute"] = WriteAction(services::ModifySubnetAttribute);
  t["DescribeSubnets"] = ReadAction(services::DescribeSubnets);
  t["DescribeInstanceTypes"] = {[](ActionContext& ctx, const nlohmann::json& in) {
                                  return ctx.deps().catalog->DescribeInstanceTypes(in);
                                },
                                false};
  t["DescribeInstanceTypeOfferings"] = {[](ActionContext& ctx, const nlohmann::json& in) {
                                          return services::DescribeInstanceTypeOfferings(
                                              *ctx.deps().instance_env, *ctx.deps().regions,
                                              ctx.caller(), in);
                                        },
                                        false};
}

}  // namespace kumo::api
