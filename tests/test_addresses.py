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
