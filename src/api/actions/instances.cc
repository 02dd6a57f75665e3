// RunInstances, Start/Stop/Reboot/TerminateInstances, DescribeInstances,
// DescribeInstanceStatus, Describe/ModifyInstanceAttribute, GetConsoleOutput.
#include "services/instances.h"

#include "api/action.h"
#include "common/encoding.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "host/agent/host.h"

namespace kumo::api {
namespace {

using nlohmann::json;

absl::StatusOr<json> GetConsoleOutput(ActionContext& ctx, const json& in) {
  std::string id = in.value("InstanceId", "");
  ASSIGN_OR_RETURN(json found, ctx.Read([&](store::Tx& tx) -> absl::StatusOr<json> {
    RETURN_IF_ERROR(services::GetInstance(tx, ctx.caller(), id).status());
    return json::object();
  }));
  std::string output;
  if (ctx.deps().host) {
    auto got = ctx.deps().host->ConsoleOutput(id);
    if (got.ok()) output = std::move(*got);
  }
  return json{{"InstanceId", id},
              {"Timestamp", FormatIso8601(ctx.caller().now)},
              {"Output", Base64Encode(output)}};
}

}  // namespace

void RegisterInstanceActions(ActionTable& t) {
  t["RunInstances"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::RunInstances(tx, ctx.caller(), *ctx.deps().ids, *ctx.deps().instance_env, in);
  });
  t["StartInstances"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::StartInstances(tx, ctx.caller(), *ctx.deps().instance_env, in);
  });
  t["StopInstances"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::StopInstances(tx, ctx.caller(), in);
  });
  t["RebootInstances"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::RebootInstances(tx, ctx.caller(), in);
  });
  t["TerminateInstances"] = ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
    return services::TerminateInstances(tx, ctx.caller(), in);
  });
  t["ModifyInstanceAttribute"] =
      ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
        return services::ModifyInstanceAttribute(tx, ctx.caller(), *ctx.deps().instance_env, in);
      });
  t["ModifyInstanceMetadataOptions"] =
      ReconciledWrite([](ActionContext& ctx, store::Tx& tx, const json& in) {
        return services::ModifyInstanceMetadataOptions(tx, ctx.caller(), in);
      });
  t["DescribeInstances"] = ReadAction(services::DescribeInstances);
  t["DescribeInstanceStatus"] = ReadAction(services::DescribeInstanceStatus);
  t["DescribeInstanceAttribute"] = ReadAction(services::DescribeInstanceAttribute);
  t["GetConsoleOutput"] = {GetConsoleOutput, false};
}

}  // namespace kumo::api
