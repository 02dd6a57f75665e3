// The billing scenarios of specs/spot.md §7 (32–37) and issue 7's rules, on the rating alone.
#include "billing/rating.h"

#include <gtest/gtest.h>

namespace kumo::billing {
namespace {

constexpr int64_t kT0 = 1'796'515'200'000;  // 2026-12-06T00:00:00Z
constexpr int64_t kMin = 60'000;

Micros Total(const std::vector<UsageLine>& lines) {
  ExactCost sum = 0;
  for (const auto& l : lines) sum += l.cost;
  return RoundToMicros(sum);
}

int64_t Billed(const std::vector<UsageLine>& lines) {
  int64_t ms = 0;
  for (const auto& l : lines) ms += l.billed_ms;
  return ms;
}

InstanceUsage Spot(std::vector<RunPeriod> periods, std::vector<PricePoint> prices) {
  return {"i-1", "p2.xlarge", Market::kSpot, std::move(periods), std::move(prices)};
}

InstanceUsage OnDemand(std::string type, std::vector<RunPeriod> periods, Micros hourly) {
  return {"i-2", std::move(type), Market::kOnDemand, std::move(periods), {{0, hourly}}};
}

TEST(Rating, SpotInterruptedByKumoInTheFirstHourIsFree) {  // T32
  auto lines = RateInstance(Spot({{kT0, kT0 + 30 * kMin, EndedBy::kProvider}}, {{0, 4000}}));
  EXPECT_EQ(Total(lines), 0);
  EXPECT_EQ(Billed(lines), 0);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].note.find("first hour"), std::string::npos);
}

TEST(Rating, SpotInterruptedLaterPaysEverySecond) {  // T33: 5400 s × 0.0040 / 3600
  auto lines = RateInstance(Spot({{kT0, kT0 + 90 * kMin, EndedBy::kProvider}}, {{0, 4000}}));
  EXPECT_EQ(Billed(lines), 5400 * 1000);
  EXPECT_EQ(Total(lines), 6000);
  EXPECT_EQ(FormatUsd(Total(lines)), "0.006000");
}

TEST(Rating, SpotEndedByTheUserPaysSecondsWithAMinute) {  // T34
  EXPECT_EQ(Billed(RateInstance(Spot({{kT0, kT0 + 30'000, EndedBy::kUser}}, {{0, 4000}}))), 60'000);
  EXPECT_EQ(Billed(RateInstance(Spot({{kT0, kT0 + 30 * kMin, EndedBy::kUser}}, {{0, 4000}}))),
            1800 * 1000);
}

TEST(Rating, SpotHourKeepsThePriceItBeganWith) {  // T35
  auto lines = RateInstance(
      Spot({{kT0, kT0 + 80 * kMin, EndedBy::kUser}}, {{0, 4000}, {kT0 + 30 * kMin, 5000}}));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].hourly, 4000);
  EXPECT_EQ(lines[1].hourly, 5000);
  EXPECT_EQ(lines[1].billed_ms, 1200 * 1000);
  EXPECT_EQ(FormatUsd(Total(lines)), "0.005667");
}

TEST(Rating, OnDemandMinimumsAndStates) {  // T36
  const Micros rate = 90'000;              // 0.09 USD an hour
  EXPECT_EQ(Billed(RateInstance(OnDemand("m5.large", {{kT0, kT0 + 10'000}}, rate))), kMin);
  // Launch, then stop/start twice, each run 20 s: three minimums.
  auto three = RateInstance(OnDemand(
      "m5.large",
      {{kT0, kT0 + 20'000}, {kT0 + 100'000, kT0 + 120'000}, {kT0 + 200'000, kT0 + 220'000}}, rate));
  EXPECT_EQ(Billed(three), 3 * kMin);
  EXPECT_EQ(Total(three), RoundToMicros(ExactCost(3 * kMin) * rate));
  // A reboot is not a period of its own: one period of 31 hours costs 31 hours exactly.
  auto day = RateInstance(OnDemand("p2.xlarge", {{kT0, kT0 + 31 * kHourMs}}, 900'000));
  EXPECT_EQ(Total(day), 31 * 900'000);
  // Stopped: no periods, nothing billed.
  EXPECT_TRUE(RateInstance(OnDemand("m5.large", {}, rate)).empty());
}

TEST(Rating, OnDemandFollowsCatalogPriceChanges) {
  InstanceUsage u{"i-3",
                  "m5.large",
                  Market::kOnDemand,
                  {{kT0, kT0 + 2 * kHourMs}},
                  {{0, 100'000}, {kT0 + kHourMs / 2, 200'000}}};
  auto lines = RateInstance(u);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Total(lines), 50'000 + 300'000);
}

TEST(Rating, FreeTierPoolsAcrossInstancesInAMonth) {  // T37
  const int64_t month = MonthStartMs(kT0);
  std::vector<UsageLine> lines;
  for (const char* id : {"i-a", "i-b"}) {
    auto l = RateInstance(
        {id, "t2.micro", Market::kOnDemand, {{month, month + 400 * kHourMs}}, {{0, 11'600}}});
    lines.insert(lines.end(), l.begin(), l.end());
  }
  auto small = RateInstance(OnDemand("t3.small", {{month, month + 10 * kHourMs}}, 20'800));
  auto spot = RateInstance({"i-s",
                            "t2.micro",
                            Market::kSpot,
                            {{month, month + 2 * kHourMs, EndedBy::kUser}},
                            {{0, 3'500}}});
  lines.insert(lines.end(), small.begin(), small.end());
  lines.insert(lines.end(), spot.begin(), spot.end());
  auto billed = ApplyFreeTier(SplitAtMonths(lines), {}, month - 30LL * 24 * kHourMs);
  int64_t free = 0, paid_micro = 0;
  for (const auto& l : billed) {
    if (l.usage_type == "BoxUsage:freetier.micro") {
      EXPECT_EQ(l.cost, 0);
      free += l.billed_ms;
    } else if (l.usage_type == "BoxUsage:t2.micro") {
      paid_micro += l.billed_ms;
    }
  }
  EXPECT_EQ(free, 750 * kHourMs);
  EXPECT_EQ(paid_micro, 50 * kHourMs);
  EXPECT_EQ(Total(billed), 50 * 11'600 + 10 * 20'800 + 2 * 3'500);
  // An account older than 12 months has no Free Tier.
  auto old = ApplyFreeTier(SplitAtMonths(lines), {}, month - 400LL * 24 * kHourMs);
  EXPECT_EQ(Total(old), 800 * 11'600 + 10 * 20'800 + 2 * 3'500);
}

TEST(Rating, MonthBoundarySplitsTheLineAndKeepsTheTotal) {
  const int64_t next = NextMonthStartMs(kT0);
  auto lines = RateInstance(OnDemand("m5.large", {{next - kHourMs, next + 2 * kHourMs}}, 96'000));
  auto split = SplitAtMonths(lines);
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split[0].end_ms, next);
  EXPECT_EQ(split[0].billed_ms, kHourMs);
  EXPECT_EQ(split[1].billed_ms, 2 * kHourMs);
  EXPECT_EQ(Total(split), Total(lines));
  EXPECT_EQ(MonthStartMs(next + 5), next);
}

TEST(Rating, MoneyRoundsHalfUpOnlyAtTheEnd) {
  // One second at 0.004 USD an hour is 1.11 µ$; 3600 of them are exactly 4000 µ$.
  ExactCost sum = 0;
  for (int i = 0; i < 3600; ++i) sum += ExactCost(1000) * 4000;
  EXPECT_EQ(RoundToMicros(sum), 4000);
  EXPECT_EQ(RoundToMicros(ExactCost(1000) * 4000), 1);
  EXPECT_EQ(RoundToMicros(ExactCost(kHourMs / 2)), 1);  // half a micro-dollar rounds up
  EXPECT_EQ(FormatUsd(1'234'567), "1.234567");
}

TEST(Rating, VolumesPayTheirShareOfEachMonth) {
  const int64_t dec1 = MonthStartMs(kT0), jan1 = NextMonthStartMs(kT0);
  // 100 GiB of gp2 at $0.10 per GiB-month for all of December: exactly $10.
  VolumeUsage v{"vol-1", "gp2", {{dec1, jan1, 100}}, {{0, 100'000}}};
  auto lines = RateVolume(v);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Total(lines), 10'000'000);
  EXPECT_EQ(lines[0].usage_type, "EBS:VolumeUsage.gp2");
  EXPECT_TRUE(IsVolumeLine(lines[0]));
  // A resize mid-month and a life across the new year: cut at the resize and at January, each
  // piece its share of its own month (December 31 days, January 31).
  VolumeUsage grown{"vol-2",
                    "gp2",
                    {{jan1 - 31 * kHourMs * 12, jan1 - kHourMs * 24 * 15, 10},
                     {jan1 - kHourMs * 24 * 15, jan1 + kHourMs * 24 * 31 / 2, 20}},
                    {{0, 100'000}}};
  auto pieces = RateVolume(grown);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[2].start_ms, jan1);
  // 10 GiB for half a day and 20 GiB for 15 days of December, 20 GiB for half of January.
  EXPECT_EQ(Total(pieces), RoundToMicros(ExactCost(10) * 100'000 * kHourMs / 2 / 31 +
                                         ExactCost(20) * 100'000 * kHourMs * 15 / 31 +
                                         ExactCost(20) * 100'000 * kHourMs / 2));
  // A day split of a volume line keeps its cost.
  EXPECT_EQ(Total(SplitAtDays(lines)), Total(lines));
}

TEST(Rating, VolumeFreeTierIsThirtyGibMonthsPooled) {
  const int64_t dec1 = MonthStartMs(kT0), jan1 = NextMonthStartMs(kT0);
  // Two 20 GiB volumes all month: 40 GiB-months, 30 free, 10 paid at $0.10.
  std::vector<UsageLine> lines = RateVolume({"vol-1", "gp2", {{dec1, jan1, 20}}, {{0, 100'000}}});
  auto more = RateVolume({"vol-2", "gp2", {{dec1, jan1, 20}}, {{0, 100'000}}});
  lines.insert(lines.end(), more.begin(), more.end());
  auto billed = ApplyFreeTier(lines, {}, dec1 - 24 * kHourMs);
  EXPECT_NEAR(double(Total(billed)), 1'000'000, 1);
  FreeTierTerms none;
  none.volume_gib_months = 0;
  EXPECT_EQ(Total(ApplyFreeTier(lines, none, dec1)), 4'000'000);
}

}  // namespace
}  // namespace kumo::billing
