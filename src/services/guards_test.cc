// The guards against an in-memory store: durations, and a budget that acts at the moment its
// threshold is crossed (the runner steps a simulated clock to the due time the guard returns).
#include "services/guards.h"

#include <gtest/gtest.h>

#include "services/metering.h"
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

using nlohmann::json;

TEST(Duration, Forms) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseDuration("8h", &ms));
  EXPECT_EQ(ms, 8 * 3600 * 1000);
  ASSERT_TRUE(ParseDuration("1h30m", &ms));
  EXPECT_EQ(ms, 5400 * 1000);
  ASSERT_TRUE(ParseDuration("2d", &ms));
  EXPECT_EQ(ms, 2 * 86400 * 1000);
  ASSERT_TRUE(ParseDuration("90", &ms));
  EXPECT_EQ(ms, 90 * 1000);
  for (const char* bad :
       {"", "h", "0", "0h", "-1h", "8 h", "1h30", "3w", "99999999999999h", "3700d"}) {
    EXPECT_FALSE(ParseDuration(bad, &ms)) << bad;
  }
  // Many large terms cannot overflow into a small (or negative) lifetime.
  std::string many;
  for (int i = 0; i < 11; ++i) many += "999999999d";
  EXPECT_FALSE(ParseDuration(many, &ms));
}

constexpr int64_t kT0 = 1'796'515'200'000;  // 2026-12-06T00:00:00Z
constexpr const char* kAccount = "111111111111";

class GuardsTest : public ::testing::Test {
 protected:
  GuardsTest()
      : regions_({"eu-west-1"}, "127.0.0.1:8787"),
        catalog_(*InstanceTypeCatalog::FromJson(InstanceTypeCatalog::EmbeddedJson())) {}
  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:", {.synchronous_full = false}));
    store::Account account{kAccount, "a", "", "active", kT0 - 400LL * 24 * 3600 * 1000};
    absl::Status setup = Write([&](store::Tx& tx) -> absl::Status {
      if (auto st = tx.InsertAccount(account); !st.ok()) return st;
      if (auto st = SyncOnDemandPrices(tx, *catalog_, regions_, 0); !st.ok()) {
        return st;
      }
      store::Resource r{"i-0123456789abcdef0",
                        kAccount,
                        "eu-west-1",
                        "instance",
                        "",
                        json{{"state", "pending"},
                             {"desired", "running"},
                             {"instance_type", "m1.small"},
                             {"availability_zone", "eu-west-1a"},
                             {"launch_ms", kT0}},
                        0,
                        kT0};
      if (auto st = tx.InsertResource(r); !st.ok()) return st;
      auto stored = tx.GetResource(kAccount, "eu-west-1", r.id);
      if (!stored.ok()) return stored.status();
      stored->data["state"] = "running";
      return SaveInstance(tx, *stored, kT0);
    });
    ASSERT_TRUE(setup.ok()) << setup;
  }
  absl::Status Write(const store::Store::TxFn& fn) { return store_->Write(fn); }
  GuardResult Guards(int64_t at) {
    GuardResult out;
    EXPECT_TRUE(Write([&](store::Tx& tx) -> absl::Status {
                  auto r = RunGuards(tx, FromUnixMillis(at));
                  if (!r.ok()) return r.status();
                  out = std::move(*r);
                  return absl::OkStatus();
                }).ok());
    return out;
  }
  std::string State() {
    std::string state;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      auto r = tx.GetResource(kAccount, "eu-west-1", "i-0123456789abcdef0");
                      if (!r.ok()) return r.status();
                      state = r->data.value("state", "");
                      return absl::OkStatus();
                    })
                    .ok());
    return state;
  }

  Regions regions_;
  std::unique_ptr<InstanceTypeCatalog> catalog_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(GuardsTest, ABudgetActsWhenItsThresholdIsCrossed) {
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                store::Account a{kAccount, "a", "", "active", 0};
                Caller caller{kAccount, "eu-west-1", "r", FromUnixMillis(kT0)};
                return SetBudget(tx, a, caller,
                                 {{"MonthlyLimit", "1"},
                                  {"Alerts", {50}},
                                  {"Action", "stop-instances"},
                                  {"Webhook", "http://127.0.0.1:9/x"}})
                    .status();
              }).ok());
  // $0.50 at $0.047 an hour: 10.638 h after the start. The guard says when to look again.
  GuardResult early = Guards(kT0 + 3600 * 1000);
  EXPECT_TRUE(early.notifications.empty() ||
              early.notifications[0].message.find("budget") == std::string::npos);
  int64_t eta = kT0 + int64_t(0.5 / 0.047 * 3600 * 1000);
  EXPECT_NEAR(double(early.next_due_ms), double(eta), 2.0);
  EXPECT_EQ(State(), "running");
  GuardResult acted = Guards(early.next_due_ms);
  EXPECT_TRUE(acted.instances_changed);
  EXPECT_EQ(State(), "stopping");
  bool budget = false;
  for (const auto& n : acted.notifications) {
    if (n.body.value("kind", "") != "budget") continue;
    budget = true;
    EXPECT_EQ(n.url, "http://127.0.0.1:9/x");
    EXPECT_EQ(n.body["instances"], json::array({"i-0123456789abcdef0"}));
    EXPECT_EQ(n.body["spent"], "0.500000");
  }
  EXPECT_TRUE(budget);
  // Once per month: a later round does nothing more.
  for (const auto& n : Guards(early.next_due_ms + 1000).notifications) {
    EXPECT_NE(n.body.value("kind", ""), "budget");
  }
}

TEST_F(GuardsTest, TtlStopsAtLaunchPlusItsLifetime) {
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return tx.PutTag(kAccount, "eu-west-1",
                                 {"i-0123456789abcdef0", "instance", "kumo:ttl", "2h"});
              }).ok());
  GuardResult before = Guards(kT0 + 3600 * 1000);
  EXPECT_EQ(before.next_due_ms, kT0 + 2 * 3600 * 1000);
  EXPECT_EQ(State(), "running");
  GuardResult at = Guards(before.next_due_ms);
  EXPECT_TRUE(at.instances_changed);
  EXPECT_EQ(State(), "stopping");
}

TEST_F(GuardsTest, OneStillRunningSummaryADay) {
  auto summaries = [](const GuardResult& r) {
    int n = 0;
    for (const auto& x : r.notifications) n += x.body.value("kind", "") == "still-running";
    return n;
  };
  GuardResult first = Guards(kT0 + 3600 * 1000);
  EXPECT_EQ(summaries(first), 1);
  EXPECT_EQ(first.next_due_ms, kT0 + 24 * 3600 * 1000);  // next midnight
  EXPECT_EQ(summaries(Guards(kT0 + 2 * 3600 * 1000)), 0);
  EXPECT_EQ(summaries(Guards(kT0 + 24 * 3600 * 1000)), 1);
}

TEST(Activity, RatesComeFromTwoSamplesAndGoStale) {
  ActivityMonitor m;
  m.Record("i-1", 1'000'000, 0, 10'000);
  EXPECT_FALSE(m.Get("i-1", 10'000));  // one sample: no rate yet
  EXPECT_FALSE(m.Due("i-1", 12'000));
  EXPECT_TRUE(m.Due("i-1", 13'000));
  m.Record("i-1", 1'500'000, 2, 20'000);  // 0.5 s of CPU in 10 s
  auto a = m.Get("i-1", 20'000);
  ASSERT_TRUE(a);
  EXPECT_DOUBLE_EQ(a->cpu_percent, 5.0);
  EXPECT_EQ(a->ssh_sessions, 2);
  EXPECT_FALSE(m.Get("i-1", 20'000 + ActivityMonitor::kStaleMs + 1));
  m.Record("i-1", 10, 0, 30'000);  // the counter went back: restarted, no rate
  EXPECT_FALSE(m.Get("i-1", 30'000));
}

TEST_F(GuardsTest, IdleStopCountsFromTheFirstIdleRoundAndSshKeepsItUp) {
  ActivityMonitor activity;
  std::map<std::string, int64_t> idle_since;
  int64_t real = 1'000'000;
  auto sample = [&](int64_t cpu_usec, int ssh) {
    real += 5000;
    activity.Record("i-0123456789abcdef0", cpu_usec, ssh, real);
  };
  auto guards = [&](int64_t at) {
    GuardResult out;
    EXPECT_TRUE(Write([&](store::Tx& tx) -> absl::Status {
                  auto r = RunGuards(tx, FromUnixMillis(at), {&activity, real, &idle_since});
                  if (!r.ok()) return r.status();
                  out = std::move(*r);
                  return absl::OkStatus();
                }).ok());
    return out;
  };
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return tx.PutTag(kAccount, "eu-west-1",
                                 {"i-0123456789abcdef0", "instance", "kumo:idle-stop", "30m,10%"});
              }).ok());
  sample(0, 0);
  sample(100'000, 1);  // 2 % CPU, but an SSH session
  guards(kT0 + 60'000);
  EXPECT_TRUE(idle_since.empty());
  sample(200'000, 0);  // 2 % and no session: idle from this round on
  GuardResult first = guards(kT0 + 120'000);
  EXPECT_EQ(first.next_due_ms, kT0 + 120'000 + 30 * 60'000);
  EXPECT_EQ(State(), "running");
  GuardResult stop = guards(first.next_due_ms);
  EXPECT_TRUE(stop.instances_changed);
  EXPECT_EQ(State(), "stopping");
  EXPECT_TRUE(idle_since.empty());
}

TEST_F(GuardsTest, BusyOrUnknownActivityNeverStops) {
  ActivityMonitor activity;  // never sampled: unknown
  std::map<std::string, int64_t> idle_since;
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                store::Account a{kAccount, "a", "", "active", 0};
                Caller caller{kAccount, "eu-west-1", "r", FromUnixMillis(kT0)};
                return SetIdlePolicy(tx, a, caller, {{"Minutes", 1}}).status();
              }).ok());
  for (int64_t at = kT0; at < kT0 + 3 * 3600 * 1000; at += 600'000) {
    ASSERT_TRUE(Write([&](store::Tx& tx) {
                  return RunGuards(tx, FromUnixMillis(at), {&activity, 0, &idle_since}).status();
                }).ok());
  }
  EXPECT_EQ(State(), "running");
  // Busy: 50 % CPU.
  activity.Record("i-0123456789abcdef0", 0, 0, 1000);
  activity.Record("i-0123456789abcdef0", 2'500'000, 0, 6000);
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return RunGuards(tx, FromUnixMillis(kT0 + 4 * 3600 * 1000),
                                 {&activity, 6000, &idle_since})
                    .status();
              }).ok());
  EXPECT_TRUE(idle_since.empty());
  EXPECT_EQ(State(), "running");
}

}  // namespace
}  // namespace kumo::services
