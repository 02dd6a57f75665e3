#!/usr/bin/python3
"""How fast a route change is in force: a private subnet routed through a NAT instance.

    bench/vpc_route_bench.py [--changes 10]    (as root; KUMO_BIN_DIR as the tests)

Starts its own kumod and builds tests/test_nat_instance.py's network: a VPC, a public subnet
with an internet gateway, a private subnet, a NAT instance (source/destination check off,
forwarding and masquerading) and a private instance. Inside the private instance a prober
connects every 5 ms (50 ms timeout) to a TCP listener of this script on the pool's gateway
address, which timestamps every accepted connection (containers share the host's clock). Then,
--changes times each way:
  - route: DeleteRoute 0.0.0.0/0 → the last accepted connection; CreateRoute --instance-id →
    the first accepted one;
  - baseline in the same run, the same path: a security-group change (revoke the group's
    egress to the listener → the last accepted connection; authorize it → the first).
Prints medians and maxima, and the route/group ratio. Everything it starts is torn down at exit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("KUMO_BIN_DIR", str(ROOT / "build" / "bin"))
import kumo_e2e as k  # noqa: E402
from test_nat_instance import Listener, pool_gateway  # noqa: E402

SSH = ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "ConnectTimeout=2", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

PROBER = r'''
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + seconds
while time.time() < end:
    try:
        socket.create_connection((host, port), timeout=0.05).close()
    except OSError:
        pass
    time.sleep(0.005)
'''


class TimedListener(Listener):
    """The test's listener, with the time of every accepted connection."""

    def __init__(self, address: str):
        self.times: list[float] = []
        super().__init__(address)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.times.append(time.time())
            conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-route-bench-"))
    daemon = k.Kumod(tmp / "data", regions=(k.HOME_REGION,),
                     image_dir=Path(os.environ.get("KUMO_IMAGE_DIR", "/var/lib/kumo/images")))
    files = k.AwsFiles(tmp / "config", tmp / "credentials")
    try:
        daemon.start()
        ec2 = k.make_client(k.create_account(daemon.data_dir, daemon.endpoint, files))
        key = k.write_private(tmp / "key.pem",
                              ec2.create_key_pair(KeyName="b", KeyType="ed25519")["KeyMaterial"])
        image = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
                     if i["Name"] == "debian-12")
        vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
        (group,) = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
        sg = group["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpProtocol="tcp", FromPort=22,
                                             ToPort=22, CidrIp="0.0.0.0/0")
        public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24")["Subnet"]["SubnetId"]
        private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.2.0/24")["Subnet"]["SubnetId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        public_rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_rtb, DestinationCidrBlock="0.0.0.0/0",
                         GatewayId=igw)
        ec2.associate_route_table(RouteTableId=public_rtb, SubnetId=public)
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=private)

        def launch(**kw):
            return ec2.run_instances(ImageId=image, InstanceType="t2.micro", KeyName="b",
                                     MinCount=1, MaxCount=1, **kw)["Instances"][0]["InstanceId"]

        nat = launch(NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": public,
                                         "AssociatePublicIpAddress": True}])
        inner = launch(SubnetId=private)

        def described(i):
            return ec2.describe_instances(InstanceIds=[i])["Reservations"][0]["Instances"][0]

        nat_ip = k.wait_until(lambda: described(nat).get("PublicIpAddress") if
                              described(nat)["State"]["Name"] == "running" else None, 120, "nat")
        inner_ip = k.wait_until(lambda: described(inner).get("PrivateIpAddress") if
                                described(inner)["State"]["Name"] == "running" else None, 120,
                                "inner")
        on_nat = [*SSH, "-i", str(key), f"admin@{nat_ip}"]
        k.wait_until(lambda: subprocess.run([*on_nat, "true"], capture_output=True).returncode
                     == 0, 60, "ssh to the NAT instance")
        ec2.modify_instance_attribute(InstanceId=nat, SourceDestCheck={"Value": False})
        subprocess.run([*on_nat,
                        "sudo sysctl -qw net.ipv4.ip_forward=1 && sudo nft add table ip nat && "
                        "sudo nft 'add chain ip nat post { type nat hook postrouting priority "
                        "srcnat; }' && sudo nft add rule ip nat post oifname eth0 ip saddr "
                        "10.41.2.0/24 masquerade"], check=True, capture_output=True)
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", InstanceId=nat)

        listener = TimedListener(pool_gateway(daemon.daemon_id()))
        gateway = listener.sock.getsockname()[0]
        jump = " ".join([*SSH, "-i", str(key), "-W", "%h:%p", f"admin@{nat_ip}"])
        on_inner = [*SSH, "-o", f"ProxyCommand={jump}", "-i", str(key), f"admin@{inner_ip}"]
        k.wait_until(lambda: subprocess.run([*on_inner, "true"], capture_output=True)
                     .returncode == 0, 60, "ssh to the private instance")
        seconds = 4 * args.changes * 2 * 2 + 30
        prober = subprocess.Popen([*on_inner, f"python3 - {gateway} {listener.port} {seconds}"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=lambda: prober.communicate(PROBER), daemon=True).start()
        k.wait_until(lambda: listener.times, 30, "the prober to get out")

        def accepted_after(t):
            return next((x for x in listener.times if x > t), None)

        def cut_off(t):
            """Waits for a quiet second; the last connection accepted after t (or t)."""
            k.wait_until(lambda: time.time() - max(listener.times[-1], t) > 1.0, 10,
                         "connections to stop")
            return max([x for x in listener.times if x > t], default=t) - t

        def opened(t):
            return k.wait_until(lambda: accepted_after(t), 10, "connections to resume") - t

        egress = [{"IpProtocol": "tcp", "FromPort": listener.port, "ToPort": listener.port,
                   "IpRanges": [{"CidrIp": f"{gateway}/32"}]}]
        everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=egress)
        ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=everything)
        results = {"route deleted → cut off": [], "route created → through the NAT": [],
                   "group egress revoked → cut off": [],
                   "group egress authorized → through": []}
        for _ in range(args.changes):
            t = time.time()
            ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
            results["route deleted → cut off"].append(cut_off(t))
            t = time.time()
            ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", InstanceId=nat)
            results["route created → through the NAT"].append(opened(t))
            t = time.time()
            ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=egress)
            results["group egress revoked → cut off"].append(cut_off(t))
            t = time.time()
            ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=egress)
            results["group egress authorized → through"].append(opened(t))
        prober.kill()
        listener.close()
        print(f"\nChange → in force, {args.changes} changes each way, probes every 5 ms (ms)\n")
        print("| change | p50 | max |\n|---|---|---|")
        for name, v in results.items():
            print(f"| {name} | {statistics.median(v) * 1e3:.0f} | {max(v) * 1e3:.0f} |")
        route = statistics.median(results["route created → through the NAT"])
        group = statistics.median(results["group egress authorized → through"])
        print(f"\nroute created / group authorized (medians): {route / group:.2f}x")
    finally:
        daemon.stop()
        daemon.teardown()


if __name__ == "__main__":
    main()
