#include "daemon/admin_ops.h"

#include <fmt/format.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "daemon/data_dir.h"
#include "services/billing.h"
#include "services/gpus.h"
#include "services/invoice.h"
#include "services/metering.h"

namespace kumo::daemon {

using nlohmann::json;

namespace {

absl::StatusOr<services::PoolKey> PoolOf(const AdminContext& c, const json& body) {
  services::PoolKey k;
  k.region = body.value("region", c.regions->names().front());
  if (!c.regions->Serves(k.region)) return InvalidParameterValue("Unknown region " + k.region);
  k.az = body.value("availability_zone", k.region + "a");
  k.instance_type = body.value("instance_type", "");
  if (k.instance_type.empty()) return MissingParameter("instance_type is required");
  return k;
}

json ClockJson(const AdminContext& c) {
  return {{"now", FormatIso8601(c.clock->Now())},
          {"simulated", c.simulated != nullptr},
          {"offset_seconds", c.simulated ? c.simulated->offset().count() / 1000.0 : 0.0}};
}

// A change the market acts on: a round at once, so the caller sees its effect.
absl::StatusOr<json> Settle(const AdminContext& c, json out) {
  ASSIGN_OR_RETURN(services::RoundResult r, c.market->RunOnce());
  if (c.instances_changed) c.instances_changed();
  out["round"] = {{"fulfilled", r.fulfilled}, {"interrupted", r.interrupted}};
  return out;
}

absl::StatusOr<json> Write(const AdminContext& c,
                           const std::function<absl::Status(store::Tx&)>& fn) {
  RETURN_IF_ERROR(c.store->Write(fn));
  return Settle(c, json::object());
}

}  // namespace

std::map<std::string, api::AdminOperation, std::less<>> AdminOperations(const AdminContext& c) {
  std::map<std::string, api::AdminOperation, std::less<>> ops;
  ops["clock"] = [c](const json&) -> absl::StatusOr<json> { return ClockJson(c); };
  // This machine (one host per daemon for now): its size and its GPUs with their holders.
  ops["hosts"] = [c](const json&) -> absl::StatusOr<json> {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    host::GpuInventory none;
    const host::GpuInventory& inv = c.gpus ? *c.gpus : none;
    json gpus;
    RETURN_IF_ERROR(c.store->Read([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(gpus, services::GpuAssignments(tx, inv.gpus));
      return absl::OkStatus();
    }));
    return json{{"Hosts",
                 {{{"Host", name},
                   {"Cpus", c.env ? c.env->host_cpus : 0},
                   {"MemoryMiB", c.env ? c.env->host_memory_mib : 0},
                   {"GpuSource", inv.source.empty() ? "none" : inv.source},
                   {"DriverVersion", inv.driver_version},
                   {"DriverFiles", inv.driver_files.size()},
                   {"Gpus", gpus}}}}};
  };
  ops["clock/advance"] = [c](const json& body) -> absl::StatusOr<json> {
    if (!c.simulated) {
      return Ec2Error(absl::StatusCode::kFailedPrecondition, "IncorrectState",
                      "The clock is the system clock: start kumod with --simulated-clock");
    }
    double seconds = body.value("seconds", 0.0);
    if (!(seconds > 0) || seconds > 400.0 * 24 * 3600) {
      return InvalidParameterValue("seconds must be positive (at most 400 days)");
    }
    RETURN_IF_ERROR(
        c.market->Advance(*c.simulated, std::chrono::milliseconds(int64_t(seconds * 1000)),
                          [&](std::chrono::milliseconds offset) {
                            return WriteFileAtomic(DataDir::ClockOffset(c.data_dir),
                                                   std::to_string(offset.count()) + "\n");
                          }));
    if (c.instances_changed) c.instances_changed();
    return ClockJson(c);
  };
  ops["spot/set-price"] = [c](const json& body) -> absl::StatusOr<json> {
    ASSIGN_OR_RETURN(services::PoolKey k, PoolOf(c, body));
    market::Micros price = 0;
    std::string text = body.contains("price") && body["price"].is_number()
                           ? fmt::format("{:.6f}", body["price"].get<double>())
                           : body.value("price", "");
    if (text != "default" && !services::ParsePrice(text, &price)) {
      return InvalidParameterValue("price must be a decimal USD amount or \"default\"");
    }
    return Write(c, [&](store::Tx& tx) { return services::SetPoolReserve(tx, k, price); });
  };
  ops["billing/set-price"] = [c](const json& body) -> absl::StatusOr<json> {
    std::string region = body.value("region", c.regions->names().front());
    if (!c.regions->Serves(region)) return InvalidParameterValue("Unknown region " + region);
    std::string type = body.value("instance_type", "");
    market::Micros price = 0;
    std::string text = body.contains("price") && body["price"].is_number()
                           ? fmt::format("{:.6f}", body["price"].get<double>())
                           : body.value("price", "");
    if (!services::ParsePrice(text, &price)) {
      return InvalidParameterValue("price must be a decimal USD amount per hour");
    }
    RETURN_IF_ERROR(c.store->Write([&](store::Tx& tx) {
      return services::SetOnDemandPrice(tx, *c.env->catalog, region, type, price,
                                        UnixMillis(c.clock->Now()));
    }));
    return json{{"region", region},
                {"instance_type", type},
                {"price", services::FormatPrice(price)},
                {"from", FormatIso8601(c.clock->Now())}};
  };
  ops["billing/free-tier"] = [c](const json& body) -> absl::StatusOr<json> {
    json out;
    RETURN_IF_ERROR(c.store->Write([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(out, services::SetFreeTierTerms(tx, body.value("account_id", ""), body,
                                                       UnixMillis(c.clock->Now())));
      return absl::OkStatus();
    }));
    return out;
  };
  // Any account's bill, as its owner would see it (invoices, support).
  ops["billing/bill"] = [c](const json& body) -> absl::StatusOr<json> {
    json out;
    RETURN_IF_ERROR(c.store->Read([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(store::Account account, tx.GetAccount(body.value("account_id", "")));
      json input = body;
      input.erase("account_id");
      services::Caller caller{account.id, c.regions->names().front(), "admin", c.clock->Now()};
      ASSIGN_OR_RETURN(out, services::GetBill(tx, account, caller, input));
      return absl::OkStatus();
    }));
    return out;
  };
  // A month's invoice of an account, as printable HTML.
  ops["billing/invoice"] = [c](const json& body) -> absl::StatusOr<json> {
    json out;
    RETURN_IF_ERROR(c.store->Read([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(store::Account account, tx.GetAccount(body.value("account_id", "")));
      int64_t now = UnixMillis(c.clock->Now()), month_at = now;
      if (body.contains("month")) {
        ASSIGN_OR_RETURN(month_at, services::ParseMonth(body.value("month", "")));
      }
      ASSIGN_OR_RETURN(billing::Bill bill, services::AccountBill(tx, account, month_at, now));
      out = {{"html", services::InvoiceHtml(bill, account)},
             {"total", billing::FormatUsd(bill.total)}};
      return absl::OkStatus();
    }));
    return out;
  };
  // What the idle-stop guard sees of each running instance (tests wait for it).
  ops["billing/activity"] = [c](const json&) -> absl::StatusOr<json> {
    json out = json::object();
    if (!c.activity) return out;
    for (const auto& [id, a] : c.activity->All()) {
      out[id] = {{"cpu_percent", a.cpu_percent}, {"ssh_sessions", a.ssh_sessions}};
    }
    return out;
  };
  ops["spot/set-capacity"] = [c](const json& body) -> absl::StatusOr<json> {
    ASSIGN_OR_RETURN(services::PoolKey k, PoolOf(c, body));
    std::optional<int64_t> slots;
    if (body.contains("slots") && !body["slots"].is_null()) slots = body["slots"].get<int64_t>();
    return Write(c, [&](store::Tx& tx) { return services::SetPoolCapacity(tx, k, slots); });
  };
  ops["spot/set-mode"] = [c](const json& body) -> absl::StatusOr<json> {
    std::string region = body.value("region", c.regions->names().front());
    if (!c.regions->Serves(region)) return InvalidParameterValue("Unknown region " + region);
    std::string mode = body.value("mode", "");
    return Write(c, [&](store::Tx& tx) { return services::SetPricingMode(tx, region, mode); });
  };
  ops["spot/interrupt"] = [c](const json& body) -> absl::StatusOr<json> {
    std::string id = body.value("instance_id", ""), reason = body.value("reason", "capacity");
    return Write(c, [&](store::Tx& tx) {
      return services::InterruptSpotInstance(tx, id, reason, c.clock->Now());
    });
  };
  ops["spot/rebalance"] = [c](const json& body) -> absl::StatusOr<json> {
    std::string id = body.value("instance_id", "");
    return Write(
        c, [&](store::Tx& tx) { return services::RecommendRebalance(tx, id, c.clock->Now()); });
  };
  ops["spot/order-book"] = [c](const json& body) -> absl::StatusOr<json> {
    ASSIGN_OR_RETURN(services::PoolKey k, PoolOf(c, body));
    json out;
    RETURN_IF_ERROR(c.store->Read([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(out, services::OrderBook(tx, *c.env, k, c.clock->Now()));
      return absl::OkStatus();
    }));
    return out;
  };
  ops["spot/round"] = [c](const json&) -> absl::StatusOr<json> {
    return Settle(c, json::object());
  };
  return ops;
}

}  // namespace kumo::daemon
