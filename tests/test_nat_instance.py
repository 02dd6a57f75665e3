"""A NAT instance, built as EC2's documentation builds one: an instance in a public subnet with
its source/destination check turned off, forwarding and masquerading for a private subnet whose
route table sends 0.0.0.0/0 to it (CreateRoute --instance-id). Its outside is the host: a TCP
listener of this test on the public pool's gateway address, which records who connects.

Needs root and the default image (with nftables), as tests/test_instances.py does.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading

import kumo_e2e as k
from test_instances import SSH_OPTS, cloud, pytestmark, ssh, wait_ssh, wait_state  # noqa: F401


class Listener:
    """A TCP server on the host that greets each client and remembers its address."""

    def __init__(self, address: str):
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.peers: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer[0])
            with conn:
                conn.sendall(b"hello\n")

    def close(self):
        self.sock.close()


def pool_gateway(daemon_id: str) -> str:
    """The host's end of the VPCs' uplinks carries the public pool's gateway address."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.search(rf"k{daemon_id}u\S*\s+inet (\S+)/32", line)
        if m:
            return m.group(1)
    raise AssertionError(f"no uplink of k{daemon_id} in {out}")


def test_nat_instance_routes_a_private_subnet(cloud):
    ec2 = cloud.ec2
    material = ec2.create_key_pair(KeyName="mykey", KeyType="ed25519")["KeyMaterial"]
    k.write_private(cloud.key_path, material)
    image = cloud.image_id()
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpProtocol="tcp", FromPort=22,
                                         ToPort=22, CidrIp="0.0.0.0/0")
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.2.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_rtb, SubnetId=public)
    private_rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=private_rtb, SubnetId=private)

    def launch(**kwargs):
        (inst,) = ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1,
                                    MaxCount=1, KeyName="mykey", **kwargs)["Instances"]
        return inst["InstanceId"]

    nat_id = launch(NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": public,
                                              "AssociatePublicIpAddress": True}])
    inner_id = launch(SubnetId=private)
    nat = wait_state(ec2, nat_id, "running", timeout=120)
    inner = wait_state(ec2, inner_id, "running", timeout=120)
    nat_ip = nat["PublicIpAddress"]
    assert "PublicIpAddress" not in inner
    wait_ssh(cloud.key_path, nat_ip)

    listener = Listener(pool_gateway(cloud.daemon.daemon_id()))
    try:
        jump = " ".join(["ssh", *SSH_OPTS, "-i", str(cloud.key_path), "-W", "%h:%p",
                         f"admin@{nat_ip}"])

        def on_inner(command: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                ["ssh", *SSH_OPTS, "-o", f"ProxyCommand={jump}", "-i", str(cloud.key_path),
                 f"admin@{inner['PrivateIpAddress']}", command],
                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)

        probe = (f"timeout 3 bash -c 'exec 3<>/dev/tcp/{listener.sock.getsockname()[0]}/"
                 f"{listener.port} && head -c 5 <&3' 2>/dev/null | grep -q hello "
                 "&& echo open || echo blocked")

        def outside() -> str:
            p = on_inner(probe)
            return p.stdout.strip() if p.returncode == 0 else f"ssh failed: {p.stderr}"

        k.wait_until(lambda: on_inner("true").returncode == 0, 60, "ssh to the private instance",
                     interval=0.2)
        # The route to the NAT instance, with its source/destination check still on: the
        # instance does not accept traffic that is not for it, so nothing gets out.
        out = cloud.aws("create-route", "--route-table-id", private_rtb, "--destination-cidr-block",
                        "0.0.0.0/0", "--instance-id", nat_id)
        assert out["Return"] is True
        (route,) = [r for r in ec2.describe_route_tables(RouteTableIds=[private_rtb])[
            "RouteTables"][0]["Routes"] if r["DestinationCidrBlock"] == "0.0.0.0/0"]
        assert route["InstanceId"] == nat_id and route["State"] == "active"
        assert route["NetworkInterfaceId"] == nat["NetworkInterfaces"][0]["NetworkInterfaceId"]
        k.wait_until(lambda: outside() == "blocked", 60, "the checked NAT instance to drop it",
                     interval=0.2)

        # Turned off, and the instance set up as a NAT (forwarding, masquerading).
        cloud.aws("modify-instance-attribute", "--instance-id", nat_id, "--no-source-dest-check")
        assert cloud.instance(nat_id)["SourceDestCheck"] is False
        ssh(cloud.key_path, nat_ip,
            "sudo sysctl -qw net.ipv4.ip_forward=1 && sudo nft add table ip nat && "
            "sudo nft 'add chain ip nat post { type nat hook postrouting priority srcnat; }' && "
            "sudo nft add rule ip nat post oifname eth0 ip saddr 10.40.2.0/24 masquerade")
        listener.peers.clear()
        k.wait_until(lambda: outside() == "open", 60, "the private instance to get out through it",
                     interval=0.2)
        # The outside sees the NAT instance's public address.
        assert nat_ip in listener.peers, listener.peers
        # It is the NAT instance that carries it: without its forwarding, nothing gets out.
        ssh(cloud.key_path, nat_ip, "sudo sysctl -qw net.ipv4.ip_forward=0")
        k.wait_until(lambda: outside() == "blocked", 60, "the traffic to stop with forwarding",
                     interval=0.2)
        ssh(cloud.key_path, nat_ip, "sudo sysctl -qw net.ipv4.ip_forward=1")
        k.wait_until(lambda: outside() == "open", 60, "the traffic to resume", interval=0.2)
        # Without the route the private subnet has no way out at all, as on EC2 (the VPC's
        # router does not take it out behind a public address of its own accord).
        ec2.delete_route(RouteTableId=private_rtb, DestinationCidrBlock="0.0.0.0/0")
        k.wait_until(lambda: outside() == "blocked", 60, "the subnet without a route to be cut off",
                     interval=0.2)
        ec2.create_route(RouteTableId=private_rtb, DestinationCidrBlock="0.0.0.0/0",
                         NetworkInterfaceId=route["NetworkInterfaceId"])
        k.wait_until(lambda: outside() == "open", 60, "the route to the interface to carry it",
                     interval=0.2)
        # The check back on: dropped again.
        ec2.modify_network_interface_attribute(
            NetworkInterfaceId=route["NetworkInterfaceId"], SourceDestCheck={"Value": True})
        k.wait_until(lambda: outside() == "blocked", 60, "the check to apply again", interval=0.2)
    finally:
        listener.close()

    # Its instance gone, the route is a blackhole.
    ec2.terminate_instances(InstanceIds=[nat_id, inner_id])
    for i in (nat_id, inner_id):
        wait_state(ec2, i, "terminated", timeout=120)
    (route,) = [r for r in ec2.describe_route_tables(RouteTableIds=[private_rtb])[
        "RouteTables"][0]["Routes"] if r["DestinationCidrBlock"] == "0.0.0.0/0"]
    assert route["State"] == "blackhole"
