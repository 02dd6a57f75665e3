// The default network and security-group rules against the in-memory store.
#include <gtest/gtest.h>

#include "common/errors.h"
#include "services/instance_types.h"
#include "services/security_groups.h"
#include "services/tx_test_util.h"
#include "services/vpcs.h"
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

using nlohmann::json;

class NetworkTest : public ::testing::Test {
 protected:
  NetworkTest() : regions_({"eu-west-1", "us-east-1"}, "127.0.0.1:8787") {}
  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    network_ = std::make_unique<DefaultNetwork>(*store_, regions_, ids_);
    alice_ =
        Caller{"111111111111", "eu-west-1", "req", TimePoint(std::chrono::seconds(1700000000))};
    ASSERT_TRUE(network_->Ensure(alice_).ok());
  }
  using TxFn = std::function<absl::StatusOr<json>(store::Tx&)>;
  absl::StatusOr<json> Run(bool write, const TxFn& fn) { return RunTx(*store_, write, fn); }
  absl::StatusOr<json> Read(const TxFn& fn) { return Run(false, fn); }
  absl::StatusOr<json> Write(const TxFn& fn) { return Run(true, fn); }
  std::string CreateGroup(const std::string& name) {
    auto r = Write([&](store::Tx& tx) {
      return CreateSecurityGroup(tx, alice_, ids_, {{"GroupName", name}, {"Description", "d"}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["GroupId"].get<std::string>() : "";
  }

  Regions regions_;
  SequentialIdGenerator ids_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<DefaultNetwork> network_;
  Caller alice_;
};

TEST_F(NetworkTest, DefaultVpcSubnetsAndGroupExistOnce) {
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) {
                    return CreateDefaultNetwork(tx, alice_, regions_,
                                                ids_);  // again: no duplicates
                  })
                  .ok());
  auto vpcs = Read([&](store::Tx& tx) { return DescribeVpcs(tx, alice_, json::object()); });
  ASSERT_TRUE(vpcs.ok()) << vpcs.status();
  ASSERT_EQ((*vpcs)["Vpcs"].size(), 1u);
  EXPECT_EQ((*vpcs)["Vpcs"][0]["CidrBlock"], "172.31.0.0/16");
  EXPECT_EQ((*vpcs)["Vpcs"][0]["IsDefault"], true);
  auto subnets = Read([&](store::Tx& tx) {
    return DescribeSubnets(
        tx, alice_, {{"Filters", {{{"Name", "availability-zone"}, {"Values", {"eu-west-1b"}}}}}});
  });
  ASSERT_TRUE(subnets.ok());
  ASSERT_EQ((*subnets)["Subnets"].size(), 1u);
  EXPECT_EQ((*subnets)["Subnets"][0]["CidrBlock"], "172.31.16.0/20");
  auto groups = Read([&](store::Tx& tx) {
    return DescribeSecurityGroups(tx, alice_, {{"GroupNames", {"default"}}});
  });
  ASSERT_TRUE(groups.ok()) << groups.status();
  const json& g = (*groups)["SecurityGroups"][0];
  EXPECT_EQ(g["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"], g["GroupId"]);
  EXPECT_EQ(g["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"], "0.0.0.0/0");
}

TEST_F(NetworkTest, RulesAuthorizeRevokeAndDuplicates) {
  std::string id = CreateGroup("ssh");
  json flat = {{"GroupName", "ssh"},
               {"IpProtocol", "tcp"},
               {"FromPort", 22},
               {"ToPort", 22},
               {"CidrIp", "0.0.0.0/0"}};
  auto added = Write(
      [&](store::Tx& tx) { return AuthorizeSecurityGroupRules(tx, alice_, ids_, flat, false); });
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ((*added)["SecurityGroupRules"][0]["FromPort"], 22);
  auto dup = Write(
      [&](store::Tx& tx) { return AuthorizeSecurityGroupRules(tx, alice_, ids_, flat, false); });
  EXPECT_EQ(Ec2CodeOf(dup.status()), "InvalidPermission.Duplicate");
  json bad = {{"GroupId", id},
              {"IpProtocol", "tcp"},
              {"FromPort", 22},
              {"ToPort", 22},
              {"CidrIp", "300.0.0.0/8"}};
  EXPECT_EQ(Ec2CodeOf(Write([&](store::Tx& tx) {
                        return AuthorizeSecurityGroupRules(tx, alice_, ids_, bad, false);
                      }).status()),
            "InvalidParameterValue");
  json no_ports = {{"GroupId", id}, {"IpProtocol", "udp"}, {"CidrIp", "10.0.0.0/8"}};
  EXPECT_FALSE(Write([&](store::Tx& tx) {
                 return AuthorizeSecurityGroupRules(tx, alice_, ids_, no_ports, false);
               }).ok());
  auto revoked =
      Write([&](store::Tx& tx) { return RevokeSecurityGroupRules(tx, alice_, flat, false); });
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(Ec2CodeOf(Write([&](store::Tx& tx) {
                        return RevokeSecurityGroupRules(tx, alice_, flat, false);
                      }).status()),
            "InvalidPermission.NotFound");
}

TEST_F(NetworkTest, DeleteRules) {
  std::string web = CreateGroup("web");
  std::string app = CreateGroup("app");
  json from_web = {{"GroupId", app},
                   {"IpPermissions",
                    {{{"IpProtocol", "tcp"},
                      {"FromPort", 8080},
                      {"ToPort", 8080},
                      {"UserIdGroupPairs", {{{"GroupId", web}}}}}}}};
  ASSERT_TRUE(Write([&](store::Tx& tx) {
                return AuthorizeSecurityGroupRules(tx, alice_, ids_, from_web, false);
              }).ok());
  EXPECT_EQ(Ec2CodeOf(Write([&](store::Tx& tx) {
                        return DeleteSecurityGroup(tx, alice_, {{"GroupId", web}});
                      }).status()),
            "DependencyViolation");
  EXPECT_EQ(Ec2CodeOf(Write([&](store::Tx& tx) {
                        return DeleteSecurityGroup(tx, alice_, {{"GroupName", "default"}});
                      }).status()),
            "CannotDelete");
  EXPECT_TRUE(Write([&](store::Tx& tx) {
                return DeleteSecurityGroup(tx, alice_, {{"GroupId", app}});
              }).ok());
  EXPECT_TRUE(Write([&](store::Tx& tx) {
                return DeleteSecurityGroup(tx, alice_, {{"GroupName", "web"}});
              }).ok());
}

TEST_F(NetworkTest, ModifyRulesById) {
  std::string web = CreateGroup("web");
  std::string db = CreateGroup("db");
  auto authorize = [&](json perms) {
    return Write([&](store::Tx& tx) {
      return AuthorizeSecurityGroupRules(tx, alice_, ids_,
                                         {{"GroupId", web}, {"IpPermissions", perms}}, false);
    });
  };
  auto first = authorize(json::parse(
      R"([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])"));
  ASSERT_TRUE(first.ok()) << first.status();
  std::string ssh = (*first)["SecurityGroupRules"][0]["SecurityGroupRuleId"];
  ASSERT_TRUE(authorize(json::parse(R"([{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])"))
                  .ok());
  auto modify = [&](json update) {
    return Write([&](store::Tx& tx) {
      return ModifySecurityGroupRules(tx, alice_,
                                      {{"GroupId", web}, {"SecurityGroupRules", {update}}});
    });
  };
  // To a source group, same id.
  ASSERT_TRUE(modify({{"SecurityGroupRuleId", ssh},
                      {"SecurityGroupRule",
                       {{"IpProtocol", "tcp"},
                        {"FromPort", 22},
                        {"ToPort", 22},
                        {"ReferencedGroupId", db},
                        {"Description", "from db"}}}})
                  .ok());
  auto rules = Read([&](store::Tx& tx) {
    return DescribeSecurityGroupRules(tx, alice_, {{"SecurityGroupRuleIds", {ssh}}});
  });
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)["SecurityGroupRules"][0]["ReferencedGroupInfo"]["GroupId"], db);
  EXPECT_EQ((*rules)["SecurityGroupRules"][0]["Description"], "from db");
  // Into a copy of another rule: duplicate. Unknown id, both peers, bad ports: EC2's errors.
  EXPECT_EQ(Ec2CodeOf(modify({{"SecurityGroupRuleId", ssh},
                              {"SecurityGroupRule",
                               {{"IpProtocol", "tcp"},
                                {"FromPort", 80},
                                {"ToPort", 80},
                                {"CidrIpv4", "0.0.0.0/0"}}}})
                          .status()),
            "InvalidPermission.Duplicate");
  EXPECT_EQ(
      Ec2CodeOf(modify({{"SecurityGroupRuleId", "sgr-00000000000000000"},
                        {"SecurityGroupRule", {{"IpProtocol", "-1"}, {"CidrIpv4", "1.2.3.4/32"}}}})
                    .status()),
      "InvalidSecurityGroupRuleId.NotFound");
  EXPECT_EQ(
      Ec2CodeOf(
          modify({{"SecurityGroupRuleId", ssh},
                  {"SecurityGroupRule",
                   {{"IpProtocol", "-1"}, {"CidrIpv4", "1.2.3.4/32"}, {"ReferencedGroupId", db}}}})
              .status()),
      "InvalidPermission.Malformed");
  EXPECT_EQ(Ec2CodeOf(modify({{"SecurityGroupRuleId", ssh},
                              {"SecurityGroupRule",
                               {{"IpProtocol", "tcp"},
                                {"FromPort", 90},
                                {"ToPort", 80},
                                {"CidrIpv4", "1.2.3.4/32"}}}})
                          .status()),
            "InvalidParameterValue");
}

TEST_F(NetworkTest, RuleLimit) {
  std::string id = CreateGroup("many");
  json perms = json::array();
  for (int i = 0; i < 61; ++i) {
    perms.push_back({{"IpProtocol", "tcp"},
                     {"FromPort", 1000 + i},
                     {"ToPort", 1000 + i},
                     {"IpRanges", {{{"CidrIp", "10.0.0.0/8"}}}}});
  }
  EXPECT_EQ(Ec2CodeOf(Write([&](store::Tx& tx) {
                        return AuthorizeSecurityGroupRules(
                            tx, alice_, ids_, {{"GroupId", id}, {"IpPermissions", perms}}, false);
                      }).status()),
            "RulesPerSecurityGroupLimitExceeded");
}

TEST(InstanceTypeCatalogTest, EmbeddedCatalogLoadsAndDescribes) {
  auto c = InstanceTypeCatalog::FromJson(InstanceTypeCatalog::EmbeddedJson());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->default_type(), "m1.small");
  const InstanceType* p2 = (*c)->Find("p2.xlarge");
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ(p2->gpu_count, 1);
  EXPECT_DOUBLE_EQ((*c)->PricePerHour(*p2, "us-east-1"), (*c)->PricePerHour(*p2, "eu-west-1"));
  auto free = (*c)->DescribeInstanceTypes(
      {{"Filters", {{{"Name", "free-tier-eligible"}, {"Values", {"true"}}}}}});
  ASSERT_TRUE(free.ok());
  std::set<std::string> names;
  for (const auto& t : (*free)["InstanceTypes"]) names.insert(t["InstanceType"]);
  EXPECT_EQ(names, (std::set<std::string>{"t1.micro", "t2.micro"}));
  EXPECT_FALSE((*c)->DescribeInstanceTypes({{"InstanceTypes", {"x9.huge"}}}).ok());
  EXPECT_FALSE(InstanceTypeCatalog::FromJson(R"({"types":[{"name":"a"}]})").ok());
}

}  // namespace
}  // namespace kumo::services
