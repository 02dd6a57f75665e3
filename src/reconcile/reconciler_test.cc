// The lifecycle end to end below the API: services change desired state, the reconciler drives a
// LocalHost over the fake runtime and network, and the store records what happened.
#include "reconcile/reconciler.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "host/agent/seed.h"
#include "host/network/network_internal.h"
#include "reconcile/firewall_plan.h"
#include "services/addresses.h"
#include "services/images.h"
#include "services/instances.h"
#include "services/security_groups.h"
#include "services/volumes.h"
#include "services/vpcs.h"
#include "store/sqlite_store.h"

namespace kumo::reconcile {
namespace {

using nlohmann::json;

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest()
      : regions_({"eu-west-1"}, "127.0.0.1:8787"),
        clock_(TimePoint(std::chrono::seconds(1700000000))) {}

  void SetUp() override {
    char tmpl[] = "/tmp/kumo-reconcile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // A tiny image: what seeding reads from it is /etc/passwd.
    ASSERT_TRUE(MakeDirs(dir_ + "/images/tiny/rootfs/etc").ok());
    std::ofstream(dir_ + "/images/tiny/rootfs/etc/passwd") << "root:x:0:0::/root:/bin/sh\n";
    std::ofstream(dir_ + "/images/tiny/image.json") << R"({"name": "tiny"})";
    images_ = std::make_unique<services::ImageStore>(dir_ + "/images");
    catalog_ = std::move(*services::InstanceTypeCatalog::Load(""));
    env_.catalog = catalog_.get();
    env_.images = images_.get();
    env_.public_cidr = "100.64.200.0/24";
    env_.host_cpus = 2;
    env_.host_memory_mib = 4096;

    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    caller_ = services::Caller{"111111111111", "eu-west-1", "req", clock_.Now()};
    ASSERT_TRUE(store_
                    ->Write([&](store::Tx& tx) {
                      return services::CreateDefaultNetwork(tx, caller_, regions_, ids_);
                    })
                    .ok());
    auto runtime = host::NewFakeRuntime();
    runtime_ = runtime.get();
    host::NetworkOptions net{"0000aa", env_.public_cidr, dir_ + "/host/net"};
    host::LocalHostOptions local{"0000aa", dir_ + "/host"};
    local.boot_id_path = dir_ + "/boot_id";
    std::ofstream(local.boot_id_path) << "first-boot\n";
    auto network = host::NewFakeNetwork(net);
    net_ = network.get();
    host_ = host::NewLocalHost(local, std::move(runtime), std::move(network), host::NewFakeDisks());
    reconciler_ = std::make_unique<Reconciler>(*store_, *host_, clock_);
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  absl::StatusOr<json> Write(const std::function<absl::StatusOr<json>(store::Tx&)>& fn) {
    json out;
    auto st = store_->Write([&](store::Tx& tx) -> absl::Status {
      auto r = fn(tx);
      if (!r.ok()) return r.status();
      out = *r;
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  std::string Launch(json extra = json::object()) {
    json in = {{"ImageId", services::ImageIdForName("tiny")}, {"MinCount", 1}, {"MaxCount", 1}};
    in.update(extra);
    auto out =
        Write([&](store::Tx& tx) { return services::RunInstances(tx, caller_, ids_, env_, in); });
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)["Instances"][0]["InstanceId"].get<std::string>() : "";
  }

  json Describe(const std::string& id) {
    json out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      auto r = services::DescribeInstances(tx, caller_, {{"InstanceIds", {id}}});
                      if (!r.ok()) return r.status();
                      out = (*r)["Reservations"][0]["Instances"][0];
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }
  std::string StateOf(const std::string& id) { return Describe(id)["State"]["Name"]; }

  // Passes until nothing is in transition (bounded).
  void Settle() {
    for (int i = 0; i < 20; ++i) {
      auto busy = reconciler_->RunOnce();
      ASSERT_TRUE(busy.ok()) << busy.status();
      if (!*busy) return;
    }
    FAIL() << "the reconciler did not settle";
  }

  std::string dir_;
  services::Regions regions_;
  ManualClock clock_;
  SequentialIdGenerator ids_;
  std::unique_ptr<services::ImageStore> images_;
  std::unique_ptr<services::InstanceTypeCatalog> catalog_;
  services::InstanceEnv env_;
  std::unique_ptr<store::Store> store_;
  services::Caller caller_;
  host::Runtime* runtime_ = nullptr;
  host::Network* net_ = nullptr;
  std::unique_ptr<host::Host> host_;
  std::unique_ptr<Reconciler> reconciler_;
};

TEST_F(ReconcilerTest, LaunchRunsAndPassesStatusChecks) {
  std::string id = Launch();
  json i = Describe(id);
  EXPECT_EQ(i["State"]["Name"], "pending");
  EXPECT_EQ(i["InstanceType"], "m1.small");  // EC2's default
  EXPECT_EQ(i["PrivateIpAddress"], "172.31.0.4");
  EXPECT_EQ(i["PublicIpAddress"], "100.64.200.2");
  EXPECT_EQ(i["PrivateDnsName"], "ip-172-31-0-4.eu-west-1.compute.internal");
  EXPECT_EQ(i["PublicDnsName"], "ec2-100-64-200-2.eu-west-1.compute.kumo");
  Settle();
  EXPECT_EQ(StateOf(id), "running");
  EXPECT_EQ(*host_->State(id), host::ContainerState::kRunning);
  ASSERT_TRUE(store_
                  ->Read([&](store::Tx& tx) -> absl::Status {
                    auto st = services::DescribeInstanceStatus(tx, caller_, json::object());
                    EXPECT_EQ((*st)["InstanceStatuses"][0]["InstanceStatus"]["Status"], "ok");
                    return absl::OkStatus();
                  })
                  .ok());
  // The root volume (mounted at root/) got its first-boot files, and it is a vol-… of its own.
  struct stat st;
  EXPECT_EQ(
      stat((dir_ + "/host/instances/" + id + "/root/upper/etc/ssh/ssh_host_ed25519_key").c_str(),
           &st),
      0);
  ASSERT_TRUE(store_
                  ->Read([&](store::Tx& tx) -> absl::Status {
                    auto v = services::DescribeVolumes(tx, caller_, json::object());
                    EXPECT_EQ((*v)["Volumes"].size(), 1u);
                    EXPECT_EQ((*v)["Volumes"][0]["State"], "in-use");
                    EXPECT_EQ((*v)["Volumes"][0]["Size"], 8);
                    EXPECT_EQ((*v)["Volumes"][0]["Attachments"][0]["InstanceId"], id);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ReconcilerTest, AnImageIsAvailableOnceItsSnapshotsAreAndLaunchesFromThem) {
  std::string id = Launch();
  Settle();
  auto created = Write([&](store::Tx& tx) {
    return services::CreateImage(tx, caller_, ids_, *images_,
                                 {{"InstanceId", id}, {"Name", "baked"}});
  });
  ASSERT_TRUE(created.ok()) << created.status();
  std::string image_id = (*created)["ImageId"];
  auto image = [&] {
    json out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(out, services::DescribeImages(tx, caller_, *images_,
                                                                     {{"ImageIds", {image_id}}}));
                      return absl::OkStatus();
                    })
                    .ok());
    return out["Images"][0];
  };
  EXPECT_EQ(image()["State"], "pending");
  Settle();
  json img = image();
  EXPECT_EQ(img["State"], "available");
  std::string snap = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"];
  struct stat st;
  EXPECT_EQ(stat((dir_ + "/host/snapshots/" + snap + ".img").c_str(), &st), 0);

  std::string second = Launch({{"ImageId", image_id}});
  Settle();
  EXPECT_EQ(StateOf(second), "running");
  json root = Describe(second)["BlockDeviceMappings"][0];
  ASSERT_TRUE(store_
                  ->Read([&](store::Tx& tx) -> absl::Status {
                    auto v = services::DescribeVolumes(tx, caller_,
                                                       {{"VolumeIds", {root["Ebs"]["VolumeId"]}}});
                    EXPECT_EQ((*v)["Volumes"][0]["SnapshotId"], snap);
                    return absl::OkStatus();
                  })
                  .ok());
  // The layer was seeded for the new instance, not taken as the old one's.
  std::ifstream marker(dir_ + "/host/instances/" + second + "/root/seeded");
  std::string who;
  marker >> who;
  EXPECT_EQ(who, second);

  // Its snapshot cannot go while the image is registered.
  auto deleted = Write([&](store::Tx& tx) {
    return services::DeleteSnapshot(tx, caller_, {{"SnapshotId", snap}});
  });
  EXPECT_EQ(Ec2CodeOf(deleted.status()), "InvalidSnapshot.InUse");
}

TEST_F(ReconcilerTest, SeedingAnImagesLayerReplacesItsSymlinksInsteadOfFollowingThem) {
  // A custom image's layer is its users' work: a symlink where seeding writes must not lead
  // the (root) writer outside the layer.
  std::string upper = dir_ + "/layer/upper";
  std::string outside = dir_ + "/outside";
  ASSERT_TRUE(MakeDirs(upper + "/etc").ok());
  ASSERT_TRUE(MakeDirs(outside).ok());
  ASSERT_EQ(symlink(outside.c_str(), (upper + "/etc/ssh").c_str()), 0);
  ASSERT_EQ(symlink((outside + "/resolv").c_str(), (upper + "/etc/resolv.conf").c_str()), 0);
  host::SeedSpec spec{dir_ + "/images/tiny/rootfs", upper, "ip-1", "", "", "10.0.0.2", "x", 0};
  ASSERT_TRUE(host::SeedRootVolume(spec).ok());
  EXPECT_TRUE(std::filesystem::is_empty(outside));
  struct stat st;
  ASSERT_EQ(lstat((upper + "/etc/ssh").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_EQ(lstat((upper + "/etc/resolv.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // Again over its own output (a crash part-way): the same result.
  EXPECT_TRUE(host::SeedRootVolume(spec).ok());
  EXPECT_TRUE(std::filesystem::is_empty(outside));
}

TEST_F(ReconcilerTest, StopReleasesThePublicAddressAndStartGetsANewOne) {
  std::string id = Launch();
  std::string other = Launch();
  Settle();
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::StopInstances(tx, caller_, {{"InstanceIds", {id}}});
              }).ok());
  EXPECT_EQ(StateOf(id), "stopping");
  Settle();
  json stopped = Describe(id);
  EXPECT_EQ(stopped["State"]["Name"], "stopped");
  EXPECT_FALSE(stopped.contains("PublicIpAddress"));
  EXPECT_EQ(stopped["StateReason"]["Code"], "Client.UserInitiatedShutdown");
  EXPECT_EQ(*host_->State(id), host::ContainerState::kStopped);

  // A stopped instance's type can change; a running one's cannot.
  auto modify = [&](const std::string& target) {
    return Write([&](store::Tx& tx) {
      return services::ModifyInstanceAttribute(
          tx, caller_, env_, {{"InstanceId", target}, {"InstanceType", {{"Value", "t2.micro"}}}});
    });
  };
  EXPECT_TRUE(modify(id).ok());
  EXPECT_EQ(Ec2CodeOf(modify(other).status()), "IncorrectInstanceState");

  Launch();  // takes the lowest free public address, the one the stop released
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::StartInstances(tx, caller_, env_, {{"InstanceIds", {id}}});
              }).ok());
  Settle();
  json started = Describe(id);
  EXPECT_EQ(started["State"]["Name"], "running");
  EXPECT_EQ(started["InstanceType"], "t2.micro");
  EXPECT_EQ(started["PublicIpAddress"], "100.64.200.4");
  EXPECT_EQ(started["PrivateIpAddress"], "172.31.0.4");  // private addresses stay
}

TEST_F(ReconcilerTest, TerminateRemovesEverythingAndFreesAddresses) {
  std::string id = Launch();
  Settle();
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::TerminateInstances(tx, caller_, {{"InstanceIds", {id}}});
              }).ok());
  EXPECT_EQ(StateOf(id), "shutting-down");
  Settle();
  EXPECT_EQ(StateOf(id), "terminated");
  EXPECT_EQ(*host_->State(id), host::ContainerState::kAbsent);
  EXPECT_TRUE(host_->ListInstances()->empty());
  struct stat st;
  EXPECT_NE(stat((dir_ + "/host/instances/" + id).c_str(), &st), 0);
  // Both addresses are free again.
  std::string next = Launch();
  EXPECT_EQ(Describe(next)["PrivateIpAddress"], "172.31.0.4");
  EXPECT_EQ(Describe(next)["PublicIpAddress"], "100.64.200.2");
  // Terminated instances are listed for an hour, then gone.
  clock_.Advance(std::chrono::minutes(61));
  caller_.now = clock_.Now();
  Settle();
  auto gone = store_->Read([&](store::Tx& tx) {
    return services::DescribeInstances(tx, caller_, {{"InstanceIds", {id}}}).status();
  });
  EXPECT_EQ(Ec2CodeOf(gone), "InvalidInstanceID.NotFound");
}

TEST_F(ReconcilerTest, AnInstanceThatPowersItselfOffIsStopped) {
  std::string id = Launch();
  Settle();
  ASSERT_TRUE(runtime_->Kill("k0000aa-" + id).ok());  // as `poweroff` inside would
  Settle();
  json i = Describe(id);
  EXPECT_EQ(i["State"]["Name"], "stopped");
  EXPECT_EQ(i["StateReason"]["Code"], "Client.InstanceInitiatedShutdown");
}

TEST_F(ReconcilerTest, AfterAHostRebootRunningInstancesStartAgainStoppedOnesDoNot) {
  std::string running = Launch();
  std::string stopped = Launch();
  Settle();
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::StopInstances(tx, caller_, {{"InstanceIds", {stopped}}});
              }).ok());
  Settle();
  // The host goes down: every container stops, and the boot id changes.
  ASSERT_TRUE(runtime_->Kill("k0000aa-" + running).ok());
  std::ofstream(dir_ + "/boot_id") << "second-boot\n";
  Reconciler after_reboot(*store_, *host_, clock_);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(after_reboot.RunOnce().ok());
  EXPECT_EQ(StateOf(running), "running");
  EXPECT_EQ(*host_->State(running), host::ContainerState::kRunning);
  EXPECT_EQ(StateOf(stopped), "stopped");
  EXPECT_EQ(*host_->State(stopped), host::ContainerState::kStopped);
}

TEST_F(ReconcilerTest, QuotaAndCapacityAreChecked) {
  // 2 host cores × 16 = 32 vCPUs of capacity; m4.10xlarge has 40.
  auto big = Write([&](store::Tx& tx) {
    return services::RunInstances(tx, caller_, ids_, env_,
                                  {{"ImageId", services::ImageIdForName("tiny")},
                                   {"InstanceType", "m4.10xlarge"},
                                   {"MinCount", 1},
                                   {"MaxCount", 1}});
  });
  EXPECT_EQ(Ec2CodeOf(big.status()), "InsufficientInstanceCapacity");
  env_.host_cpus = 64;
  env_.host_memory_mib = 1 << 20;
  auto over_quota = Write([&](store::Tx& tx) {
    return services::RunInstances(tx, caller_, ids_, env_,
                                  {{"ImageId", services::ImageIdForName("tiny")},
                                   {"InstanceType", "m4.10xlarge"},
                                   {"MinCount", 2},
                                   {"MaxCount", 2}});
  });
  EXPECT_EQ(Ec2CodeOf(over_quota.status()), "VcpuLimitExceeded");
  auto gpu = Write([&](store::Tx& tx) {
    return services::RunInstances(tx, caller_, ids_, env_,
                                  {{"ImageId", services::ImageIdForName("tiny")},
                                   {"InstanceType", "p2.xlarge"},
                                   {"MinCount", 1},
                                   {"MaxCount", 1}});
  });
  EXPECT_EQ(Ec2CodeOf(gpu.status()), "InsufficientInstanceCapacity");
  auto no_image = Write([&](store::Tx& tx) {
    return services::RunInstances(
        tx, caller_, ids_, env_,
        {{"ImageId", "ami-00000000000000000"}, {"MinCount", 1}, {"MaxCount", 1}});
  });
  EXPECT_EQ(Ec2CodeOf(no_image.status()), "InvalidAMIID.NotFound");
}

TEST_F(ReconcilerTest, ACrashedLaunchIsFinishedNotDuplicated) {
  std::string id = Launch();
  // The host did the work but the daemon died before recording it.
  ASSERT_TRUE(host_
                  ->Launch(SpecOf([&] {
                    store::Resource r;
                    EXPECT_TRUE(store_
                                    ->Read([&](store::Tx& tx) -> absl::Status {
                                      r = *tx.GetResource(caller_.account_id, caller_.region, id);
                                      return absl::OkStatus();
                                    })
                                    .ok());
                    return r;
                  }()))
                  .ok());
  Reconciler restarted(*store_, *host_, clock_);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(restarted.RunOnce().ok());
  EXPECT_EQ(StateOf(id), "running");
  EXPECT_EQ(host_->ListInstances()->size(), 1u);
}

}  // namespace
}  // namespace kumo::reconcile

namespace kumo::reconcile {
namespace {

class FirewallPlanTest : public ReconcilerTest {
 protected:
  std::string Group(const std::string& name) {
    auto out = Write([&](store::Tx& tx) {
      return services::CreateSecurityGroup(tx, caller_, ids_,
                                           {{"GroupName", name}, {"Description", name}});
    });
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? (*out)["GroupId"].get<std::string>() : "";
  }
  void Allow(const std::string& group, json permission) {
    auto out = Write([&](store::Tx& tx) {
      return services::AuthorizeSecurityGroupRules(
          tx, caller_, ids_, {{"GroupId", group}, {"IpPermissions", {permission}}}, false);
    });
    ASSERT_TRUE(out.ok()) << out.status();
  }
  std::map<std::string, host::VpcFirewall> Plan() {
    std::vector<store::Resource> instances, groups, interfaces;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      instances = *tx.ListAllResources(services::kInstanceType);
                      groups = *tx.ListAllResources(services::kSecurityGroupType);
                      interfaces = *tx.ListAllResources(services::kNetworkInterfaceType);
                      return absl::OkStatus();
                    })
                    .ok());
    return PlanFirewalls(instances, groups, interfaces);
  }
  std::string PrivateIp(const std::string& id) { return Describe(id)["PrivateIpAddress"]; }
};

TEST_F(FirewallPlanTest, RulesOfEveryGroupAndMembersOfSourceGroups) {
  std::string web = Group("web"), peers = Group("peers");
  Allow(web, {{"IpProtocol", "tcp"},
              {"FromPort", 8080},
              {"ToPort", 8080},
              {"UserIdGroupPairs", {{{"GroupId", peers}}}}});
  Allow(web, {{"IpProtocol", "tcp"},
              {"FromPort", 22},
              {"ToPort", 22},
              {"IpRanges", {{{"CidrIp", "198.51.100.7/32"}}}}});
  std::string a = Launch({{"SecurityGroupIds", {web}}});
  std::string b = Launch({{"SecurityGroupIds", {peers}}});
  auto plan = Plan();
  ASSERT_EQ(plan.size(), 1u);
  const host::VpcFirewall& fw = plan.begin()->second;
  ASSERT_EQ(fw.ports.size(), 2u);
  const host::PortFirewall& pa = fw.ports[0].instance_id == a ? fw.ports[0] : fw.ports[1];
  ASSERT_EQ(pa.instance_id, a);
  EXPECT_EQ(pa.private_ip, PrivateIp(a));
  ASSERT_EQ(pa.ingress.size(), 2u);
  EXPECT_EQ(pa.ingress[0].peer_set, PeerSetName(peers));
  EXPECT_EQ(pa.ingress[1].cidr, "198.51.100.7/32");
  EXPECT_EQ(pa.ingress[1].from, 22);
  // New groups allow all traffic out, as on EC2.
  ASSERT_EQ(pa.egress.size(), 1u);
  EXPECT_EQ(pa.egress[0].cidr, "0.0.0.0/0");
  EXPECT_EQ(fw.peer_sets.at(PeerSetName(peers)), std::vector<std::string>{PrivateIp(b)});
  // What the host agent will be asked to apply passes its validation.
  auto script = host::netinternal::FirewallScript(fw);
  ASSERT_TRUE(script.ok()) << script.status();
  EXPECT_NE(script->find("ip saddr 198.51.100.7/32 tcp dport 22 accept"), std::string::npos);

  // Membership follows the instance: b stopped leaves the set, and the plan has no port for it.
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::StopInstances(tx, caller_, {{"InstanceIds", {b}}});
              }).ok());
  Settle();
  EXPECT_EQ(StateOf(b), "stopped");
  plan = Plan();
  const host::VpcFirewall& after = plan.begin()->second;
  ASSERT_EQ(after.ports.size(), 1u);
  EXPECT_TRUE(after.peer_sets.at(PeerSetName(peers)).empty());

  // a moved into peers (and out of web) keeps no web rule and becomes a member.
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::ModifyInstanceAttribute(tx, caller_, env_,
                                                         {{"InstanceId", a}, {"Groups", {peers}}});
              }).ok());
  plan = Plan();
  EXPECT_TRUE(plan.begin()->second.ports[0].ingress.empty());
}

TEST_F(FirewallPlanTest, TheReconcilerObservesEveryPass) {
  std::vector<std::string> seen;
  ReconcilerOptions opts;
  opts.observer = [&](const std::vector<store::Resource>& all) {
    seen.clear();
    for (const auto& r : all) seen.push_back(r.id);
  };
  reconciler_ = std::make_unique<Reconciler>(*store_, *host_, clock_, opts);
  std::string id = Launch();
  Settle();
  EXPECT_EQ(seen, std::vector<std::string>{id});
}

// Instance records carry their VPC's subnets as they were at launch: a subnet created after the
// first launch still gets its router on the VPC's bridge, and the older instance's record does
// not take it away again.
TEST_F(ReconcilerTest, ASubnetAddedAfterTheFirstLaunchReachesTheHost) {
  auto vpc = Write([&](store::Tx& tx) {
    return services::CreateVpc(tx, caller_, ids_, {{"CidrBlock", "10.8.0.0/16"}});
  });
  ASSERT_TRUE(vpc.ok()) << vpc.status();
  std::string vpc_id = (*vpc)["Vpc"]["VpcId"];
  auto subnet = [&](const std::string& cidr) {
    auto r = Write([&](store::Tx& tx) {
      return services::CreateSubnet(tx, caller_, regions_, ids_,
                                    {{"VpcId", vpc_id}, {"CidrBlock", cidr}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["Subnet"]["SubnetId"].get<std::string>() : "";
  };
  std::string first = Launch({{"SubnetId", subnet("10.8.1.0/24")}});
  Settle();
  EXPECT_EQ(StateOf(first), "running");
  EXPECT_EQ(Describe(first)["PrivateIpAddress"], "10.8.1.4");
  std::string second = Launch({{"SubnetId", subnet("10.8.2.0/24")}});
  Settle();
  EXPECT_EQ(StateOf(second), "running");
  EXPECT_EQ(Describe(second)["PrivateIpAddress"], "10.8.2.4");
  EXPECT_EQ(Describe(second)["SecurityGroups"][0]["GroupName"], "default");
  // A reboot re-ensures the network from the first instance's (older) record.
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::RebootInstances(tx, caller_, {{"InstanceIds", {first, second}}});
              }).ok());
  Settle();
  EXPECT_EQ(StateOf(first), "running");
  EXPECT_EQ(StateOf(second), "running");
}

TEST_F(ReconcilerTest, ElasticIpsOnOtherAddressesArePublishedAndUnpublishedAcrossRestarts) {
  std::string id = Launch();
  Settle();
  ASSERT_EQ(StateOf(id), "running");
  std::string vpc = Describe(id)["VpcId"];
  auto assigned = Write([&](store::Tx& tx) {
    return services::AssignPrivateIpAddresses(
        tx, caller_,
        {{"NetworkInterfaceId", services::PrimaryInterfaceId(id)},
         {"SecondaryPrivateIpAddressCount", 1}});
  });
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  std::string secondary = (*assigned)["AssignedPrivateIpAddresses"][0]["PrivateIpAddress"];
  auto eip = Write([&](store::Tx& tx) {
    return services::AllocateAddress(tx, caller_, ids_, env_, json::object());
  });
  ASSERT_TRUE(eip.ok()) << eip.status();
  std::string ip = (*eip)["PublicIp"], alloc = (*eip)["AllocationId"];
  auto reachable = [&] { return *net_->ProbeTcp(vpc, ip, 22, std::chrono::milliseconds(0)); };
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::AssociateAddress(
                    tx, caller_, ids_, env_,
                    {{"AllocationId", alloc}, {"InstanceId", id}, {"PrivateIpAddress", secondary}});
              }).ok());
  Settle();
  EXPECT_TRUE(reachable());
  // Disassociated while kumod is down: a new reconciler, knowing nothing of what it published,
  // still takes the mapping away.
  reconciler_.reset();
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::DisassociateAddress(tx, caller_, env_, {{"PublicIp", ip}});
              }).ok());
  reconciler_ = std::make_unique<Reconciler>(*store_, *host_, clock_);
  Settle();
  EXPECT_FALSE(reachable());
}

TEST_F(FirewallPlanTest, AnAttachedInterfaceIsAPortWithItsOwnGroups) {
  std::string web = Group("web");
  Allow(web, {{"IpProtocol", "tcp"},
              {"FromPort", 443},
              {"ToPort", 443},
              {"IpRanges", {{{"CidrIp", "0.0.0.0/0"}}}}});
  std::string id = Launch();
  Settle();
  ASSERT_EQ(StateOf(id), "running");
  std::string subnet = Describe(id)["SubnetId"];
  auto eni = Write([&](store::Tx& tx) {
    return services::CreateNetworkInterface(tx, caller_, ids_,
                                            {{"SubnetId", subnet}, {"Groups", {web}}});
  });
  ASSERT_TRUE(eni.ok()) << eni.status();
  std::string eni_id = (*eni)["NetworkInterface"]["NetworkInterfaceId"];
  EXPECT_EQ(Plan().begin()->second.ports.size(), 1u);  // not attached: no port
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return services::AttachNetworkInterface(
                    tx, caller_, ids_,
                    {{"NetworkInterfaceId", eni_id}, {"InstanceId", id}, {"DeviceIndex", 1}});
              }).ok());
  auto plan = Plan();
  const host::VpcFirewall& fw = plan.begin()->second;
  ASSERT_EQ(fw.ports.size(), 2u);
  const host::PortFirewall& port = fw.ports[1];
  EXPECT_EQ(port.instance_id, eni_id);
  EXPECT_EQ(port.private_ip, (*eni)["NetworkInterface"]["PrivateIpAddress"]);
  ASSERT_EQ(port.ingress.size(), 1u);
  EXPECT_EQ(port.ingress[0].from, 443);
  auto script = host::netinternal::FirewallScript(fw);
  ASSERT_TRUE(script.ok()) << script.status();
  // The reconciler plugs it in and keeps the instance running.
  Settle();
  EXPECT_EQ(StateOf(id), "running");
}

}  // namespace
}  // namespace kumo::reconcile
