"""Real instances in a VPC of the tenant's own: launched into subnets of a created VPC (one of
them created after the first launch), reached by ssh, reaching each other privately, then the
VPC taken apart; every host resource checked gone afterwards.

Needs root and the default image, as tests/test_instances.py does (its Cloud fixture is used).
"""

from __future__ import annotations

import ipaddress

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k
from test_instances import cloud, pytestmark, ssh, wait_ssh, wait_state  # noqa: F401

PROBE = "timeout 3 bash -c '</dev/tcp/{}/22' && echo open || echo closed"


def test_launch_into_subnets_of_a_created_vpc(cloud):
    ec2 = cloud.ec2
    material = ec2.create_key_pair(KeyName="mykey", KeyType="ed25519")["KeyMaterial"]
    k.write_private(cloud.key_path, material)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpProtocol="tcp", FromPort=22,
                                         ToPort=22, CidrIp="0.0.0.0/0")
    image = cloud.image_id()

    def subnet(cidr):
        sid = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
        return sid

    def launch(subnet_id):
        (inst,) = ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1,
                                    MaxCount=1, KeyName="mykey",
                                    SubnetId=subnet_id)["Instances"]
        assert inst["VpcId"] == vpc and inst["SubnetId"] == subnet_id
        assert [g["GroupId"] for g in inst["SecurityGroups"]] == [group["GroupId"]]
        return wait_state(ec2, inst["InstanceId"], "running", timeout=120)

    a_subnet = subnet("10.20.1.0/24")
    a = launch(a_subnet)
    assert ipaddress.ip_address(a["PrivateIpAddress"]) in ipaddress.ip_network("10.20.1.0/24")
    wait_ssh(cloud.key_path, a["PublicIpAddress"])

    # A subnet created after the VPC's first instance is routed on the host too.
    b_subnet = subnet("10.20.2.0/24")
    b = launch(b_subnet)
    assert ipaddress.ip_address(b["PrivateIpAddress"]) in ipaddress.ip_network("10.20.2.0/24")
    wait_ssh(cloud.key_path, b["PublicIpAddress"])
    # The VPC's default group lets its members reach each other across subnets.
    assert ssh(cloud.key_path, b["PublicIpAddress"],
               PROBE.format(a["PrivateIpAddress"])).stdout.strip() == "open"
    (s,) = ec2.describe_subnets(SubnetIds=[a_subnet])["Subnets"]
    assert s["AvailableIpAddressCount"] == 250

    with pytest.raises(ClientError) as e:
        ec2.delete_subnet(SubnetId=a_subnet)
    assert k.error_code(e.value) == "DependencyViolation"
    for inst in (a, b):
        ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
        wait_state(ec2, inst["InstanceId"], "terminated", timeout=120)
    ec2.delete_subnet(SubnetId=a_subnet)
    ec2.delete_subnet(SubnetId=b_subnet)
    ec2.delete_vpc(VpcId=vpc)
