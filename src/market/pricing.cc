#include "market/pricing.h"

#include <algorithm>
#include <cmath>

namespace kumo::market {

namespace {

uint64_t Next(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Uniform(uint64_t& s) { return (double(Next(s) >> 11) + 0.5) / double(1ULL << 53); }

double Normal(uint64_t& s) {  // Box–Muller
  return std::sqrt(-2.0 * std::log(Uniform(s))) * std::cos(2.0 * M_PI * Uniform(s));
}

}  // namespace

void SmoothedTick(SmoothedState& s, int64_t now_ms, int64_t demand, int64_t supply,
                  const SmoothedParams& p) {
  if (s.tick_ms == 0 || now_ms <= s.tick_ms) {
    s.tick_ms = std::max(s.tick_ms, now_ms);
    return;
  }
  double u = std::min(double(demand) / double(std::max<int64_t>(supply, 1)), 2.0);
  double step = std::min(1.0, double(now_ms - s.tick_ms) / double(p.tau_ms));
  s.u_bar += step * (u - s.u_bar);
  s.tick_ms = now_ms;
}

Micros SmoothedPublish(const SmoothedState& s, Micros price, Micros on_demand,
                       const SmoothedParams& p) {
  double x = std::clamp((s.u_bar - p.u_lo) / (p.u_hi - p.u_lo), 0.0, 1.0);
  double target = (p.r_min + (p.r_max - p.r_min) * std::pow(x, p.gamma)) * double(on_demand);
  double cur = double(price);
  double next = std::clamp(target, cur * (1 - p.rho), cur * (1 + p.rho));
  // The spec rounds to 0.0001; we round to 0.00001 (kStep) because a pool priced under 0.002 could
  // otherwise never move: one 0.0001 step would exceed its 5 % cap.
  constexpr Micros kStep = 10;
  Micros rounded = Micros(std::llround(next / double(kStep))) * kStep;
  // The band, rounded inwards so a clamped price is still a whole step.
  Micros lo = Micros(std::ceil(p.r_min * double(on_demand) / kStep)) * kStep;
  Micros hi = Micros(std::floor(p.r_max * double(on_demand) / kStep)) * kStep;
  rounded = std::clamp(rounded, lo, std::max(lo, hi));
  // The 5 % cap is kept after rounding: round towards the current price when it overshoots.
  if (double(rounded) > cur * (1 + p.rho)) rounded -= kStep;
  if (double(rounded) < cur * (1 - p.rho)) rounded += kStep;
  rounded = std::clamp(rounded, lo, std::max(lo, hi));
  Micros moved = rounded > price ? rounded - price : price - rounded;
  if (moved < std::max<Micros>(kStep, price / 200)) return price;
  return rounded;
}

Ar1State Ar1Start(Micros floor, Micros ceiling, int64_t now_ms, uint64_t seed, const Ar1Params& p) {
  Ar1State s;
  s.rng = seed;
  s.price = floor;
  s.delta = -(ceiling - floor) / 10;  // P₀ − P₋₁
  s.next_ms = now_ms + p.quiet_ms + int64_t(-std::log(Uniform(s.rng)) * double(p.mean_gap_ms));
  return s;
}

void Ar1Step(Ar1State& s, Micros floor, Micros ceiling, const Ar1Params& p) {
  double sigma = p.sigma_frac * double(ceiling - floor);
  Micros next = s.price;
  // Truncation by redrawing; a band narrower than the rounding step cannot move.
  for (int tries = 0; tries < 1000 && ceiling - floor >= 1000; ++tries) {
    double delta = -p.a1 * double(s.delta) + sigma * Normal(s.rng);
    Micros candidate = Micros(std::llround((double(s.price) + delta) / 1000.0)) * 1000;
    if (candidate < floor || candidate > ceiling || candidate == s.price) continue;
    next = candidate;
    break;
  }
  s.delta = next - s.price;
  s.price = next;
  s.next_ms += p.quiet_ms + int64_t(-std::log(Uniform(s.rng)) * double(p.mean_gap_ms));
}

}  // namespace kumo::market
