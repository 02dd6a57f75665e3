#include "services/metering.h"

#include <cmath>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/images.h"
#include "services/spot.h"
#include "services/spot_internal.h"
#include "services/volumes.h"

namespace kumo::services {

using market::Micros;
using nlohmann::json;

namespace {

std::string Str(const json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_string() ? it->get<std::string>() : "";
}

// Who ended a running period, as the rating needs it: a provider's interruption of a spot
// instance in its first hour is free (specs/spot.md §5).
json LeftRunning(const json& d) {
  std::string state = Str(d, "state");
  std::string reason;
  if (d.contains("state_reason") && d["state_reason"].is_object()) {
    reason = Str(d["state_reason"], "code");
  }
  std::string by = "user";
  if (state == "pending") {
    by = "provider";  // lost with the host and started again: not the user's doing
  } else if (reason.rfind("Server.", 0) == 0) {
    by = "provider";
  } else if (reason == "Client.InstanceInitiatedShutdown") {
    by = "instance";
  }
  return {{"state", state}, {"by", by}, {"reason", reason}};
}

absl::StatusOr<json> Running(store::Tx& tx, const store::Resource& r) {
  const json& d = r.data;
  std::string type = Str(d, "instance_type"), az = Str(d, "availability_zone");
  bool spot = Str(d, "instance_lifecycle") == "spot";
  Micros hourly = 0;
  if (spot) {
    ASSIGN_OR_RETURN(auto pool, tx.FindResourceByName(kOperatorOwnerId, r.region, kSpotPoolType,
                                                      spot::PoolName(az, type)));
    if (pool) hourly = pool->data.value("price_micros", Micros(0));
  } else {
    auto price = OnDemandPrice(tx, r.region, type);
    if (price.ok()) {
      hourly = *price;
    } else if (!absl::IsNotFound(price.status())) {
      return price.status();
    }
  }
  json tags = json::object();
  ASSIGN_OR_RETURN(auto list, tx.ListTags(r.account_id, r.region, r.id));
  for (const auto& t : list) tags[t.key] = t.value;
  return json{{"type", type},
              {"market", spot ? "spot" : "on-demand"},
              {"az", az},
              {"hourly", hourly},
              {"tags", std::move(tags)}};
}

absl::StatusOr<std::optional<store::MeterEvent>> LastPriceEvent(
    store::Tx& tx, std::string_view region, std::string_view type, std::string_view source,
    std::string_view kind = kMeterOnDemandPrice) {
  ASSIGN_OR_RETURN(auto events, tx.ListMeterEvents({.account_id = std::string(kOperatorOwnerId),
                                                    .region = std::string(region),
                                                    .subject = std::string(type),
                                                    .kind = std::string(kind)}));
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (source.empty() || Str(it->data, "source") == source) return std::move(*it);
  }
  return std::nullopt;
}

absl::Status AppendOnDemandPrice(store::Tx& tx, std::string_view region, std::string_view type,
                                 Micros hourly, std::string_view source, int64_t now_ms,
                                 std::string_view kind = kMeterOnDemandPrice) {
  return tx.AppendMeterEvent({0, now_ms, std::string(kOperatorOwnerId), std::string(region),
                              std::string(type), std::string(kind),
                              json{{"hourly", hourly}, {"source", source}}});
}

}  // namespace

absl::Status SaveInstance(store::Tx& tx, store::Resource& r, int64_t now_ms) {
  ASSIGN_OR_RETURN(auto stored, tx.GetResource(r.account_id, r.region, r.id));
  bool was = Str(stored.data, "state") == "running";
  bool is = Str(r.data, "state") == "running";
  // The record first: a conditional update that fails leaves no event behind, even for a
  // caller that goes on with the transaction.
  RETURN_IF_ERROR(tx.UpdateResource(r));
  ++r.version;
  if (!was && is) {
    ASSIGN_OR_RETURN(json data, Running(tx, r));
    RETURN_IF_ERROR(tx.AppendMeterEvent(
        {0, now_ms, r.account_id, r.region, r.id, std::string(kMeterRunning), std::move(data)}));
  } else if (was && !is) {
    RETURN_IF_ERROR(tx.AppendMeterEvent({0, now_ms, r.account_id, r.region, r.id,
                                         std::string(kMeterLeftRunning), LeftRunning(r.data)}));
  }
  return absl::OkStatus();
}

absl::Status RecordSpotPrice(store::Tx& tx, std::string_view region, std::string_view az,
                             std::string_view type, Micros hourly, int64_t at_ms) {
  return tx.AppendMeterEvent({0, at_ms, std::string(kOperatorOwnerId), std::string(region),
                              spot::PoolName(az, type), std::string(kMeterSpotPrice),
                              json{{"hourly", hourly}}});
}

absl::StatusOr<Micros> OnDemandPrice(store::Tx& tx, std::string_view region,
                                     std::string_view type) {
  ASSIGN_OR_RETURN(auto last, LastPriceEvent(tx, region, type, ""));
  if (!last) {
    return absl::NotFoundError(fmt::format("No On-Demand price for {} in {}", type, region));
  }
  return last->data.value("hourly", Micros(0));
}

absl::Status SyncOnDemandPrices(store::Tx& tx, const InstanceTypeCatalog& catalog,
                                const Regions& regions, int64_t now_ms) {
  for (const auto& region : regions.names()) {
    for (const auto& type : catalog.types()) {
      auto hourly = Micros(std::llround(catalog.PricePerHour(type, region) * 1e6));
      ASSIGN_OR_RETURN(auto last, LastPriceEvent(tx, region, type.name, "catalog"));
      if (last && last->data.value("hourly", Micros(-1)) == hourly) continue;
      RETURN_IF_ERROR(AppendOnDemandPrice(tx, region, type.name, hourly, "catalog", now_ms));
    }
    // EBS storage: "hourly" holds the price per GiB-month.
    for (const auto& [volume_type, by_region] : catalog.volume_prices()) {
      auto price = Micros(std::llround(InstanceTypeCatalog::PriceIn(by_region, region) * 1e6));
      ASSIGN_OR_RETURN(auto last,
                       LastPriceEvent(tx, region, volume_type, "catalog", kMeterVolumePrice));
      if (last && last->data.value("hourly", Micros(-1)) == price) continue;
      RETURN_IF_ERROR(AppendOnDemandPrice(tx, region, volume_type, price, "catalog", now_ms,
                                          kMeterVolumePrice));
    }
  }
  return absl::OkStatus();
}

absl::Status EnsureLedgerBaseline(store::Tx& tx, int64_t now_ms) {
  ASSIGN_OR_RETURN(auto instances, tx.ListAllResources(kInstanceType));
  for (const auto& r : instances) {
    if (Str(r.data, "state") != "running") continue;
    std::string last;
    RETURN_IF_ERROR(tx.ScanMeterEvents(
        {.account_id = r.account_id, .subject = r.id}, [&](const store::MeterEvent& e) {
          if (e.kind == kMeterRunning || e.kind == kMeterLeftRunning) {
            last = e.kind;
          }
          return absl::OkStatus();
        }));
    if (last == kMeterRunning) continue;
    ASSIGN_OR_RETURN(json data, Running(tx, r));
    RETURN_IF_ERROR(tx.AppendMeterEvent(
        {0, now_ms, r.account_id, r.region, r.id, std::string(kMeterRunning), std::move(data)}));
  }
  ASSIGN_OR_RETURN(auto pools, tx.ListAllResources(kSpotPoolType));
  for (const auto& p : pools) {
    std::string az = Str(p.data, "az"), type = Str(p.data, "instance_type");
    ASSIGN_OR_RETURN(auto priced, tx.ListMeterEvents({.account_id = std::string(kOperatorOwnerId),
                                                      .region = p.region,
                                                      .subject = spot::PoolName(az, type),
                                                      .kind = std::string(kMeterSpotPrice),
                                                      .limit = 1}));
    if (!priced.empty() || !p.data.contains("price_micros")) continue;
    RETURN_IF_ERROR(RecordSpotPrice(tx, p.region, az, type, p.data.value("price_micros", Micros(0)),
                                    p.data.value("price_ms", now_ms)));
  }
  return absl::OkStatus();
}

absl::Status MigrateLegacyMeterEvents(store::Tx& tx) {
  ASSIGN_OR_RETURN(auto legacy, tx.ListAllResources(kMeterEventType));
  for (const auto& r : legacy) {
    const json& d = r.data;
    std::string id = d.value("resource_id", "");
    json data = {{"size_gib", d.value("size_gib", int64_t(0))}};
    if (d.value("resource_type", "") == kVolumeType) {
      auto volume = tx.GetResource(r.account_id, r.region, id);
      data["volume_type"] = volume.ok() ? volume->data.value("volume_type", "gp2") : "gp2";
      data["az"] = volume.ok() ? volume->data.value("availability_zone", "") : "";
    }
    RETURN_IF_ERROR(tx.AppendMeterEvent(
        {0, d.value("at_ms", r.created_ms), r.account_id, r.region, id,
         d.value("resource_type", "") + "-" + d.value("event", ""), std::move(data)}));
    RETURN_IF_ERROR(tx.DeleteResource(r.account_id, r.region, r.id));
  }
  return absl::OkStatus();
}

absl::Status SetOnDemandPrice(store::Tx& tx, const InstanceTypeCatalog& catalog,
                              const std::string& region, const std::string& type, Micros hourly,
                              int64_t now_ms) {
  if (catalog.Find(type) == nullptr) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue",
                    fmt::format("No instance type {} in the catalog", type));
  }
  if (hourly < 0) {
    return Ec2Error(absl::StatusCode::kInvalidArgument, "InvalidParameterValue",
                    "A price cannot be negative");
  }
  return AppendOnDemandPrice(tx, region, type, hourly, "operator", now_ms);
}

}  // namespace kumo::services
