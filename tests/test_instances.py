"""Real instances: launched with the aws CLI v2 and boto3, reached with OpenSSH by public DNS
name, stopped, started, rebooted, terminated; every host resource checked gone afterwards.

Needs root (containers, namespaces, nftables) and the default image (scripts/test.sh builds it
and sets KUMO_IMAGE_DIR); CI runs as root. Each daemon here has its own data dir, host root and
public pool, and is torn down (`kumod --teardown`) even when a test fails.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

import kumo_e2e as k

IMAGE_DIR = Path(os.environ.get("KUMO_IMAGE_DIR") or "/var/lib/kumo/images")
NSS = "kumo" in next((l for l in open("/etc/nsswitch.conf") if l.startswith("hosts:")), "")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="instances need root (CI runs as root)"),
    pytest.mark.skipif(not (IMAGE_DIR / "debian-12" / "image.json").exists(),
                       reason=f"no default image in {IMAGE_DIR} (scripts/build-image.sh)"),
]

SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]


def host_leftovers(daemon_id: str) -> list[str]:
    """Everything on the host that still carries this daemon's prefix."""
    prefix = f"k{daemon_id}"
    found = []
    netns = Path("/run/netns")
    if netns.exists():
        found += [f"netns {p.name}" for p in netns.iterdir() if p.name.startswith(prefix)]
    found += [f"link {l}" for l in os.listdir("/sys/class/net") if l.startswith(prefix)]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    found += [f"nft {t}" for t in tables.split("\n") if t.endswith(f" {prefix}")]
    mounts = Path("/proc/mounts").read_text()
    found += [f"mount {m.split()[1]}" for m in mounts.splitlines() if prefix in m]
    return found


class Cloud:
    """One daemon with an account, a key pair and an ssh security group."""

    def __init__(self, tmp: Path, name: str = "cloud", extra_args=()):
        self.daemon = k.Kumod(tmp / f"{name}-data", regions=(k.HOME_REGION,), image_dir=IMAGE_DIR,
                              extra_args=extra_args)
        self.tmp = tmp
        self.files = k.AwsFiles(tmp / f"{name}-aws-config", tmp / f"{name}-aws-credentials")

    def start(self):
        self.daemon.start()
        self.account = self.new_account()
        self.ec2 = k.make_client(self.account)
        self.key_path = self.tmp / f"{self.account.profile}.pem"
        return self

    def new_account(self) -> k.Account:
        return k.create_account(self.daemon.data_dir, self.daemon.endpoint, self.files)

    def aws(self, *args, account: k.Account | None = None):
        rc, out, err = k.aws_cli(self.files, account or self.account, "ec2", *args)
        assert rc == 0, err
        return out

    def image_id(self) -> str:
        images = self.aws("describe-images", "--owners", "amazon")["Images"]
        return next(i["ImageId"] for i in images if i["Name"] == "debian-12")

    def key_and_group(self, account: k.Account | None = None, key_path: Path | None = None):
        account = account or self.account
        key_path = key_path or self.key_path
        material = self.aws("create-key-pair", "--key-name", "mykey", "--key-type", "ed25519",
                            account=account)["KeyMaterial"]
        k.write_private(key_path, material)
        self.aws("create-security-group", "--group-name", "ssh", "--description", "ssh",
                 account=account)
        self.aws("authorize-security-group-ingress", "--group-name", "ssh", "--protocol", "tcp",
                 "--port", "22", "--cidr", "0.0.0.0/0", account=account)

    def instance(self, instance_id: str, ec2=None) -> dict:
        ec2 = ec2 or self.ec2
        return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]

    def stop(self):
        self.daemon.stop()
        result = self.daemon.teardown()
        assert result is None or result.returncode == 0, result.stderr
        leftovers = host_leftovers(self.daemon.daemon_id())
        assert not leftovers, leftovers
        assert not (self.daemon.host_root / self.daemon.daemon_id()).exists()


@pytest.fixture
def cloud(tmp_path):
    c = Cloud(tmp_path)
    try:
        yield c.start()
    finally:
        c.stop()


def ssh(key: Path, host: str, command: str, check: bool = True, timeout: float = 30):
    p = subprocess.run(["ssh", *SSH_OPTS, "-i", str(key), f"admin@{host}", command],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check:
        assert p.returncode == 0, f"ssh {host} {command!r}: {p.returncode} {p.stderr}"
    return p


def wait_ssh(key: Path, host: str, timeout: float = 60):
    return k.wait_until(lambda: ssh(key, host, "true", check=False).returncode == 0, timeout,
                        f"ssh to {host}", interval=0.2)


def wait_state(ec2, instance_id: str, state: str, timeout: float = 60):
    def seen():
        i = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return i if i["State"]["Name"] == state else None
    return k.wait_until(seen, timeout, f"{instance_id} to be {state}", interval=0.05)


def test_launch_ssh_stop_start_reboot_terminate(cloud):
    cloud.key_and_group()
    types = {t["InstanceType"]: t for t in cloud.ec2.describe_instance_types(
        InstanceTypes=["t2.micro", "t2.small"])["InstanceTypes"]}
    out = cloud.aws("run-instances", "--image-id", cloud.image_id(), "--instance-type", "t2.micro",
                    "--key-name", "mykey", "--security-groups", "ssh", "--tag-specifications",
                    "ResourceType=instance,Tags=[{Key=Name,Value=theano}]")
    inst = out["Instances"][0]
    iid = inst["InstanceId"]
    assert inst["State"]["Name"] == "pending"
    assert inst["SecurityGroups"][0]["GroupName"] == "ssh"
    assert inst["PrivateIpAddress"].startswith("172.31.")
    assert inst["PublicDnsName"] == "ec2-{}.{}.compute.kumo".format(
        inst["PublicIpAddress"].replace(".", "-"), k.HOME_REGION)
    assert inst["PrivateDnsName"].startswith("ip-" + inst["PrivateIpAddress"].replace(".", "-"))

    # The CLI's own waiter: ok means sshd answers inside the VPC.
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "instance-status-ok",
                           "--instance-ids", iid)
    assert rc == 0, err
    inst = cloud.instance(iid)
    assert inst["State"]["Name"] == "running"
    assert {"Key": "Name", "Value": "theano"} in inst["Tags"]
    host = inst["PublicDnsName"] if NSS else inst["PublicIpAddress"]

    out = ssh(cloud.key_path, host, "hostname; nproc; grep MemTotal /proc/meminfo; "
              f"getent hosts {inst['PrivateDnsName']}; cat /etc/resolv.conf; "
              "echo kept > ~/file; sudo -n true && echo sudo-ok; "
              "cat /proc/self/uid_map").stdout.split("\n")
    assert out[0] == "ip-" + inst["PrivateIpAddress"].replace(".", "-")
    assert int(out[1]) == min(types["t2.micro"]["VCpuInfo"]["DefaultVCpus"], os.cpu_count())
    mem_kib = int(out[2].split()[1])
    assert mem_kib == types["t2.micro"]["MemoryInfo"]["SizeInMiB"] * 1024
    assert out[3].split()[0] == inst["PrivateIpAddress"]  # the VPC's resolver at +2
    assert "nameserver 172.31.0.2" in out
    assert "sudo-ok" in out
    # Unprivileged: the instance's root is an unprivileged host uid (root's subuid range).
    uid_map = next(l for l in out if l.strip().startswith("0 ")).split()
    assert int(uid_map[1]) >= 100000, uid_map

    # `kumo ssh-config` writes the stanza; then plain `ssh <PublicDnsName>` logs in as admin.
    if NSS:
        cfg = cloud.tmp / "ssh_config"
        subprocess.run([str(k.kumo_bin()), "ssh-config", "-i", str(cloud.key_path), "--file",
                        str(cfg)], check=True, capture_output=True)
        plain = subprocess.run(["ssh", "-F", str(cfg), *SSH_OPTS, inst["PublicDnsName"], "whoami"],
                               capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
        assert plain.returncode == 0 and plain.stdout.strip() == "admin", plain.stderr

    console = cloud.ec2.get_console_output(InstanceId=iid)
    assert "Debian GNU/Linux 12" in console["Output"]

    # Stop: the public address goes, the disk stays; the type can change while stopped.
    cloud.aws("stop-instances", "--instance-ids", iid)
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "instance-stopped",
                           "--instance-ids", iid)
    assert rc == 0, err
    stopped = cloud.instance(iid)
    assert "PublicIpAddress" not in stopped and stopped["PublicDnsName"] == ""
    assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    cloud.aws("modify-instance-attribute", "--instance-id", iid, "--instance-type",
              "{\"Value\": \"t2.small\"}")
    cloud.aws("start-instances", "--instance-ids", iid)
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "instance-status-ok",
                           "--instance-ids", iid)
    assert rc == 0, err
    inst = cloud.instance(iid)
    assert inst["InstanceType"] == "t2.small"
    host = inst["PublicDnsName"] if NSS else inst["PublicIpAddress"]
    out = ssh(cloud.key_path, host, "cat ~/file; grep MemTotal /proc/meminfo").stdout.split("\n")
    assert out[0] == "kept"
    assert int(out[1].split()[1]) == types["t2.small"]["MemoryInfo"]["SizeInMiB"] * 1024

    # Reboot: /run is a tmpfs, so a marker there tells a new boot from the old one.
    ssh(cloud.key_path, host, "sudo -n touch /run/before-reboot")
    cloud.aws("reboot-instances", "--instance-ids", iid)
    k.wait_until(lambda: ssh(cloud.key_path, host, "test ! -e /run/before-reboot",
                             check=False).returncode == 0, 60, "the reboot", interval=0.2)
    assert ssh(cloud.key_path, host, "cat ~/file").stdout.strip() == "kept"

    # Terminate: the container, its storage and its port are gone.
    container_dir = cloud.daemon.host_root / cloud.daemon.daemon_id() / "lxc" / \
        f"k{cloud.daemon.daemon_id()}-{iid}"
    assert container_dir.exists()
    cloud.aws("terminate-instances", "--instance-ids", iid)
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "instance-terminated",
                           "--instance-ids", iid)
    assert rc == 0, err
    assert not container_dir.exists()
    assert not (cloud.daemon.host_root / cloud.daemon.daemon_id() / "instances" / iid).exists()
    port = f"k{cloud.daemon.daemon_id()}i{iid[2:9]}"
    assert not Path(f"/sys/class/net/{port}").exists()
    assert ssh(cloud.key_path, host, "true", check=False, timeout=15).returncode != 0


def test_bad_requests_get_ec2_errors(cloud):
    ec2 = cloud.ec2
    image = cloud.image_id()
    cases = [
        (dict(ImageId="ami-00000000000000000", MinCount=1, MaxCount=1), "InvalidAMIID.NotFound"),
        (dict(ImageId=image, MinCount=1, MaxCount=1, KeyName="nope"), "InvalidKeyPair.NotFound"),
        (dict(ImageId=image, MinCount=1, MaxCount=1, InstanceType="p2.xlarge"),
         "InsufficientInstanceCapacity"),
        (dict(ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=["sg-00000000000000000"]),
         "InvalidGroup.NotFound"),
        (dict(ImageId=image, MinCount=2, MaxCount=1), "InvalidParameterValue"),
    ]
    for params, code in cases:
        with pytest.raises(Exception) as e:
            ec2.run_instances(**params)
        assert k.error_code(e.value) == code, params
    for call in (ec2.stop_instances, ec2.start_instances, ec2.terminate_instances):
        with pytest.raises(Exception) as e:
            call(InstanceIds=["i-0123456789abcdef0"])
        assert k.error_code(e.value) == "InvalidInstanceID.NotFound"
    assert ec2.describe_instances()["Reservations"] == []
    with pytest.raises(Exception) as e:
        ec2.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert k.error_code(e.value) == "InvalidParameterValue"

    # User data: EC2's 16 KiB limit on the decoded bytes (boto3 base64-encodes it).
    with pytest.raises(Exception) as e:
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, UserData="x" * (16 * 1024 + 1))
    assert k.error_code(e.value) == "InvalidParameterValue"

    # Starting a running instance is fine; modifying its type is not.
    first = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken="launch-once",
                              UserData="#!/bin/bash\necho hi\n",
                              MetadataOptions={"HttpTokens": "required"})["Instances"][0]
    iid = first["InstanceId"]
    assert first["MetadataOptions"]["HttpTokens"] == "required"
    assert first["MetadataOptions"]["HttpEndpoint"] == "enabled"
    user_data = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
    assert base64.b64decode(user_data["UserData"]["Value"]) == b"#!/bin/bash\necho hi\n"
    changed = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional",
                                                   HttpPutResponseHopLimit=2)
    assert changed["InstanceMetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert cloud.instance(iid)["MetadataOptions"]["HttpTokens"] == "optional"
    again = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken="launch-once",
                              UserData="#!/bin/bash\necho hi\n",
                              MetadataOptions={"HttpTokens": "required"})
    assert again["Instances"][0]["InstanceId"] == iid  # idempotent launch
    with pytest.raises(Exception) as e:  # the same token with other parameters
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, ClientToken="launch-once")
    assert k.error_code(e.value) == "IdempotentParameterMismatch"
    wait_state(ec2, iid, "running")
    with pytest.raises(Exception) as e:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t2.small"})
    assert k.error_code(e.value) == "IncorrectInstanceState"
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    assert cloud.instance(iid)["SecurityGroups"][0]["GroupId"] == group["GroupId"]
    # A group in use by an instance cannot be deleted; filters and pages see the instance.
    sg = ec2.create_security_group(GroupName="used", Description="used")["GroupId"]
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True})
    with pytest.raises(Exception) as e:
        ec2.terminate_instances(InstanceIds=[iid])
    assert k.error_code(e.value) == "OperationNotPermitted"
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    other = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=[sg],
                              TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                  {"Key": "role", "Value": "worker"}]}])["Instances"][0]
    with pytest.raises(Exception) as e:
        ec2.delete_security_group(GroupId=sg)
    assert k.error_code(e.value) == "DependencyViolation"
    # Changing an instance's groups: the old one is free, the new one in use.
    ec2.modify_instance_attribute(InstanceId=other["InstanceId"], Groups=[group["GroupId"]])
    groups = ec2.describe_instance_attribute(InstanceId=other["InstanceId"], Attribute="groupSet")
    assert [g["GroupId"] for g in groups["Groups"]] == [group["GroupId"]]
    ec2.delete_security_group(GroupId=sg)
    sg = ec2.create_security_group(GroupName="used", Description="used")["GroupId"]
    found = ec2.describe_instances(Filters=[{"Name": "tag:role", "Values": ["work*"]}])
    assert [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]] == [
        other["InstanceId"]]
    pages = list(ec2.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": 5}))
    assert sum(len(r["Instances"]) for p in pages for r in p["Reservations"]) == 2
    ec2.terminate_instances(InstanceIds=[other["InstanceId"]])
    wait_state(ec2, other["InstanceId"], "terminated")
    ec2.delete_security_group(GroupId=sg)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    with pytest.raises(Exception) as e:
        ec2.start_instances(InstanceIds=[iid])
    assert k.error_code(e.value) == "IncorrectInstanceState"


def test_accounts_get_isolated_vpcs_with_the_same_addresses(cloud):
    alice, bob = cloud.account, cloud.new_account()
    alice_key, bob_key = cloud.tmp / "alice.pem", cloud.tmp / "bob.pem"
    cloud.key_and_group(alice, alice_key)
    cloud.key_and_group(bob, bob_key)
    image = cloud.image_id()
    zone = f"{k.HOME_REGION}a"
    a = k.make_client(alice).run_instances(
        ImageId=image, MinCount=1, MaxCount=1, KeyName="mykey", SecurityGroups=["ssh"],
        Placement={"AvailabilityZone": zone})["Instances"]
    b = k.make_client(bob).run_instances(
        ImageId=image, MinCount=2, MaxCount=2, KeyName="mykey", SecurityGroups=["ssh"],
        Placement={"AvailabilityZone": zone})["Instances"]
    # Same default VPC range, same first address: their networks overlap, and never meet.
    assert [i["AmiLaunchIndex"] for i in b] == [0, 1]
    assert a[0]["PrivateIpAddress"] == b[0]["PrivateIpAddress"]
    assert a[0]["PublicIpAddress"] != b[0]["PublicIpAddress"]
    for key, inst in [(alice_key, a[0]), (bob_key, b[0]), (bob_key, b[1])]:
        wait_ssh(key, inst["PublicIpAddress"])
    probe = "timeout 3 bash -c '</dev/tcp/{}/22' && echo open || echo closed"
    # Alice cannot reach Bob's second instance by its private address: it is not in her VPC.
    assert ssh(alice_key, a[0]["PublicIpAddress"],
               probe.format(b[1]["PrivateIpAddress"])).stdout.strip() == "closed"
    # Bob's instances reach each other privately; Alice reaches Bob's public address.
    assert ssh(bob_key, b[0]["PublicIpAddress"],
               probe.format(b[1]["PrivateIpAddress"])).stdout.strip() == "open"
    assert ssh(alice_key, a[0]["PublicIpAddress"],
               probe.format(b[1]["PublicIpAddress"])).stdout.strip() == "open"
    # Nothing of 172.31/16 is in the host's routing table.
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                            text=True).stdout
    assert "172.31." not in routes


def test_two_daemons_side_by_side(tmp_path):
    one, two = Cloud(tmp_path, "one"), Cloud(tmp_path, "two")
    try:
        one.start()
        two.start()
        assert one.daemon.daemon_id() != two.daemon.daemon_id()
        ids = []
        for c in (one, two):
            c.key_and_group()
            inst = c.ec2.run_instances(ImageId=c.image_id(), MinCount=1, MaxCount=1,
                                       KeyName="mykey", SecurityGroups=["ssh"])["Instances"][0]
            ids.append(inst["InstanceId"])
        insts = [one.instance(ids[0]), two.instance(ids[1])]
        pools = {i["PublicIpAddress"].rsplit(".", 1)[0] for i in insts}
        assert len(pools) == 2, "each daemon has its own public pool"
        for c, i in zip((one, two), insts):
            wait_ssh(c.key_path, i["PublicIpAddress"])
        # Tearing one down leaves the other untouched.
        two.stop()
        assert ssh(one.key_path, insts[0]["PublicIpAddress"], "true").returncode == 0
    finally:
        one.stop()
        if two.daemon.proc is not None:
            two.stop()


def test_kill9_during_launch_and_terminate_converges(tmp_path):
    c = Cloud(tmp_path)
    try:
        c.start()
        c.key_and_group()
        image = c.image_id()
        iid = c.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, KeyName="mykey",
                                  SecurityGroups=["ssh"])["Instances"][0]["InstanceId"]
        c.daemon.kill9()  # most likely mid-launch: the response came right after the commit
        c.daemon.start()
        inst = wait_state(c.ec2, iid, "running")
        wait_ssh(c.key_path, inst["PublicIpAddress"])
        containers = os.listdir(c.daemon.host_root / c.daemon.daemon_id() / "lxc")
        assert containers == [f"k{c.daemon.daemon_id()}-{iid}"]

        # kumod dies: the instance keeps running and is still reachable.
        c.daemon.kill9()
        assert ssh(c.key_path, inst["PublicIpAddress"], "true").returncode == 0
        c.daemon.start()
        assert c.instance(iid)["State"]["Name"] == "running"

        # kill -9 right after a stop, then after a start: each finishes after the restart.
        c.ec2.stop_instances(InstanceIds=[iid])
        c.daemon.kill9()
        c.daemon.start()
        wait_state(c.ec2, iid, "stopped")
        c.ec2.start_instances(InstanceIds=[iid])
        c.daemon.kill9()
        c.daemon.start()
        inst = wait_state(c.ec2, iid, "running")
        wait_ssh(c.key_path, inst["PublicIpAddress"])
        assert len(os.listdir(c.daemon.host_root / c.daemon.daemon_id() / "lxc")) == 1

        c.ec2.terminate_instances(InstanceIds=[iid])
        c.daemon.kill9()
        c.daemon.start()
        wait_state(c.ec2, iid, "terminated")
        did = c.daemon.daemon_id()
        assert os.listdir(c.daemon.host_root / did / "lxc") == []
        assert not (c.daemon.host_root / did / "instances" / iid).exists()
        assert not [l for l in os.listdir("/sys/class/net") if l.startswith(f"k{did}i")]
        # The address is free again: the next launch gets the same one.
        again = c.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
        assert again["PublicIpAddress"] == inst["PublicIpAddress"]
    finally:
        c.stop()
