// The JSON 1.1 operations: Cost Explorer's GetCostAndUsage, Kumo's bill and budget, each one
// store transaction.
#include "services/billing.h"

#include "api/json_api.h"
#include "common/status_macros.h"
#include "services/guards.h"

namespace kumo::api {

using nlohmann::json;

namespace {

using Fn = absl::StatusOr<json> (*)(store::Tx&, const store::Account&, const services::Caller&,
                                    const json&);

// One transaction: a snapshot to read, or a write that commits all or nothing.
JsonOperation InTx(store::Store& store, Fn fn, bool write) {
  return [&store, fn, write](const JsonCall& call) -> absl::StatusOr<json> {
    json out;
    auto body = [&](store::Tx& tx) -> absl::Status {
      auto r = fn(tx, call.account, call.caller, call.input);
      if (!r.ok()) return r.status();
      out = std::move(*r);
      return absl::OkStatus();
    };
    absl::Status st = write ? store.Write(body) : store.Read(body);
    if (!st.ok()) return st;
    return out;
  };
}

}  // namespace

std::map<std::string, JsonOperation, std::less<>> BillingOperations(
    store::Store& store, const services::InstanceTypeCatalog& catalog) {
  return {
      {"KumoBilling.GetPrices",
       [&store, &catalog](const JsonCall& call) -> absl::StatusOr<json> {
         json out;
         RETURN_IF_ERROR(store.Read([&](store::Tx& tx) -> absl::Status {
           ASSIGN_OR_RETURN(out, services::GetPrices(tx, call.account, call.caller, catalog));
           return absl::OkStatus();
         }));
         return out;
       }},
      {"AWSInsightsIndexService.GetCostAndUsage", InTx(store, services::GetCostAndUsage, false)},
      {"KumoBilling.GetBill", InTx(store, services::GetBill, false)},
      {"KumoBilling.GetBudget", InTx(store, services::GetBudget, false)},
      {"KumoBilling.SetBudget", InTx(store, services::SetBudget, true)},
      {"KumoBilling.DeleteBudget", InTx(store, services::DeleteBudget, true)},
      {"KumoBilling.GetIdlePolicy", InTx(store, services::GetIdlePolicy, false)},
      {"KumoBilling.SetIdlePolicy", InTx(store, services::SetIdlePolicy, true)},
      {"KumoBilling.DeleteIdlePolicy", InTx(store, services::DeleteIdlePolicy, true)}};
}

}  // namespace kumo::api
