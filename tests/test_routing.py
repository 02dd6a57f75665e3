"""Internet gateways and route tables through the EC2 API with boto3 and the aws CLI: the flow
Terraform runs for a public subnet (VPC, gateway, route table, route, association), describe
filters, EC2's error codes, blackhole routes after a detach, the order deletes must take, and
the default VPC's gateway and main route table."""

import kumo_e2e as k

expect_error = k.expect_error


def name_tag(resource_type, value):
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": value}]}]


def tables(ec2, *flt, **kw):
    return ec2.describe_route_tables(Filters=list(flt), **kw)["RouteTables"]


def f(name, *values):
    return {"Name": name, "Values": list(values)}


def main_table(ec2, vpc):
    (t,) = tables(ec2, f("vpc-id", vpc), f("association.main", "true"))
    return t


def test_public_subnet_flow(ec2, account):
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16",
                         TagSpecifications=name_tag("vpc", "lab"))["Vpc"]["VpcId"]
    # CreateVpc made the main table, with the local route only.
    main = main_table(ec2, vpc)
    assert main["Routes"] == [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local",
                               "Origin": "CreateRouteTable", "State": "active"}]
    (main_assoc,) = main["Associations"]
    assert main_assoc["Main"] is True and "SubnetId" not in main_assoc
    assert main_assoc["AssociationState"]["State"] == "associated"

    igw = ec2.create_internet_gateway(
        TagSpecifications=name_tag("internet-gateway", "lab-igw"))["InternetGateway"]
    igw_id = igw["InternetGatewayId"]
    assert igw_id.startswith("igw-") and igw["Attachments"] == []
    assert igw["OwnerId"] == account.account_id
    assert igw["Tags"] == [{"Key": "Name", "Value": "lab-igw"}]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    (got,) = ec2.describe_internet_gateways(
        Filters=[f("attachment.vpc-id", vpc), f("attachment.state", "available")]
    )["InternetGateways"]
    assert got["InternetGatewayId"] == igw_id
    assert got["Attachments"] == [{"State": "available", "VpcId": vpc}]
    got = ec2.describe_internet_gateways(Filters=[f("tag:Name", "lab-igw")])["InternetGateways"]
    assert [g["InternetGatewayId"] for g in got] == [igw_id]

    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24")["Subnet"]["SubnetId"]
    rt = ec2.create_route_table(VpcId=vpc,
                                TagSpecifications=name_tag("route-table", "public"))["RouteTable"]
    rtb = rt["RouteTableId"]
    assert rtb.startswith("rtb-") and rt["VpcId"] == vpc and rt["Associations"] == []
    assert rt["Routes"] == [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local",
                             "Origin": "CreateRouteTable", "State": "active"}]
    assert rt["Tags"] == [{"Key": "Name", "Value": "public"}]
    assert ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                            GatewayId=igw_id)["Return"] is True
    assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=public)
    assert assoc["AssociationId"].startswith("rtbassoc-")
    assert assoc["AssociationState"]["State"] == "associated"

    (t,) = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"]
    assert t["Routes"][1] == {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw_id,
                              "Origin": "CreateRoute", "State": "active"}
    assert t["Associations"] == [{"Main": False, "RouteTableAssociationId": assoc["AssociationId"],
                                  "RouteTableId": rtb, "SubnetId": public,
                                  "AssociationState": {"State": "associated"}}]
    assert t["OwnerId"] == account.account_id
    # Filters.
    assert [x["RouteTableId"] for x in tables(ec2, f("association.subnet-id", public))] == [rtb]
    assert tables(ec2, f("association.subnet-id", private)) == []
    assert [x["RouteTableId"] for x in tables(ec2, f("route.gateway-id", igw_id))] == [rtb]
    assert [x["RouteTableId"] for x in tables(ec2, f("tag:Name", "public"))] == [rtb]
    assert [x["RouteTableId"] for x in tables(
        ec2, f("association.route-table-association-id", assoc["AssociationId"]))] == [rtb]
    assert sorted(x["RouteTableId"] for x in tables(ec2, f("vpc-id", vpc))) == sorted(
        [rtb, main["RouteTableId"]])
    assert [x["RouteTableId"] for x in tables(ec2, f("vpc-id", vpc),
                                              f("route.destination-cidr-block", "0.0.0.0/0"))] == [rtb]
    assert [x["RouteTableId"] for x in tables(ec2, f("vpc-id", vpc),
                                              f("association.main", "false"))] == [rtb]

    # EC2's error codes.
    expect_error("RouteAlreadyExists", ec2.create_route, RouteTableId=rtb,
                 DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    expect_error("InvalidGatewayID.NotFound", ec2.create_route, RouteTableId=rtb,
                 DestinationCidrBlock="192.168.0.0/16", GatewayId="igw-00000000000000000")
    expect_error("Unsupported", ec2.create_route, RouteTableId=rtb,
                 DestinationCidrBlock="192.168.0.0/16", NatGatewayId="nat-00000000000000000")
    expect_error("InvalidRouteTableID.NotFound", ec2.create_route,
                 RouteTableId="rtb-00000000000000000", DestinationCidrBlock="0.0.0.0/0",
                 GatewayId=igw_id)
    expect_error("Resource.AlreadyAssociated", ec2.associate_route_table, RouteTableId=rtb,
                 SubnetId=public)
    expect_error("Resource.AlreadyAssociated", ec2.attach_internet_gateway,
                 InternetGatewayId=igw_id, VpcId=vpc)
    expect_error("InvalidParameterValue", ec2.delete_route, RouteTableId=rtb,
                 DestinationCidrBlock="10.20.0.0/16")
    expect_error("InvalidRoute.NotFound", ec2.delete_route, RouteTableId=rtb,
                 DestinationCidrBlock="192.168.0.0/16")
    expect_error("InvalidParameterValue", ec2.disassociate_route_table,
                 AssociationId=main_assoc["RouteTableAssociationId"])
    expect_error("InvalidAssociationID.NotFound", ec2.disassociate_route_table,
                 AssociationId="rtbassoc-00000000000000000")

    # The DependencyViolation order on delete.
    expect_error("DependencyViolation", ec2.delete_route_table, RouteTableId=rtb)
    expect_error("DependencyViolation", ec2.delete_route_table,
                 RouteTableId=main["RouteTableId"])
    expect_error("DependencyViolation", ec2.delete_internet_gateway, InternetGatewayId=igw_id)
    expect_error("DependencyViolation", ec2.delete_vpc, VpcId=vpc)

    # Detached, the gateway's route is a blackhole.
    ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    (t,) = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"]
    assert [r["State"] for r in t["Routes"]] == ["active", "blackhole"]
    assert [x["RouteTableId"] for x in tables(ec2, f("route.state", "blackhole"))] == [rtb]
    expect_error("Gateway.NotAttached", ec2.detach_internet_gateway, InternetGatewayId=igw_id,
                 VpcId=vpc)
    got = ec2.describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"]
    assert got[0]["Attachments"] == []
    expect_error("InvalidParameterValue", ec2.create_route, RouteTableId=rtb,
                 DestinationCidrBlock="192.168.0.0/16", GatewayId=igw_id)

    # Teardown in Terraform's order succeeds; each step before its turn was refused above.
    ec2.disassociate_route_table(AssociationId=assoc["AssociationId"])
    ec2.delete_route_table(RouteTableId=rtb)
    ec2.delete_internet_gateway(InternetGatewayId=igw_id)
    ec2.delete_subnet(SubnetId=public)
    ec2.delete_subnet(SubnetId=private)
    ec2.delete_vpc(VpcId=vpc)
    expect_error("InvalidRouteTableID.NotFound", ec2.describe_route_tables,
                 RouteTableIds=[main["RouteTableId"]])
    expect_error("InvalidInternetGatewayID.NotFound", ec2.describe_internet_gateways,
                 InternetGatewayIds=[igw_id])
    assert tables(ec2, f("vpc-id", vpc)) == []


def test_default_vpc_has_gateway_and_main_table(ec2):
    (vpc,) = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]]
    (igw,) = ec2.describe_internet_gateways(
        Filters=[f("attachment.vpc-id", vpc)])["InternetGateways"]
    assert igw["Attachments"] == [{"State": "available", "VpcId": vpc}]
    main = main_table(ec2, vpc)
    assert main["Routes"] == [
        {"DestinationCidrBlock": "172.31.0.0/16", "GatewayId": "local",
         "Origin": "CreateRouteTable", "State": "active"},
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw["InternetGatewayId"],
         "Origin": "CreateRoute", "State": "active"}]
    # The default subnets use it implicitly: no explicit associations.
    subnets = ec2.describe_subnets()["Subnets"]
    assert len(subnets) == 3
    for s in subnets:
        assert tables(ec2, f("association.subnet-id", s["SubnetId"])) == []


def test_replace_route_and_main_association(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.21.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    other = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = main_table(ec2, vpc)
    expect_error("InvalidParameterValue", ec2.replace_route, RouteTableId=main["RouteTableId"],
                 DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                     GatewayId=igw)
    expect_error("InvalidParameterValue", ec2.replace_route, RouteTableId=main["RouteTableId"],
                 DestinationCidrBlock="0.0.0.0/0", GatewayId=other)  # not attached here
    expect_error("Resource.AlreadyAssociated", ec2.attach_internet_gateway,
                 InternetGatewayId=other, VpcId=vpc)

    # Another table becomes main; the old one can then go.
    new = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    out = ec2.replace_route_table_association(
        AssociationId=main["Associations"][0]["RouteTableAssociationId"], RouteTableId=new)
    assert out["NewAssociationId"].startswith("rtbassoc-")
    assert out["NewAssociationId"] != main["Associations"][0]["RouteTableAssociationId"]
    assert main_table(ec2, vpc)["RouteTableId"] == new
    expect_error("DependencyViolation", ec2.delete_route_table, RouteTableId=new)
    ec2.delete_route_table(RouteTableId=main["RouteTableId"])

    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    for g in (igw, other):
        ec2.delete_internet_gateway(InternetGatewayId=g)
    ec2.delete_vpc(VpcId=vpc)
    assert tables(ec2, f("route-table-id", new)) == []


def test_tags_on_gateways_and_route_tables(ec2):
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    vpc = ec2.create_vpc(CidrBlock="10.22.0.0/16")["Vpc"]["VpcId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_tags(Resources=[igw, rtb], Tags=[{"Key": "env", "Value": "test"}])
    got = ec2.describe_tags(Filters=[f("key", "env")])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in got) == sorted(
        [(igw, "internet-gateway"), (rtb, "route-table")])
    expect_error("InvalidInternetGatewayID.NotFound", ec2.create_tags,
                 Resources=["igw-00000000000000000"], Tags=[{"Key": "a", "Value": "b"}])
    expect_error("InvalidRouteTableID.NotFound", ec2.create_tags,
                 Resources=["rtb-00000000000000000"], Tags=[{"Key": "a", "Value": "b"}])
    ec2.delete_tags(Resources=[igw], Tags=[{"Key": "env"}])
    got = ec2.describe_internet_gateways(Filters=[f("tag-key", "env")])["InternetGateways"]
    assert got == []


def test_routing_cli(account, aws):
    rc, out, err = aws(account, "ec2", "create-vpc", "--cidr-block", "10.23.0.0/16")
    assert rc == 0, err
    vpc = out["Vpc"]["VpcId"]
    rc, out, err = aws(account, "ec2", "create-internet-gateway")
    assert rc == 0, err
    igw = out["InternetGateway"]["InternetGatewayId"]
    rc, _, err = aws(account, "ec2", "attach-internet-gateway", "--internet-gateway-id", igw,
                     "--vpc-id", vpc)
    assert rc == 0, err
    rc, out, err = aws(account, "ec2", "create-route-table", "--vpc-id", vpc)
    assert rc == 0, err
    rtb = out["RouteTable"]["RouteTableId"]
    rc, out, err = aws(account, "ec2", "create-route", "--route-table-id", rtb,
                       "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", igw)
    assert rc == 0, err
    assert out["Return"] is True
    rc, out, err = aws(account, "ec2", "describe-route-tables", "--filters",
                       f"Name=route.gateway-id,Values={igw}")
    assert rc == 0, err
    assert [t["RouteTableId"] for t in out["RouteTables"]] == [rtb]
    rc, _, err = aws(account, "ec2", "delete-internet-gateway", "--internet-gateway-id", igw)
    assert rc != 0 and k.cli_error_code(err) == "DependencyViolation"
    rc, _, err = aws(account, "ec2", "detach-internet-gateway", "--internet-gateway-id", igw,
                     "--vpc-id", vpc)
    assert rc == 0, err
    rc, out, err = aws(account, "ec2", "describe-route-tables", "--route-table-ids", rtb)
    assert rc == 0, err
    assert out["RouteTables"][0]["Routes"][1]["State"] == "blackhole"
