"""Block storage end to end: the root volume's size is enforced inside the instance, data volumes
attach to a running instance at /mnt/<device>, keep their data across detach and re-attach to
another instance, snapshots copy them consistently and new volumes are made from snapshots.

Needs root and the default image, like test_instances.py (whose Cloud fixture it uses).
"""

from __future__ import annotations

import pytest

import kumo_e2e as k
from test_instances import NSS, Cloud, pytestmark, ssh, wait_ssh  # noqa: F401


@pytest.fixture
def cloud(tmp_path):
    c = Cloud(tmp_path, "storage")
    try:
        yield c.start()
    finally:
        c.stop()


def launch(cloud, *extra):
    out = cloud.aws("run-instances", "--image-id", cloud.image_id(), "--instance-type", "t2.micro",
                    "--key-name", "mykey", "--security-groups", "ssh", *extra)
    iid = out["Instances"][0]["InstanceId"]
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "instance-status-ok",
                           "--instance-ids", iid)
    assert rc == 0, err
    inst = cloud.instance(iid)
    host = inst["PublicDnsName"] if NSS else inst["PublicIpAddress"]
    wait_ssh(cloud.key_path, host)
    return inst, host


def wait_volume(cloud, vid, state):
    def seen():
        v = cloud.ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]
        return v if v["State"] == state else None
    return k.wait_until(seen, 30, f"{vid} to be {state}", interval=0.05)


def test_root_size_enforced_volumes_and_snapshots(cloud):
    cloud.key_and_group()
    inst, host = launch(cloud, "--block-device-mappings",
                        '[{"DeviceName":"/dev/xvda","Ebs":{"VolumeSize":9}}]')
    iid, zone = inst["InstanceId"], inst["Placement"]["AvailabilityZone"]
    bdm = inst["BlockDeviceMappings"]
    assert [m["DeviceName"] for m in bdm] == ["/dev/xvda"]
    root_id = bdm[0]["Ebs"]["VolumeId"]
    root = cloud.ec2.describe_volumes(VolumeIds=[root_id])["Volumes"][0]
    assert root["Size"] == 9 and root["State"] == "in-use"
    assert root["Attachments"][0]["InstanceId"] == iid
    assert root["Attachments"][0]["DeleteOnTermination"] is True

    # The root filesystem is the volume's size; filling it is ENOSPC inside, not on the host.
    out = ssh(cloud.key_path, host,
              "df -B1G --output=size / | tail -1; "
              "fallocate -l 10G ~/big 2>&1; echo rc=$?; "
              "fallocate -l 9G ~/big 2>/dev/null; echo x > ~/after 2>&1; echo rc=$?; rm -f ~/big")
    lines = out.stdout.split("\n")
    assert 8 <= int(lines[0].strip()) <= 9, out.stdout
    assert "No space left on device" in out.stdout, out.stdout
    assert "rc=1" in lines, out.stdout

    # A data volume attached to the running instance appears at /mnt/sdf.
    vol = cloud.aws("create-volume", "--availability-zone", zone, "--size", "1",
                    "--tag-specifications", "ResourceType=volume,Tags=[{Key=Name,Value=data}]")
    vid = vol["VolumeId"]
    assert vol["State"] == "creating"
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "volume-available",
                           "--volume-ids", vid)
    assert rc == 0, err
    att = cloud.aws("attach-volume", "--volume-id", vid, "--instance-id", iid, "--device",
                    "/dev/sdf")
    assert att["State"] == "attaching"
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "volume-in-use",
                           "--volume-ids", vid)
    assert rc == 0, err
    k.wait_until(lambda: cloud.ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]
                 ["Attachments"][0]["State"] == "attached", 30, "attached")
    out = ssh(cloud.key_path, host, "sudo sh -c 'echo checkpoint-42 > /mnt/sdf/data' && "
              "cat /mnt/sdf/data && df -B1M --output=size /mnt/sdf | tail -1")
    assert out.stdout.split("\n")[0] == "checkpoint-42"
    assert 900 < int(out.stdout.split("\n")[1]) <= 1024
    devices = [m["DeviceName"] for m in cloud.instance(iid)["BlockDeviceMappings"]]
    assert devices == ["/dev/xvda", "/dev/sdf"]

    # Errors EC2 gives.
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "delete-volume", "--volume-id", vid)
    assert rc != 0 and k.cli_error_code(err) == "VolumeInUse", err
    other_zone = next(z["ZoneName"] for z in cloud.ec2.describe_availability_zones()
                      ["AvailabilityZones"] if z["ZoneName"] != zone)
    far = cloud.aws("create-volume", "--availability-zone", other_zone, "--size", "1")["VolumeId"]
    wait_volume(cloud, far, "available")
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "attach-volume", "--volume-id", far,
                           "--instance-id", iid, "--device", "/dev/sdg")
    assert rc != 0 and k.cli_error_code(err) == "InvalidVolume.ZoneMismatch", err
    cloud.aws("delete-volume", "--volume-id", far)

    # Snapshot while attached (frozen for the copy), then detach.
    snap = cloud.aws("create-snapshot", "--volume-id", vid, "--description", "ckpt")
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "snapshot-completed",
                           "--snapshot-ids", snap["SnapshotId"])
    assert rc == 0, err
    cloud.aws("detach-volume", "--volume-id", vid)
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "volume-available",
                           "--volume-ids", vid)
    assert rc == 0, err
    out = ssh(cloud.key_path, host, "test -e /mnt/sdf/data; echo $?")
    assert out.stdout.strip() == "1"

    # Attach to a second instance; the data is there. A volume from the snapshot has it too.
    inst2, host2 = launch(cloud)
    cloud.aws("attach-volume", "--volume-id", vid, "--instance-id", inst2["InstanceId"],
              "--device", "/dev/sdg")
    restored = cloud.aws("create-volume", "--availability-zone", inst2["Placement"]
                         ["AvailabilityZone"], "--snapshot-id", snap["SnapshotId"])
    assert restored["Size"] == 1 and restored["SnapshotId"] == snap["SnapshotId"]
    wait_volume(cloud, restored["VolumeId"], "available")
    cloud.aws("attach-volume", "--volume-id", restored["VolumeId"], "--instance-id",
              inst2["InstanceId"], "--device", "/dev/sdh")
    for v in (vid, restored["VolumeId"]):
        k.wait_until(lambda: cloud.ec2.describe_volumes(VolumeIds=[v])["Volumes"][0]
                     ["Attachments"][0]["State"] == "attached", 30, "attached")
    out = ssh(cloud.key_path, host2, "cat /mnt/sdg/data /mnt/sdh/data")
    assert out.stdout.split("\n")[:2] == ["checkpoint-42", "checkpoint-42"]

    # Terminating: root volumes go (DeleteOnTermination), data volumes stay, available.
    cloud.aws("terminate-instances", "--instance-ids", iid, inst2["InstanceId"])
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "instance-terminated",
                           "--instance-ids", iid, inst2["InstanceId"])
    assert rc == 0, err

    def settled():
        vols = {v["VolumeId"]: v["State"] for v in cloud.ec2.describe_volumes()["Volumes"]}
        return vols if vols == {vid: "available", restored["VolumeId"]: "available"} else None
    k.wait_until(settled, 30, "root volumes deleted and data volumes available")
    for v in (vid, restored["VolumeId"]):
        cloud.aws("delete-volume", "--volume-id", v)
    cloud.aws("delete-snapshot", "--snapshot-id", snap["SnapshotId"])
    k.wait_until(lambda: not cloud.ec2.describe_volumes()["Volumes"], 30, "volumes deleted")
    assert not cloud.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
