// CreateTags, DeleteTags, DescribeTags.
#include "services/tags.h"

#include "api/action.h"
#include "common/status_macros.h"

namespace kumo::api {

using nlohmann::json;

void RegisterTagActions(ActionTable& t) {
  t["CreateTags"] = {[](ActionContext& ctx, const json& in) {
                       return ctx.Write([&](store::Tx& tx) -> absl::StatusOr<json> {
                         RETURN_IF_ERROR(services::CreateTags(tx, ctx.caller(), in));
                         return json{{"Return", true}};
                       });
                     },
                     true};
  t["DeleteTags"] = {[](ActionContext& ctx, const json& in) {
                       return ctx.Write([&](store::Tx& tx) -> absl::StatusOr<json> {
                         RETURN_IF_ERROR(services::DeleteTags(tx, ctx.caller(), in));
                         return json{{"Return", true}};
                       });
                     },
                     true};
  t["DescribeTags"] = {[](ActionContext& ctx, const json& in) {
                         return ctx.Read([&](store::Tx& tx) {
                           return services::DescribeTags(tx, ctx.caller(), in);
                         });
                       },
                       false};
}

}  // namespace kumo::api
