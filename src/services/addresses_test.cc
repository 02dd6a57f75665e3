// Elastic IPs, network interfaces and routes to them, against the in-memory store.
#include "services/addresses.h"

#include <gtest/gtest.h>

#include "services/vpc_test_fixture.h"

namespace kumo::services {
namespace {

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
  // With two interfaces the instance id names none of them.
  EXPECT_EQ(
      Code(Associate({{"AllocationId", a}, {"InstanceId", inst}, {"AllowReassociation", true}})),
      "InvalidInstanceID");
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
  // On an interface attached to nothing, it is disassociated like any other.
  ASSERT_TRUE(Call([&](store::Tx& tx, const Caller& c) {
                return DisassociateAddress(tx, c, env_, {{"PublicIp", b_ip}});
              }).ok());
  EXPECT_EQ(Get(b).data["association_id"], "");
  ASSERT_TRUE(Associate({{"AllocationId", b}, {"NetworkInterfaceId", eni}}).ok());
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
                                                     "address-disassociated", "address-associated",
                                                     "address-disassociated"}));
}

TEST_F(AddressTest, RoutesToInstancesAndInterfacesAndSourceDestCheck) {
  std::string vpc = VpcId("10.5.0.0/16");
  std::string subnet = SubnetId(vpc, "10.5.1.0/24");
  std::string nat = LaunchOne({{"SubnetId", subnet}});
  std::string other = LaunchOne();  // in the default VPC
  auto table = Call([&](store::Tx& tx, const Caller& c) {
    return CreateRouteTable(tx, c, ids_, {{"VpcId", vpc}});
  });
  ASSERT_TRUE(table.ok()) << table.status();
  std::string rtb = (*table)["RouteTable"]["RouteTableId"];
  ASSERT_TRUE(
      Call([&](store::Tx& tx, const Caller& c) {
        return AssociateRouteTable(tx, c, ids_, {{"RouteTableId", rtb}, {"SubnetId", subnet}});
      }).ok());
  auto route = [&](const json& target) {
    json in = target;
    in["RouteTableId"] = rtb;
    return Code(Call([&](store::Tx& tx, const Caller& c) { return CreateRoute(tx, c, in); }));
  };
  EXPECT_EQ(route({{"DestinationCidrBlock", "0.0.0.0/0"}, {"InstanceId", other}}),
            "InvalidParameterValue");  // another VPC's
  EXPECT_EQ(route({{"DestinationCidrBlock", "0.0.0.0/0"}, {"NetworkInterfaceId", "eni-0123"}}),
            "InvalidNetworkInterfaceID.NotFound");
  EXPECT_EQ(route({{"DestinationCidrBlock", "0.0.0.0/0"}, {"InstanceId", nat}}), "");
  auto shown = [&]() {
    auto r = Read([&](store::Tx& tx) {
      return DescribeRouteTables(tx, alice_, {{"RouteTableIds", {rtb}}});
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)["RouteTables"][0]["Routes"][1] : json();
  };
  EXPECT_EQ(shown()["InstanceId"], nat);
  EXPECT_EQ(shown()["NetworkInterfaceId"], PrimaryInterfaceId(nat));
  EXPECT_EQ(shown()["State"], "blackhole");  // pending: not running yet
  store::Resource running = Get(nat);
  running.data["state"] = "running";
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) { return tx.UpdateResource(running); }).ok());
  EXPECT_EQ(shown()["State"], "active");
  std::vector<store::Resource> subnets, tables;
  ASSERT_TRUE(store_
                  ->Read([&](store::Tx& tx) -> absl::Status {
                    ASSIGN_OR_RETURN(subnets, tx.ListAllResources(kSubnetType));
                    ASSIGN_OR_RETURN(tables, tx.ListAllResources(kRouteTableType));
                    return absl::OkStatus();
                  })
                  .ok());
  // The private subnet's (the default VPC's routes to its gateway are not at stake here).
  std::vector<SubnetRoute> routes;
  for (const auto& r : SubnetRoutes(subnets, tables, {})) {
    if (r.subnet_id == subnet) routes.push_back(r);
  }
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].subnet_id, subnet);
  EXPECT_EQ(routes[0].destination, "0.0.0.0/0");
  EXPECT_EQ(routes[0].interface_id, PrimaryInterfaceId(nat));

  // With a second interface, the instance id no longer names one: the interface's id does.
  auto made = Call([&](store::Tx& tx, const Caller& c) {
    return CreateNetworkInterface(tx, c, ids_, {{"SubnetId", subnet}});
  });
  ASSERT_TRUE(made.ok());
  std::string eni = (*made)["NetworkInterface"]["NetworkInterfaceId"];
  ASSERT_TRUE(Call([&](store::Tx& tx, const Caller& c) {
                return AttachNetworkInterface(
                    tx, c, ids_,
                    {{"NetworkInterfaceId", eni}, {"InstanceId", nat}, {"DeviceIndex", 1}});
              }).ok());
  EXPECT_EQ(route({{"DestinationCidrBlock", "10.99.0.0/16"}, {"InstanceId", nat}}),
            "InvalidInstanceID");
  EXPECT_EQ(route({{"DestinationCidrBlock", "10.99.0.0/16"}, {"NetworkInterfaceId", eni}}), "");
  // Inside the VPC: one of its subnets exactly (through an appliance), never for a gateway.
  EXPECT_EQ(route({{"DestinationCidrBlock", "10.5.1.128/25"}, {"NetworkInterfaceId", eni}}),
            "InvalidParameterValue");
  EXPECT_EQ(route({{"DestinationCidrBlock", "10.5.1.0/24"}, {"NetworkInterfaceId", eni}}), "");

  // The source/destination check, on the instance (its primary interface) and on the interface.
  auto modify = [&](const std::string& id, bool on) {
    return Code(Call([&](store::Tx& tx, const Caller& c) {
      return ModifyNetworkInterfaceAttribute(
          tx, c, env_, {{"NetworkInterfaceId", id}, {"SourceDestCheck", {{"Value", on}}}});
    }));
  };
  EXPECT_EQ(modify(PrimaryInterfaceId(nat), false), "");
  EXPECT_EQ(modify(eni, false), "");
  EXPECT_FALSE(Get(nat).data.value("source_dest_check", true));
  EXPECT_FALSE(Get(eni).data.value("source_dest_check", true));
  auto attr = Read([&](store::Tx& tx) {
    return DescribeInstanceAttribute(tx, alice_,
                                     {{"InstanceId", nat}, {"Attribute", "sourceDestCheck"}});
  });
  ASSERT_TRUE(attr.ok()) << attr.status();
  EXPECT_EQ((*attr)["SourceDestCheck"]["Value"], false);
  EXPECT_TRUE(Call([&](store::Tx& tx, const Caller& c) {
                return ModifyInstanceAttribute(
                    tx, c, env_, {{"InstanceId", nat}, {"SourceDestCheck", {{"Value", true}}}});
              }).ok());
  EXPECT_TRUE(Get(nat).data.value("source_dest_check", false));
}

}  // namespace
}  // namespace kumo::services