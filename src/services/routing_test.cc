// Internet gateways, route tables and which subnets are routed to the internet, against the
// in-memory store.
#include "services/routing.h"

#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "services/tags.h"
#include "services/tx_test_util.h"
#include "services/vpcs.h"
#include "store/sqlite_store.h"

namespace kumo::services {
namespace {

using nlohmann::json;

class RoutingTest : public ::testing::Test {
 protected:
  RoutingTest() : regions_({"eu-west-1"}, "127.0.0.1:8787") {}
  void SetUp() override {
    store_ = std::move(*store::OpenSqliteStore(":memory:"));
    alice_ =
        Caller{"111111111111", "eu-west-1", "req", TimePoint(std::chrono::seconds(1700000000))};
    ASSERT_TRUE(Write([&](store::Tx& tx) -> absl::StatusOr<json> {
                  RETURN_IF_ERROR(CreateDefaultNetwork(tx, alice_, regions_, ids_));
                  return json();
                }).ok());
  }

  using TxFn = std::function<absl::StatusOr<json>(store::Tx&)>;
  absl::StatusOr<json> Run(bool write, const TxFn& fn) { return RunTx(*store_, write, fn); }
  absl::StatusOr<json> Read(const TxFn& fn) { return Run(false, fn); }
  absl::StatusOr<json> Write(const TxFn& fn) { return Run(true, fn); }
  // The EC2 error code of a write ("" when it succeeds).
  std::string Code(const TxFn& fn) { return Ec2CodeOf(Write(fn).status()); }

  std::string VpcId(const std::string& cidr) {
    auto r = Write([&](store::Tx& tx) {
      return CreateVpc(tx, alice_, ids_, {{"CidrBlock", cidr}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["Vpc"]["VpcId"].get<std::string>() : "";
  }
  std::string SubnetId(const std::string& vpc, const std::string& cidr) {
    auto r = Write([&](store::Tx& tx) {
      return CreateSubnet(tx, alice_, regions_, ids_, {{"VpcId", vpc}, {"CidrBlock", cidr}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["Subnet"]["SubnetId"].get<std::string>() : "";
  }
  std::string IgwId(const json& in = json::object()) {
    auto r = Write([&](store::Tx& tx) { return CreateInternetGateway(tx, alice_, ids_, in); });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["InternetGateway"]["InternetGatewayId"].get<std::string>() : "";
  }
  std::string RouteTableId(const std::string& vpc) {
    auto r = Write([&](store::Tx& tx) {
      return CreateRouteTable(tx, alice_, ids_, {{"VpcId", vpc}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["RouteTable"]["RouteTableId"].get<std::string>() : "";
  }
  std::string Attach(const std::string& igw, const std::string& vpc) {
    return Code([&](store::Tx& tx) {
      return AttachInternetGateway(tx, alice_, {{"InternetGatewayId", igw}, {"VpcId", vpc}});
    });
  }
  std::string Detach(const std::string& igw, const std::string& vpc) {
    return Code([&](store::Tx& tx) {
      return DetachInternetGateway(tx, alice_, {{"InternetGatewayId", igw}, {"VpcId", vpc}});
    });
  }
  std::string AddRoute(const std::string& rtb, const json& extra) {
    json in = extra;
    in["RouteTableId"] = rtb;
    return Code([&](store::Tx& tx) { return CreateRoute(tx, alice_, in); });
  }
  std::string DeleteVpcCode(const std::string& vpc) {
    return Code([&](store::Tx& tx) { return DeleteVpc(tx, alice_, ids_, {{"VpcId", vpc}}); });
  }
  std::string Associate(const std::string& rtb, const std::string& subnet,
                        std::string* id = nullptr) {
    auto r = Write([&](store::Tx& tx) {
      return AssociateRouteTable(tx, alice_, ids_, {{"RouteTableId", rtb}, {"SubnetId", subnet}});
    });
    if (r.ok() && id) *id = (*r)["AssociationId"];
    return Ec2CodeOf(r.status());
  }
  json Tables(const json& in) {
    auto r = Read([&](store::Tx& tx) { return DescribeRouteTables(tx, alice_, in); });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["RouteTables"] : json::array();
  }
  json Filter(const std::string& name, const std::string& value) {
    return {{"Filters", {{{"Name", name}, {"Values", {value}}}}}};
  }
  json MainTable(const std::string& vpc) {
    for (const auto& t : Tables(Filter("vpc-id", vpc))) {
      for (const auto& a : t["Associations"]) {
        if (a["Main"] == true) return t;
      }
    }
    ADD_FAILURE() << "no main table for " << vpc;
    return json();
  }
  std::string DefaultVpc() {
    auto r = Read([&](store::Tx& tx) -> absl::StatusOr<json> {
      ASSIGN_OR_RETURN(std::string id, DefaultVpcId(tx, alice_));
      return json(id);
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->get<std::string>() : "";
  }
  // Which of the caller's subnets are routed to the internet, from the rows in the store.
  std::set<std::string> Routed() {
    std::set<std::string> out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(auto subnets, tx.ListAllResources(kSubnetType));
                      ASSIGN_OR_RETURN(auto tables, tx.ListAllResources(kRouteTableType));
                      ASSIGN_OR_RETURN(auto igws, tx.ListAllResources(kInternetGatewayType));
                      out = SubnetsWithInternetRoute(subnets, tables, igws);
                      for (const auto& s : subnets) {
                        ASSIGN_OR_RETURN(bool one, SubnetHasInternetRoute(tx, s));
                        EXPECT_EQ(one, out.count(s.id) > 0) << s.id;
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  }

  Regions regions_;
  SequentialIdGenerator ids_;
  std::unique_ptr<store::Store> store_;
  Caller alice_;
};

TEST_F(RoutingTest, InternetGatewayAttachDetachDelete) {
  std::string vpc = VpcId("10.0.0.0/16");
  std::string other = VpcId("10.1.0.0/16");
  auto r = Write([&](store::Tx& tx) {
    return CreateInternetGateway(tx, alice_, ids_,
                                 {{"TagSpecifications",
                                   {{{"ResourceType", "internet-gateway"},
                                     {"Tags", {{{"Key", "Name"}, {"Value", "gw"}}}}}}}});
  });
  ASSERT_TRUE(r.ok()) << r.status();
  const json& created = (*r)["InternetGateway"];
  std::string igw = created["InternetGatewayId"];
  EXPECT_EQ(ResourceTypeOfId(igw), "internet-gateway");
  EXPECT_EQ(created["Attachments"], json::array());
  EXPECT_EQ(created["OwnerId"], alice_.account_id);
  EXPECT_EQ(created["Tags"][0]["Value"], "gw");
  EXPECT_EQ(Code([&](store::Tx& tx) {
              return CreateInternetGateway(tx, alice_, ids_,
                                           {{"TagSpecifications", {{{"ResourceType", "vpc"}}}}});
            }),
            "InvalidParameterValue");

  EXPECT_EQ(Attach("igw-00000000000000000", vpc), "InvalidInternetGatewayID.NotFound");
  EXPECT_EQ(Attach(igw, "vpc-00000000000000000"), "InvalidVpcID.NotFound");
  EXPECT_EQ(Attach(igw, vpc), "");
  EXPECT_EQ(Attach(igw, vpc), "Resource.AlreadyAssociated");
  EXPECT_EQ(Attach(igw, other), "Resource.AlreadyAssociated");
  std::string second = IgwId();
  EXPECT_EQ(Attach(second, vpc), "Resource.AlreadyAssociated");  // the VPC has one

  auto described = Read([&](store::Tx& tx) {
    return DescribeInternetGateways(tx, alice_, Filter("attachment.vpc-id", vpc));
  });
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ((*described)["InternetGateways"].size(), 1u);
  const json& g = (*described)["InternetGateways"][0];
  EXPECT_EQ(g["InternetGatewayId"], igw);
  EXPECT_EQ(g["Attachments"], json::parse(R"([{"State": "available", "VpcId": ")" + vpc + "\"}]"));
  auto by_tag = Read([&](store::Tx& tx) {
    return DescribeInternetGateways(tx, alice_, Filter("tag:Name", "gw"));
  });
  ASSERT_TRUE(by_tag.ok());
  EXPECT_EQ((*by_tag)["InternetGateways"].size(), 1u);
  EXPECT_EQ(Ec2CodeOf(Read([&](store::Tx& tx) {
                        return DescribeInternetGateways(
                            tx, alice_, {{"InternetGatewayIds", {"igw-00000000000000000"}}});
                      }).status()),
            "InvalidInternetGatewayID.NotFound");

  auto del = [&](const std::string& id) {
    return Code([&](store::Tx& tx) {
      return DeleteInternetGateway(tx, alice_, {{"InternetGatewayId", id}});
    });
  };
  EXPECT_EQ(del(igw), "DependencyViolation");
  EXPECT_EQ(Detach(igw, other), "Gateway.NotAttached");
  EXPECT_EQ(Detach(second, vpc), "Gateway.NotAttached");
  EXPECT_EQ(Detach(igw, "vpc-00000000000000000"), "InvalidVpcID.NotFound");
  EXPECT_EQ(Detach(igw, vpc), "");
  EXPECT_EQ(Detach(igw, vpc), "Gateway.NotAttached");
  EXPECT_EQ(Attach(second, vpc), "");  // the VPC is free again
  EXPECT_EQ(del(igw), "");
  EXPECT_EQ(del(igw), "InvalidInternetGatewayID.NotFound");
}

TEST_F(RoutingTest, MainRouteTableLivesAndDiesWithItsVpc) {
  std::string vpc = VpcId("10.2.0.0/16");
  json main = MainTable(vpc);
  ASSERT_TRUE(main.is_object());
  EXPECT_EQ(ResourceTypeOfId(main["RouteTableId"].get<std::string>()), "route-table");
  EXPECT_EQ(main["VpcId"], vpc);
  EXPECT_EQ(main["Routes"], json::parse(R"([{"DestinationCidrBlock": "10.2.0.0/16",
      "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}])"));
  ASSERT_EQ(main["Associations"].size(), 1u);
  std::string main_assoc = main["Associations"][0]["RouteTableAssociationId"];
  EXPECT_EQ(main_assoc.rfind("rtbassoc-", 0), 0u);
  EXPECT_FALSE(main["Associations"][0].contains("SubnetId"));

  std::string main_id = main["RouteTableId"];
  EXPECT_EQ(Code([&](store::Tx& tx) {
              return DeleteRouteTable(tx, alice_, {{"RouteTableId", main_id}});
            }),
            "DependencyViolation");
  EXPECT_EQ(Code([&](store::Tx& tx) {
              return DisassociateRouteTable(tx, alice_, {{"AssociationId", main_assoc}});
            }),
            "InvalidParameterValue");

  // DependencyViolation while a gateway is attached or another table exists.
  std::string igw = IgwId();
  ASSERT_EQ(Attach(igw, vpc), "");
  std::string extra = RouteTableId(vpc);
  EXPECT_EQ(DeleteVpcCode(vpc), "DependencyViolation");
  ASSERT_EQ(Detach(igw, vpc), "");
  EXPECT_EQ(DeleteVpcCode(vpc), "DependencyViolation");
  ASSERT_EQ(Code([&](store::Tx& tx) {
              return DeleteRouteTable(tx, alice_, {{"RouteTableId", extra}});
            }),
            "");
  EXPECT_EQ(DeleteVpcCode(vpc), "");
  EXPECT_EQ(Ec2CodeOf(Read([&](store::Tx& tx) {
                        return DescribeRouteTables(tx, alice_, {{"RouteTableIds", {main_id}}});
                      }).status()),
            "InvalidRouteTableID.NotFound");
  EXPECT_EQ(Code([&](store::Tx& tx) {
              return CreateRouteTable(tx, alice_, ids_, {{"VpcId", vpc}});
            }),
            "InvalidVpcID.NotFound");
}

TEST_F(RoutingTest, RoutesToInternetGateways) {
  std::string vpc = VpcId("10.3.0.0/16");
  std::string rtb = RouteTableId(vpc);
  std::string igw = IgwId();
  json to_igw = {{"DestinationCidrBlock", "0.0.0.0/0"}, {"GatewayId", igw}};
  EXPECT_EQ(AddRoute("rtb-00000000000000000", to_igw), "InvalidRouteTableID.NotFound");
  EXPECT_EQ(AddRoute(rtb, {{"DestinationCidrBlock", "0.0.0.0/0"},
                           {"GatewayId", "igw-00000000000000000"}}),
            "InvalidGatewayID.NotFound");
  EXPECT_EQ(AddRoute(rtb, to_igw), "InvalidParameterValue");  // not attached to the VPC
  EXPECT_EQ(AddRoute(rtb, {{"DestinationCidrBlock", "0.0.0.0/0"},
                           {"NatGatewayId", "nat-00000000000000000"}}),
            "Unsupported");
  EXPECT_EQ(
      AddRoute(rtb, {{"DestinationCidrBlock", "0.0.0.0/0"}, {"InstanceId", "i-00000000000000000"}}),
      "InvalidInstanceID.NotFound");
  EXPECT_EQ(AddRoute(rtb, {{"DestinationIpv6CidrBlock", "::/0"}, {"GatewayId", igw}}),
            "Unsupported");
  EXPECT_EQ(AddRoute(rtb, {{"GatewayId", igw}}), "MissingParameter");
  EXPECT_EQ(AddRoute(rtb, {{"DestinationCidrBlock", "0.0.0.0/0"}}), "MissingParameter");
  EXPECT_EQ(AddRoute(rtb, {{"DestinationCidrBlock", "bogus"}, {"GatewayId", igw}}),
            "InvalidParameterValue");
  ASSERT_EQ(Attach(igw, vpc), "");
  EXPECT_EQ(AddRoute(rtb, to_igw), "");
  EXPECT_EQ(AddRoute(rtb, to_igw), "RouteAlreadyExists");
  EXPECT_EQ(AddRoute(rtb, {{"DestinationCidrBlock", "10.3.0.0/16"}, {"GatewayId", igw}}),
            "RouteAlreadyExists");  // the local route's destination
  EXPECT_EQ(AddRoute(rtb, {{"DestinationCidrBlock", "10.3.1.0/24"}, {"GatewayId", igw}}),
            "InvalidParameterValue");  // inside the VPC
  EXPECT_EQ(AddRoute(rtb, {{"DestinationCidrBlock", "192.168.0.0/16"}, {"GatewayId", igw}}), "");

  json t = Tables({{"RouteTableIds", {rtb}}})[0];
  ASSERT_EQ(t["Routes"].size(), 3u);
  EXPECT_EQ(t["Routes"][1], json({{"DestinationCidrBlock", "0.0.0.0/0"},
                                  {"GatewayId", igw},
                                  {"Origin", "CreateRoute"},
                                  {"State", "active"}}));
  EXPECT_EQ(Tables(Filter("route.gateway-id", igw)).size(), 1u);
  EXPECT_EQ(Tables(Filter("route.destination-cidr-block", "192.168.0.0/16")).size(), 1u);
  EXPECT_TRUE(Tables(Filter("route.state", "blackhole")).empty());

  // A detached gateway's routes are blackholes.
  ASSERT_EQ(Detach(igw, vpc), "");
  t = Tables({{"RouteTableIds", {rtb}}})[0];
  EXPECT_EQ(t["Routes"][0]["State"], "active");
  EXPECT_EQ(t["Routes"][1]["State"], "blackhole");
  auto blackholes = Tables(Filter("route.state", "blackhole"));
  ASSERT_EQ(blackholes.size(), 1u);
  EXPECT_EQ(blackholes[0]["RouteTableId"], rtb);
  ASSERT_EQ(Attach(igw, vpc), "");
  EXPECT_EQ(Tables({{"RouteTableIds", {rtb}}})[0]["Routes"][1]["State"], "active");

  // ReplaceRoute and DeleteRoute.
  auto replace = [&](const json& in) {
    return Code([&](store::Tx& tx) { return ReplaceRoute(tx, alice_, in); });
  };
  auto remove = [&](const std::string& dest) {
    return Code([&](store::Tx& tx) {
      return DeleteRoute(tx, alice_, {{"RouteTableId", rtb}, {"DestinationCidrBlock", dest}});
    });
  };
  EXPECT_EQ(
      replace(
          {{"RouteTableId", rtb}, {"DestinationCidrBlock", "172.16.0.0/12"}, {"GatewayId", igw}}),
      "InvalidParameterValue");
  EXPECT_EQ(
      replace({{"RouteTableId", rtb}, {"DestinationCidrBlock", "10.3.0.0/16"}, {"GatewayId", igw}}),
      "InvalidParameterValue");
  EXPECT_EQ(replace({{"RouteTableId", rtb},
                     {"DestinationCidrBlock", "0.0.0.0/0"},
                     {"GatewayId", "igw-00000000000000000"}}),
            "InvalidGatewayID.NotFound");
  EXPECT_EQ(
      replace({{"RouteTableId", rtb}, {"DestinationCidrBlock", "0.0.0.0/0"}, {"GatewayId", igw}}),
      "");
  EXPECT_EQ(remove("10.3.0.0/16"), "InvalidParameterValue");
  EXPECT_EQ(remove("172.16.0.0/12"), "InvalidRoute.NotFound");
  EXPECT_EQ(remove("192.168.0.0/16"), "");
  EXPECT_EQ(remove("192.168.0.0/16"), "InvalidRoute.NotFound");
  EXPECT_EQ(Tables({{"RouteTableIds", {rtb}}})[0]["Routes"].size(), 2u);
}

TEST_F(RoutingTest, SubnetAssociations) {
  std::string vpc = VpcId("10.4.0.0/16");
  std::string other_vpc = VpcId("10.5.0.0/16");
  std::string a = SubnetId(vpc, "10.4.0.0/24");
  std::string b = SubnetId(vpc, "10.4.1.0/24");
  std::string foreign = SubnetId(other_vpc, "10.5.0.0/24");
  std::string rtb = RouteTableId(vpc);
  std::string rtb2 = RouteTableId(vpc);
  std::string assoc;
  EXPECT_EQ(Associate("rtb-00000000000000000", a), "InvalidRouteTableID.NotFound");
  EXPECT_EQ(Associate(rtb, "subnet-00000000000000000"), "InvalidSubnetID.NotFound");
  EXPECT_EQ(Associate(rtb, foreign), "InvalidParameterValue");
  EXPECT_EQ(Associate(rtb, a, &assoc), "");
  EXPECT_EQ(assoc.rfind("rtbassoc-", 0), 0u);
  EXPECT_EQ(Associate(rtb, a), "Resource.AlreadyAssociated");
  EXPECT_EQ(Associate(rtb2, a), "Resource.AlreadyAssociated");

  json t = Tables({{"RouteTableIds", {rtb}}})[0];
  ASSERT_EQ(t["Associations"].size(), 1u);
  EXPECT_EQ(t["Associations"][0], json({{"Main", false},
                                        {"RouteTableAssociationId", assoc},
                                        {"RouteTableId", rtb},
                                        {"SubnetId", a},
                                        {"AssociationState", {{"State", "associated"}}}}));
  auto by_subnet = Tables(Filter("association.subnet-id", a));
  ASSERT_EQ(by_subnet.size(), 1u);
  EXPECT_EQ(by_subnet[0]["RouteTableId"], rtb);
  EXPECT_EQ(Tables(Filter("association.route-table-association-id", assoc)).size(), 1u);
  // association.main=false only matches tables with a subnet association.
  auto not_main = Tables({{"Filters",
                           {{{"Name", "association.main"}, {"Values", {"false"}}},
                            {{"Name", "vpc-id"}, {"Values", {vpc}}}}}});
  ASSERT_EQ(not_main.size(), 1u);
  EXPECT_EQ(not_main[0]["RouteTableId"], rtb);
  auto main_of_vpc = Tables({{"Filters",
                              {{{"Name", "association.main"}, {"Values", {"true"}}},
                               {{"Name", "vpc-id"}, {"Values", {vpc}}}}}});
  ASSERT_EQ(main_of_vpc.size(), 1u);

  auto delete_table = [&](const std::string& id) {
    return Code([&](store::Tx& tx) {
      return DeleteRouteTable(tx, alice_, {{"RouteTableId", id}});
    });
  };
  EXPECT_EQ(delete_table(rtb), "DependencyViolation");

  // Moving a subnet's association gives a new id; the old one is gone.
  auto replace = [&](const std::string& association, const std::string& table,
                     std::string* out = nullptr) {
    auto r = Write([&](store::Tx& tx) {
      return ReplaceRouteTableAssociation(
          tx, alice_, ids_, {{"AssociationId", association}, {"RouteTableId", table}});
    });
    if (r.ok() && out) *out = (*r)["NewAssociationId"];
    return Ec2CodeOf(r.status());
  };
  std::string moved;
  EXPECT_EQ(replace("rtbassoc-00000000000000000", rtb2), "InvalidAssociationID.NotFound");
  EXPECT_EQ(replace(assoc, "rtb-00000000000000000"), "InvalidRouteTableID.NotFound");
  EXPECT_EQ(replace(assoc, MainTable(other_vpc)["RouteTableId"]), "InvalidParameterValue");
  EXPECT_EQ(replace(assoc, rtb2, &moved), "");
  EXPECT_NE(moved, assoc);
  EXPECT_EQ(Tables(Filter("association.subnet-id", a))[0]["RouteTableId"], rtb2);
  EXPECT_EQ(delete_table(rtb), "");

  // Disassociating.
  auto disassociate = [&](const std::string& id) {
    return Code([&](store::Tx& tx) {
      return DisassociateRouteTable(tx, alice_, {{"AssociationId", id}});
    });
  };
  EXPECT_EQ(disassociate(assoc), "InvalidAssociationID.NotFound");
  EXPECT_EQ(disassociate(moved), "");
  EXPECT_TRUE(Tables(Filter("association.subnet-id", a)).empty());
  EXPECT_EQ(delete_table(rtb2), "");

  // Replacing the main association makes another table main.
  std::string new_main = RouteTableId(vpc);
  json old_main = MainTable(vpc);
  std::string old_main_id = old_main["RouteTableId"];
  std::string main_assoc;
  EXPECT_EQ(replace(old_main["Associations"][0]["RouteTableAssociationId"], new_main, &main_assoc),
            "");
  json now_main = MainTable(vpc);
  EXPECT_EQ(now_main["RouteTableId"], new_main);
  EXPECT_EQ(now_main["Associations"][0]["RouteTableAssociationId"], main_assoc);
  EXPECT_EQ(delete_table(new_main), "DependencyViolation");
  EXPECT_EQ(delete_table(old_main_id), "");

  // DeleteSubnet takes its explicit association with it.
  std::string rtb3 = RouteTableId(vpc);
  ASSERT_EQ(Associate(rtb3, b), "");
  EXPECT_EQ(delete_table(rtb3), "DependencyViolation");
  ASSERT_EQ(Code([&](store::Tx& tx) { return DeleteSubnet(tx, alice_, {{"SubnetId", b}}); }), "");
  EXPECT_TRUE(Tables({{"RouteTableIds", {rtb3}}})[0]["Associations"].empty());
  EXPECT_EQ(delete_table(rtb3), "");
}

TEST_F(RoutingTest, DefaultVpcHasGatewayAndRoutedMainTable) {
  std::string vpc = DefaultVpc();
  auto igws = Read([&](store::Tx& tx) {
    return DescribeInternetGateways(tx, alice_, Filter("attachment.vpc-id", vpc));
  });
  ASSERT_TRUE(igws.ok()) << igws.status();
  ASSERT_EQ((*igws)["InternetGateways"].size(), 1u);
  std::string igw = (*igws)["InternetGateways"][0]["InternetGatewayId"];
  json main = MainTable(vpc);
  ASSERT_EQ(main["Routes"].size(), 2u);
  EXPECT_EQ(main["Routes"][0]["DestinationCidrBlock"], "172.31.0.0/16");
  EXPECT_EQ(main["Routes"][1], json({{"DestinationCidrBlock", "0.0.0.0/0"},
                                     {"GatewayId", igw},
                                     {"Origin", "CreateRoute"},
                                     {"State", "active"}}));
  // Ensuring the default network again adds nothing.
  ASSERT_TRUE(Write([&](store::Tx& tx) -> absl::StatusOr<json> {
                RETURN_IF_ERROR(CreateDefaultNetwork(tx, alice_, regions_, ids_));
                return json();
              }).ok());
  EXPECT_EQ(Tables(Filter("vpc-id", vpc)).size(), 1u);
  auto all =
      Read([&](store::Tx& tx) { return DescribeInternetGateways(tx, alice_, json::object()); });
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)["InternetGateways"].size(), 1u);
  EXPECT_EQ(Routed().size(), 3u);  // the three default subnets
}

TEST_F(RoutingTest, DefaultVpcFromBeforeRouteTablesGetsThemOnce) {
  // A store as an older kumod wrote it: a default VPC and one created VPC, no gateways or tables.
  Caller bob{"222222222222", "eu-west-1", "req", alice_.now};
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) -> absl::Status {
                    RETURN_IF_ERROR(tx.InsertResource(
                        {"vpc-0000000000000b0b0", bob.account_id, bob.region, "vpc", "default",
                         json{{"cidr", "172.31.0.0/16"}, {"is_default", true}}, 0, 0}));
                    RETURN_IF_ERROR(tx.InsertResource({"subnet-00000000000b0b0", bob.account_id,
                                                       bob.region, "subnet", "default:eu-west-1a",
                                                       json{{"vpc_id", "vpc-0000000000000b0b0"},
                                                            {"cidr", "172.31.0.0/20"},
                                                            {"default_for_az", true}},
                                                       0, 0}));
                    return tx.InsertResource({"vpc-0000000000000b0b1", bob.account_id, bob.region,
                                              "vpc", "", json{{"cidr", "10.9.0.0/16"}}, 0, 0});
                  })
                  .ok());
  // Before the migration, the legacy default VPC counts as routed.
  EXPECT_TRUE(Routed().count("subnet-00000000000b0b0"));
  auto ensure = [&] {
    return store_->Write(
        [&](store::Tx& tx) { return CreateDefaultNetwork(tx, bob, regions_, ids_); });
  };
  ASSERT_TRUE(ensure().ok());
  auto rows = [&](std::string_view type) {
    std::vector<store::Resource> out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(out, tx.ListResources(bob.account_id, bob.region, type));
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  };
  auto igws = rows(kInternetGatewayType);
  ASSERT_EQ(igws.size(), 1u);
  EXPECT_EQ(igws[0].data["vpc_id"], "vpc-0000000000000b0b0");
  auto tables = rows(kRouteTableType);
  ASSERT_EQ(tables.size(), 2u);  // the default VPC's main table and the other VPC's
  for (const auto& t : tables) {
    EXPECT_TRUE(t.data["main"].get<bool>());
    bool is_default = t.data["vpc_id"] == "vpc-0000000000000b0b0";
    EXPECT_EQ(t.data["routes"].size(), is_default ? 2u : 1u);
    if (is_default) {
      EXPECT_EQ(t.data["routes"][1]["gateway_id"], igws[0].id);
    }
  }
  EXPECT_TRUE(Routed().count("subnet-00000000000b0b0"));

  // Idempotent, and what the tenant removes afterwards is not brought back.
  ASSERT_TRUE(ensure().ok());
  EXPECT_EQ(rows(kRouteTableType).size(), 2u);
  ASSERT_TRUE(
      store_
          ->Write([&](store::Tx& tx) -> absl::Status {
            RETURN_IF_ERROR(DetachInternetGateway(tx, bob,
                                                  {{"InternetGatewayId", igws[0].id},
                                                   {"VpcId", "vpc-0000000000000b0b0"}})
                                .status());
            return DeleteInternetGateway(tx, bob, {{"InternetGatewayId", igws[0].id}}).status();
          })
          .ok());
  ASSERT_TRUE(ensure().ok());
  EXPECT_TRUE(rows(kInternetGatewayType).empty());
  EXPECT_FALSE(Routed().count("subnet-00000000000b0b0"));
}

TEST_F(RoutingTest, SubnetsWithInternetRoute) {
  std::string vpc = VpcId("10.6.0.0/16");
  std::string a = SubnetId(vpc, "10.6.0.0/24");
  std::string b = SubnetId(vpc, "10.6.1.0/24");
  std::string c = SubnetId(vpc, "10.6.2.0/24");
  std::string isolated_vpc = VpcId("10.7.0.0/16");
  std::string d = SubnetId(isolated_vpc, "10.7.0.0/24");
  // Nothing of the new VPC is routed: its main table has only the local route.
  auto routed = Routed();
  EXPECT_FALSE(routed.count(a) || routed.count(b) || routed.count(c) || routed.count(d));

  std::string igw = IgwId();
  ASSERT_EQ(Attach(igw, vpc), "");
  EXPECT_FALSE(Routed().count(a));  // attached, but no route yet
  std::string main = MainTable(vpc)["RouteTableId"];
  ASSERT_EQ(AddRoute(main, {{"DestinationCidrBlock", "0.0.0.0/0"}, {"GatewayId", igw}}), "");
  routed = Routed();
  EXPECT_TRUE(routed.count(a) && routed.count(b) && routed.count(c));
  EXPECT_FALSE(routed.count(d));

  // An explicit association overrides the main table: b goes private.
  std::string private_rtb = RouteTableId(vpc);
  ASSERT_EQ(Associate(private_rtb, b), "");
  routed = Routed();
  EXPECT_TRUE(routed.count(a));
  EXPECT_FALSE(routed.count(b));

  // Only 0.0.0.0/0 makes a subnet public.
  ASSERT_EQ(AddRoute(private_rtb, {{"DestinationCidrBlock", "0.0.0.0/1"}, {"GatewayId", igw}}), "");
  EXPECT_FALSE(Routed().count(b));

  // The main table loses its route, a public table takes c.
  std::string public_rtb = RouteTableId(vpc);
  ASSERT_EQ(AddRoute(public_rtb, {{"DestinationCidrBlock", "0.0.0.0/0"}, {"GatewayId", igw}}), "");
  ASSERT_EQ(Associate(public_rtb, c), "");
  ASSERT_EQ(Code([&](store::Tx& tx) {
              return DeleteRoute(tx, alice_,
                                 {{"RouteTableId", main}, {"DestinationCidrBlock", "0.0.0.0/0"}});
            }),
            "");
  routed = Routed();
  EXPECT_FALSE(routed.count(a));
  EXPECT_FALSE(routed.count(b));
  EXPECT_TRUE(routed.count(c));

  // A detached gateway routes nothing (its route is a blackhole).
  ASSERT_EQ(Detach(igw, vpc), "");
  EXPECT_FALSE(Routed().count(c));
  // A gateway attached to another VPC does not route this one's tables either.
  ASSERT_EQ(Attach(igw, isolated_vpc), "");
  routed = Routed();
  EXPECT_FALSE(routed.count(c));
  EXPECT_FALSE(routed.count(d));
  ASSERT_EQ(Detach(igw, isolated_vpc), "");
  ASSERT_EQ(Attach(igw, vpc), "");
  EXPECT_TRUE(Routed().count(c));
}

TEST_F(RoutingTest, SubnetRoutesForTheBridge) {
  std::string vpc = VpcId("10.6.0.0/16");
  std::string a = SubnetId(vpc, "10.6.0.0/24");
  std::string b = SubnetId(vpc, "10.6.1.0/24");
  auto routes = [&](const std::string& subnet) {
    std::vector<std::string> out;
    EXPECT_TRUE(store_
                    ->Read([&](store::Tx& tx) -> absl::Status {
                      ASSIGN_OR_RETURN(auto subnets, tx.ListAllResources(kSubnetType));
                      ASSIGN_OR_RETURN(auto tables, tx.ListAllResources(kRouteTableType));
                      ASSIGN_OR_RETURN(auto igws, tx.ListAllResources(kInternetGatewayType));
                      for (const auto& r : SubnetRoutes(subnets, tables, igws)) {
                        if (r.subnet_id != subnet) continue;
                        out.push_back(r.destination + (r.blackhole ? " blackhole" : ""));
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return out;
  };
  // No route out: everything outside the VPC is dropped, as on EC2.
  EXPECT_EQ(routes(a), std::vector<std::string>{"0.0.0.0/0 blackhole"});
  std::string igw = IgwId();
  ASSERT_EQ(Attach(igw, vpc), "");
  std::string main = MainTable(vpc)["RouteTableId"];
  ASSERT_EQ(AddRoute(main, {{"DestinationCidrBlock", "0.0.0.0/0"}, {"GatewayId", igw}}), "");
  EXPECT_TRUE(routes(a).empty());  // the router alone carries it
  // One gateway route of a subnet's own table: the rest of the world is unreachable.
  std::string own = RouteTableId(vpc);
  ASSERT_EQ(Associate(own, b), "");
  ASSERT_EQ(AddRoute(own, {{"DestinationCidrBlock", "192.0.2.0/24"}, {"GatewayId", igw}}), "");
  EXPECT_EQ(routes(b), (std::vector<std::string>{"192.0.2.0/24", "0.0.0.0/0 blackhole"}));
  // A detached gateway's routes are blackholes.
  ASSERT_EQ(Detach(igw, vpc), "");
  EXPECT_EQ(routes(a), std::vector<std::string>{"0.0.0.0/0 blackhole"});
}

TEST_F(RoutingTest, SubnetsWithInternetRouteOnRowsAlone) {
  auto row = [](std::string id, std::string type, json data) {
    return store::Resource{id, "111111111111", "eu-west-1", type, "", data, 1, 0};
  };
  // Legacy default VPC (no tables at all): routed by its VPC row, or by a default subnet.
  std::vector<store::Resource> subnets = {
      row("subnet-1", "subnet", {{"vpc_id", "vpc-def"}, {"default_for_az", true}}),
      row("subnet-2", "subnet", {{"vpc_id", "vpc-def"}, {"default_for_az", false}}),
      row("subnet-3", "subnet", {{"vpc_id", "vpc-own"}})};
  std::vector<store::Resource> vpcs = {row("vpc-def", "vpc", {{"is_default", true}}),
                                       row("vpc-own", "vpc", {{"is_default", false}})};
  EXPECT_EQ(SubnetsWithInternetRoute(subnets, {}, {}, vpcs),
            (std::set<std::string>{"subnet-1", "subnet-2"}));
  EXPECT_EQ(SubnetsWithInternetRoute(subnets, {}, {}),
            (std::set<std::string>{"subnet-1", "subnet-2"}));
  // Once the default VPC has tables, they decide.
  std::vector<store::Resource> tables = {
      row("rtb-1", "route-table",
          {{"vpc_id", "vpc-def"},
           {"main", true},
           {"routes", {{{"destination", "0.0.0.0/0"}, {"gateway_id", "igw-1"}}}},
           {"associations", {{{"id", "rtbassoc-1"}, {"subnet_id", "subnet-3"}}}}})};
  std::vector<store::Resource> igws = {row("igw-1", "internet-gateway", {{"vpc_id", "vpc-def"}})};
  EXPECT_EQ(SubnetsWithInternetRoute(subnets, tables, igws, vpcs),
            (std::set<std::string>{"subnet-1", "subnet-2"}));  // not subnet-3 of another VPC
  igws[0].data["vpc_id"] = "";
  EXPECT_TRUE(SubnetsWithInternetRoute(subnets, tables, igws, vpcs).empty());
}

TEST_F(RoutingTest, TagsOnGatewaysAndRouteTables) {
  std::string igw = IgwId();
  std::string rtb = RouteTableId(VpcId("10.8.0.0/16"));
  auto tag = [&](const std::string& id) {
    return Code([&](store::Tx& tx) {
      return CreateTags(tx, alice_,
                        {{"Resources", {id}}, {"Tags", {{{"Key", "k"}, {"Value", "v"}}}}});
    });
  };
  EXPECT_EQ(tag(igw), "");
  EXPECT_EQ(tag(rtb), "");
  EXPECT_EQ(tag("igw-00000000000000000"), "InvalidInternetGatewayID.NotFound");
  EXPECT_EQ(tag("rtb-00000000000000000"), "InvalidRouteTableID.NotFound");
  auto tags = Read([&](store::Tx& tx) { return DescribeTags(tx, alice_, Filter("key", "k")); });
  ASSERT_TRUE(tags.ok()) << tags.status();
  ASSERT_EQ((*tags)["Tags"].size(), 2u);
  std::set<std::string> types;
  for (const auto& t : (*tags)["Tags"]) types.insert(t["ResourceType"]);
  EXPECT_EQ(types, (std::set<std::string>{"internet-gateway", "route-table"}));
  EXPECT_EQ(Tables(Filter("tag:k", "v")).size(), 1u);
  EXPECT_EQ(Tables(Filter("tag-key", "k")).size(), 1u);
  EXPECT_EQ(Code([&](store::Tx& tx) {
              return DeleteTags(tx, alice_, {{"Resources", {rtb}}});
            }),
            "");
  EXPECT_TRUE(Tables(Filter("tag-key", "k")).empty());
}

}  // namespace
}  // namespace kumo::services
