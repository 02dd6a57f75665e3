"""VPCs and subnets beyond the default network, through the EC2 API with boto3 and the aws CLI:
CreateVpc/DeleteVpc, the DNS attributes, CreateSubnet/DeleteSubnet/ModifySubnetAttribute."""

import kumo_e2e as k

expect_error = k.expect_error


def new_vpc(ec2, cidr="10.0.0.0/16", **kw):
    return ec2.create_vpc(CidrBlock=cidr, **kw)["Vpc"]


def test_create_describe_delete_vpc(ec2, account):
    vpc = new_vpc(ec2, TagSpecifications=[{"ResourceType": "vpc",
                                           "Tags": [{"Key": "Name", "Value": "lab"}]}])
    assert vpc["VpcId"].startswith("vpc-") and vpc["CidrBlock"] == "10.0.0.0/16"
    assert vpc["IsDefault"] is False and vpc["State"] == "available"
    assert vpc["InstanceTenancy"] == "default" and vpc["OwnerId"] == account.account_id
    assert vpc["Tags"] == [{"Key": "Name", "Value": "lab"}]
    (assoc,) = vpc["CidrBlockAssociationSet"]
    assert assoc["CidrBlock"] == "10.0.0.0/16" and assoc["CidrBlockState"]["State"] == "associated"

    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert len(vpcs) == 2
    default = next(v for v in vpcs if v["IsDefault"])
    assert vpc["DhcpOptionsId"] == default["DhcpOptionsId"]
    got = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["lab"]}])["Vpcs"]
    assert [v["VpcId"] for v in got] == [vpc["VpcId"]]
    got = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["false"]},
                                     {"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"]
    assert [v["VpcId"] for v in got] == [vpc["VpcId"]]

    # Its own default security group.
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    assert group["GroupName"] == "default"
    assert group["GroupId"] != next(
        g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
        if g["VpcId"] == default["VpcId"])

    assert ec2.delete_vpc(VpcId=vpc["VpcId"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    expect_error("InvalidVpcID.NotFound", ec2.describe_vpcs, VpcIds=[vpc["VpcId"]])
    expect_error("InvalidVpcID.NotFound", ec2.delete_vpc, VpcId=vpc["VpcId"])
    expect_error("InvalidGroup.NotFound", ec2.describe_security_groups,
                 GroupIds=[group["GroupId"]])


def test_create_vpc_errors(ec2):
    expect_error("InvalidVpc.Range", ec2.create_vpc, CidrBlock="10.0.0.0/8")
    expect_error("InvalidVpc.Range", ec2.create_vpc, CidrBlock="10.0.0.0/30")
    expect_error("InvalidParameterValue", ec2.create_vpc, CidrBlock="10.0.0.300/16")
    expect_error("MissingParameter", ec2.create_vpc)
    expect_error("Unsupported", ec2.create_vpc, CidrBlock="10.0.0.0/16",
                 AmazonProvidedIpv6CidrBlock=True)
    assert len(ec2.describe_vpcs()["Vpcs"]) == 1


def test_delete_vpc_dependencies(ec2):
    vpc = new_vpc(ec2, "10.1.0.0/16")["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24")["Subnet"]["SubnetId"]
    expect_error("DependencyViolation", ec2.delete_vpc, VpcId=vpc)
    ec2.delete_subnet(SubnetId=subnet)
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    expect_error("DependencyViolation", ec2.delete_vpc, VpcId=vpc)
    ec2.delete_security_group(GroupId=group)
    ec2.delete_vpc(VpcId=vpc)


def test_default_vpc_can_be_deleted_when_empty(ec2):
    (vpc,) = ec2.describe_vpcs()["Vpcs"]
    expect_error("DependencyViolation", ec2.delete_vpc, VpcId=vpc["VpcId"])
    for s in ec2.describe_subnets()["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    # Its internet gateway, as on EC2.
    expect_error("DependencyViolation", ec2.delete_vpc, VpcId=vpc["VpcId"])
    (igw,) = ec2.describe_internet_gateways()["InternetGateways"]
    ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc["VpcId"])
    ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc["VpcId"])
    assert ec2.describe_route_tables()["RouteTables"] == []
    assert ec2.describe_vpcs()["Vpcs"] == []
    attrs = ec2.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
    assert attrs[0]["AttributeValues"][0]["AttributeValue"] == "none"


def test_vpc_dns_attributes(ec2):
    vpc = new_vpc(ec2, "10.2.0.0/16")["VpcId"]
    (default,) = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]]

    def attr(vpc_id, name):
        out = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=name)
        assert out["VpcId"] == vpc_id
        return out[name[0].upper() + name[1:]]["Value"]

    assert attr(vpc, "enableDnsSupport") is True and attr(vpc, "enableDnsHostnames") is False
    assert attr(default, "enableDnsSupport") is True
    assert attr(default, "enableDnsHostnames") is True
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    assert attr(vpc, "enableDnsHostnames") is True
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": False})
    assert attr(vpc, "enableDnsSupport") is False
    expect_error("InvalidParameterCombination", ec2.modify_vpc_attribute, VpcId=vpc,
                 EnableDnsSupport={"Value": True}, EnableDnsHostnames={"Value": True})
    expect_error("InvalidVpcID.NotFound", ec2.describe_vpc_attribute,
                 VpcId="vpc-00000000000000000", Attribute="enableDnsSupport")


def test_subnets(ec2, account):
    vpc = new_vpc(ec2, "10.3.0.0/16")["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.3.0.0/24", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "web"}]}])["Subnet"]
    assert a["SubnetId"].startswith("subnet-") and a["VpcId"] == vpc
    assert a["AvailabilityZone"] == "eu-west-1a" and a["AvailableIpAddressCount"] == 251
    assert a["MapPublicIpOnLaunch"] is False and a["DefaultForAz"] is False
    assert a["OwnerId"] == account.account_id and a["State"] == "available"
    assert a["Tags"] == [{"Key": "tier", "Value": "web"}]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.3.1.0/28", AvailabilityZone="eu-west-1c")
    assert b["Subnet"]["AvailabilityZone"] == "eu-west-1c"
    assert b["Subnet"]["AvailableIpAddressCount"] == 11

    expect_error("InvalidSubnet.Range", ec2.create_subnet, VpcId=vpc, CidrBlock="10.4.0.0/24")
    expect_error("InvalidSubnet.Range", ec2.create_subnet, VpcId=vpc, CidrBlock="10.3.2.0/29")
    expect_error("InvalidSubnet.Conflict", ec2.create_subnet, VpcId=vpc,
                 CidrBlock="10.3.0.128/25")
    expect_error("InvalidParameterValue", ec2.create_subnet, VpcId=vpc,
                 CidrBlock="10.3.2.0/24", AvailabilityZone="us-east-1a")
    expect_error("InvalidVpcID.NotFound", ec2.create_subnet, VpcId="vpc-00000000000000000",
                 CidrBlock="10.3.2.0/24")

    got = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert sorted(s["CidrBlock"] for s in got) == ["10.3.0.0/24", "10.3.1.0/28"]
    got = ec2.describe_subnets(Filters=[{"Name": "tag:tier", "Values": ["web"]}])["Subnets"]
    assert [s["SubnetId"] for s in got] == [a["SubnetId"]]

    ec2.modify_subnet_attribute(SubnetId=a["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    (s,) = ec2.describe_subnets(SubnetIds=[a["SubnetId"]])["Subnets"]
    assert s["MapPublicIpOnLaunch"] is True

    ec2.delete_subnet(SubnetId=a["SubnetId"])
    expect_error("InvalidSubnetID.NotFound", ec2.describe_subnets, SubnetIds=[a["SubnetId"]])
    expect_error("InvalidSubnetID.NotFound", ec2.delete_subnet, SubnetId=a["SubnetId"])


def test_tags_on_vpcs_and_subnets(ec2):
    vpc = new_vpc(ec2, "10.5.0.0/16")["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.5.0.0/24")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[vpc, subnet], Tags=[{"Key": "env", "Value": "test"}])
    got = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["env"]}])["Tags"]
    assert sorted((t["ResourceId"], t["ResourceType"]) for t in got) == sorted(
        [(vpc, "vpc"), (subnet, "subnet")])
    expect_error("InvalidVpcID.NotFound", ec2.create_tags, Resources=["vpc-00000000000000000"],
                 Tags=[{"Key": "a", "Value": "b"}])
    expect_error("InvalidSubnetID.NotFound", ec2.create_tags,
                 Resources=["subnet-00000000000000000"], Tags=[{"Key": "a", "Value": "b"}])


def test_vpc_and_subnet_cli(account, aws):
    rc, out, err = aws(account, "ec2", "create-vpc", "--cidr-block", "10.9.0.0/16")
    assert rc == 0, err
    vpc = out["Vpc"]["VpcId"]
    rc, out, err = aws(account, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block",
                       "10.9.8.0/24", "--availability-zone-id", "euw1-az2")
    assert rc == 0, err
    assert out["Subnet"]["AvailabilityZone"] == "eu-west-1b"
    rc, _, err = aws(account, "ec2", "modify-vpc-attribute", "--vpc-id", vpc,
                     "--enable-dns-hostnames")
    assert rc == 0, err
    rc, out, err = aws(account, "ec2", "describe-vpc-attribute", "--vpc-id", vpc, "--attribute",
                       "enableDnsHostnames")
    assert rc == 0, err
    assert out["EnableDnsHostnames"]["Value"] is True
    rc, _, err = aws(account, "ec2", "delete-vpc", "--vpc-id", vpc)
    assert rc != 0 and k.cli_error_code(err) == "DependencyViolation"
