// Billing's service half (issue 7): the bill of the caller's account (KumoBilling.GetBill, behind
// `kumo bill` and the console) and Cost Explorer's GetCostAndUsage, both computed from the
// ledger at the time of the call (billing/ledger.h). Answers are JSON 1.1 (api/json_api.h).
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "billing/ledger.h"
#include "services/caller.h"
#include "services/instance_types.h"
#include "store/store.h"

namespace kumo::services {

inline constexpr std::string_view kBillingOwner = "000000000000";
// The operator's terms (operator account, region ""; name "default" or an account id):
// {"enabled", "hours_per_month", "months", "instance_types"}, each optional; an account's record
// overrides the default's fields.
inline constexpr std::string_view kBillingTermsType = "billing-terms";

struct BillingTerms {
  billing::FreeTierTerms free_tier;
};

absl::StatusOr<BillingTerms> TermsFor(store::Tx& tx, const std::string& account_id);
// The operator's change of the Free Tier terms of one account, or of all (account_id empty).
absl::StatusOr<nlohmann::json> SetFreeTierTerms(store::Tx& tx, const std::string& account_id,
                                                const nlohmann::json& body, int64_t now_ms);

// The account's bill for the month containing month_at_ms, as of now_ms, on its terms.
absl::StatusOr<billing::Bill> AccountBill(store::Tx& tx, const store::Account& account,
                                          int64_t month_at_ms, int64_t now_ms);
// The month ("2026-11") as the ms of its start; InvalidParameterValue otherwise.
absl::StatusOr<int64_t> ParseMonth(const std::string& month);

// {"Month": "2026-11" (default: the current one), "Format": "json" | "csv"}.
absl::StatusOr<nlohmann::json> GetBill(store::Tx& tx, const store::Account& account,
                                       const Caller& caller, const nlohmann::json& input);

// The prices a launch shows (the console's wizard): each type's On-Demand price in the caller's
// region as the ledger holds it now (operator changes included), whether the account's Free Tier
// covers it today, and the catalog's volume prices.
absl::StatusOr<nlohmann::json> GetPrices(store::Tx& tx, const store::Account& account,
                                         const Caller& caller, const InstanceTypeCatalog& catalog);

// Cost Explorer's GetCostAndUsage over the caller's account, as botocore's model shapes it:
// DAILY and MONTHLY granularity; metrics UnblendedCost, UsageQuantity (and the cost metrics that
// equal UnblendedCost without discounts); GroupBy DIMENSION (SERVICE, INSTANCE_TYPE, USAGE_TYPE,
// REGION, AZ, PURCHASE_TYPE, LINKED_ACCOUNT, OPERATION, RESOURCE_ID) and TAG; Filter expressions.
absl::StatusOr<nlohmann::json> GetCostAndUsage(store::Tx& tx, const store::Account& account,
                                               const Caller& caller, const nlohmann::json& input);

}  // namespace kumo::services
