// Internet gateways and route tables (CreateInternetGateway, DeleteInternetGateway,
// Attach/DetachInternetGateway, DescribeInternetGateways, CreateRouteTable, DeleteRouteTable,
// DescribeRouteTables, CreateRoute, ReplaceRoute, DeleteRoute, AssociateRouteTable,
// DisassociateRouteTable, ReplaceRouteTableAssociation).
#include "services/routing.h"

#include "api/action.h"

namespace kumo::api {
namespace {

using nlohmann::json;

// A write that needs the id generator.
using WithIdsFn = absl::StatusOr<json> (*)(store::Tx&, const services::Caller&, IdGenerator&,
                                           const json&);
ActionSpec WriteWithIds(WithIdsFn fn) {
  return {
      [fn](ActionContext& ctx, const json& in) {
        return ctx.Write([&](store::Tx& tx) { return fn(tx, ctx.caller(), *ctx.deps().ids, in); });
      },
      true};
}

// What changes which subnets are routed to the internet wakes the reconciler once committed.
ActionSpec RoutingWrite(TxServiceFn fn) { return ReconciledWrite(fn); }
ActionSpec RoutingWrite(WithIdsFn fn) {
  return ReconciledWrite([fn](ActionContext& ctx, store::Tx& tx, const json& in) {
    return fn(tx, ctx.caller(), *ctx.deps().ids, in);
  });
}

}  // namespace

void RegisterRoutingActions(ActionTable& t) {
  t["CreateInternetGateway"] = WriteWithIds(services::CreateInternetGateway);
  t["DeleteInternetGateway"] = WriteAction(services::DeleteInternetGateway);
  t["AttachInternetGateway"] = RoutingWrite(services::AttachInternetGateway);
  t["DetachInternetGateway"] = RoutingWrite(services::DetachInternetGateway);
  t["DescribeInternetGateways"] = ReadAction(services::DescribeInternetGateways);
  t["CreateRouteTable"] = WriteWithIds(services::CreateRouteTable);
  t["DeleteRouteTable"] = WriteAction(services::DeleteRouteTable);
  t["DescribeRouteTables"] = ReadAction(services::DescribeRouteTables);
  t["CreateRoute"] = RoutingWrite(services::CreateRoute);
  t["ReplaceRoute"] = RoutingWrite(services::ReplaceRoute);
  t["DeleteRoute"] = RoutingWrite(services::DeleteRoute);
  t["AssociateRouteTable"] = RoutingWrite(services::AssociateRouteTable);
  t["DisassociateRouteTable"] = RoutingWrite(services::DisassociateRouteTable);
  t["ReplaceRouteTableAssociation"] = RoutingWrite(services::ReplaceRouteTableAssociation);
}

}  // namespace kumo::api
