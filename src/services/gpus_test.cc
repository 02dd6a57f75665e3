// The GPU claims against the in-memory store: exclusive assignment, release, on-demand before
// spot, repair after a crash. The devices inside real containers are covered end to end
// (tests/test_gpu.py).
#include "services/gpus.h"

#include <gtest/gtest.h>

#include "common/status_macros.h"
#include "services/instances.h"
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

class GpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    for (int i = 0; i < 2; ++i) {
      host::Gpu g;
      g.minor = i;
      g.uuid = "GPU-test-" + std::to_string(i);
      g.name = "Test GPU";
      g.memory_mib = 1024;
      g.device = "/dev/nvidia" + std::to_string(i);
      gpus_.push_back(g);
    }
  }
  // An instance row in the given state that wants `gpus` GPUs.
  store::Resource Instance(const std::string& id, int gpus, bool spot = false,
                           const std::string& state = "pending") {
    store::Resource r{id, "111111111111", "eu-west-1", std::string(kInstanceType), "", {}, 0, 0};
    r.data = {{"state", state}, {"desired", "running"}, {"gpus", gpus}};
    if (spot) r.data["instance_lifecycle"] = "spot";
    EXPECT_TRUE(store_->Write([&](store::Tx& tx) { return tx.InsertResource(r); }).ok());
    return Get(id);
  }
  store::Resource Get(const std::string& id) {
    store::Resource out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(out, tx.GetResource("111111111111", "eu-west-1", id));
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }
  // Assigns and saves, as the reconciler does; returns whether the GPUs were free.
  bool Assign(const std::string& id) {
    bool got = false;
    absl::Status st = store_->Write([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto r, tx.GetResource("111111111111", "eu-west-1", id));
      ASSIGN_OR_RETURN(got, AssignGpus(tx, gpus_, r, 1000));
      return tx.UpdateResource(r);
    });
    EXPECT_TRUE(st.ok()) << st;
    return got;
  }
  void Release(const std::string& id, const std::string& state) {
    absl::Status st = store_->Write([&](store::Tx& tx) -> absl::Status {
      ASSIGN_OR_RETURN(auto r, tx.GetResource("111111111111", "eu-west-1", id));
      RETURN_IF_ERROR(ReleaseGpus(tx, r));
      r.data["state"] = state;
      return tx.UpdateResource(r);
    });
    EXPECT_TRUE(st.ok()) << st;
  }
  // uuid -> instance id, from the admin view.
  std::map<std::string, std::string> Holders() {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(auto view, GpuAssignments(tx, gpus_));
                      for (const auto& g : view) {
                        if (!g["InstanceId"].is_null()) out[g["Uuid"]] = g["InstanceId"];
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }
  std::unique_ptr<store::Store> store_;
  std::vector<host::Gpu> gpus_;
};

TEST_F(GpusTest, EachGpuGoesToOneInstanceAndComesBackOnRelease) {
  Instance("i-a", 1);
  Instance("i-b", 1);
  Instance("i-c", 1);
  ASSERT_TRUE(Assign("i-a"));
  ASSERT_TRUE(Assign("i-b"));
  EXPECT_FALSE(Assign("i-c"));  // both are held
  auto a = AssignedGpus(Get("i-a")), b = AssignedGpus(Get("i-b"));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(a[0].uuid, b[0].uuid);
  EXPECT_TRUE(AssignedGpus(Get("i-c")).empty());
  EXPECT_EQ(Holders(),
            (std::map<std::string, std::string>{{a[0].uuid, "i-a"}, {b[0].uuid, "i-b"}}));
  // Assigning again keeps what it has.
  ASSERT_TRUE(Assign("i-a"));
  EXPECT_EQ(AssignedGpus(Get("i-a"))[0].uuid, a[0].uuid);

  Release("i-a", "stopped");
  EXPECT_TRUE(AssignedGpus(Get("i-a")).empty());
  ASSERT_TRUE(Assign("i-c"));
  EXPECT_EQ(AssignedGpus(Get("i-c"))[0].uuid, a[0].uuid);
  EXPECT_EQ(ElasticGpuAssociations(Get("i-c")).size(), 1u);
  EXPECT_TRUE(ElasticGpuAssociations(Get("i-a")).empty());
}

TEST_F(GpusTest, AnInstanceGetsAllItAsksForOrNone) {
  Instance("i-one", 1);
  Instance("i-two", 2);
  ASSERT_TRUE(Assign("i-one"));
  EXPECT_FALSE(Assign("i-two"));
  EXPECT_EQ(Holders().size(), 1u);
  Release("i-one", "terminated");
  ASSERT_TRUE(Assign("i-two"));
  EXPECT_EQ(AssignedGpus(Get("i-two")).size(), 2u);
}

TEST_F(GpusTest, SpotWaitsBehindOnDemandLaunches) {
  Instance("i-spot1", 1, /*spot=*/true);
  ASSERT_TRUE(Assign("i-spot1"));
  Instance("i-ondemand", 2);  // waiting for the spot instance to be reclaimed
  Instance("i-spot2", 1, /*spot=*/true);
  EXPECT_FALSE(Assign("i-spot2"));  // one GPU is free, but the on-demand launch needs it
  Release("i-spot1", "terminated");
  ASSERT_TRUE(Assign("i-ondemand"));
  EXPECT_EQ(AssignedGpus(Get("i-ondemand")).size(), 2u);
}

TEST_F(GpusTest, RepairRemovesClaimsNoLiveInstanceHolds) {
  Instance("i-a", 1);
  Instance("i-b", 1);
  ASSERT_TRUE(Assign("i-a"));
  ASSERT_TRUE(Assign("i-b"));
  // A terminated instance's record that still names its GPU (as after a crash between the
  // state change and the release, which the reconciler does in one transaction; repair must
  // not trust that).
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) -> absl::Status {
                    ASSIGN_OR_RETURN(auto r, tx.GetResource("111111111111", "eu-west-1", "i-b"));
                    r.data["state"] = "terminated";
                    return tx.UpdateResource(r);
                  })
                  .ok());
  int removed = -1;
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) -> absl::Status {
                    ASSIGN_OR_RETURN(removed, RepairGpuClaims(tx, gpus_));
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(removed, 1);
  auto holders = Holders();
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders.begin()->second, "i-a");
  Instance("i-c", 1);
  EXPECT_TRUE(Assign("i-c"));  // the freed GPU can be assigned again
}

TEST(ElasticGpuIdTest, StableAndShaped) {
  std::string id = ElasticGpuId("i-0123", "GPU-x");
  EXPECT_EQ(id, ElasticGpuId("i-0123", "GPU-x"));
  EXPECT_NE(id, ElasticGpuId("i-0124", "GPU-x"));
  EXPECT_EQ(id.rfind("egpu-", 0), 0u);
  EXPECT_EQ(id.size(), 5u + 17u);
}

}  // namespace
}  // namespace kumo::services
