// Rating a month (issue 7's benchmark): 10 million meter events — 5 million running periods, a
// start and an end each — for 1,000 accounts of 50 instances, rated into usage lines, split at
// month boundaries, the Free Tier applied per account, and totalled into each account's bill.
// Four in five instances are On-Demand (a tenth of them t2.micro, for the Free Tier), one in five
// spot, against an hourly spot price history. The baseline in the same run is the floor any
// rating pays: one pass over the periods summing their durations.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>

#include "billing/ledger.h"
#include "billing/rating.h"
#include "common/status_macros.h"
#include "store/sqlite_store.h"

namespace {

using namespace kumo::billing;

constexpr int kAccounts = 1000, kInstances = 50, kPeriods = 100;
constexpr int64_t kMonth = 1'796'083'200'000;  // 2026-12-01T00:00:00Z

struct Account {
  int64_t created_ms;
  std::vector<InstanceUsage> instances;
};

const std::vector<Account>& Accounts() {
  static const std::vector<Account> accounts = [] {
    std::mt19937_64 rng(5);
    std::vector<PricePoint> spot;
    for (int64_t h = -1; h < 31 * 24; ++h) {
      spot.push_back({kMonth + h * kHourMs, 250'000 + int64_t(rng() % 100) * 1000});
    }
    const char* types[] = {"t2.micro", "m5.large", "c5.xlarge", "p2.xlarge", "g4dn.xlarge"};
    const Micros od[] = {11'600, 96'000, 170'000, 900'000, 526'000};
    std::uniform_int_distribution<int64_t> run(60'000, 6 * kHourMs), gap(60'000, kHourMs);
    std::vector<Account> out(kAccounts);
    for (int a = 0; a < kAccounts; ++a) {
      out[size_t(a)].created_ms = kMonth - int64_t(a % 24) * 30 * 24 * kHourMs;
      for (int i = 0; i < kInstances; ++i) {
        bool is_spot = i % 5 == 4;
        int t = i % 10 == 0 ? 0 : 1 + int(rng() % 4);
        InstanceUsage u{"i-" + std::to_string(a * kInstances + i),
                        types[t],
                        is_spot ? Market::kSpot : Market::kOnDemand,
                        {},
                        {}};
        u.prices = is_spot ? spot : std::vector<PricePoint>{{0, od[t]}};
        // 100 periods from the month's start; the last ones run into January.
        int64_t at = kMonth + gap(rng);
        for (int p = 0; p < kPeriods; ++p) {
          int64_t end = at + run(rng) / 3;
          EndedBy who = is_spot && rng() % 10 == 0 ? EndedBy::kProvider : EndedBy::kUser;
          u.periods.push_back({at, end, who});
          at = end + gap(rng) / 2;
        }
        out[size_t(a)].instances.push_back(std::move(u));
      }
    }
    return out;
  }();
  return accounts;
}

struct Bill {
  std::map<std::string, ExactCost> by_usage_type;
  ExactCost total = 0;
};

// One account's month rated in memory, as BM_RateMonth does.
Micros RateAccount(const Account& a, int64_t next) {
  std::vector<UsageLine> lines;
  for (const InstanceUsage& u : a.instances) {
    auto rated = RateInstance(u);
    lines.insert(lines.end(), std::make_move_iterator(rated.begin()),
                 std::make_move_iterator(rated.end()));
  }
  ExactCost total = 0;
  for (const UsageLine& l : ApplyFreeTier(SplitAtMonths(std::move(lines)), {}, a.created_ms)) {
    if (l.start_ms < next) total += l.cost;
  }
  return RoundToMicros(total);
}

void BM_RateMonth(benchmark::State& state) {
  const auto& accounts = Accounts();
  const int64_t next = NextMonthStartMs(kMonth);
  for (auto _ : state) {
    Micros grand = 0;
    for (const Account& a : accounts) {
      std::vector<UsageLine> lines;
      for (const InstanceUsage& u : a.instances) {
        auto rated = RateInstance(u);
        lines.insert(lines.end(), std::make_move_iterator(rated.begin()),
                     std::make_move_iterator(rated.end()));
      }
      Bill bill;
      for (const UsageLine& l : ApplyFreeTier(SplitAtMonths(std::move(lines)), {}, a.created_ms)) {
        if (l.start_ms >= next) continue;  // January's share goes on January's bill
        bill.by_usage_type[l.usage_type] += l.cost;
        bill.total += l.cost;
      }
      grand += RoundToMicros(bill.total);
    }
    benchmark::DoNotOptimize(grand);
    state.counters["bill_total_usd"] = double(grand) / 1e6;
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_mib"] = double(ru.ru_maxrss) / 1024;
  state.counters["meter_events"] = double(kAccounts) * kInstances * kPeriods * 2;
}

void BM_SumDurationsOnly(benchmark::State& state) {
  const auto& accounts = Accounts();
  for (auto _ : state) {
    int64_t ms = 0;
    for (const Account& a : accounts) {
      for (const InstanceUsage& u : a.instances) {
        for (const RunPeriod& p : u.periods) ms += p.end_ms - p.start_ms;
      }
    }
    benchmark::DoNotOptimize(ms);
  }
}

// The same month through the store: every period written as its two meter events (plus the
// price events) to a SQLite file, then each account's bill computed from the ledger as
// `kumo bill` and Cost Explorer do (ComputeBill: list the account's events, parse them, read the
// price series, rate, split, apply the Free Tier, look up tags). state.range(0) accounts.
struct Ledger {
  std::unique_ptr<kumo::store::Store> store;
  int64_t events = 0;
  double load_s = 0;
};

std::string LedgerPath(int n) { return fmt::format("/tmp/kumo-billing-bench-{}.db", n); }

void RemoveLedgers() {
  for (int n : {100, 1000}) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((LedgerPath(n) + suffix).c_str());
  }
}

// Loaded once per size for all repetitions; the files go when the process exits.
absl::StatusOr<Ledger*> LoadLedger(int n) {
  static std::map<int, Ledger> ledgers;
  if (auto it = ledgers.find(n); it != ledgers.end()) return &it->second;
  if (ledgers.empty()) std::atexit([] { RemoveLedgers(); });
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((LedgerPath(n) + suffix).c_str());
  ASSIGN_OR_RETURN(auto store,
                   kumo::store::OpenSqliteStore(LedgerPath(n), {.synchronous_full = false}));
  const auto& accounts = Accounts();
  auto started = std::chrono::steady_clock::now();
  int64_t events = 0;
  auto st = store->Write([&](kumo::store::Tx& tx) -> absl::Status {
    std::map<std::string, std::vector<PricePoint>> prices;
    for (int a = 0; a < n; ++a) {
      for (const InstanceUsage& u : accounts[size_t(a)].instances) {
        bool spot = u.market == Market::kSpot;
        prices[(spot ? "eu-west-1a/" : "") + u.instance_type] = u.prices;
      }
    }
    for (const auto& [subject, series] : prices) {
      bool spot = subject.find('/') != std::string::npos;
      for (const PricePoint& p : series) {
        auto s = tx.AppendMeterEvent({0,
                                      p.at_ms,
                                      std::string(kPriceOwner),
                                      "eu-west-1",
                                      subject,
                                      std::string(spot ? kMeterSpotPrice : kMeterOnDemandPrice),
                                      {{"hourly", p.hourly}}});
        if (!s.ok()) return s;
      }
    }
    for (int a = 0; a < n; ++a) {
      std::string account = fmt::format("{:012d}", a + 1);
      for (const InstanceUsage& u : accounts[size_t(a)].instances) {
        bool spot = u.market == Market::kSpot;
        for (const RunPeriod& p : u.periods) {
          nlohmann::json running = {{"type", u.instance_type},
                                    {"market", spot ? "spot" : "on-demand"},
                                    {"az", "eu-west-1a"},
                                    {"hourly", PriceAt(u.prices, p.start_ms)},
                                    {"tags", nlohmann::json::object()}};
          nlohmann::json left = {{"state", "stopping"},
                                 {"by", p.ended_by == EndedBy::kProvider ? "provider" : "user"},
                                 {"reason", ""}};
          auto s = tx.AppendMeterEvent({0, p.start_ms, account, "eu-west-1", u.instance_id,
                                        std::string(kMeterRunning), std::move(running)});
          if (s.ok()) {
            s = tx.AppendMeterEvent({0, p.end_ms, account, "eu-west-1", u.instance_id,
                                     std::string(kMeterLeftRunning), std::move(left)});
          }
          if (!s.ok()) return s;
          events += 2;
        }
      }
    }
    return absl::OkStatus();
  });
  RETURN_IF_ERROR(st);
  Ledger& l = ledgers[n];
  l.store = std::move(store);
  l.events = events;
  l.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return &l;
}

void BM_MonthlyBillsFromStore(benchmark::State& state) {
  const auto& accounts = Accounts();
  const int n = int(state.range(0));
  auto loaded = LoadLedger(n);
  if (!loaded.ok()) {
    state.SkipWithError(std::string(loaded.status().message()).c_str());
    return;
  }
  kumo::store::Store* store = (*loaded)->store.get();
  std::vector<Micros> want;
  for (int a = 0; a < n; ++a)
    want.push_back(RateAccount(accounts[size_t(a)], NextMonthStartMs(kMonth)));
  const int64_t as_of = NextMonthStartMs(kMonth) + 40 * kDayMs;  // the month is over
  for (auto _ : state) {
    Micros grand = 0;
    size_t lines = 0;
    auto read = store->Read([&](kumo::store::Tx& tx) -> absl::Status {
      PriceBook prices(as_of);  // read once for all the accounts, as invoicing a month would
      for (int a = 0; a < n; ++a) {
        kumo::store::Account account{fmt::format("{:012d}", a + 1), "", "", "active",
                                     accounts[size_t(a)].created_ms};
        auto bill = ComputeBill(tx, account, kMonth, as_of, {}, &prices);
        if (!bill.ok()) return bill.status();
        // The ledger must give the bill the same periods rated in memory give.
        if (bill->total != want[size_t(a)]) {
          return absl::InternalError(fmt::format("account {}: {} from the store, {} in memory",
                                                 a + 1, bill->total, want[size_t(a)]));
        }
        grand += bill->total;
        lines += bill->lines.size();
      }
      return absl::OkStatus();
    });
    if (!read.ok()) {
      state.SkipWithError(std::string(read.message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(grand);
    state.counters["bill_total_usd"] = double(grand) / 1e6;
    state.counters["lines"] = double(lines);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_mib"] = double(ru.ru_maxrss) / 1024;
  state.counters["meter_events"] = double((*loaded)->events);
  state.counters["load_s"] = (*loaded)->load_s;
}

BENCHMARK(BM_SumDurationsOnly)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(5);
BENCHMARK(BM_RateMonth)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(5);
// 100 accounts (1 million events) by default; --benchmark_filter=FromStore/1000 for issue 7's
// 10 million (a 2 GB database, a few minutes to load).
BENCHMARK(BM_MonthlyBillsFromStore)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->Repetitions(3);

}  // namespace

BENCHMARK_MAIN();
