// The ledger's writers (issue 7): every change that costs money appends its meter event in the
// transaction that makes the change, so a crash can neither lose a second nor count it twice.

// The events and their data are described in billing/ledger.h, which reads them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "billing/ledger.h"
#include "market/auction.h"
#include "services/instance_types.h"
#include "services/regions.h"
#include "store/store.h"

namespace kumo::services {

using billing::kMeterLeftRunning;
using billing::kMeterOnDemandPrice;
using billing::kMeterRunning;
using billing::kMeterSpotPrice;
using billing::kMeterVolumePrice;

// The one way an instance record is written after its launch: compares the stored state with
// r's, appends "running" / "left-running" at now_ms when r enters or leaves `running`, then stores
// r (conditional on its version, see Tx::UpdateResource) and bumps r.version.
absl::Status SaveInstance(store::Tx& tx, store::Resource& r, int64_t now_ms);

// A spot pool's new price (called by the pool's only price writer).
absl::Status RecordSpotPrice(store::Tx& tx, std::string_view region, std::string_view az,
                             std::string_view type, market::Micros hourly, int64_t at_ms);

// The On-Demand price the ledger holds now for a type in a region; NotFound before any.
absl::StatusOr<market::Micros> OnDemandPrice(store::Tx& tx, std::string_view region,
                                             std::string_view type);
// Records the catalog's On-Demand prices that differ from what the ledger last recorded from the
// catalog (first start, an edited catalog file). A price the operator set (SetOnDemandPrice)
// holds until the catalog's own price for that type changes.
absl::Status SyncOnDemandPrices(store::Tx& tx, const InstanceTypeCatalog& catalog,
                                const Regions& regions, int64_t now_ms);
// At start-up, for a store written before the ledger: instances running without a `running`
// event are metered from now, and spot pools without a price event get their current price.
absl::Status EnsureLedgerBaseline(store::Tx& tx, int64_t now_ms);
// Moves the storage issue's "meter-event" resources into the ledger (once, at start-up).
absl::Status MigrateLegacyMeterEvents(store::Tx& tx);
// The operator's price change, effective at now_ms.
absl::Status SetOnDemandPrice(store::Tx& tx, const InstanceTypeCatalog& catalog,
                              const std::string& region, const std::string& type,
                              market::Micros hourly, int64_t now_ms);

}  // namespace kumo::services
