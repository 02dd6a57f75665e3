"""GPU instances on a machine without GPUs: kumod's test facility (`--test-stand-in-gpus DIR`)
treats the character devices DIR/nvidia0 and DIR/nvidia1 as the host's two GPUs. They are made
here with the NVIDIA major number (195) and minors no driver uses, so that inside an instance
opening its node reaches the kernel (ENXIO: no driver) only because the device cgroup lets it —
a denied open fails with EPERM instead.

Checked: DescribeInstanceTypes shows the host's model; a 1-GPU instance sees exactly its node
(and the control node), a second gets the other GPU, a third is refused with
InsufficientInstanceCapacity; stop releases (a start may get another GPU), terminate releases;
`kill -9` of kumod keeps the assignment; an on-demand GPU launch reclaims a spot GPU instance
with its two-minute notice. Needs root, like every instance test.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import kumo_e2e as k
from test_instances import NSS, Cloud, pytestmark, ssh, wait_ssh, wait_state  # noqa: F401

TYPE = "g4dn.xlarge"  # 1 GPU, 4 vCPUs, 16 GiB
STAND_IN = "Kumo stand-in GPU (test facility)"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    # Outside pytest's 0700 temporary directories: liblxc binds the nodes from here.
    gpus = Path("/var/lib/kumo/test-hosts") / k.unique("gpus")
    gpus.mkdir(parents=True)
    gpus.chmod(0o755)
    for name, minor in (("nvidia0", 200), ("nvidia1", 201), ("nvidiactl", 202)):
        os.mknod(gpus / name, 0o666 | stat.S_IFCHR, os.makedev(195, minor))
        (gpus / name).chmod(0o666)
    c = Cloud(tmp_path_factory.mktemp("gpu"), "gpu",
              extra_args=["--test-stand-in-gpus", str(gpus), "--simulated-clock",
                          "--host-cpus", "4", "--host-memory-mib", "65536"])
    try:
        c.start()
        c.key_and_group()
        yield c
    finally:
        try:
            c.stop()
        finally:
            shutil.rmtree(gpus, ignore_errors=True)


def launch(cloud, market=None):
    kw = {"InstanceMarketOptions": market} if market else {}
    return cloud.ec2.run_instances(ImageId=cloud.image_id(), InstanceType=TYPE, MinCount=1,
                                   MaxCount=1, KeyName="mykey", SecurityGroups=["ssh"],
                                   **kw)["Instances"][0]["InstanceId"]


def host_of(cloud, iid):
    i = wait_state(cloud.ec2, iid, "running", timeout=90)
    host = i["PublicDnsName"] if NSS else i["PublicIpAddress"]
    wait_ssh(cloud.key_path, host)
    return host


def devices_inside(cloud, iid) -> list[str]:
    out = ssh(cloud.key_path, host_of(cloud, iid), "ls /dev | grep '^nvidia' || true").stdout
    return sorted(out.split())


def assignment(cloud) -> dict[str, str | None]:
    """GPU device name → the instance holding it, from the admin API (`kumo admin hosts`)."""
    (host,) = k.admin(cloud.daemon, "hosts")["Hosts"]
    return {Path(g["Device"]).name: g["InstanceId"] for g in host["Gpus"]}


def expect_capacity_error(fn, *a, **kw):
    with pytest.raises(Exception) as e:
        fn(*a, **kw)
    assert k.error_code(e.value) == "InsufficientInstanceCapacity", e.value


def test_types_and_hosts_show_the_host_gpus(cloud):
    t = cloud.ec2.describe_instance_types(InstanceTypes=[TYPE])["InstanceTypes"][0]
    (gpu,) = t["GpuInfo"]["Gpus"]
    assert (gpu["Name"], gpu["Count"], gpu["Manufacturer"]) == (STAND_IN, 1, "NVIDIA")
    assert gpu["MemoryInfo"]["SizeInMiB"] == 16384
    (host,) = k.admin(cloud.daemon, "hosts")["Hosts"]
    assert host["GpuSource"] == "stand-in devices (test facility)"
    assert [Path(g["Device"]).name for g in host["Gpus"]] == ["nvidia0", "nvidia1"]
    assert len({g["Uuid"] for g in host["Gpus"]}) == 2
    assert all(g["Uuid"].startswith("GPU-") and g["InstanceId"] is None for g in host["Gpus"])
    text = k.kumo(cloud.daemon.data_dir, "admin", "hosts").stdout
    assert STAND_IN in text and text.count("free") == 2, text


def test_exclusive_assignment_stop_start_terminate(cloud):
    a = launch(cloud)
    b = launch(cloud)
    expect_capacity_error(launch, cloud)  # both GPUs are held

    seen_a, seen_b = devices_inside(cloud, a), devices_inside(cloud, b)
    gpu_a = next(d for d in seen_a if d[-1].isdigit())
    gpu_b = next(d for d in seen_b if d[-1].isdigit())
    assert seen_a == sorted([gpu_a, "nvidiactl"]) and seen_b == sorted([gpu_b, "nvidiactl"])
    assert {gpu_a, gpu_b} == {"nvidia0", "nvidia1"}
    assert assignment(cloud) == {gpu_a: a, gpu_b: b}

    # The device cgroup lets the instance open its node (the kernel then says there is no
    # driver); the other GPU's node does not exist inside.
    host_a = host_of(cloud, a)
    out = ssh(cloud.key_path, host_a, f"head -c1 /dev/{gpu_a} 2>&1; test -e /dev/{gpu_b}; "
              "echo other=$?", check=False).stdout
    assert "No such device or address" in out and "other=1" in out, out

    # Where EC2 has a field for it: DescribeInstances and the metadata service.
    (assoc,) = cloud.instance(a)["ElasticGpuAssociations"]
    assert assoc["ElasticGpuAssociationState"] == "associated"
    egpu = assoc["ElasticGpuId"]
    md = "http://169.254.169.254/latest/meta-data/elastic-gpus/associations"
    assert ssh(cloud.key_path, host_a, f"curl -sf {md}/").stdout.split() == [egpu]
    doc = json.loads(ssh(cloud.key_path, host_a, f"curl -sf {md}/{egpu}").stdout)
    assert doc["elastic-gpu-id"] == egpu and doc["device"] == f"/dev/{gpu_a}"
    assert doc["elastic-gpu-type"] == STAND_IN
    ls = k.kumo(cloud.daemon.data_dir, "ls", "--profile", cloud.account.profile,
                env=cloud.files.env()).stdout
    assert "GPUS" in ls and any(a in line and " 1 " in line for line in ls.splitlines()), ls

    # Stop gives the GPU back: a third instance gets it, and a then cannot start.
    cloud.ec2.stop_instances(InstanceIds=[a])
    wait_state(cloud.ec2, a, "stopped", timeout=90)
    assert "ElasticGpuAssociations" not in cloud.instance(a)
    assert assignment(cloud) == {gpu_a: None, gpu_b: b}
    c = launch(cloud)
    assert devices_inside(cloud, c) == sorted([gpu_a, "nvidiactl"])
    expect_capacity_error(cloud.ec2.start_instances, InstanceIds=[a])

    # Terminate gives it back too; a starts again on whichever GPU is free.
    cloud.ec2.terminate_instances(InstanceIds=[c, b])
    wait_state(cloud.ec2, c, "terminated", timeout=90)
    wait_state(cloud.ec2, b, "terminated", timeout=90)
    assert assignment(cloud) == {"nvidia0": None, "nvidia1": None}
    cloud.ec2.start_instances(InstanceIds=[a])
    assert len([d for d in devices_inside(cloud, a) if d[-1].isdigit()]) == 1
    held = assignment(cloud)
    assert sorted(held.values(), key=str) == sorted([a, None], key=str)
    cloud.ec2.terminate_instances(InstanceIds=[a])
    wait_state(cloud.ec2, a, "terminated", timeout=90)
    assert assignment(cloud) == {"nvidia0": None, "nvidia1": None}


def test_kill9_keeps_the_assignment(cloud):
    a, b = launch(cloud), launch(cloud)
    for i in (a, b):
        host_of(cloud, i)
    before = assignment(cloud)
    assert sorted(before.values()) == sorted([a, b])
    cloud.daemon.kill9()
    cloud.daemon.start()
    assert assignment(cloud) == before
    expect_capacity_error(launch, cloud)
    for i in (a, b):
        assert len([d for d in devices_inside(cloud, i) if d[-1].isdigit()]) == 1
    cloud.ec2.terminate_instances(InstanceIds=[a, b])
    for i in (a, b):
        wait_state(cloud.ec2, i, "terminated", timeout=90)
    assert assignment(cloud) == {"nvidia0": None, "nvidia1": None}


def test_on_demand_gpu_reclaims_spot(cloud):
    """Both GPUs held by spot instances: an on-demand launch is accepted at once, the lower bid
    gets its two-minute notice, and the on-demand instance runs on the GPU it gives back."""
    def spot(price):
        return launch(cloud, {"MarketType": "spot", "SpotOptions": {"MaxPrice": price}})
    high, low = spot("0.50"), spot("0.40")
    for i in (high, low):
        host_of(cloud, i)
    low_gpu = next(d for d, holder in assignment(cloud).items() if holder == low)

    od = launch(cloud)
    assert cloud.instance(od)["State"]["Name"] == "pending"  # waiting for a GPU
    rid = cloud.instance(low)["SpotInstanceRequestId"]
    k.wait_until(lambda: cloud.ec2.describe_spot_instance_requests(
        SpotInstanceRequestIds=[rid])["SpotInstanceRequests"][0]["Status"]["Code"]
        == "instance-terminated-no-capacity", 10, "the lower bid's notice")
    assert cloud.instance(high)["State"]["Name"] == "running"
    k.admin(cloud.daemon, "clock/advance", seconds=121)
    wait_state(cloud.ec2, low, "terminated", timeout=90)
    assert devices_inside(cloud, od) == sorted([low_gpu, "nvidiactl"])
    assert assignment(cloud)[low_gpu] == od
    cloud.ec2.terminate_instances(InstanceIds=[high, od])
    for i in (high, od):
        wait_state(cloud.ec2, i, "terminated", timeout=90)
    assert assignment(cloud) == {"nvidia0": None, "nvidia1": None}
