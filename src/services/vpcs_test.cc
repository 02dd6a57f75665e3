// VPCs and subnets beyond the default network, and launching into them, against the in-memory
// store.
#include "services/vpcs.h"

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
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

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

TEST_F(VpcTest, CreateVpcValidatesAndRenders) {
  auto code = [&](const json& in) { return Ec2CodeOf(NewVpc(in).status()); };
  EXPECT_EQ(code(json::object()), "MissingParameter");
  EXPECT_EQ(code({{"CidrBlock", "10.0.0.0/8"}}), "InvalidVpc.Range");
  EXPECT_EQ(code({{"CidrBlock", "10.0.0.0/29"}}), "InvalidVpc.Range");
  EXPECT_EQ(code({{"CidrBlock", "10.0.0.1/16"}}), "InvalidParameterValue");
  EXPECT_EQ(code({{"CidrBlock", "nonsense"}}), "InvalidParameterValue");
  EXPECT_EQ(code({{"CidrBlock", "10.0.0.0/16"}, {"AmazonProvidedIpv6CidrBlock", true}}),
            "Unsupported");
  EXPECT_EQ(code({{"CidrBlock", "10.0.0.0/16"}, {"InstanceTenancy", "dedicated"}}), "Unsupported");

  auto r = NewVpc({{"CidrBlock", "10.0.0.0/16"},
                   {"TagSpecifications",
                    {{{"ResourceType", "vpc"}, {"Tags", {{{"Key", "Name"}, {"Value", "lab"}}}}}}}});
  ASSERT_TRUE(r.ok()) << r.status();
  const json& vpc = (*r)["Vpc"];
  EXPECT_EQ(vpc["CidrBlock"], "10.0.0.0/16");
  EXPECT_EQ(vpc["IsDefault"], false);
  EXPECT_EQ(vpc["State"], "available");
  EXPECT_EQ(vpc["InstanceTenancy"], "default");
  EXPECT_EQ(vpc["OwnerId"], alice_.account_id);
  EXPECT_EQ(vpc["Tags"][0]["Value"], "lab");
  EXPECT_EQ(vpc["CidrBlockAssociationSet"][0]["CidrBlock"], "10.0.0.0/16");
  EXPECT_EQ(ResourceTypeOfId(vpc["CidrBlockAssociationSet"][0]["AssociationId"].get<std::string>()),
            "vpc-cidr-block-association");

  auto all = Read([&](store::Tx& tx) { return DescribeVpcs(tx, alice_, json::object()); });
  ASSERT_TRUE(all.ok());
  ASSERT_EQ((*all)["Vpcs"].size(), 2u);
  // New VPCs share the default VPC's DHCP options.
  EXPECT_EQ((*all)["Vpcs"][0]["DhcpOptionsId"], (*all)["Vpcs"][1]["DhcpOptionsId"]);
  auto filtered = Read([&](store::Tx& tx) {
    return DescribeVpcs(tx, alice_,
                        {{"Filters", {{{"Name", "is-default"}, {"Values", {"false"}}}}}});
  });
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ((*filtered)["Vpcs"].size(), 1u);
  EXPECT_EQ((*filtered)["Vpcs"][0]["VpcId"], vpc["VpcId"]);

  // Its own default group, in it.
  auto group = Read([&](store::Tx& tx) -> absl::StatusOr<json> {
    ASSIGN_OR_RETURN(auto g, VpcDefaultSecurityGroup(tx, alice_, vpc["VpcId"]));
    return g.data;
  });
  ASSERT_TRUE(group.ok()) << group.status();
  EXPECT_EQ((*group)["group_name"], "default");
}

TEST_F(VpcTest, DeleteVpcRefusesDependenciesAndTakesItsDefaultGroup) {
  std::string vpc = VpcId("10.1.0.0/16");
  EXPECT_EQ(DeleteVpcCode("vpc-00000000000000000"), "InvalidVpcID.NotFound");
  std::string subnet = SubnetId(vpc, "10.1.0.0/24");
  EXPECT_EQ(DeleteVpcCode(vpc), "DependencyViolation");
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return DeleteSubnet(tx, alice_, {{"SubnetId", subnet}});
              }).ok());
  auto sg = Write([&](store::Tx& tx) {
    return CreateSecurityGroup(tx, alice_, ids_,
                               {{"GroupName", "web"}, {"Description", "w"}, {"VpcId", vpc}});
  });
  ASSERT_TRUE(sg.ok()) << sg.status();
  EXPECT_EQ(DeleteVpcCode(vpc), "DependencyViolation");
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return DeleteSecurityGroup(tx, alice_, {{"GroupId", (*sg)["GroupId"]}});
              }).ok());
  EXPECT_EQ(DeleteVpcCode(vpc), "");
  EXPECT_EQ(DeleteVpcCode(vpc), "InvalidVpcID.NotFound");
  auto groups =
      Read([&](store::Tx& tx) { return DescribeSecurityGroups(tx, alice_, json::object()); });
  ASSERT_TRUE(groups.ok());
  for (const auto& g : (*groups)["SecurityGroups"]) EXPECT_NE(g["VpcId"], vpc);
}

TEST_F(VpcTest, DeletedDefaultVpcIsNotCreatedAgain) {
  auto vpcs = Read([&](store::Tx& tx) { return DescribeVpcs(tx, alice_, json::object()); });
  ASSERT_TRUE(vpcs.ok());
  std::string def = (*vpcs)["Vpcs"][0]["VpcId"];
  EXPECT_EQ(DeleteVpcCode(def), "DependencyViolation");  // its default subnets
  auto subnets = Read([&](store::Tx& tx) { return DescribeSubnets(tx, alice_, json::object()); });
  ASSERT_TRUE(subnets.ok());
  for (const auto& s : (*subnets)["Subnets"]) {
    ASSERT_TRUE(Write([&](store::Tx& tx) {
                  return DeleteSubnet(tx, alice_, {{"SubnetId", s["SubnetId"]}});
                }).ok());
  }
  EXPECT_EQ(DeleteVpcCode(def), "DependencyViolation");  // its internet gateway, as on EC2
  auto igws =
      Read([&](store::Tx& tx) { return DescribeInternetGateways(tx, alice_, json::object()); });
  ASSERT_TRUE(igws.ok());
  for (const auto& g : (*igws)["InternetGateways"]) {
    json in = {{"InternetGatewayId", g["InternetGatewayId"]}, {"VpcId", def}};
    ASSERT_TRUE(Write([&](store::Tx& tx) { return DetachInternetGateway(tx, alice_, in); }).ok());
    ASSERT_TRUE(Write([&](store::Tx& tx) { return DeleteInternetGateway(tx, alice_, in); }).ok());
  }
  EXPECT_EQ(DeleteVpcCode(def), "");
  ASSERT_TRUE(
      store_->Write([&](store::Tx& tx) { return CreateDefaultNetwork(tx, alice_, regions_, ids_); })
          .ok());
  vpcs = Read([&](store::Tx& tx) { return DescribeVpcs(tx, alice_, json::object()); });
  ASSERT_TRUE(vpcs.ok());
  EXPECT_TRUE((*vpcs)["Vpcs"].empty());
}

TEST_F(VpcTest, VpcAttributes) {
  std::string vpc = VpcId("10.2.0.0/16");
  auto get = [&](const std::string& id, const std::string& name) {
    auto r = Read([&](store::Tx& tx) {
      return DescribeVpcAttribute(tx, alice_, {{"VpcId", id}, {"Attribute", name}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return json();
    std::string member = name;
    member[0] = char(toupper(member[0]));
    return (*r)[member]["Value"];
  };
  EXPECT_EQ(get(vpc, "enableDnsSupport"), true);
  EXPECT_EQ(get(vpc, "enableDnsHostnames"), false);
  auto vpcs = Read([&](store::Tx& tx) {
    return DescribeVpcs(tx, alice_,
                        {{"Filters", {{{"Name", "is-default"}, {"Values", {"true"}}}}}});
  });
  ASSERT_TRUE(vpcs.ok());
  std::string def = (*vpcs)["Vpcs"][0]["VpcId"];
  EXPECT_EQ(get(def, "enableDnsSupport"), true);
  EXPECT_EQ(get(def, "enableDnsHostnames"), true);

  auto modify = [&](const json& in) {
    return Ec2CodeOf(
        Write([&](store::Tx& tx) { return ModifyVpcAttribute(tx, alice_, in); }).status());
  };
  EXPECT_EQ(modify({{"VpcId", vpc}, {"EnableDnsHostnames", {{"Value", true}}}}), "");
  EXPECT_EQ(get(vpc, "enableDnsHostnames"), true);
  EXPECT_EQ(modify({{"VpcId", vpc},
                    {"EnableDnsHostnames", {{"Value", true}}},
                    {"EnableDnsSupport", {{"Value", false}}}}),
            "InvalidParameterCombination");
  EXPECT_EQ(modify({{"VpcId", vpc}}), "InvalidParameterCombination");
  EXPECT_EQ(modify({{"VpcId", "vpc-00000000000000000"}, {"EnableDnsSupport", {{"Value", true}}}}),
            "InvalidVpcID.NotFound");
  EXPECT_EQ(
      Ec2CodeOf(Read([&](store::Tx& tx) {
                  return DescribeVpcAttribute(tx, alice_, {{"VpcId", vpc}, {"Attribute", "bogus"}});
                }).status()),
      "InvalidParameterValue");
}

TEST_F(VpcTest, CreateSubnetValidates) {
  std::string vpc = VpcId("10.3.0.0/16");
  auto code = [&](const json& in) { return Ec2CodeOf(NewSubnet(in).status()); };
  EXPECT_EQ(code({{"VpcId", "vpc-00000000000000000"}, {"CidrBlock", "10.3.0.0/24"}}),
            "InvalidVpcID.NotFound");
  EXPECT_EQ(code({{"VpcId", vpc}}), "MissingParameter");
  EXPECT_EQ(code({{"VpcId", vpc}, {"CidrBlock", "10.4.0.0/24"}}), "InvalidSubnet.Range");
  EXPECT_EQ(code({{"VpcId", vpc}, {"CidrBlock", "10.3.0.0/29"}}), "InvalidSubnet.Range");
  EXPECT_EQ(code({{"VpcId", vpc}, {"CidrBlock", "10.0.0.0/8"}}), "InvalidSubnet.Range");
  EXPECT_EQ(code({{"VpcId", vpc}, {"CidrBlock", "10.3.0.0/24"}, {"AvailabilityZone", "xx-1a"}}),
            "InvalidParameterValue");

  auto r = NewSubnet({{"VpcId", vpc}, {"CidrBlock", "10.3.0.0/24"}});
  ASSERT_TRUE(r.ok()) << r.status();
  const json& s = (*r)["Subnet"];
  EXPECT_EQ(s["AvailabilityZone"], "eu-west-1a");
  EXPECT_EQ(s["AvailabilityZoneId"], "euw1-az1");
  EXPECT_EQ(s["AvailableIpAddressCount"], 251);
  EXPECT_EQ(s["DefaultForAz"], false);
  EXPECT_EQ(s["MapPublicIpOnLaunch"], false);
  EXPECT_EQ(code({{"VpcId", vpc}, {"CidrBlock", "10.3.0.128/25"}}), "InvalidSubnet.Conflict");
  EXPECT_EQ(code({{"VpcId", vpc}, {"CidrBlock", "10.3.0.0/16"}}), "InvalidSubnet.Conflict");

  auto b =
      NewSubnet({{"VpcId", vpc}, {"CidrBlock", "10.3.1.0/28"}, {"AvailabilityZoneId", "euw1-az2"}});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)["Subnet"]["AvailabilityZone"], "eu-west-1b");
  EXPECT_EQ((*b)["Subnet"]["AvailableIpAddressCount"], 11);

  // The same block in another VPC is no conflict.
  std::string other = VpcId("10.3.0.0/16");
  EXPECT_EQ(code({{"VpcId", other}, {"CidrBlock", "10.3.0.0/24"}}), "");
}

TEST_F(VpcTest, ModifySubnetAttribute) {
  std::string subnet = SubnetId(VpcId("10.5.0.0/16"), "10.5.0.0/24");
  auto modify = [&](const json& in) {
    return Ec2CodeOf(
        Write([&](store::Tx& tx) { return ModifySubnetAttribute(tx, alice_, in); }).status());
  };
  EXPECT_EQ(modify({{"SubnetId", subnet}, {"MapPublicIpOnLaunch", {{"Value", true}}}}), "");
  EXPECT_EQ(Subnet(subnet)["MapPublicIpOnLaunch"], true);
  EXPECT_EQ(modify({{"SubnetId", subnet}, {"EnableDns64", {{"Value", true}}}}), "Unsupported");
  EXPECT_EQ(modify({{"SubnetId", "subnet-00000000000000000"},
                    {"MapPublicIpOnLaunch", {{"Value", true}}}}),
            "InvalidSubnetID.NotFound");
}

TEST_F(VpcTest, LaunchIntoCreatedSubnet) {
  std::string vpc = VpcId("10.6.0.0/16");
  std::string subnet = SubnetId(vpc, "10.6.1.0/28");
  auto r = Launch({{"SubnetId", subnet}, {"MinCount", 2}, {"MaxCount", 2}});
  ASSERT_TRUE(r.ok()) << r.status();
  const json& i = (*r)["Instances"][0];
  EXPECT_EQ(i["VpcId"], vpc);
  EXPECT_EQ(i["SubnetId"], subnet);
  EXPECT_EQ(i["PrivateIpAddress"], "10.6.1.4");
  EXPECT_EQ((*r)["Instances"][1]["PrivateIpAddress"], "10.6.1.5");
  EXPECT_FALSE(i.contains("PublicIpAddress"));
  auto group = Read([&](store::Tx& tx) -> absl::StatusOr<json> {
    ASSIGN_OR_RETURN(auto g, VpcDefaultSecurityGroup(tx, alice_, vpc));
    return json(g.id);
  });
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(i["SecurityGroups"][0]["GroupId"], *group);
  EXPECT_EQ(Subnet(subnet)["AvailableIpAddressCount"], 9);

  // A group of another VPC is refused, as EC2 refuses it.
  auto other = Write([&](store::Tx& tx) {
    return CreateSecurityGroup(tx, alice_, ids_, {{"GroupName", "x"}, {"Description", "x"}});
  });
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(
      Ec2CodeOf(
          Launch({{"SubnetId", subnet}, {"SecurityGroupIds", {(*other)["GroupId"]}}}).status()),
      "InvalidParameter");

  EXPECT_EQ(DeleteVpcCode(vpc), "DependencyViolation");
  EXPECT_EQ(Ec2CodeOf(Write([&](store::Tx& tx) {
                        return DeleteSubnet(tx, alice_, {{"SubnetId", subnet}});
                      }).status()),
            "DependencyViolation");

  // A /28 has 11 usable addresses (.4 to .14): the broadcast address is never handed out.
  auto rest = Launch({{"SubnetId", subnet}, {"MinCount", 9}, {"MaxCount", 9}});
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ((*rest)["Instances"][8]["PrivateIpAddress"], "10.6.1.14");
  EXPECT_EQ(Subnet(subnet)["AvailableIpAddressCount"], 0);
  EXPECT_EQ(Ec2CodeOf(Launch({{"SubnetId", subnet}}).status()),
            "InsufficientFreeAddressesInSubnet");
}

TEST_F(VpcTest, TagsOnVpcsAndSubnets) {
  std::string vpc = VpcId("10.7.0.0/16");
  auto tag = [&](const std::string& id) {
    return Ec2CodeOf(Write([&](store::Tx& tx) {
                       return CreateTags(
                           tx, alice_,
                           {{"Resources", {id}}, {"Tags", {{{"Key", "k"}, {"Value", "v"}}}}});
                     }).status());
  };
  EXPECT_EQ(tag(vpc), "");
  EXPECT_EQ(tag("vpc-00000000000000000"), "InvalidVpcID.NotFound");
  EXPECT_EQ(tag("subnet-00000000000000000"), "InvalidSubnetID.NotFound");
  auto vpcs = Read([&](store::Tx& tx) {
    return DescribeVpcs(tx, alice_, {{"Filters", {{{"Name", "tag:k"}, {"Values", {"v"}}}}}});
  });
  ASSERT_TRUE(vpcs.ok());
  ASSERT_EQ((*vpcs)["Vpcs"].size(), 1u);
  EXPECT_EQ((*vpcs)["Vpcs"][0]["VpcId"], vpc);
}

TEST_F(VpcTest, SecondaryCidrBlocks) {
  std::string vpc = VpcId("10.10.0.0/16");
  auto associate = [&](const std::string& block) {
    return Write([&](store::Tx& tx) {
      return AssociateVpcCidrBlock(tx, alice_, ids_, {{"VpcId", vpc}, {"CidrBlock", block}});
    });
  };
  auto code = [&](const absl::StatusOr<json>& r) { return Ec2CodeOf(r.status()); };
  EXPECT_EQ(code(associate("10.10.128.0/17")), "CidrConflict");
  EXPECT_EQ(code(associate("10.0.0.0/8")), "InvalidVpc.Range");
  auto added = associate("10.11.0.0/16");
  ASSERT_TRUE(added.ok()) << added.status();
  std::string assoc = (*added)["CidrBlockAssociation"]["AssociationId"];
  // Subnets may now be made in the new block, and nowhere else outside the VPC.
  std::string subnet = SubnetId(vpc, "10.11.3.0/24");
  EXPECT_FALSE(subnet.empty());
  EXPECT_EQ(Ec2CodeOf(NewSubnet({{"VpcId", vpc}, {"CidrBlock", "10.12.0.0/24"}}).status()),
            "InvalidSubnet.Range");
  auto vpcs = Read([&](store::Tx& tx) {
    return DescribeVpcs(
        tx, alice_,
        {{"Filters",
          {{{"Name", "cidr-block-association.cidr-block"}, {"Values", {"10.11.0.0/16"}}}}}});
  });
  ASSERT_TRUE(vpcs.ok()) << vpcs.status();
  ASSERT_EQ((*vpcs)["Vpcs"].size(), 1u);
  EXPECT_EQ((*vpcs)["Vpcs"][0]["CidrBlock"], "10.10.0.0/16");
  EXPECT_EQ((*vpcs)["Vpcs"][0]["CidrBlockAssociationSet"].size(), 2u);
  for (const char* b : {"10.12.0.0/16", "10.13.0.0/16", "10.14.0.0/16"}) {
    EXPECT_TRUE(associate(b).ok()) << b;
  }
  EXPECT_EQ(code(associate("10.15.0.0/16")), "CidrLimitExceeded");

  auto disassociate = [&](const std::string& id) {
    return Write([&](store::Tx& tx) {
      return DisassociateVpcCidrBlock(tx, alice_, {{"AssociationId", id}});
    });
  };
  std::string primary = (*vpcs)["Vpcs"][0]["CidrBlockAssociationSet"][0]["AssociationId"];
  EXPECT_EQ(code(disassociate(primary)), "OperationNotPermitted");
  EXPECT_EQ(code(disassociate(assoc)), "DependencyViolation");  // its subnet
  EXPECT_EQ(code(disassociate("vpc-cidr-assoc-0000000000000bad")),
            "InvalidVpcCidrBlockAssociationID.NotFound");
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return DeleteSubnet(tx, alice_, {{"SubnetId", subnet}});
              }).ok());
  EXPECT_TRUE(disassociate(assoc).ok());
  EXPECT_EQ(code(disassociate(assoc)), "InvalidVpcCidrBlockAssociationID.NotFound");
}

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

TEST_F(AddressTest, AllocateDescribeReleaseAndLimit) {
  std::string a = Allocate();
  auto described = Read([&](store::Tx& tx) {
    return DescribeAddresses(tx, alice_, {{"AllocationIds", {a}}});
  });
  ASSERT_TRUE(described.ok()) << described.status();
  const json& addr = (*described)["Addresses"][0];
  EXPECT_EQ(addr["Domain"], "vpc");
  EXPECT_FALSE(addr.contains("AssociationId"));
  std::string ip = addr["PublicIp"];
  EXPECT_EQ(ip.rfind("100.64.200.", 0), 0u) << ip;
  EXPECT_EQ(Code(Read([&](store::Tx& tx) {
              return DescribeAddresses(tx, alice_, {{"PublicIps", {"100.64.200.250"}}});
            })),
            "InvalidAddress.NotFound");
  for (int i = 0; i < 4; ++i) Allocate();
  EXPECT_EQ(Code(Call([&](store::Tx& tx, const Caller& c) {
              return AllocateAddress(tx, c, ids_, env_, json::object());
            })),
            "AddressLimitExceeded");
  auto release = [&](const json& in) {
    return Call([&](store::Tx& tx, const Caller& c) { return ReleaseAddress(tx, c, in); });
  };
  EXPECT_TRUE(release({{"AllocationId", a}}).ok());
  EXPECT_EQ(Code(release({{"AllocationId", a}})), "InvalidAllocationID.NotFound");
  EXPECT_EQ(MeterKinds(a), (std::vector<std::string>{"address-allocated", "address-released"}));
  // The address went back to the pool: the next allocation may take it.
  std::string b = Allocate();
  EXPECT_EQ(Get(b).data["public_ip"], ip);
}

TEST_F(AddressTest, AssociateMovesAndStaysThroughStop) {
  std::string first = LaunchOne(), second = LaunchOne();
  std::string auto_ip = Get(first).data["public_ip"];
  ASSERT_FALSE(auto_ip.empty());
  std::string a = Allocate();
  std::string eip = Get(a).data["public_ip"];
  auto assoc = Associate({{"AllocationId", a}, {"InstanceId", first}});
  ASSERT_TRUE(assoc.ok()) << assoc.status();
  EXPECT_EQ(Get(first).data["public_ip"], eip);
  EXPECT_EQ(Code(Call([&](store::Tx& tx, const Caller& c) {
              return ReleaseAddress(tx, c, {{"AllocationId", a}});
            })),
            "InvalidIPAddress.InUse");
  EXPECT_EQ(Code(Associate({{"AllocationId", a}, {"InstanceId", second}})),
            "Resource.AlreadyAssociated");
  // The primary interface names the same instance.
  EXPECT_EQ(Code(Associate({{"AllocationId", a}, {"NetworkInterfaceId", "eni-0000000000000bad"}})),
            "InvalidNetworkInterfaceID.NotFound");
  auto moved = Associate({{"AllocationId", a},
                          {"NetworkInterfaceId", PrimaryInterfaceId(second)},
                          {"AllowReassociation", true}});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_NE((*moved)["AssociationId"], (*assoc)["AssociationId"]);
  EXPECT_EQ(Get(second).data["public_ip"], eip);
  // The first one had an automatic address at launch: it gets one again.
  std::string again = Get(first).data["public_ip"];
  EXPECT_FALSE(again.empty());
  EXPECT_NE(again, eip);

  // Stop keeps the Elastic IP; terminate frees it.
  store::Resource s = Get(second);
  s.data["state"] = "stopped";
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return ReleasePublicIp(tx, s); }).ok());
  EXPECT_EQ(s.data["public_ip"], eip);
  s.data["state"] = "terminated";
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return ReleasePublicIp(tx, s); }).ok());
  EXPECT_EQ(s.data["public_ip"], "");
  EXPECT_TRUE(Get(a).data["association_id"].get<std::string>().empty());
  EXPECT_EQ(MeterKinds(a), (std::vector<std::string>{"address-allocated", "address-associated",
                                                     "address-disassociated", "address-associated",
                                                     "address-disassociated"}));
}

TEST_F(AddressTest, DisassociateByAssociationOrAddress) {
  std::string i = LaunchOne();
  std::string a = Allocate();
  auto assoc = Associate({{"AllocationId", a}, {"InstanceId", i}});
  ASSERT_TRUE(assoc.ok()) << assoc.status();
  auto dis = [&](const json& in) {
    return Call(
        [&](store::Tx& tx, const Caller& c) { return DisassociateAddress(tx, c, env_, in); });
  };
  EXPECT_EQ(Code(dis({{"AssociationId", "eipassoc-0000000000000bad"}})),
            "InvalidAssociationID.NotFound");
  EXPECT_TRUE(dis({{"AssociationId", (*assoc)["AssociationId"]}}).ok());
  EXPECT_NE(Get(i).data["public_ip"], Get(a).data["public_ip"]);
  EXPECT_EQ(Code(dis({{"PublicIp", Get(a).data["public_ip"]}})), "InvalidAssociationID.NotFound");
}

TEST_F(AddressTest, LaunchNetworkChoices) {
  std::string vpc = VpcId("10.8.0.0/16");
  std::string subnet = SubnetId(vpc, "10.8.1.0/24");
  // A created subnet does not map public addresses; the primary interface can ask for one.
  std::string plain = LaunchOne({{"SubnetId", subnet}});
  EXPECT_EQ(Get(plain).data["public_ip"], "");
  std::string asked = LaunchOne(
      {{"NetworkInterfaces",
        {{{"DeviceIndex", 0}, {"SubnetId", subnet}, {"AssociatePublicIpAddress", true}}}}});
  EXPECT_NE(Get(asked).data["public_ip"], "");
  EXPECT_EQ(Get(asked).data["subnet_id"], subnet);
  // And a default subnet's can be refused.
  std::string none = LaunchOne(
      {{"NetworkInterfaces", {{{"DeviceIndex", 0}, {"AssociatePublicIpAddress", false}}}}});
  EXPECT_EQ(Get(none).data["public_ip"], "");

  EXPECT_EQ(Code(Launch({{"SubnetId", subnet},
                         {"NetworkInterfaces", {{{"DeviceIndex", 0}, {"SubnetId", subnet}}}}})),
            "InvalidParameterCombination");
  EXPECT_EQ(Code(Launch({{"SubnetId", subnet}, {"SecurityGroups", {"default"}}})),
            "InvalidParameterCombination");
  std::string fixed = LaunchOne({{"SubnetId", subnet}, {"PrivateIpAddress", "10.8.1.77"}});
  EXPECT_EQ(Get(fixed).data["private_ip"], "10.8.1.77");
  EXPECT_EQ(Code(Launch({{"SubnetId", subnet}, {"PrivateIpAddress", "10.8.1.77"}})),
            "InvalidIPAddress.InUse");
  EXPECT_EQ(Code(Launch({{"SubnetId", subnet}, {"PrivateIpAddress", "10.8.1.2"}})),
            "InvalidParameterValue");
  EXPECT_EQ(
      Code(Launch({{"SubnetId", subnet}, {"PrivateIpAddress", "10.8.1.78"}, {"MaxCount", 2}})),
      "InvalidParameterCombination");
}

TEST_F(AddressTest, NetworkInterfacesLifecycle) {
  std::string vpc = VpcId("10.9.0.0/16");
  std::string subnet = SubnetId(vpc, "10.9.1.0/24");
  auto create = [&](const json& in) {
    return Call(
        [&](store::Tx& tx, const Caller& c) { return CreateNetworkInterface(tx, c, ids_, in); });
  };
  EXPECT_EQ(Code(create(json::object())), "MissingParameter");
  auto made = create({{"SubnetId", subnet}, {"Description", "second"}});
  ASSERT_TRUE(made.ok()) << made.status();
  const json& eni = (*made)["NetworkInterface"];
  std::string eni_id = eni["NetworkInterfaceId"];
  EXPECT_EQ(eni["Status"], "available");
  EXPECT_EQ(eni["PrivateIpAddress"], "10.9.1.4");
  EXPECT_EQ(eni["Groups"].size(), 1u);
  // Its address is taken: an instance launched into the subnet gets the next one.
  std::string inst = LaunchOne({{"SubnetId", subnet}});
  EXPECT_EQ(Get(inst).data["private_ip"], "10.9.1.5");
  EXPECT_EQ(Subnet(subnet)["AvailableIpAddressCount"], 256 - 5 - 2);

  auto attach = [&](const json& in) {
    return Call(
        [&](store::Tx& tx, const Caller& c) { return AttachNetworkInterface(tx, c, ids_, in); });
  };
  // The instance is pending: not yet.
  EXPECT_EQ(
      Code(attach({{"NetworkInterfaceId", eni_id}, {"InstanceId", inst}, {"DeviceIndex", 1}})),
      "IncorrectInstanceState");
  store::Resource running = Get(inst);
  running.data["state"] = "running";
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return tx.UpdateResource(running); }).ok());
  EXPECT_EQ(
      Code(attach({{"NetworkInterfaceId", eni_id}, {"InstanceId", inst}, {"DeviceIndex", 0}})),
      "InvalidParameterValue");
  EXPECT_EQ(Code(attach({{"NetworkInterfaceId", PrimaryInterfaceId(inst)},
                         {"InstanceId", inst},
                         {"DeviceIndex", 1}})),
            "InvalidNetworkInterface.InUse");
  auto attached =
      attach({{"NetworkInterfaceId", eni_id}, {"InstanceId", inst}, {"DeviceIndex", 1}});
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(
      Code(attach({{"NetworkInterfaceId", eni_id}, {"InstanceId", inst}, {"DeviceIndex", 2}})),
      "InvalidNetworkInterface.InUse");
  EXPECT_EQ(Code(Call([&](store::Tx& tx, const Caller& c) {
              return DeleteNetworkInterface(tx, c, {{"NetworkInterfaceId", eni_id}});
            })),
            "InvalidNetworkInterface.InUse");
  auto listed = Read([&](store::Tx& tx) {
    return DescribeNetworkInterfaces(
        tx, alice_, {{"Filters", {{{"Name", "attachment.instance-id"}, {"Values", {inst}}}}}});
  });
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ((*listed)["NetworkInterfaces"].size(), 2u);  // primary and the attached one
  auto detach = [&](const json& in) {
    return Call([&](store::Tx& tx, const Caller& c) { return DetachNetworkInterface(tx, c, in); });
  };
  EXPECT_EQ(Code(detach({{"AttachmentId", "eni-attach-" + inst.substr(2)}})),
            "OperationNotPermitted");
  EXPECT_TRUE(detach({{"AttachmentId", (*attached)["AttachmentId"]}}).ok());
  EXPECT_EQ(Code(detach({{"AttachmentId", (*attached)["AttachmentId"]}})),
            "InvalidAttachmentID.NotFound");
  // Terminating detaches (or deletes, with DeleteOnTermination).
  ASSERT_TRUE(
      attach({{"NetworkInterfaceId", eni_id}, {"InstanceId", inst}, {"DeviceIndex", 1}}).ok());
  store::Resource gone = Get(inst);
  ASSERT_TRUE(
      store_->Write([&](store::Tx& tx) { return ReleaseInstanceInterfaces(tx, gone, 0); }).ok());
  EXPECT_TRUE(Get(eni_id).data["attachment"].is_null());
  EXPECT_TRUE(Call([&](store::Tx& tx, const Caller& c) {
                return DeleteNetworkInterface(tx, c, {{"NetworkInterfaceId", eni_id}});
              }).ok());
  EXPECT_EQ(Code(Call([&](store::Tx& tx, const Caller& c) {
              return DeleteNetworkInterface(tx, c, {{"NetworkInterfaceId", eni_id}});
            })),
            "InvalidNetworkInterfaceID.NotFound");
}

TEST_F(AddressTest, SecondaryPrivateAddresses) {
  std::string vpc = VpcId("10.7.0.0/16");
  std::string subnet = SubnetId(vpc, "10.7.1.0/28");  // 11 usable addresses
  std::string inst = LaunchOne({{"SubnetId", subnet}});
  EXPECT_EQ(Get(inst).data["private_ip"], "10.7.1.4");
  std::string eni = PrimaryInterfaceId(inst);
  auto assign = [&](const json& in) {
    json req = in;
    req["NetworkInterfaceId"] = eni;
    return Call(
        [&](store::Tx& tx, const Caller& c) { return AssignPrivateIpAddresses(tx, c, req); });
  };
  EXPECT_EQ(Code(assign(json::object())), "InvalidParameterCombination");
  auto two = assign({{"SecondaryPrivateIpAddressCount", 2}});
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ((*two)["AssignedPrivateIpAddresses"][1]["PrivateIpAddress"], "10.7.1.6");
  EXPECT_EQ(Code(assign({{"PrivateIpAddresses", {"10.7.1.5"}}})), "InvalidIPAddress.InUse");
  EXPECT_TRUE(assign({{"PrivateIpAddresses", {"10.7.1.9"}}}).ok());
  EXPECT_EQ(Code(assign({{"SecondaryPrivateIpAddressCount", 7}})), "PrivateIpAddressLimitExceeded");
  // They count against the subnet and are skipped by the next launch.
  EXPECT_EQ(Subnet(subnet)["AvailableIpAddressCount"], 11 - 4);
  EXPECT_EQ(Get(LaunchOne({{"SubnetId", subnet}})).data["private_ip"], "10.7.1.7");
  auto unassign = [&](const json& ips) {
    return Call([&](store::Tx& tx, const Caller& c) {
      return UnassignPrivateIpAddresses(tx, c,
                                        {{"NetworkInterfaceId", eni}, {"PrivateIpAddresses", ips}});
    });
  };
  EXPECT_EQ(Code(unassign({"10.7.1.8"})), "InvalidParameterValue");
  EXPECT_TRUE(unassign({"10.7.1.5", "10.7.1.9"}).ok());
  EXPECT_EQ(Get(inst).data["secondary_ips"], json::array({"10.7.1.6"}));
}

TEST_F(AddressTest, ElasticIpsOnSecondaryAddressesAndInterfaces) {
  std::string vpc = VpcId("10.6.0.0/16");
  std::string subnet = SubnetId(vpc, "10.6.1.0/24");
  std::string inst = LaunchOne({{"SubnetId", subnet}});
  std::string primary = PrimaryInterfaceId(inst);
  auto assigned = Call([&](store::Tx& tx, const Caller& c) {
    return AssignPrivateIpAddresses(
        tx, c, {{"NetworkInterfaceId", primary}, {"SecondaryPrivateIpAddressCount", 1}});
  });
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  std::string sec = (*assigned)["AssignedPrivateIpAddresses"][0]["PrivateIpAddress"];
  std::string a = Allocate(), b = Allocate();
  EXPECT_EQ(Code(Associate(
                {{"AllocationId", a}, {"InstanceId", inst}, {"PrivateIpAddress", "10.6.1.99"}})),
            "InvalidParameterValue");
  // On the secondary address: the instance keeps its own public address.
  std::string own = Get(inst).data.value("public_ip", "");
  ASSERT_TRUE(
      Associate({{"AllocationId", a}, {"NetworkInterfaceId", primary}, {"PrivateIpAddress", sec}})
          .ok());
  EXPECT_EQ(Get(inst).data.value("public_ip", ""), own);
  EXPECT_EQ(Get(a).data["instance_id"], inst);
  EXPECT_EQ(Get(a).data["private_ip"], sec);

  // On a created interface, unattached: it follows the interface to an instance and back.
  auto made = Call([&](store::Tx& tx, const Caller& c) {
    return CreateNetworkInterface(tx, c, ids_, {{"SubnetId", subnet}});
  });
  ASSERT_TRUE(made.ok()) << made.status();
  std::string eni = (*made)["NetworkInterface"]["NetworkInterfaceId"];
  ASSERT_TRUE(Associate({{"AllocationId", b}, {"NetworkInterfaceId", eni}}).ok());
  EXPECT_EQ(Get(b).data["instance_id"], "");
  EXPECT_EQ(Get(b).data["private_ip"], Get(eni).data["private_ip"]);
  EXPECT_EQ(
      Code(Associate({{"AllocationId", a}, {"NetworkInterfaceId", eni}, {"InstanceId", inst}})),
      "InvalidParameterCombination");  // not attached to it
  store::Resource running = Get(inst);
  running.data["state"] = "running";
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return tx.UpdateResource(running); }).ok());
  auto attached = Call([&](store::Tx& tx, const Caller& c) {
    return AttachNetworkInterface(
        tx, c, ids_, {{"NetworkInterfaceId", eni}, {"InstanceId", inst}, {"DeviceIndex", 1}});
  });
  ASSERT_TRUE(attached.ok()) << attached.status();
  EXPECT_EQ(Get(b).data["instance_id"], inst);
  std::string b_ip = Get(b).data["public_ip"];
  auto described = Read([&](store::Tx& tx) {
    return DescribeNetworkInterfaces(
        tx, alice_, {{"Filters", {{{"Name", "association.public-ip"}, {"Values", {b_ip}}}}}});
  });
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ((*described)["NetworkInterfaces"].size(), 1u);
  EXPECT_EQ((*described)["NetworkInterfaces"][0]["Association"]["AllocationId"], b);
  auto both = Read([&](store::Tx& tx) {
    return DescribeNetworkInterfaces(tx, alice_, {{"NetworkInterfaceIds", {primary}}});
  });
  ASSERT_TRUE(both.ok());
  EXPECT_EQ((*both)["NetworkInterfaces"][0]["PrivateIpAddresses"][1]["Association"]["AllocationId"],
            a);
  ASSERT_TRUE(
      Call([&](store::Tx& tx, const Caller& c) {
        return DetachNetworkInterface(tx, c, {{"AttachmentId", (*attached)["AttachmentId"]}});
      }).ok());
  EXPECT_EQ(Get(b).data["instance_id"], "");
  EXPECT_FALSE(Get(b).data["association_id"].get<std::string>().empty());
  // Unassigning the secondary address and deleting the interface make their addresses idle.
  ASSERT_TRUE(Call([&](store::Tx& tx, const Caller& c) {
                return UnassignPrivateIpAddresses(
                    tx, c, {{"NetworkInterfaceId", primary}, {"PrivateIpAddresses", {sec}}});
              }).ok());
  EXPECT_EQ(Get(a).data["association_id"], "");
  ASSERT_TRUE(Call([&](store::Tx& tx, const Caller& c) {
                return DeleteNetworkInterface(tx, c, {{"NetworkInterfaceId", eni}});
              }).ok());
  EXPECT_EQ(Get(b).data["association_id"], "");
  EXPECT_EQ(MeterKinds(b), (std::vector<std::string>{"address-allocated", "address-associated",
                                                     "address-disassociated"}));
}

}  // namespace
}  // namespace kumo::services
