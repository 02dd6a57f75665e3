"""The host-wide image store: `kumo image import`, DescribeImages with owners, ids and filters."""

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k


def make_rootfs_tar(path, marker: str):
    """A tiny root filesystem: enough to be an image, not to boot (the instances issue builds
    the real Debian image with mmdebstrap)."""
    src = path.parent / (path.name + ".d")
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "os-release").write_text(f'PRETTY_NAME="{marker}"\n')
    with tarfile.open(path, "w:gz") as t:
        t.add(src / "etc", arcname="etc")
    return path


def image_cli(kumod, *args, check=True):
    proc = subprocess.run([str(k.kumo_bin()), "image", "--image-dir", str(kumod.image_dir), *args],
                          capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def imported(kumod, tmp_path_factory):
    """One image imported into the shared daemon's image store (a running daemon sees it)."""
    tmp = tmp_path_factory.mktemp("img")
    name = k.unique("debian-12-test")
    tar = make_rootfs_tar(tmp / "rootfs.tar.gz", name)
    out = json.loads(image_cli(kumod, "import", name, str(tar), "--description",
                               "Debian 12 (test)").stdout)
    return out["ImageId"], name


def test_import_registers_a_stable_id(kumod, imported, tmp_path):
    image_id, name = imported
    assert image_id.startswith("ami-") and len(image_id) == 4 + 17
    listed = json.loads(image_cli(kumod, "list").stdout)
    (mine,) = [i for i in listed if i["Name"] == name]
    assert mine["ImageId"] == image_id
    assert (Path(mine["RootFs"]) / "etc" / "os-release").read_text().find(name) >= 0
    # Same name again is refused; the store keeps the first.
    tar = make_rootfs_tar(tmp_path / "again.tar.gz", "again")
    proc = image_cli(kumod, "import", name, str(tar), check=False)
    assert proc.returncode != 0 and "already exists" in proc.stderr
    # Another daemon on the same image store gives the image the same id.
    with k.Kumod(tmp_path / "other", image_dir=kumod.image_dir) as other:
        acct = k.create_account(other.data_dir, other.endpoint,
                                k.AwsFiles(tmp_path / "c", tmp_path / "k"))
        ids = [i["ImageId"] for i in k.make_client(acct).describe_images(
            Owners=["amazon"])["Images"]]
        assert image_id in ids


def test_describe_images_owners_amazon_cli(account, aws, imported):
    image_id, name = imported
    rc, out, err = aws(account, "ec2", "describe-images", "--owners", "amazon")
    assert rc == 0, err
    (img,) = [i for i in out["Images"] if i["ImageId"] == image_id]
    assert img["Name"] == name and img["ImageOwnerAlias"] == "amazon"
    assert img["Public"] is True and img["State"] == "available"
    assert img["Architecture"] == "x86_64" and img["RootDeviceName"] == "/dev/xvda"
    assert img["Description"] == "Debian 12 (test)"

    rc, out, err = aws(account, "ec2", "describe-images", "--owners", "self")
    assert rc == 0, err
    assert out["Images"] == []
    rc, out, err = aws(account, "ec2", "describe-images", "--filters", f"Name=name,Values={name}")
    assert rc == 0, err
    assert [i["ImageId"] for i in out["Images"]] == [image_id]


def test_describe_images_errors_boto3(ec2, imported):
    image_id, _ = imported
    assert ec2.describe_images(ImageIds=[image_id])["Images"][0]["ImageId"] == image_id
    with pytest.raises(ClientError) as e:
        ec2.describe_images(ImageIds=["ami-0123456789abcdef0"])
    assert k.error_code(e.value) == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.describe_images(ImageIds=["not-an-ami"])
    assert k.error_code(e.value) == "InvalidAMIID.Malformed"
    found = ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-test*"]},
                                         {"Name": "architecture", "Values": ["x86_64"]}])
    assert image_id in [i["ImageId"] for i in found["Images"]]
    assert ec2.describe_images(Filters=[{"Name": "architecture", "Values": ["arm64"]}])["Images"] == []


DEFAULT_IMAGE_DIR = os.environ.get("KUMO_IMAGE_DIR")


@pytest.mark.skipif(not DEFAULT_IMAGE_DIR, reason="KUMO_IMAGE_DIR not set (scripts/test.sh sets it "
                    "after building the default image)")
def test_default_debian_image_is_built_and_registered(tmp_path):
    """The image scripts/build-image.sh built: registered by any daemon on the store, and what
    the instances issue needs inside it."""
    rootfs = Path(DEFAULT_IMAGE_DIR) / "debian-12" / "rootfs"
    assert (rootfs / "usr/sbin/sshd").exists()
    assert (rootfs / "usr/bin/cloud-init").exists()
    assert (rootfs / "lib/systemd/systemd").exists()
    assert "admin:" in (rootfs / "etc/passwd").read_text()
    assert (rootfs / "etc/sudoers.d/90-kumo-admin").read_text().strip() == \
        "admin ALL=(ALL) NOPASSWD:ALL"
    assert not list((rootfs / "etc/ssh").glob("ssh_host_*")), "host keys must be per instance"
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer"):
        assert os.readlink(rootfs / "etc/systemd/system" / timer) == "/dev/null", timer
    with k.Kumod(tmp_path / "data", image_dir=Path(DEFAULT_IMAGE_DIR)) as d:
        acct = k.create_account(d.data_dir, d.endpoint,
                                k.AwsFiles(tmp_path / "config", tmp_path / "credentials"))
        images = k.make_client(acct).describe_images(
            Owners=["amazon"], Filters=[{"Name": "name", "Values": ["debian-12"]}])["Images"]
        assert len(images) == 1
        assert images[0]["ImageOwnerAlias"] == "amazon"


def test_import_of_a_quoted_name_that_fails_deletes_nothing_else(kumod, tmp_path, monkeypatch):
    """Regression: cleanup after a failed import once went through a shell with the name in it."""
    sentinel = tmp_path / "etc"
    sentinel.mkdir()
    (sentinel / "keep").write_text("keep")
    monkeypatch.chdir(tmp_path)
    not_a_tar = tmp_path / "notatar.txt"
    not_a_tar.write_text("plain text")
    proc = image_cli(kumod, "import", "x' etc 'y", str(not_a_tar), check=False)
    assert proc.returncode != 0 and "tar could not extract" in proc.stderr
    assert (sentinel / "keep").read_text() == "keep"
    assert not [p for p in kumod.image_dir.iterdir() if p.name.startswith(".import")]


def test_hand_edited_metadata_of_the_wrong_type_falls_back(kumod, ec2, tmp_path):
    name = k.unique("handmade")
    tar = make_rootfs_tar(tmp_path / "r.tar.gz", name)
    image_id = json.loads(image_cli(kumod, "import", name, str(tar)).stdout)["ImageId"]
    meta = kumod.image_dir / name / "image.json"
    meta.write_text(json.dumps({"description": None, "root_size_gib": "eight"}))
    (img,) = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert img["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 8
