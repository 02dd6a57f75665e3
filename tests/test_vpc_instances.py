"""Real instances in a VPC of the tenant's own, the issue's script: a VPC with two subnets in two
zones, instances in both, reached through an Elastic IP only once an internet gateway routes
their subnets, the address moved to the other instance and kept through stop/start, a second
network interface plugged into a running instance and unplugged, a secondary private address
usable only while assigned, a second Elastic IP on the interface and then on the secondary
address, a secondary VPC block, private traffic between the
subnets but not across VPCs, deletes in the wrong order refused, and the VPC
taken apart with nothing left on the host.

Needs root and the default image, as tests/test_instances.py does (its Cloud fixture is used).
Reachability is ICMP echo (ping, as root inside: the image's ping has no capabilities there) and
sshd's banner over TCP, each allowed by a group rule.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path


import kumo_e2e as k
from test_instances import cloud, pytestmark, ssh, wait_ssh, wait_state  # noqa: F401

# sshd's banner, not just an accepted connection: some networks (this sandbox's among them)
# accept any outbound TCP connection themselves.
BANNER = "exec 3<>/dev/tcp/{}/22 && head -c 7 <&3"
PROBE = f"timeout 3 bash -c '{BANNER}' | grep -q SSH-2.0 && echo open || echo closed"
PING = "sudo ping -c 1 -W 2 {} > /dev/null && echo reply || echo none"


def host_ping(ip: str) -> bool:
    return subprocess.run(["ping", "-c", "1", "-W", "2", ip], capture_output=True).returncode == 0


def host_probe(ip: str) -> bool:
    """Whether sshd at ip answers the host (the internet side)."""
    p = subprocess.run(["timeout", "3", "bash", "-c", BANNER.format(ip)], capture_output=True,
                       text=True)
    return p.stdout.startswith("SSH-2.0")


def hostname_via(key, ip: str) -> str:
    p = ssh(key, ip, "hostname", check=False)
    return p.stdout.strip() if p.returncode == 0 else ""


def refused(code: str, fn, **kwargs):
    k.expect_error(code, fn, status=None, **kwargs)


def test_vpc_subnets_gateway_elastic_ip(cloud):
    ec2 = cloud.ec2
    material = ec2.create_key_pair(KeyName="mykey", KeyType="ed25519")["KeyMaterial"]
    k.write_private(cloud.key_path, material)
    image = cloud.image_id()
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpProtocol="tcp", FromPort=22,
                                         ToPort=22, CidrIp="0.0.0.0/0")
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24",
                                 AvailabilityZone=zones[n - 1])["Subnet"]["SubnetId"]
               for n in (1, 2)]

    def launch(subnet_id, vpc_id=vpc):
        (inst,) = ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1,
                                    MaxCount=1, KeyName="mykey",
                                    SubnetId=subnet_id)["Instances"]
        assert inst["VpcId"] == vpc_id and inst["SubnetId"] == subnet_id
        return inst["InstanceId"]

    ids = [launch(s) for s in subnets]
    a, b = (wait_state(ec2, i, "running", timeout=120) for i in ids)
    assert "PublicIpAddress" not in a  # a created subnet maps no public address
    assert ipaddress.ip_address(a["PrivateIpAddress"]) in ipaddress.ip_network("10.20.1.0/24")
    assert a["Placement"]["AvailabilityZone"] == zones[0]
    assert b["Placement"]["AvailabilityZone"] == zones[1]
    (eni,) = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [a["InstanceId"]]}])[
        "NetworkInterfaces"]
    assert eni["NetworkInterfaceId"] == a["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert eni["PrivateIpAddress"] == a["PrivateIpAddress"]

    alloc = ec2.allocate_address(Domain="vpc")
    eip = alloc["PublicIp"]
    ec2.associate_address(AllocationId=alloc["AllocationId"], InstanceId=a["InstanceId"])
    assert cloud.instance(a["InstanceId"])["PublicIpAddress"] == eip
    # No internet gateway yet: the address is the instance's, but nothing reaches it.
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assoc = [ec2.associate_route_table(RouteTableId=rtb, SubnetId=s)["AssociationId"]
             for s in subnets]
    assert not host_probe(eip)
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert not host_probe(eip)  # attached, but no route to it yet
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    k.wait_until(lambda: hostname_via(cloud.key_path, eip) == f"ip-{a['PrivateIpAddress']}"
                 .replace(".", "-"), 60, "ssh to a through its Elastic IP", interval=0.2)

    # The address moves to b.
    refused("Resource.AlreadyAssociated", ec2.associate_address,
            AllocationId=alloc["AllocationId"], InstanceId=b["InstanceId"])
    ec2.associate_address(AllocationId=alloc["AllocationId"], InstanceId=b["InstanceId"],
                          AllowReassociation=True)
    k.wait_until(lambda: hostname_via(cloud.key_path, eip) == f"ip-{b['PrivateIpAddress']}"
                 .replace(".", "-"), 60, "ssh to b through the moved Elastic IP", interval=0.2)
    assert "PublicIpAddress" not in cloud.instance(a["InstanceId"])

    # A second interface, plugged into the running instance as eth1, and unplugged again.
    eni = ec2.create_network_interface(SubnetId=subnets[1], Description="second")[
        "NetworkInterface"]
    assert eni["Status"] == "available"
    attachment = ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"],
                                              InstanceId=b["InstanceId"],
                                              DeviceIndex=1)["AttachmentId"]
    show_eth1 = "cat /sys/class/net/eth1/address 2>/dev/null; ip -4 -o addr show dev eth1 2>/dev/null"

    def eth1():
        p = ssh(cloud.key_path, eip, show_eth1, check=False)
        return p.stdout if p.returncode == 0 else ""

    k.wait_until(lambda: eni["MacAddress"] in eth1() and f"{eni['PrivateIpAddress']}/24" in eth1(),
                 60, "eth1 with the interface's address inside b", interval=0.2)
    nics = cloud.instance(b["InstanceId"])["NetworkInterfaces"]
    assert [n["Attachment"]["DeviceIndex"] for n in nics] == [0, 1]
    # The metadata service lists it with its id, as cloud-init and EC2's own tools read it.
    md = f"http://169.254.169.254/latest/meta-data/network/interfaces/macs/{eni['MacAddress']}"
    assert ssh(cloud.key_path, eip, f"curl -s {md}/interface-id; echo; curl -s {md}/device-number"
               ).stdout.split() == [eni["NetworkInterfaceId"], "1"]
    assert nics[1]["NetworkInterfaceId"] == eni["NetworkInterfaceId"]
    refused("DependencyViolation", ec2.delete_subnet, SubnetId=subnets[1])
    refused("InvalidNetworkInterface.InUse", ec2.delete_network_interface,
            NetworkInterfaceId=eni["NetworkInterfaceId"])
    # A second Elastic IP on the interface reaches b at eth1's address (b answers from eth1
    # by a rule of its own, as an instance with two interfaces must on EC2 too).
    alloc2 = ec2.allocate_address(Domain="vpc")
    eip2 = alloc2["PublicIp"]
    ec2.associate_address(AllocationId=alloc2["AllocationId"],
                          NetworkInterfaceId=eni["NetworkInterfaceId"])
    ssh(cloud.key_path, eip, f"sudo ip rule add from {eni['PrivateIpAddress']} table 101 && "
        f"sudo ip route add default via 10.20.2.1 dev eth1 table 101")
    (addr2,) = ec2.describe_addresses(AllocationIds=[alloc2["AllocationId"]])["Addresses"]
    assert addr2["InstanceId"] == b["InstanceId"]
    assert addr2["PrivateIpAddress"] == eni["PrivateIpAddress"]

    def server_address(ip):
        p = ssh(cloud.key_path, ip, "echo $SSH_CONNECTION", check=False)
        return p.stdout.split()[2] if p.returncode == 0 and p.stdout.strip() else ""

    k.wait_until(lambda: server_address(eip2) == eni["PrivateIpAddress"], 60,
                 "ssh to b's second interface through its Elastic IP", interval=0.2)
    ec2.detach_network_interface(AttachmentId=attachment)
    k.wait_until(lambda: ssh(cloud.key_path, eip, "test ! -e /sys/class/net/eth1",
                             check=False).returncode == 0, 60, "eth1 to leave b", interval=0.2)
    k.wait_until(lambda: not host_probe(eip2), 60, "the detached interface's address to go",
                 interval=0.2)
    (addr2,) = ec2.describe_addresses(AllocationIds=[alloc2["AllocationId"]])["Addresses"]
    assert "InstanceId" not in addr2 and addr2["NetworkInterfaceId"] == eni["NetworkInterfaceId"]
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])

    # Private traffic between the subnets: the VPC's default group admits its own members.
    assert ssh(cloud.key_path, eip, PROBE.format(a["PrivateIpAddress"])).stdout.strip() == "open"
    assert ssh(cloud.key_path, eip, PING.format(a["PrivateIpAddress"])).stdout.strip() == "reply"
    # From outside, ping answers once a rule of b's group allows ICMP.
    assert not host_ping(eip)
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpProtocol="icmp", FromPort=-1,
                                         ToPort=-1, CidrIp="0.0.0.0/0")
    k.wait_until(lambda: host_ping(eip), 30, "b to answer ping from outside", interval=0.2)

    # A secondary private address on b's primary interface: configured inside by the OS (as on
    # EC2), usable as a source only while it is assigned (the firewall's anti-spoofing).
    b_eni = b["NetworkInterfaces"][0]["NetworkInterfaceId"]
    (sec,) = ec2.assign_private_ip_addresses(NetworkInterfaceId=b_eni,
                                             SecondaryPrivateIpAddressCount=1)[
        "AssignedPrivateIpAddresses"]
    sec = sec["PrivateIpAddress"]
    assert ipaddress.ip_address(sec) in ipaddress.ip_network("10.20.2.0/24")
    ssh(cloud.key_path, eip, f"sudo ip addr add {sec}/24 dev eth0")
    from_sec = (f"timeout 5 ssh -b {sec} -o BatchMode=yes -o StrictHostKeyChecking=no "
                f"-o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 {a['PrivateIpAddress']} "
                "true 2>&1 | grep -q 'Permission denied' && echo reached || echo blocked")

    def via_secondary():
        return ssh(cloud.key_path, eip, from_sec, check=False).stdout.strip()

    k.wait_until(lambda: via_secondary() == "reached", 60, "a to answer b's secondary address",
                 interval=0.2)
    # The second Elastic IP moves to the secondary address.
    ec2.associate_address(AllocationId=alloc2["AllocationId"], NetworkInterfaceId=b_eni,
                          PrivateIpAddress=sec, AllowReassociation=True)
    k.wait_until(lambda: server_address(eip2) == sec, 60,
                 "ssh to b's secondary address through its Elastic IP", interval=0.2)
    assert cloud.instance(b["InstanceId"])["PublicIpAddress"] == eip  # b keeps its own
    (nic,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[b_eni])["NetworkInterfaces"]
    assert [p["PrivateIpAddress"] for p in nic["PrivateIpAddresses"]] == [
        b["PrivateIpAddress"], sec]
    ec2.unassign_private_ip_addresses(NetworkInterfaceId=b_eni, PrivateIpAddresses=[sec])
    k.wait_until(lambda: via_secondary() == "blocked", 60, "b's unassigned address to be dropped",
                 interval=0.2)
    # Its Elastic IP went with it.
    (addr2,) = ec2.describe_addresses(AllocationIds=[alloc2["AllocationId"]])["Addresses"]
    assert "AssociationId" not in addr2
    k.wait_until(lambda: not host_probe(eip2), 60, "the unassigned address's Elastic IP to go",
                 interval=0.2)
    ec2.release_address(AllocationId=alloc2["AllocationId"])
    ssh(cloud.key_path, eip, f"sudo ip addr del {sec}/24 dev eth0")

    # A secondary block, a subnet in it and an instance there, reached from b privately.
    block = ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.21.0.0/16")[
        "CidrBlockAssociation"]
    refused("CidrConflict", ec2.associate_vpc_cidr_block, VpcId=vpc, CidrBlock="10.21.5.0/24")
    extra_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.21.1.0/24",
                                     AvailabilityZone=zones[1])["Subnet"]["SubnetId"]
    d = wait_state(ec2, launch(extra_subnet), "running", timeout=120)
    assert ipaddress.ip_address(d["PrivateIpAddress"]) in ipaddress.ip_network("10.21.1.0/24")
    k.wait_until(lambda: ssh(cloud.key_path, eip, PROBE.format(d["PrivateIpAddress"]))
                 .stdout.strip() == "open", 60, "b to reach d in the secondary block", interval=0.2)
    # The VPC's resolver answers for the new block's names too.
    name = "ip-" + d["PrivateIpAddress"].replace(".", "-") + "." + k.HOME_REGION + \
        ".compute.internal"
    assert d["PrivateIpAddress"] in ssh(cloud.key_path, eip, f"getent hosts {name}").stdout
    refused("DependencyViolation", ec2.disassociate_vpc_cidr_block,
            AssociationId=block["AssociationId"])
    ec2.terminate_instances(InstanceIds=[d["InstanceId"]])
    wait_state(ec2, d["InstanceId"], "terminated", timeout=120)
    ec2.delete_subnet(SubnetId=extra_subnet)
    ec2.disassociate_vpc_cidr_block(AssociationId=block["AssociationId"])

    # Not across VPCs, whatever the groups say.
    other = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    (other_group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [other]}])["SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=other_group["GroupId"], IpProtocol="tcp",
                                         FromPort=22, ToPort=22, CidrIp="0.0.0.0/0")
    ec2.authorize_security_group_ingress(GroupId=other_group["GroupId"], IpProtocol="icmp",
                                         FromPort=-1, ToPort=-1, CidrIp="0.0.0.0/0")
    other_subnet = ec2.create_subnet(VpcId=other, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    # Launched with the aws CLI's --associate-public-ip-address (a primary NetworkInterfaces
    # entry): the address is its own, though no gateway routes this VPC to reach it.
    out = cloud.aws("run-instances", "--image-id", image, "--instance-type", "t2.micro",
                    "--key-name", "mykey", "--subnet-id", other_subnet,
                    "--associate-public-ip-address")
    (launched,) = out["Instances"]
    c = wait_state(ec2, launched["InstanceId"], "running", timeout=120)
    assert c["SubnetId"] == other_subnet and "PublicIpAddress" in c
    assert not host_probe(c["PublicIpAddress"])
    assert ssh(cloud.key_path, eip, PROBE.format(c["PrivateIpAddress"])).stdout.strip() == "closed"
    assert ssh(cloud.key_path, eip, PING.format(c["PrivateIpAddress"])).stdout.strip() == "none"

    # The Elastic IP and its DNS name stay through stop and start.
    dns = cloud.instance(b["InstanceId"])["PublicDnsName"]
    ec2.stop_instances(InstanceIds=[b["InstanceId"]])
    stopped = wait_state(ec2, b["InstanceId"], "stopped", timeout=120)
    assert stopped["PublicIpAddress"] == eip
    ec2.start_instances(InstanceIds=[b["InstanceId"]])
    started = wait_state(ec2, b["InstanceId"], "running", timeout=120)
    assert started["PublicIpAddress"] == eip and started["PublicDnsName"] == dns
    wait_ssh(cloud.key_path, eip)

    # Deletes in the wrong order.
    refused("InvalidIPAddress.InUse", ec2.release_address, AllocationId=alloc["AllocationId"])
    refused("DependencyViolation", ec2.delete_internet_gateway, InternetGatewayId=igw)
    refused("DependencyViolation", ec2.delete_route_table, RouteTableId=rtb)
    refused("DependencyViolation", ec2.delete_subnet, SubnetId=subnets[0])
    refused("DependencyViolation", ec2.delete_vpc, VpcId=vpc)

    # Taken apart in the right order.
    for inst in (a, b, c):
        ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    for inst in (a, b, c):
        wait_state(ec2, inst["InstanceId"], "terminated", timeout=120)
    (addr,) = ec2.describe_addresses(AllocationIds=[alloc["AllocationId"]])["Addresses"]
    assert "AssociationId" not in addr  # terminate disassociates
    ec2.release_address(AllocationId=alloc["AllocationId"])
    for x in assoc:
        ec2.disassociate_route_table(AssociationId=x)
    ec2.delete_route_table(RouteTableId=rtb)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    for s in subnets + [other_subnet]:
        ec2.delete_subnet(SubnetId=s)
    ec2.delete_vpc(VpcId=vpc)
    ec2.delete_vpc(VpcId=other)
    assert not host_probe(eip)
    # The deleted VPCs' networks go from the host while the daemon runs.
    prefix = f"k{cloud.daemon.daemon_id()}-"
    k.wait_until(lambda: not any(Path(f"/run/netns/{prefix}{v}").exists() for v in (vpc, other)),
                 60, "the deleted VPCs' namespaces to go", interval=0.2)
    # The fixture's teardown then checks that nothing of the daemon is left on the host.
