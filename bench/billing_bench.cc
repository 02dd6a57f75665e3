// Rating a month (issue 7's benchmark): 10 million meter events — 5 million running periods, a
// start and an end each — for 1,000 accounts of 50 instances, rated into usage lines, split at
// month boundaries, the Free Tier applied per account, and totalled into each account's bill.
// Four in five instances are On-Demand (a tenth of them t2.micro, for the Free Tier), one in five
// spot, against an hourly spot price history. The baseline in the same run is the floor any
// rating pays: one pass over the periods summing their durations.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <map>
#include <random>

#include "billing/rating.h"

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

BENCHMARK(BM_SumDurationsOnly)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(5);
BENCHMARK(BM_RateMonth)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(5);

}  // namespace

BENCHMARK_MAIN();
