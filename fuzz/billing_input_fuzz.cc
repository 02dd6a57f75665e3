// The billing API's parsers of client input: the JSON bodies of Cost Explorer's GetCostAndUsage
// and Kumo's GetBill / SetBudget / SetIdlePolicy (dates, granularity, metrics, group
// definitions, filter expressions, months, amounts), and the durations of the kumo:ttl and
// kumo:idle-stop tags. Run against a small ledger; a JSON value of the wrong type is an
// exception that the API turns into ValidationException, anything else must not happen.
#include <cstddef>
#include <cstdint>
#include <string>

#include "services/billing.h"
#include "services/guards.h"
#include "store/sqlite_store.h"

namespace {

using nlohmann::json;
using namespace kumo;

constexpr int64_t kDec1 = 1'796'083'200'000;  // 2026-12-01T00:00:00Z

store::Store& Ledger() {
  static std::unique_ptr<store::Store> s = [] {
    auto opened = store::OpenSqliteStore(":memory:", {.synchronous_full = false});
    if (!opened.ok()) __builtin_trap();
    auto st = (*opened)->Write([](store::Tx& tx) -> absl::Status {
      auto ok = tx.InsertAccount({"111111111111", "a", "", "active", kDec1 - 86'400'000});
      if (!ok.ok()) return ok;
      auto append = [&](int64_t at, const char* account, const char* subject, const char* kind,
                        json data) {
        return tx.AppendMeterEvent({0, at, account, "eu-west-1", subject, kind, data});
      };
      for (auto st :
           {append(0, "000000000000", "m1.small", "od-price", {{"hourly", 47000}}),
            append(0, "000000000000", "gp2", "volume-price", {{"hourly", 110000}}),
            append(kDec1 + 3'600'000, "111111111111", "i-1", "running",
                   {{"type", "m1.small"},
                    {"market", "on-demand"},
                    {"az", "eu-west-1a"},
                    {"tags", {{"Name", "x"}}}}),
            append(kDec1 + 9'000'000, "111111111111", "i-1", "left-running", {{"by", "user"}}),
            append(kDec1, "111111111111", "vol-1", "volume-created",
                   {{"size_gib", 8}, {"volume_type", "gp2"}})}) {
        if (!st.ok()) return st;
      }
      return absl::OkStatus();
    });
    if (!st.ok()) __builtin_trap();
    return std::move(*opened);
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  int64_t ms = 0;
  if (services::ParseDuration(text, &ms) && ms <= 0) __builtin_trap();

  json input = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (input.is_discarded() || !input.is_object()) return 0;
  store::Account account{"111111111111", "a", "", "active", kDec1 - 86'400'000};
  services::Caller caller{account.id, "eu-west-1", "fuzz", FromUnixMillis(kDec1 + 86'400'000)};
  try {
    (void)Ledger().Read([&](store::Tx& tx) -> absl::Status {
      (void)services::GetCostAndUsage(tx, account, caller, input);
      (void)services::GetBill(tx, account, caller, input);
      return absl::OkStatus();
    });
    // Writes are rolled back: every input starts from the same ledger.
    (void)Ledger().Write([&](store::Tx& tx) -> absl::Status {
      (void)services::SetBudget(tx, account, caller, input);
      (void)services::SetIdlePolicy(tx, account, caller, input);
      return absl::AbortedError("rolled back");
    });
  } catch (const json::exception&) {
    // A value of the wrong type: api/json_api.cc answers ValidationException.
  }
  return 0;
}
