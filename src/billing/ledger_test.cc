// The bill as read from meter events in a real (in-memory SQLite) store.
#include "billing/ledger.h"

#include <gtest/gtest.h>

#include "store/sqlite_store.h"

namespace kumo::billing {
namespace {

using nlohmann::json;

constexpr int64_t kDec1 = 1'796'083'200'000;  // 2026-12-01T00:00:00Z
constexpr int64_t kJan1 = 1'798'761'600'000;  // 2027-01-01T00:00:00Z
constexpr int64_t kH = kHourMs;
constexpr const char* kAccount = "111111111111";

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqliteStore(":memory:", {.synchronous_full = false});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    account_ = {kAccount, "alice", "", "active", kDec1 - 40 * 24 * kH};
    Price(0, "od-price", "m1.small", 47'000);
    Price(0, "od-price", "t2.micro", 13'000);
    Price(0, "spot-price", "eu-west-1a/p2.xlarge", 4'000);
  }
  void Append(int64_t at, const std::string& account, const std::string& subject,
              std::string_view kind, json data) {
    ASSERT_TRUE(store_
                    ->Write([&](store::Tx& tx) {
                      return tx.AppendMeterEvent({0, at, account, "eu-west-1", subject,
                                                  std::string(kind), std::move(data)});
                    })
                    .ok());
  }
  void Price(int64_t at, std::string_view kind, const std::string& subject, Micros hourly) {
    Append(at, std::string(kPriceOwner), subject, kind, {{"hourly", hourly}});
  }
  void Run(const std::string& id, const std::string& type, int64_t from, int64_t to,
           const std::string& by = "user", const std::string& market = "on-demand") {
    Append(from, kAccount, id, kMeterRunning,
           {{"type", type}, {"market", market}, {"az", "eu-west-1a"}, {"tags", {{"Name", id}}}});
    if (to >= 0) Append(to, kAccount, id, kMeterLeftRunning, {{"state", "stopping"}, {"by", by}});
  }
  Bill BillAt(int64_t month, int64_t as_of, BillOptions options = {}) {
    Bill bill;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      auto b = ComputeBill(tx, account_, month, as_of, options);
                      if (!b.ok()) return b.status();
                      bill = std::move(*b);
                      return absl::OkStatus();
                    })
                    .ok());
    return bill;
  }

  std::unique_ptr<store::Store> store_;
  store::Account account_;
};

TEST_F(LedgerTest, ThirtyOneHoursLeftRunningCostThirtyOneHours) {
  Run("i-1", "m1.small", kDec1 + 5 * kH, kDec1 + 36 * kH);
  Bill b = BillAt(kDec1, kDec1 + 100 * kH);
  EXPECT_EQ(b.total, 31 * 47'000);
  ASSERT_EQ(b.lines.size(), 1u);
  EXPECT_EQ(b.lines[0].usage.billed_ms, 31 * kH);
  EXPECT_EQ(b.lines[0].tags.at("Name"), "i-1");
  EXPECT_TRUE(b.running.empty());
}

TEST_F(LedgerTest, StillRunningAccruesUntilNowAndForecastsTheMonth) {
  Run("i-1", "m1.small", kDec1, -1);
  Bill b = BillAt(kDec1, kDec1 + 10 * kH);
  EXPECT_EQ(b.total, 10 * 47'000);
  ASSERT_EQ(b.running.size(), 1u);
  EXPECT_EQ(b.running[0].cost_so_far, 10 * 47'000);
  EXPECT_EQ(b.running[0].hourly, 47'000);
  EXPECT_EQ(b.forecast, 31 * 24 * 47'000);  // December has 744 hours
  // A later look sees more, from the same events.
  EXPECT_EQ(BillAt(kDec1, kDec1 + 20 * kH).total, 20 * 47'000);
}

TEST_F(LedgerTest, PriceChangeMidHourSplitsTheLine) {
  Price(kDec1 + 90 * 60'000, "od-price", "m1.small", 94'000);  // at 01:30
  Run("i-1", "m1.small", kDec1 + kH, kDec1 + 2 * kH);
  Bill b = BillAt(kDec1, kJan1);
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.lines[0].usage.hourly, 47'000);
  EXPECT_EQ(b.lines[1].usage.hourly, 94'000);
  EXPECT_EQ(b.total, 47'000 / 2 + 94'000 / 2);
}

TEST_F(LedgerTest, AMonthBoundarySplitsTheBills) {
  Run("i-1", "m1.small", kJan1 - 2 * kH, kJan1 + 3 * kH);
  EXPECT_EQ(BillAt(kDec1, kJan1 + 10 * kH).total, 2 * 47'000);
  Bill jan = BillAt(kJan1, kJan1 + 10 * kH);
  EXPECT_EQ(jan.total, 3 * 47'000);
  ASSERT_EQ(jan.lines.size(), 1u);
  EXPECT_EQ(jan.lines[0].usage.start_ms, kJan1);
  // A stay that ended in November is not on December's bill.
  Run("i-2", "m1.small", kDec1 - 3 * kH, kDec1 - kH);
  EXPECT_EQ(BillAt(kDec1, kJan1).total, 2 * 47'000);
}

TEST_F(LedgerTest, AStayAcrossMidnightIsOneStayOnBothBills) {
  // 23:59:50 to 00:00:10: one 60 s minimum in all, kept by the month it began in.
  Run("i-1", "m1.small", kJan1 - 10'000, kJan1 + 10'000);
  Bill dec = BillAt(kDec1, kJan1 + kH), jan = BillAt(kJan1, kJan1 + kH);
  ASSERT_EQ(dec.lines.size(), 1u);
  ASSERT_EQ(jan.lines.size(), 1u);
  EXPECT_EQ(dec.lines[0].usage.billed_ms + jan.lines[0].usage.billed_ms, 60'000);
  EXPECT_EQ(jan.lines[0].usage.billed_ms, 10'000);
  // A spot stay Kumo interrupts 50 minutes in, across midnight: free on both bills.
  Run("i-2", "p2.xlarge", kJan1 - 30 * 60'000, kJan1 + 20 * 60'000, "provider", "spot");
  EXPECT_EQ(BillAt(kDec1, kJan1 + kH).total, dec.total);
  EXPECT_EQ(BillAt(kJan1, kJan1 + kH).total, jan.total);
  // A past month's bill lists nothing as running.
  Run("i-3", "m1.small", kJan1 - kH, -1);
  EXPECT_TRUE(BillAt(kDec1, kJan1 + kH).running.empty());
  EXPECT_EQ(BillAt(kJan1, kJan1 + kH).running.size(), 1u);
}

TEST_F(LedgerTest, FreeTierIsPooledAcrossInstances) {
  Run("i-1", "t2.micro", kDec1, kDec1 + 400 * kH);
  Run("i-2", "t2.micro", kDec1 + kH, kDec1 + 401 * kH);
  Bill b = BillAt(kDec1, kJan1);
  EXPECT_EQ(b.free_tier_limit_ms, 750 * kH);
  EXPECT_EQ(b.free_tier_used_ms, 750 * kH);
  EXPECT_EQ(b.total, 50 * 13'000);
  // The free hours are lines at $0, so they still show.
  int free_lines = 0;
  for (const auto& l : b.lines) free_lines += l.usage.usage_type == "BoxUsage:freetier.micro";
  EXPECT_EQ(free_lines, 2);
  // Without the Free Tier, all 800 hours are paid.
  BillOptions off;
  off.free_tier.enabled = false;
  EXPECT_EQ(BillAt(kDec1, kJan1, off).total, 800 * 13'000);
}

TEST_F(LedgerTest, ForecastSpendsWhatIsLeftOfTheFreeTierFirst) {
  Run("i-1", "t2.micro", kDec1, -1);
  Bill b = BillAt(kDec1, kDec1 + 100 * kH);
  EXPECT_EQ(b.total, 0);
  EXPECT_EQ(b.forecast, 0);  // 744 hours in December fit in 750
  Run("i-2", "t2.micro", kDec1 + 99 * kH, -1);
  b = BillAt(kDec1, kDec1 + 100 * kH);
  // 100 + 1 hours so far and 2 × 644 to come: 1389 hours, 750 free.
  EXPECT_EQ(b.total, 0);
  EXPECT_EQ(b.forecast, (1389 - 750) * 13'000);
}

TEST_F(LedgerTest, SpotInterruptedByKumoInTheFirstHourIsFree) {
  Run("i-1", "p2.xlarge", kDec1, kDec1 + kH / 2, "provider", "spot");
  Run("i-2", "p2.xlarge", kDec1, kDec1 + kH / 2, "user", "spot");
  Bill b = BillAt(kDec1, kJan1);
  EXPECT_EQ(b.total, 2'000);  // only the user's own half hour at 0.004
}

TEST_F(LedgerTest, VolumesAreBilledFromTheirEventsAndForecast) {
  Price(0, "volume-price", "gp2", 100'000);  // $0.10 per GiB-month
  Append(kDec1, kAccount, "vol-1", "volume-created", {{"size_gib", 100}, {"volume_type", "gp2"}});
  Append(kDec1 + 10 * kDayMs, kAccount, "vol-1", "volume-resized", {{"size_gib", 200}});
  Append(kDec1 + 20 * kDayMs, kAccount, "vol-1", "volume-deleted", json::object());
  Append(kDec1 + 30 * kDayMs, kAccount, "vol-2", "volume-created", {{"size_gib", 31}});
  BillOptions off;
  off.free_tier.enabled = false;
  Bill b = BillAt(kDec1, kDec1 + 30 * kDayMs + kDayMs / 2, off);
  // 100 GiB and then 200 GiB for 10 of December's 31 days each, 31 GiB (gp2 by default) for
  // half a day.
  EXPECT_EQ(b.total, RoundToMicros(ExactCost(100 + 200) * 100'000 * 10 * kHourMs / 31 +
                                   ExactCost(31) * 100'000 * kHourMs / 2 / 31));
  ASSERT_EQ(b.lines.size(), 3u);
  EXPECT_EQ(b.lines[1].usage.gib, 200);
  // vol-2 goes on for the rest of the month: half a day more of 31 GiB.
  EXPECT_EQ(b.forecast, RoundToMicros(ExactCost(100 + 200) * 100'000 * 10 * kHourMs / 31 +
                                      ExactCost(31) * 100'000 * kHourMs / 31));
  // With the Free Tier, 30 of December's 97.3 GiB-months are free: $3 less.
  Bill free = BillAt(kDec1, kDec1 + 30 * kDayMs + kDayMs / 2);
  EXPECT_EQ(free.volume_free_limit, 30 * 31 * kDayMs);
  EXPECT_EQ(free.volume_free_used, free.volume_free_limit);
  EXPECT_NEAR(double(free.total), double(b.total) - 3'000'000, 2);
}

TEST_F(LedgerTest, AVolumeTypeChangeStartsALineAtItsPrice) {
  Price(0, "volume-price", "gp2", 100'000);
  Price(0, "volume-price", "io1", 200'000);
  Append(kDec1, kAccount, "vol-1", "volume-created", {{"size_gib", 31}, {"volume_type", "gp2"}});
  Append(kDec1 + 10 * kDayMs, kAccount, "vol-1", "volume-modified",
         {{"size_gib", 31}, {"volume_type", "io1"}});
  Append(kDec1 + 20 * kDayMs, kAccount, "vol-1", "volume-deleted", json::object());
  BillOptions off;
  off.free_tier.enabled = false;
  Bill b = BillAt(kDec1, kJan1, off);
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.lines[0].usage.usage_type, "EBS:VolumeUsage.gp2");
  EXPECT_EQ(b.lines[1].usage.usage_type, "EBS:VolumeUsage.io1");
  EXPECT_EQ(b.total, 31 * 100'000 * 10 / 31 + 31 * 200'000 * 10 / 31);
}

TEST_F(LedgerTest, DailyLinesAndCsv) {
  Run("i-1", "m1.small", kDec1 + 12 * kH, kDec1 + 36 * kH);
  BillOptions daily;
  daily.daily = true;
  Bill b = BillAt(kDec1, kJan1, daily);
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.lines[0].usage.end_ms, kDec1 + 24 * kH);
  std::string csv = BillCsv(b);
  EXPECT_NE(csv.find("lineItem/UsageType"), std::string::npos);
  EXPECT_NE(csv.find("EUW1-BoxUsage:m1.small"), std::string::npos);
  EXPECT_NE(csv.find(",12.000000,0.047000,0.564000,"), std::string::npos) << csv;
  EXPECT_EQ(RegionUsagePrefix("us-east-1"), "");
}

TEST_F(LedgerTest, AnElasticIpIsBilledWhileIdle) {
  const std::string a = "eipalloc-1";
  Append(kDec1 + 1 * kH, kAccount, a, "address-allocated", {{"public_ip", "100.64.0.9"}});
  Append(kDec1 + 2 * kH, kAccount, a, "address-associated", {{"instance_id", "i-1"}});
  Append(kDec1 + 5 * kH, kAccount, a, "address-disassociated", {{"instance_id", "i-1"}});
  Append(kDec1 + 5 * kH + 30 * 60 * 1000, kAccount, a, "address-released", json::object());
  // Idle from allocation to association, and from disassociation to release: 1.5 h.
  Bill b = BillAt(kDec1, kDec1 + 10 * kH);
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_TRUE(IsAddressLine(b.lines[0].usage));
  EXPECT_EQ(b.lines[0].usage.billed_ms, 1 * kH);
  EXPECT_EQ(b.lines[1].usage.billed_ms, kH / 2);
  EXPECT_EQ(b.total, 7'500);
  EXPECT_EQ(AwsUsageType(b.lines[0]), "EUW1-PublicIPv4:IdleAddress");
  EXPECT_EQ(AwsOperation(b.lines[0]), "AllocateAddressVPC");
  EXPECT_EQ(b.forecast, 7'500);  // released: nothing more to come

  // One still idle accrues until now and is forecast to the month's end.
  Append(kDec1 + 20 * kH, kAccount, "eipalloc-2", "address-allocated", json::object());
  Bill later = BillAt(kDec1, kDec1 + 30 * kH);
  EXPECT_EQ(later.total, 7'500 + 10 * 5'000);
  EXPECT_EQ(later.forecast, 7'500 + (31 * 24 - 20) * 5'000);
  EXPECT_NE(BillCsv(later).find("idle public IPv4 address hour"), std::string::npos);
}

}  // namespace
}  // namespace kumo::billing
