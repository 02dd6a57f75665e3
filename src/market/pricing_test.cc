#include "market/pricing.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kumo::market {
namespace {

constexpr int64_t kHour = 3600 * 1000;

// Scenario 31, on the pure engine: demand stepped from 10 % to 100 % of spare capacity (and
// beyond), 48 hours of one-minute ticks and hourly publications.
TEST(Smoothed, FollowsUtilisationSlowlyInsideTheBand) {
  const Micros od = 10400;
  SmoothedState s{0.1, 1, 1};
  Micros price = 3200;  // 0.30 × OD, rounded up to 0.0001
  std::vector<std::pair<int64_t, Micros>> history = {{0, price}};
  int64_t t = 0;
  for (int minute = 1; minute <= 48 * 60; ++minute) {
    t = minute * 60 * 1000;
    int64_t demand = minute < 60 ? 1 : 20;  // 10 % of 10 slots, then 200 %
    SmoothedTick(s, t, demand, 10);
    if (t - s.published_ms >= kHour) {
      s.published_ms = t;
      Micros next = SmoothedPublish(s, price, od);
      if (next != price) {
        price = next;
        history.push_back({t, price});
      }
    }
  }
  ASSERT_GE(history.size(), 5u);  // τ is 7 days: in 48 h the price has only begun to rise
  for (size_t i = 1; i < history.size(); ++i) {
    EXPECT_GE(history[i].first - history[i - 1].first, kHour);
    double change =
        std::abs(double(history[i].second - history[i - 1].second)) / double(history[i - 1].second);
    EXPECT_LE(change, 0.05 + 1e-9) << i;
    EXPECT_GE(history[i].second, 3120);
    EXPECT_LE(history[i].second, od);
  }
  EXPECT_GT(price, history.front().second);  // it rose with the demand
}

TEST(Smoothed, FlatLoadPublishesNothing) {
  SmoothedState s{0.5, 1, 1};
  Micros price = 5000;
  for (int i = 0; i < 200; ++i) price = SmoothedPublish(s, price, 10000);  // converge
  for (int h = 1; h <= 24; ++h) {
    SmoothedTick(s, h * kHour, 5, 10);
    EXPECT_EQ(SmoothedPublish(s, price, 10000), price) << h;
  }
}

TEST(Ar1, StaysInTheBandAndChangesEveryStep) {
  const Micros floor = 40000, ceiling = 45000;  // the paper's [0.40, 0.45] of OD = 0.1
  Ar1State s = Ar1Start(floor, ceiling, 0, 42);
  int64_t last = s.next_ms;
  double sum = 0;
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    Micros before = s.price;
    Ar1Step(s, floor, ceiling);
    EXPECT_GE(s.price, floor);
    EXPECT_LE(s.price, ceiling);
    EXPECT_NE(s.price, before);
    EXPECT_EQ(s.price % 1000, 0);
    EXPECT_GE(s.next_ms - last, 5 * 60 * 1000);  // the quiet five minutes
    last = s.next_ms;
    sum += double(s.price);
  }
  // The mean sits near the band's middle (98-100 % in the paper's traces).
  EXPECT_NEAR(sum / n, (floor + ceiling) / 2.0, 0.05 * (floor + ceiling) / 2.0);
  // About 15 changes a day: mean gap 95 minutes.
  double days = double(s.next_ms) / (24.0 * kHour);
  EXPECT_NEAR(n / days, 24.0 * 60 / 95, 2.0);
}

}  // namespace
}  // namespace kumo::market
