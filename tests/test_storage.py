"""Block storage end to end: the root volume's size is enforced inside the instance, data volumes
attach to a running instance at /mnt/<device>, keep their data across detach and re-attach to
another instance, snapshots copy them consistently and new volumes are made from snapshots.

Needs root and the default image, like test_instances.py (whose Cloud fixture it uses).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k
from test_instances import NSS, Cloud, pytestmark, ssh, wait_ssh  # noqa: F401


@pytest.fixture
def cloud(tmp_path):
    c = Cloud(tmp_path, "storage")
    try:
        yield c.start()
    finally:
        c.stop()


def launch(cloud, *extra, image_id=None, account=None, ec2=None, key=None):
    out = cloud.aws("run-instances", "--image-id", image_id or cloud.image_id(), "--instance-type",
                    "t2.micro", "--key-name", "mykey", "--security-groups", "ssh", *extra,
                    account=account)
    iid = out["Instances"][0]["InstanceId"]
    rc, _, err = k.aws_cli(cloud.files, account or cloud.account, "ec2", "wait",
                           "instance-status-ok", "--instance-ids", iid)
    assert rc == 0, err
    inst = cloud.instance(iid, ec2=ec2)
    host = inst["PublicDnsName"] if NSS else inst["PublicIpAddress"]
    wait_ssh(key or cloud.key_path, host)
    return inst, host


def wait_volume(cloud, vid, state):
    def seen():
        v = cloud.ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]
        return v if v["State"] == state else None
    return k.wait_until(seen, 30, f"{vid} to be {state}", interval=0.05)


def test_root_size_enforced_volumes_and_snapshots(cloud):
    cloud.key_and_group()
    inst, host = launch(cloud, "--block-device-mappings",
                        '[{"DeviceName":"/dev/xvda","Ebs":{"VolumeSize":9,"VolumeType":"gp3"}}]')
    iid, zone = inst["InstanceId"], inst["Placement"]["AvailabilityZone"]
    bdm = inst["BlockDeviceMappings"]
    assert [m["DeviceName"] for m in bdm] == ["/dev/xvda"]
    root_id = bdm[0]["Ebs"]["VolumeId"]
    root = cloud.ec2.describe_volumes(VolumeIds=[root_id])["Volumes"][0]
    assert root["Size"] == 9 and root["State"] == "in-use"
    assert root["VolumeType"] == "gp3"  # the request's type, not the image's default gp2
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


def delete_volumes_when_settled(ec2):
    """After terminations: root volumes gone (DeleteOnTermination), the rest available."""
    def settled():
        vols = ec2.describe_volumes()["Volumes"]
        return [vols] if all(v["State"] == "available" for v in vols) else None
    for v in k.wait_until(settled, 30, "volumes settled after termination")[0]:
        ec2.delete_volume(VolumeId=v["VolumeId"])


def wait_image(cloud, image_id, state="available", ec2=None):
    ec2 = ec2 or cloud.ec2

    def seen():
        img = ec2.describe_images(ImageIds=[image_id])["Images"][0]
        assert img["State"] in ("pending", state), img
        return img if img["State"] == state else None
    return k.wait_until(seen, 60, f"{image_id} to be {state}", interval=0.1)


def test_custom_images_launch_share_copy_register(cloud):
    cloud.key_and_group()
    # An instance with a data volume from its launch's BlockDeviceMappings, then configured.
    inst, host = launch(cloud, "--block-device-mappings",
                        '[{"DeviceName":"/dev/sdf","Ebs":{"VolumeSize":1}}]')
    iid = inst["InstanceId"]
    assert [m["DeviceName"] for m in inst["BlockDeviceMappings"]] == ["/dev/xvda", "/dev/sdf"]
    ssh(cloud.key_path, host, "sudo sh -c 'echo configured-7 > /etc/kumo-configured && "
        "echo dataset-3 > /mnt/sdf/dataset && rm /etc/motd' && cat /etc/machine-id")
    machine_id = ssh(cloud.key_path, host, "cat /etc/machine-id").stdout.strip()

    image_id = cloud.aws("create-image", "--instance-id", iid, "--name", "trained-env",
                         "--description", "configured", "--no-reboot", "--tag-specifications",
                         "ResourceType=image,Tags=[{Key=stage,Value=1}]")["ImageId"]
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "create-image", "--instance-id", iid,
                           "--name", "trained-env")
    assert rc != 0 and k.cli_error_code(err) == "InvalidAMIName.Duplicate", err
    img = wait_image(cloud, image_id)
    assert img["Name"] == "trained-env" and img["OwnerId"] == cloud.account.account_id
    assert img["Public"] is False and img["Tags"] == [{"Key": "stage", "Value": "1"}]
    devices = [(m["DeviceName"], m["Ebs"]["VolumeSize"]) for m in img["BlockDeviceMappings"]]
    assert devices == [("/dev/xvda", 8), ("/dev/sdf", 1)]
    root_snap = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    snap = cloud.ec2.describe_snapshots(SnapshotIds=[root_snap])["Snapshots"][0]
    assert snap["State"] == "completed" and image_id in snap["Description"]
    mine = cloud.aws("describe-images", "--owners", "self")["Images"]
    assert [i["ImageId"] for i in mine] == [image_id]
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "delete-snapshot", "--snapshot-id",
                           root_snap)
    assert rc != 0 and k.cli_error_code(err) == "InvalidSnapshot.InUse", err

    # It launches like the default image, with the configuration and the data, but its own
    # identity (machine id, host key, login key).
    inst2, host2 = launch(cloud, image_id=image_id)
    out = ssh(cloud.key_path, host2, "cat /etc/kumo-configured /mnt/sdf/dataset /etc/machine-id; "
              "test -e /etc/motd; echo motd=$?")
    lines = out.stdout.split("\n")
    assert lines[:2] == ["configured-7", "dataset-3"], out.stdout
    assert lines[2] != machine_id and "motd=1" in lines, out.stdout
    assert cloud.instance(inst2["InstanceId"])["ImageId"] == image_id

    # Shared with a second account: invisible before, launchable after; private again on reset.
    other = cloud.new_account()
    other_ec2 = k.make_client(other)
    with pytest.raises(ClientError) as e:
        other_ec2.describe_images(ImageIds=[image_id])
    assert e.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    cloud.aws("modify-image-attribute", "--image-id", image_id, "--launch-permission",
              f"Add=[{{UserId={other.account_id}}}]")
    perms = cloud.aws("describe-image-attribute", "--image-id", image_id, "--attribute",
                      "launchPermission")["LaunchPermissions"]
    assert perms == [{"UserId": other.account_id}]
    shared = other_ec2.describe_images(ExecutableUsers=["self"])["Images"]
    assert [i["ImageId"] for i in shared] == [image_id] and shared[0]["Tags"] == []
    other_key = cloud.tmp / "other.pem"
    cloud.key_and_group(account=other, key_path=other_key)
    inst3, host3 = launch(cloud, image_id=image_id, account=other, ec2=other_ec2,
                          key=other_key)
    assert ssh(other_key, host3, "cat /etc/kumo-configured").stdout.strip() == "configured-7"
    # The other account copies it (its snapshots become the copy's), then loses access.
    copy_id = other_ec2.copy_image(SourceImageId=image_id, SourceRegion=k.HOME_REGION,
                                   Name="my-copy")["ImageId"]
    copy = wait_image(cloud, copy_id, ec2=other_ec2)
    assert copy["OwnerId"] == other.account_id
    copy_snaps = [m["Ebs"]["SnapshotId"] for m in copy["BlockDeviceMappings"]]
    assert root_snap not in copy_snaps
    assert {s["SnapshotId"] for s in other_ec2.describe_snapshots(OwnerIds=["self"])
            ["Snapshots"]} == set(copy_snaps)
    cloud.aws("reset-image-attribute", "--image-id", image_id, "--attribute", "launchPermission")
    with pytest.raises(ClientError) as e:
        other_ec2.describe_images(ImageIds=[image_id])
    assert e.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "deregister-image", "--image-id",
                           copy_id)
    assert rc != 0 and k.cli_error_code(err) == "InvalidAMIID.NotFound", err

    # Public: every account sees it, only the owner changes it.
    cloud.aws("modify-image-attribute", "--image-id", image_id, "--launch-permission",
              "Add=[{Group=all}]")
    assert other_ec2.describe_images(ImageIds=[image_id])["Images"][0]["Public"] is True
    with pytest.raises(ClientError) as e:
        other_ec2.deregister_image(ImageId=image_id)
    assert e.value.response["Error"]["Code"] == "AuthFailure"

    # From a stopped instance; and registered from a root volume's snapshot.
    cloud.aws("stop-instances", "--instance-ids", iid)
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "wait", "instance-stopped",
                           "--instance-ids", iid)
    assert rc == 0, err
    stopped_img = cloud.aws("create-image", "--instance-id", iid, "--name", "from-stopped",
                            "--block-device-mappings", '[{"DeviceName":"/dev/sdf","NoDevice":""}]'
                            )["ImageId"]
    stopped = wait_image(cloud, stopped_img)
    assert [m["DeviceName"] for m in stopped["BlockDeviceMappings"]] == ["/dev/xvda"]
    registered = cloud.aws("register-image", "--name", "registered", "--root-device-name",
                           "/dev/xvda", "--block-device-mappings",
                           f'[{{"DeviceName":"/dev/xvda","Ebs":{{"SnapshotId":"{root_snap}"}}}}]'
                           )["ImageId"]
    assert wait_image(cloud, registered)["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == root_snap
    data_snap = img["BlockDeviceMappings"][1]["Ebs"]["SnapshotId"]
    rc, _, err = k.aws_cli(cloud.files, cloud.account, "ec2", "register-image", "--name", "bad",
                           "--block-device-mappings",
                           f'[{{"DeviceName":"/dev/xvda","Ebs":{{"SnapshotId":"{data_snap}"}}}}]')
    assert rc != 0 and k.cli_error_code(err) == "InvalidParameterValue", err

    # Clean up: instances, images, then their snapshots (free once no image uses them).
    cloud.aws("terminate-instances", "--instance-ids", iid, inst2["InstanceId"])
    other_ec2.terminate_instances(InstanceIds=[inst3["InstanceId"]])
    for i in (image_id, stopped_img, registered):
        cloud.aws("deregister-image", "--image-id", i)
    other_ec2.deregister_image(ImageId=copy_id)
    for ec2 in (cloud.ec2, other_ec2):
        for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
            ec2.delete_snapshot(SnapshotId=s["SnapshotId"])
    k.wait_until(lambda: all(i["State"]["Name"] == "terminated" for ec2 in (cloud.ec2, other_ec2)
                             for r in ec2.describe_instances()["Reservations"]
                             for i in r["Instances"]), 60, "instances terminated")
    for ec2 in (cloud.ec2, other_ec2):
        delete_volumes_when_settled(ec2)


def test_kill9_during_storage_operations_converges(cloud):
    """SIGKILL right after each storage action is acknowledged (so most likely while the host is
    doing it), then restart: each finishes once, leaving no stray files, mounts or records."""
    cloud.key_and_group()
    inst, host = launch(cloud)
    iid, zone = inst["InstanceId"], inst["Placement"]["AvailabilityZone"]
    ec2 = cloud.ec2

    def crash():
        cloud.daemon.kill9()
        cloud.daemon.start()

    vid = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    crash()
    wait_volume(cloud, vid, "available")
    ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    crash()
    k.wait_until(lambda: ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["Attachments"][0]
                 ["State"] == "attached", 30, "attached after the crash")
    ssh(cloud.key_path, host, "sudo sh -c 'echo survived > /mnt/sdf/f && sync'")

    snap = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    crash()
    k.wait_until(lambda: ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]["State"]
                 == "completed", 30, "snapshot completed after the crash")
    image_id = ec2.create_image(InstanceId=iid, Name="crashed", NoReboot=True)["ImageId"]
    crash()
    img = wait_image(cloud, image_id)
    # The instance's filesystems were thawed: it still writes.
    ssh(cloud.key_path, host, "sudo sh -c 'echo more >> /mnt/sdf/f && echo x > /etc/after'",
        timeout=20)

    ec2.detach_volume(VolumeId=vid)
    crash()
    wait_volume(cloud, vid, "available")
    assert ssh(cloud.key_path, host, "test -e /mnt/sdf/f; echo $?").stdout.strip() == "1"

    # Exactly one file per record, none half-written, no mount left of the detached volume.
    root = cloud.daemon.host_root / cloud.daemon.daemon_id()
    snaps = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert len(snaps) == 3  # the volume's, and the image's two (root and /dev/sdf)
    assert {m["Ebs"]["SnapshotId"] for m in img["BlockDeviceMappings"]} < snaps
    vols = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    assert len(vols) == 2

    def files_match():
        on_disk_snaps = sorted(p.name for p in (root / "snapshots").iterdir())
        on_disk_vols = sorted(p.name for p in (root / "volumes").iterdir()
                              if not p.name.startswith("."))
        return (on_disk_snaps == sorted(f"{s}.img" for s in snaps)
                and on_disk_vols == sorted(f"{v}.img" for v in vols))
    k.wait_until(files_match, 30, "the host's files to match the records")
    mounts = open("/proc/self/mountinfo").read()
    assert f"instances/{iid}/mnt/sdf " not in mounts

    # The volume and the image made across crashes hold what was written.
    restored = ec2.create_volume(AvailabilityZone=zone, SnapshotId=snap)["VolumeId"]
    wait_volume(cloud, restored, "available")
    ec2.attach_volume(VolumeId=restored, InstanceId=iid, Device="/dev/sdg")
    k.wait_until(lambda: ec2.describe_volumes(VolumeIds=[restored])["Volumes"][0]["Attachments"]
                 [0]["State"] == "attached", 30, "restored volume attached")
    assert ssh(cloud.key_path, host, "cat /mnt/sdg/f").stdout == "survived\n"
    inst2, host2 = launch(cloud, image_id=image_id)
    assert ssh(cloud.key_path, host2, "cat /mnt/sdf/f").stdout == "survived\n"

    ec2.terminate_instances(InstanceIds=[iid, inst2["InstanceId"]])
    ec2.deregister_image(ImageId=image_id)
    k.wait_until(lambda: all(i["State"]["Name"] == "terminated"
                             for r in ec2.describe_instances()["Reservations"]
                             for i in r["Instances"]), 60, "instances terminated")
    delete_volumes_when_settled(ec2)
    for s in snaps:
        ec2.delete_snapshot(SnapshotId=s)
