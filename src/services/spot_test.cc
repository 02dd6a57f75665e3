// The spot services against the in-memory store, without a host: prices, pools and history,
// request validation and the round's holding codes. Launches and interruptions of real instances
// are covered end to end (tests/test_spot.py).
#include "services/spot.h"

#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "services/images.h"
#include "services/vpcs.h"
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

using nlohmann::json;

TEST(SpotPrice, ParseAndFormatAreExact) {
  market::Micros m = 0;
  ASSERT_TRUE(ParsePrice("0.0104", &m));
  EXPECT_EQ(m, 10400);
  EXPECT_EQ(FormatPrice(m), "0.010400");
  EXPECT_EQ(FormatPriceShort(m), "0.0104");
  ASSERT_TRUE(ParsePrice("2", &m));
  EXPECT_EQ(FormatPrice(m), "2.000000");
  EXPECT_EQ(FormatPriceShort(m), "2");
  ASSERT_TRUE(ParsePrice(".5", &m));
  EXPECT_EQ(m, 500000);
  ASSERT_TRUE(ParsePrice("0.12345678", &m));  // below a micro-dollar is cut
  EXPECT_EQ(m, 123456);
  for (const char* bad : {"", ".", "1.", "-1", "1e3", "0x10", "1.2.3", " 1", "1234567"}) {
    EXPECT_FALSE(ParsePrice(bad, &m)) << bad;
  }
}

TEST(Iso8601, ClientForms) {
  TimePoint t;
  ASSERT_TRUE(ParseIso8601("2026-12-05T19:00:00Z", &t));
  EXPECT_EQ(UnixMillis(t), 1796497200000);
  ASSERT_TRUE(ParseIso8601("2026-12-05T19:00:00.250Z", &t));
  EXPECT_EQ(UnixMillis(t), 1796497200250);
  ASSERT_TRUE(ParseIso8601("2026-12-05T20:00:00+01:00", &t));
  EXPECT_EQ(UnixMillis(t), 1796497200000);
  ASSERT_TRUE(ParseIso8601("2026-12-05", &t));
  EXPECT_EQ(UnixMillis(t), 1796428800000);
  ASSERT_TRUE(ParseIso8601("1796497200", &t));
  EXPECT_EQ(UnixMillis(t), 1796497200000);
  for (const char* bad : {"", "2026-13-01", "2026-12-05T25:00:00Z", "2026-12-05T19:00Z",
                          "2026-12-05T19:00:00+0100", "yesterday", "2026-12-05T19:00:00.Z"}) {
    EXPECT_FALSE(ParseIso8601(bad, &t)) << bad;
  }
}

class SpotTest : public ::testing::Test {
 protected:
  SpotTest()
      : regions_({"eu-west-1"}, "127.0.0.1:8787"),
        catalog_(*InstanceTypeCatalog::FromJson(InstanceTypeCatalog::EmbeddedJson())),
        images_("/nonexistent-kumo-images") {}
  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    env_.catalog = catalog_.get();
    env_.images = &images_;
    env_.host_cpus = 2;
    env_.host_memory_mib = 4096;
    DefaultNetwork network(*store_, regions_, ids_);
    alice_ = Caller{"111111111111", "eu-west-1", "req", start_};
    ASSERT_TRUE(network.Ensure(alice_).ok());
    ASSERT_TRUE(
        store_->Write([&](store::Tx& tx) { return EnsureSpotPools(tx, env_, regions_, start_); })
            .ok());
  }
  absl::StatusOr<json> Write(const std::function<absl::StatusOr<json>(store::Tx&)>& fn) {
    json out;
    absl::Status st = store_->Write([&](store::Tx& tx) -> absl::Status {
      auto r = fn(tx);
      if (!r.ok()) return r.status();
      out = *r;
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }
  absl::StatusOr<json> Request(json input) {
    return Write(
        [&](store::Tx& tx) { return RequestSpotInstances(tx, alice_, ids_, env_, input); });
  }
  json Describe(const std::string& id) {
    auto r = Write([&](store::Tx& tx) {
      return DescribeSpotInstanceRequests(tx, alice_, {{"SpotInstanceRequestIds", {id}}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["SpotInstanceRequests"][0] : json();
  }
  void Round(TimePoint at) {
    auto r = Write([&](store::Tx& tx) -> absl::StatusOr<json> {
      // With the runner's cache, so that changes made between rounds (requests, cancels, the
      // 4-hour forgetting) must be picked up by row version.
      RETURN_IF_ERROR(RunMarketRound(tx, ids_, env_, at, &cache_).status());
      return json::object();
    });
    ASSERT_TRUE(r.ok()) << r.status();
  }
  TimePoint start_{std::chrono::seconds(1796497200)};
  Regions regions_;
  std::unique_ptr<InstanceTypeCatalog> catalog_;
  ImageStore images_;
  InstanceEnv env_;
  SequentialIdGenerator ids_;
  std::unique_ptr<store::Store> store_;
  MarketCache cache_;
  Caller alice_;
};

TEST_F(SpotTest, FreshPoolsAnswerPriceHistoryAtTheReserve) {
  auto r = Write([&](store::Tx& tx) {
    return DescribeSpotPriceHistory(tx, alice_, {{"InstanceTypes", {"t2.micro"}}});
  });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ((*r)["SpotPriceHistory"].size(), 3u);  // one per zone
  for (const auto& h : (*r)["SpotPriceHistory"]) {
    EXPECT_EQ(h["SpotPrice"], "0.003900");  // 0.30 × 0.013
    EXPECT_EQ(h["ProductDescription"], "Linux/UNIX");
  }
  // Ensuring again adds no pool and no history.
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) {
                    return EnsureSpotPools(tx, env_, regions_, start_ + std::chrono::hours(1));
                  })
                  .ok());
  r = Write([&](store::Tx& tx) {
    return DescribeSpotPriceHistory(tx, alice_, {{"InstanceTypes", {"t2.micro"}}});
  });
  EXPECT_EQ((*r)["SpotPriceHistory"].size(), 3u);
}

TEST_F(SpotTest, SynchronousValidation) {
  json spec = {{"ImageId", "ami-00000000000000001"}, {"InstanceType", "t2.micro"}};
  auto code = [&](json in) {
    in["LaunchSpecification"] = spec;
    return Ec2CodeOf(Request(in).status());
  };
  EXPECT_EQ(code({{"SpotPrice", "0.0005"}}), "InvalidParameterValue");
  EXPECT_EQ(code({{"SpotPrice", "cheap"}}), "InvalidParameterValue");
  EXPECT_EQ(code({{"InstanceCount", 0}}), "InvalidParameterValue");
  EXPECT_EQ(code({{"InstanceInterruptionBehavior", "stop"}}), "InvalidParameterCombination");
  EXPECT_EQ(code({{"ValidFrom", "2020-01-01T00:00:00Z"}}), "InvalidParameterValue");
  EXPECT_EQ(code({{"TagSpecifications",
                   {{{"ResourceType", "instance"}, {"Tags", {{{"Key", "a"}, {"Value", "b"}}}}}}}}),
            "InvalidParameterValue");
  EXPECT_EQ(code({{"BlockDurationMinutes", 60}}), "Unsupported");
  spec["InstanceType"] = "z9.huge";
  EXPECT_EQ(code(json::object()), "InvalidParameterValue");
}

TEST_F(SpotTest, SpotQuotaCountsOpenRequests) {
  env_.spot_vcpu_quota = 4;  // scenario 38: three t3.large (2 vCPUs each) do not fit
  json in = {{"LaunchSpecification",
              {{"ImageId", "ami-00000000000000001"}, {"InstanceType", "t3.large"}}}};
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r = Request(in);
    ASSERT_TRUE(r.ok()) << r.status();
    ids.push_back((*r)["SpotInstanceRequests"][0]["SpotInstanceRequestId"]);
  }
  auto third = Request(in);
  EXPECT_EQ(Ec2CodeOf(third.status()), "MaxSpotInstanceCountExceeded");
  EXPECT_EQ(third.status().message(), "Max spot instance count exceeded");
  // A cancelled request frees its share.
  ASSERT_TRUE(
      Write([&](store::Tx& tx) {
        return CancelSpotInstanceRequests(tx, alice_, {{"SpotInstanceRequestIds", {ids[0]}}});
      }).ok());
  EXPECT_TRUE(Request(in).ok());
}

TEST_F(SpotTest, RoundGivesHoldingCodesAndFailsBadParameters) {
  PoolKey pool{"eu-west-1", "eu-west-1a", "t2.micro"};
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return SetPoolReserve(tx, pool, 4000); }).ok());
  json spec = {{"ImageId", "ami-00000000000000001"},
               {"InstanceType", "t2.micro"},
               {"Placement", {{"AvailabilityZone", "eu-west-1a"}}}};
  auto low = Request({{"SpotPrice", "0.003"}, {"LaunchSpecification", spec}});
  ASSERT_TRUE(low.ok()) << low.status();
  std::string low_id = (*low)["SpotInstanceRequests"][0]["SpotInstanceRequestId"];
  EXPECT_EQ((*low)["SpotInstanceRequests"][0]["Status"]["Code"], "pending-evaluation");
  Round(start_);
  json r = Describe(low_id);
  EXPECT_EQ(r["Status"]["Code"], "price-too-low");
  EXPECT_EQ(r["Status"]["Message"],
            "Your Spot request price of 0.003 is lower than the minimum required Spot request "
            "fulfillment price of 0.004.");

  // Priced right but the image does not exist: the round fails the request (T2).
  auto bad = Request({{"LaunchSpecification", spec}});
  ASSERT_TRUE(bad.ok());
  std::string bad_id = (*bad)["SpotInstanceRequests"][0]["SpotInstanceRequestId"];
  Round(start_);
  r = Describe(bad_id);
  EXPECT_EQ(r["State"], "failed");
  EXPECT_EQ(r["Status"]["Code"], "bad-parameters");
  EXPECT_TRUE(r.contains("Fault"));

  // No slots: an equal bid waits for capacity; cancelling it is canceled-before-fulfillment.
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return SetPoolCapacity(tx, pool, 0); }).ok());
  auto wait = Request({{"LaunchSpecification", spec}});
  std::string wait_id = (*wait)["SpotInstanceRequests"][0]["SpotInstanceRequestId"];
  Round(start_);
  EXPECT_EQ(Describe(wait_id)["Status"]["Code"], "capacity-not-available");
  auto cancelled = Write([&](store::Tx& tx) {
    return CancelSpotInstanceRequests(tx, alice_, {{"SpotInstanceRequestIds", {wait_id}}});
  });
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ((*cancelled)["CancelledSpotInstanceRequests"][0]["State"], "cancelled");
  EXPECT_EQ(Describe(wait_id)["Status"]["Code"], "canceled-before-fulfillment");

  // Closed requests are forgotten 4 hours later, from the store and from the cache.
  Round(start_ + std::chrono::hours(4) + std::chrono::minutes(1));
  EXPECT_FALSE(cache_.HoldsRequest(wait_id));
  EXPECT_TRUE(cache_.HoldsRequest(low_id));
  auto gone = Write([&](store::Tx& tx) {
    return DescribeSpotInstanceRequests(tx, alice_, {{"SpotInstanceRequestIds", {wait_id}}});
  });
  EXPECT_EQ(Ec2CodeOf(gone.status()), "InvalidSpotInstanceRequestID.NotFound");
  // The one-time request still open lapses after its 7 days.
  Round(start_ + std::chrono::hours(24 * 7) + std::chrono::seconds(1));
  EXPECT_EQ(Describe(low_id)["Status"]["Code"], "schedule-expired");
}

}  // namespace
}  // namespace kumo::services
