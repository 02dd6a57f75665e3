// CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair.
#include "services/keypairs.h"

#include "api/action.h"
#include "common/status_macros.h"

namespace kumo::api {

using nlohmann::json;

void RegisterKeyPairActions(ActionTable& t) {
  t["CreateKeyPair"] = {[](ActionContext& ctx, const json& in) -> absl::StatusOr<json> {
                          ASSIGN_OR_RETURN(auto key, services::PrepareCreateKeyPair(in));
                          return ctx.Write([&](store::Tx& tx) {
                            return services::StoreKeyPair(tx, ctx.caller(), *ctx.deps().ids, key,
                                                          in, /*imported=*/false);
                          });
                        },
                        true};
  t["ImportKeyPair"] = {[](ActionContext& ctx, const json& in) -> absl::StatusOr<json> {
                          ASSIGN_OR_RETURN(auto key, services::PrepareImportKeyPair(in));
                          return ctx.Write([&](store::Tx& tx) {
                            return services::StoreKeyPair(tx, ctx.caller(), *ctx.deps().ids, key,
                                                          in, /*imported=*/true);
                          });
                        },
                        true};
  t["DescribeKeyPairs"] = {[](ActionContext& ctx, const json& in) {
                             return ctx.Read([&](store::Tx& tx) {
                               return services::DescribeKeyPairs(tx, ctx.caller(), in);
                             });
                           },
                           false};
  t["DeleteKeyPair"] = {[](ActionContext& ctx, const json& in) {
                          return ctx.Write([&](store::Tx& tx) {
                            return services::DeleteKeyPair(tx, ctx.caller(), in);
                          });
                        },
                        true};
}

}  // namespace kumo::api
