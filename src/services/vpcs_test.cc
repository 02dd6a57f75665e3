// VPCs and subnets beyond the default network, and launching into them, against the in-memory
// store.
#include "services/vpcs.h"

#include <gtest/gtest.h>

#include "services/vpc_test_fixture.h"

namespace kumo::services {
namespace {

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

}  // namespace
}  // namespace kumo::services
