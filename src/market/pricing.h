// The spot market's other two pricing modes (specs/spot.md §4.2, §4.5), pure and Clock-free: the
// caller passes the time. Their state lives in the pool record, so a restart resumes them.
//
// smoothed: AWS's post-2017 behaviour as we model it — a price that follows the long-term
//   utilisation of the pool (an exponential average over τ = 7 days), published at most once an
//   hour, moving at most 5 % per publication, between 0.30 × and 1.00 × On-Demand.
// ar1: Ben-Yehuda et al.'s reconstruction of the 2010 hidden reserve price — a truncated AR(1)
//   walk inside a band [F, C], redrawn 5 minutes + Exp(mean 90 minutes) after each change.
#pragma once

#include <cstdint>

#include "market/auction.h"

namespace kumo::market {

struct SmoothedParams {
  double r_min = 0.30, r_max = 1.00;  // price band, fractions of On-Demand
  double u_lo = 0.30, u_hi = 1.00, gamma = 2.0;
  int64_t tau_ms = int64_t(7) * 24 * 3600 * 1000;
  int64_t publish_ms = 3600 * 1000;
  double rho = 0.05;  // the most a publication moves the price
};

struct SmoothedState {
  double u_bar = 0;  // the averaged utilisation
  int64_t tick_ms = 0;
  int64_t published_ms = 0;
};

// Folds the utilisation seen since the last tick into the average: u = demand / max(supply, 1),
// capped at 2.
void SmoothedTick(SmoothedState& s, int64_t now_ms, int64_t demand, int64_t supply,
                  const SmoothedParams& p = {});
// The price to publish from `price` at a publication: toward r* · OD, by at most ρ, rounded to
// 0.00001 USD and kept in the band. Equal to price when the move would be below half a percent.
Micros SmoothedPublish(const SmoothedState& s, Micros price, Micros on_demand,
                       const SmoothedParams& p = {});

struct Ar1Params {
  double a1 = 0.7;
  double sigma_frac = 0.39;  // σ as a fraction of (C − F)
  int64_t quiet_ms = 5 * 60 * 1000;
  int64_t mean_gap_ms = 90 * 60 * 1000;
};

struct Ar1State {
  Micros price = 0, delta = 0;
  int64_t next_ms = 0;  // when the price is redrawn
  uint64_t rng = 0;     // splitmix64 state
};

// Starts the walk at the floor, as the paper does (P₋₁ = F + 0.1·(C − F), P₀ = F).
Ar1State Ar1Start(Micros floor, Micros ceiling, int64_t now_ms, uint64_t seed,
                  const Ar1Params& p = {});
// One redraw: Δᵢ = −a₁·Δᵢ₋₁ + εᵢ, εᵢ ~ N(0, σ²), re-drawn while Pᵢ leaves [F, C] or does not
// change; rounded to 0.001 USD (the paper's resolution). Schedules the next redraw.
void Ar1Step(Ar1State& s, Micros floor, Micros ceiling, const Ar1Params& p = {});

}  // namespace kumo::market
