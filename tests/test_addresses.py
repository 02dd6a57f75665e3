"""Elastic IPs through the EC2 API (boto3 and the aws CLI v2) on the shared daemon: allocate,
describe with filters, tags, release, the limit and the errors. Associating them with real
instances is in tests/test_vpc_instances.py (root)."""

import kumo_e2e as k

expect_error = k.expect_error


def test_allocate_describe_release(ec2, account, aws, new_account):
    rc, out, err = aws(account, "ec2", "allocate-address", "--domain", "vpc",
                       "--tag-specifications",
                       "ResourceType=elastic-ip,Tags=[{Key=Name,Value=web}]")
    assert rc == 0, err
    alloc, ip = out["AllocationId"], out["PublicIp"]
    assert alloc.startswith("eipalloc-") and out["Domain"] == "vpc"
    other = ec2.allocate_address()
    assert other["PublicIp"] != ip

    (addr,) = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]
    assert addr["PublicIp"] == ip and addr["Tags"] == [{"Key": "Name", "Value": "web"}]
    assert "AssociationId" not in addr and "InstanceId" not in addr
    got = ec2.describe_addresses(Filters=[{"Name": "tag:Name", "Values": ["web"]}])["Addresses"]
    assert [a["AllocationId"] for a in got] == [alloc]
    got = ec2.describe_addresses(PublicIps=[other["PublicIp"]])["Addresses"]
    assert [a["AllocationId"] for a in got] == [other["AllocationId"]]
    assert len(ec2.describe_addresses()["Addresses"]) == 2

    # Another tenant sees none of them and cannot release them.
    stranger = k.make_client(new_account())
    assert stranger.describe_addresses()["Addresses"] == []
    expect_error("InvalidAllocationID.NotFound", stranger.release_address, AllocationId=alloc)

    expect_error("InvalidAllocationID.NotFound", ec2.describe_addresses,
                 AllocationIds=["eipalloc-0123456789abcdef0"])
    expect_error("InvalidAddress.NotFound", ec2.describe_addresses, PublicIps=["192.0.2.1"])
    expect_error("InvalidAllocationID.NotFound", ec2.associate_address,
                 AllocationId="eipalloc-0123456789abcdef0", InstanceId="i-0123456789abcdef0")
    expect_error("InvalidInstanceID.NotFound", ec2.associate_address, AllocationId=alloc,
                 InstanceId="i-0123456789abcdef0")
    expect_error("InvalidAssociationID.NotFound", ec2.disassociate_address,
                 AssociationId="eipassoc-0123456789abcdef0")

    rc, _, err = aws(account, "ec2", "release-address", "--allocation-id", alloc)
    assert rc == 0, err
    expect_error("InvalidAllocationID.NotFound", ec2.release_address, AllocationId=alloc)
    assert [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]] == [
        other["AllocationId"]]
    ec2.release_address(PublicIp=other["PublicIp"])
    assert ec2.describe_addresses()["Addresses"] == []


def test_address_limit(ec2):
    for _ in range(5):
        ec2.allocate_address(Domain="vpc")
    expect_error("AddressLimitExceeded", ec2.allocate_address, Domain="vpc")
    for a in ec2.describe_addresses()["Addresses"]:
        ec2.release_address(AllocationId=a["AllocationId"])


def test_no_network_interfaces_without_instances(ec2):
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    expect_error("InvalidNetworkInterfaceID.NotFound", ec2.describe_network_interfaces,
                 NetworkInterfaceIds=["eni-0123456789abcdef0"])


def test_interfaces_without_instances(ec2, account, aws):
    """Created interfaces: pages, the source/destination check, an Elastic IP waiting on one."""
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.1.0/24")["Subnet"]["SubnetId"]
    made = sorted(ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
                  ["NetworkInterfaceId"] for _ in range(6))
    pages = list(ec2.get_paginator("describe_network_interfaces").paginate(
        PaginationConfig={"PageSize": 5}))
    assert [len(p["NetworkInterfaces"]) for p in pages] == [5, 1]
    assert [n["NetworkInterfaceId"] for p in pages for n in p["NetworkInterfaces"]] == made
    expect_error("InvalidParameterCombination", ec2.describe_network_interfaces, MaxResults=5,
                 NetworkInterfaceIds=made[:1])

    eni = made[0]
    rc, _, err = aws(account, "ec2", "modify-network-interface-attribute",
                     "--network-interface-id", eni, "--no-source-dest-check")
    assert rc == 0, err
    rc, out, err = aws(account, "ec2", "describe-network-interface-attribute",
                       "--network-interface-id", eni, "--attribute", "sourceDestCheck")
    assert rc == 0, err
    assert out["SourceDestCheck"] == {"Value": False}
    off = ec2.describe_network_interfaces(
        Filters=[{"Name": "source-dest-check", "Values": ["false"]}])["NetworkInterfaces"]
    assert [n["NetworkInterfaceId"] for n in off] == [eni]
    rc, _, err = aws(account, "ec2", "reset-network-interface-attribute",
                     "--network-interface-id", eni, "--source-dest-check", "true")
    assert rc == 0, err
    assert ec2.describe_network_interface_attribute(
        NetworkInterfaceId=eni, Attribute="sourceDestCheck")["SourceDestCheck"]["Value"] is True

    # An Elastic IP on an interface that is attached to nothing yet.
    alloc = ec2.allocate_address(Domain="vpc")
    assoc = ec2.associate_address(AllocationId=alloc["AllocationId"],
                                  NetworkInterfaceId=eni)["AssociationId"]
    (nic,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    assert nic["Association"]["PublicIp"] == alloc["PublicIp"]
    assert nic["Association"]["AssociationId"] == assoc
    (addr,) = ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"]
    assert addr["NetworkInterfaceId"] == eni and "InstanceId" not in addr
    expect_error("InvalidParameterValue", ec2.associate_address,
                 AllocationId=alloc["AllocationId"], NetworkInterfaceId=made[1],
                 PrivateIpAddress="10.61.1.250", AllowReassociation=True)
    for e in made:
        ec2.delete_network_interface(NetworkInterfaceId=e)
    (addr,) = ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"]
    assert "AssociationId" not in addr  # the interface went, the address is idle
    ec2.release_address(AllocationId=alloc["AllocationId"])
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)
