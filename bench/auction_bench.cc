// One clearing round of the spot market's auction mode (src/market/auction.h) over many open
// requests, as issue 6 sizes it: 10,000 requests on 50 hosts and 100,000 on 1,000 hosts. A pool
// is one (zone, type): the hosts only set its supply, here 8 slots per host.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

#include "market/auction.h"

namespace {

using kumo::market::Bid;

std::vector<Bid> RandomBids(int n) {
  std::mt19937_64 rng(42);
  // Bids between the reserve and 2x On-Demand, in 0.0001 USD steps, as users type them.
  std::uniform_int_distribution<int64_t> price(3000, 20000);
  std::vector<Bid> bids;
  bids.reserve(size_t(n));
  for (int i = 0; i < n; ++i) bids.push_back({"sir-" + std::to_string(i), price(rng) * 100, i});
  return bids;
}

void BM_ClearAuction(benchmark::State& state) {
  auto bids = RandomBids(int(state.range(0)));
  int64_t supply = state.range(1) * 8;
  for (auto _ : state) {
    auto c = kumo::market::ClearAuction(bids, supply, 300'000);
    benchmark::DoNotOptimize(c.price);
  }
}
// The floor: copying and ranking the bids, which any clearing rule must do.
void BM_RankOnly(benchmark::State& state) {
  auto bids = RandomBids(int(state.range(0)));
  for (auto _ : state) {
    auto copy = bids;
    std::sort(copy.begin(), copy.end(),
              [](const Bid& a, const Bid& b) { return a.max_price > b.max_price; });
    benchmark::DoNotOptimize(copy.data());
  }
}
// p50 and p99 over the repetitions (each repetition is a mean over its iterations).
double Percentile(const std::vector<double>& v, double q) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return s[std::min(s.size() - 1, size_t(q * double(s.size() - 1) + 0.5))];
}

BENCHMARK(BM_RankOnly)
    ->Args({10'000, 50})
    ->Args({100'000, 1'000})
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(30)
    ->ComputeStatistics("p50", [](const std::vector<double>& v) { return Percentile(v, 0.5); })
    ->ComputeStatistics("p99", [](const std::vector<double>& v) { return Percentile(v, 0.99); })
    ->ReportAggregatesOnly(true);

BENCHMARK(BM_ClearAuction)
    ->Args({10'000, 50})
    ->Args({100'000, 1'000})
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(30)
    ->ComputeStatistics("p50", [](const std::vector<double>& v) { return Percentile(v, 0.5); })
    ->ComputeStatistics("p99", [](const std::vector<double>& v) { return Percentile(v, 0.99); })
    ->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
