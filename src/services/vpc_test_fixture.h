// The VPC and address tests' fixtures: the services against the in-memory store, with an
// image, the instance type catalog and a tenant.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "common/errors.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "services/addresses.h"
#include "services/images.h"
#include "services/instance_types.h"
#include "services/instances.h"
#include "services/routing.h"
#include "services/security_groups.h"
#include "services/tags.h"
#include "services/tx_test_util.h"
#include "services/vpcs.h"
#include "store/sqlite_store.h"

namespace kumo::services {

using nlohmann::json;

class VpcTest : public ::testing::Test {
 protected:
  VpcTest() : regions_({"eu-west-1"}, "127.0.0.1:8787") {}
  void SetUp() override {
    char tmpl[] = "/tmp/kumo-vpcs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeDirs(dir_ + "/images/tiny/rootfs/etc").ok());
    std::ofstream(dir_ + "/images/tiny/image.json") << R"({"name": "tiny"})";
    images_ = std::make_unique<ImageStore>(dir_ + "/images");
    catalog_ = std::move(*InstanceTypeCatalog::Load(""));
    env_.catalog = catalog_.get();
    env_.images = images_.get();
    env_.public_cidr = "100.64.200.0/24";
    env_.host_cpus = 8;
    env_.host_memory_mib = 16384;
    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    alice_ =
        Caller{"111111111111", "eu-west-1", "req", TimePoint(std::chrono::seconds(1700000000))};
    ASSERT_TRUE(
        store_
            ->Write([&](store::Tx& tx) { return CreateDefaultNetwork(tx, alice_, regions_, ids_); })
            .ok());
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  using TxFn = std::function<absl::StatusOr<json>(store::Tx&)>;
  absl::StatusOr<json> Run(bool write, const TxFn& fn) { return RunTx(*store_, write, fn); }
  absl::StatusOr<json> Read(const TxFn& fn) { return Run(false, fn); }
  absl::StatusOr<json> Write(const TxFn& fn) { return Run(true, fn); }

  absl::StatusOr<json> NewVpc(const json& in) {
    return Write([&](store::Tx& tx) { return CreateVpc(tx, alice_, ids_, in); });
  }
  absl::StatusOr<json> NewSubnet(const json& in) {
    return Write([&](store::Tx& tx) { return CreateSubnet(tx, alice_, regions_, ids_, in); });
  }
  std::string VpcId(const std::string& cidr) {
    auto r = NewVpc({{"CidrBlock", cidr}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["Vpc"]["VpcId"].get<std::string>() : "";
  }
  std::string SubnetId(const std::string& vpc, const std::string& cidr) {
    auto r = NewSubnet({{"VpcId", vpc}, {"CidrBlock", cidr}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["Subnet"]["SubnetId"].get<std::string>() : "";
  }
  absl::StatusOr<json> Launch(json in) {
    in["ImageId"] = ImageIdForName("tiny");
    in["InstanceType"] = "t2.nano";
    in["MinCount"] = in.value("MinCount", 1);
    in["MaxCount"] = in.value("MaxCount", 1);
    return Write([&](store::Tx& tx) { return RunInstances(tx, alice_, ids_, env_, in); });
  }
  std::string DeleteVpcCode(const std::string& id) {
    return Ec2CodeOf(Write([&](store::Tx& tx) {
                       return DeleteVpc(tx, alice_, ids_, {{"VpcId", id}});
                     }).status());
  }
  json Subnet(const std::string& id) {
    auto r = Read([&](store::Tx& tx) {
      return DescribeSubnets(tx, alice_, {{"SubnetIds", {id}}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["Subnets"][0] : json();
  }

  std::string dir_;
  Regions regions_;
  SequentialIdGenerator ids_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<InstanceTypeCatalog> catalog_;
  InstanceEnv env_;
  std::unique_ptr<store::Store> store_;
  Caller alice_;
};

// Elastic IPs (addresses.cc) and the launch-time network choices (placement.cc).
class AddressTest : public VpcTest {
 protected:
  absl::StatusOr<json> Call(
      const std::function<absl::StatusOr<json>(store::Tx&, const Caller&)>& fn) {
    return Write([&](store::Tx& tx) { return fn(tx, alice_); });
  }
  std::string Allocate() {
    auto r = Call([&](store::Tx& tx, const Caller& c) {
      return AllocateAddress(tx, c, ids_, env_, json::object());
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["AllocationId"].get<std::string>() : "";
  }
  std::string LaunchOne(json in = json::object()) {
    auto r = Launch(std::move(in));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["Instances"][0]["InstanceId"].get<std::string>() : "";
  }
  store::Resource Get(const std::string& id) {
    store::Resource out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(out, tx.GetResource(alice_.account_id, alice_.region, id));
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }
  absl::StatusOr<json> Associate(const json& in) {
    return Call(
        [&](store::Tx& tx, const Caller& c) { return AssociateAddress(tx, c, ids_, env_, in); });
  }
  std::string Code(const absl::StatusOr<json>& r) { return Ec2CodeOf(r.status()); }
  std::vector<std::string> MeterKinds(const std::string& allocation) {
    std::vector<std::string> kinds;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(
                          auto events,
                          tx.ListMeterEvents({alice_.account_id, alice_.region, allocation}));
                      for (const auto& e : events) kinds.push_back(e.kind);
                      return absl::OkStatus();
                    })
                    .ok());
    return kinds;
  }
};

}  // namespace kumo::services
