// The ledger's writers against an in-memory store: which instance writes meter, with what, and
// the On-Demand price records (catalog and operator).
#include "services/metering.h"

#include <gtest/gtest.h>

#include "services/billing.h"
#include "services/images.h"
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

using nlohmann::json;

class MeteringTest : public ::testing::Test {
 protected:
  MeteringTest()
      : regions_({"eu-west-1"}, "127.0.0.1:8787"),
        catalog_(*InstanceTypeCatalog::FromJson(InstanceTypeCatalog::EmbeddedJson())) {}
  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:", {.synchronous_full = false}));
    ASSERT_TRUE(Write([&](store::Tx& tx) {
                  if (auto st = SyncOnDemandPrices(tx, *catalog_, regions_, 1000); !st.ok()) {
                    return st;
                  }
                  store::Resource r{"i-1",
                                    "111111111111",
                                    "eu-west-1",
                                    "instance",
                                    "",
                                    json{{"state", "pending"},
                                         {"instance_type", "m1.small"},
                                         {"availability_zone", "eu-west-1a"}},
                                    0,
                                    1000};
                  return tx.InsertResource(r);
                }).ok());
  }
  absl::Status Write(const store::Store::TxFn& fn) { return store_->Write(fn); }
  // Moves i-1 to state at `at`, through the chokepoint.
  void Move(const std::string& state, int64_t at, json reason = nullptr) {
    ASSERT_TRUE(Write([&](store::Tx& tx) -> absl::Status {
                  auto r = tx.GetResource("111111111111", "eu-west-1", "i-1");
                  if (!r.ok()) return r.status();
                  r->data["state"] = state;
                  r->data["state_reason"] = reason;
                  int64_t version = r->version;
                  auto st = SaveInstance(tx, *r, at);
                  EXPECT_EQ(r->version, version + 1);
                  return st;
                }).ok());
  }
  std::vector<store::MeterEvent> Events(const std::string& account) {
    std::vector<store::MeterEvent> out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      auto e = tx.ListMeterEvents({.account_id = account});
                      if (!e.ok()) return e.status();
                      out = std::move(*e);
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }

  Regions regions_;
  std::unique_ptr<InstanceTypeCatalog> catalog_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(MeteringTest, EnteringAndLeavingRunningAreMeteredOnce) {
  Move("running", 2000);
  Move("running", 2500);  // an update that stays in `running` (a reboot, a status check)
  Move("stopping", 3000);
  Move("stopped", 3500);
  Move("pending", 4000);
  Move("running", 5000);
  Move("shutting-down", 6000,
       {{"code", "Server.SpotInstanceTermination"}, {"message", "Spot instance termination"}});
  auto events = Events("111111111111");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, "running");
  EXPECT_EQ(events[0].at_ms, 2000);
  EXPECT_EQ(events[0].data["type"], "m1.small");
  EXPECT_EQ(events[0].data["market"], "on-demand");
  EXPECT_EQ(events[0].data["hourly"], 47'000);  // the catalog's eu-west-1 price
  EXPECT_EQ(events[1].kind, "left-running");
  EXPECT_EQ(events[1].at_ms, 3000);
  EXPECT_EQ(events[1].data["by"], "user");
  EXPECT_EQ(events[3].data["by"], "provider");
  EXPECT_EQ(events[3].data["reason"], "Server.SpotInstanceTermination");
}

TEST_F(MeteringTest, ABaselineMetersWhatRanBeforeTheLedgerOnce) {
  // Written as a store from before the ledger would have it: running, no event.
  ASSERT_TRUE(Write([&](store::Tx& tx) -> absl::Status {
                auto r = tx.GetResource("111111111111", "eu-west-1", "i-1");
                if (!r.ok()) return r.status();
                r->data["state"] = "running";
                return tx.UpdateResource(*r);
              }).ok());
  ASSERT_TRUE(Write([&](store::Tx& tx) { return EnsureLedgerBaseline(tx, 7000); }).ok());
  ASSERT_TRUE(Write([&](store::Tx& tx) { return EnsureLedgerBaseline(tx, 8000); }).ok());
  auto events = Events("111111111111");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "running");
  EXPECT_EQ(events[0].at_ms, 7000);
}

TEST_F(MeteringTest, AFailedUpdateWritesNoEvent) {
  EXPECT_FALSE(Write([&](store::Tx& tx) -> absl::Status {
                 auto r = tx.GetResource("111111111111", "eu-west-1", "i-1");
                 if (!r.ok()) return r.status();
                 r->data["state"] = "running";
                 --r->version;  // someone else's update came first
                 return SaveInstance(tx, *r, 2000);
               }).ok());
  EXPECT_TRUE(Events("111111111111").empty());
}

TEST_F(MeteringTest, CatalogPricesAreRecordedOnceAndOperatorPricesHold) {
  auto price = [&]() {
    market::Micros p = -1;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      auto r = OnDemandPrice(tx, "eu-west-1", "m1.small");
                      if (!r.ok()) return r.status();
                      p = *r;
                      return absl::OkStatus();
                    })
                    .ok());
    return p;
  };
  size_t first = Events(std::string(kBillingOwner)).size();
  EXPECT_EQ(first, catalog_->types().size() + catalog_->volume_prices().size());  // + EBS
  // A restart with the same catalog records nothing new.
  ASSERT_TRUE(
      Write([&](store::Tx& tx) { return SyncOnDemandPrices(tx, *catalog_, regions_, 2000); }).ok());
  EXPECT_EQ(Events(std::string(kBillingOwner)).size(), first);
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return SetOnDemandPrice(tx, *catalog_, "eu-west-1", "m1.small", 50'000, 3000);
              }).ok());
  EXPECT_EQ(price(), 50'000);
  // The operator's price survives a restart with an unchanged catalog.
  ASSERT_TRUE(
      Write([&](store::Tx& tx) { return SyncOnDemandPrices(tx, *catalog_, regions_, 4000); }).ok());
  EXPECT_EQ(price(), 50'000);
  EXPECT_FALSE(Write([&](store::Tx& tx) {
                 return SetOnDemandPrice(tx, *catalog_, "eu-west-1", "x9.huge", 1, 5000);
               }).ok());
}

TEST_F(MeteringTest, FreeTierTermsPerAccountOverrideTheDefault) {
  ASSERT_TRUE(Write([&](store::Tx& tx) -> absl::Status {
                if (auto st = tx.InsertAccount({"111111111111", "a", "", "active", 1}); !st.ok()) {
                  return st;
                }
                if (auto r = SetFreeTierTerms(tx, "", {{"hours_per_month", 100}}, 1); !r.ok()) {
                  return r.status();
                }
                return SetFreeTierTerms(tx, "111111111111", {{"enabled", false}}, 1).status();
              }).ok());
  ASSERT_TRUE(store_
                  ->Read([&](store::Tx& tx) -> absl::Status {
                    auto mine = TermsFor(tx, "111111111111");
                    auto other = TermsFor(tx, "222222222222");
                    EXPECT_TRUE(mine.ok() && other.ok());
                    EXPECT_FALSE(mine->free_tier.enabled);
                    EXPECT_EQ(mine->free_tier.hours_per_month, 100);
                    EXPECT_TRUE(other->free_tier.enabled);
                    EXPECT_EQ(other->free_tier.hours_per_month, 100);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_FALSE(Write([&](store::Tx& tx) {
                 return SetFreeTierTerms(tx, "", {{"months", "twelve"}}, 1).status();
               }).ok());
}

}  // namespace
}  // namespace kumo::services
