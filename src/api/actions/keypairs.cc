// CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair.
#include "services/keypairs.h"

#include "api/action.h"
#include "common/status_macros.h"

namespace kumo::api {
namespace {

using nlohmann::json;
using PrepareFn = absl::StatusOr<services::PreparedKeyPair> (*)(const json&);

// Key material is made before the write transaction, which then only stores it.
ActionSpec NewKeyPair(PrepareFn prepare, bool imported) {
  return {[prepare, imported](ActionContext& ctx, const json& in) -> absl::StatusOr<json> {
            ASSIGN_OR_RETURN(auto key, prepare(in));
            return ctx.Write([&](store::Tx& tx) {
              return services::StoreKeyPair(tx, ctx.caller(), *ctx.deps().ids, key, in, imported);
            });
          },
          true};
}

}  // namespace

void RegisterKeyPairActions(ActionTable& t) {
  t["CreateKeyPair"] = NewKeyPair(services::PrepareCreateKeyPair, /*imported=*/false);
  t["ImportKeyPair"] = NewKeyPair(services::PrepareImportKeyPair, /*imported=*/true);
  t["DescribeKeyPairs"] = ReadAction(services::DescribeKeyPairs);
  t["DeleteKeyPair"] = WriteAction(services::DeleteKeyPair);
}

}  // namespace kumo::api
