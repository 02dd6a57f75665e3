"""The instance metadata service and cloud-init, from inside real instances.

Needs root and the default image, like test_instances.py. One daemon for the module: two
accounts (whose default VPCs both are 172.31.0.0/16, so their instances can have the same
private address), instances reached over SSH by public address.
"""

from __future__ import annotations

import json
import subprocess
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

import kumo_e2e as k
from test_instances import Cloud, pytestmark, ssh, wait_ssh  # noqa: F401  (pytestmark: root, image)

MD = "http://169.254.169.254"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    c = Cloud(tmp_path_factory.mktemp("metadata"))
    try:
        c.start()
        c.key_and_group()
        yield c
    finally:
        c.stop()


def launch(cloud, account=None, ec2=None, **kw):
    ec2 = ec2 or cloud.ec2
    out = ec2.run_instances(ImageId=cloud.image_id(), InstanceType="t2.micro", KeyName="mykey",
                            SecurityGroups=["ssh"], MinCount=1, MaxCount=1, **kw)
    iid = out["Instances"][0]["InstanceId"]

    def up():
        i = cloud.instance(iid, ec2)
        return i if i["State"]["Name"] == "running" and i.get("PublicIpAddress") else None

    inst = k.wait_until(up, 60, f"{iid} running")
    return inst


def curl(key, host, args: str, check=True):
    """curl inside the instance: prints the body, then the HTTP status on the last line."""
    p = ssh(key, host, f"curl -s -m 5 -w '\\n%{{http_code}}' {args}", check=False)
    lines = p.stdout.rsplit("\n", 1)
    if check:
        assert p.returncode == 0 and len(lines) == 2, (p.returncode, p.stdout, p.stderr)
    return (lines[0], lines[1]) if len(lines) == 2 else ("", "000")


def test_metadata_v1_v2_and_identity(cloud, tmp_path):
    inst = launch(cloud, UserData="hello from user data")
    iid, host = inst["InstanceId"], inst["PublicIpAddress"]
    wait_ssh(cloud.key_path, host)

    # IMDSv1 (HttpTokens=optional, EC2's default for RunInstances without options).
    body, code = curl(cloud.key_path, host, f"{MD}/latest/meta-data/instance-id")
    assert (body, code) == (iid, "200")
    listing, _ = curl(cloud.key_path, host, f"{MD}/latest/meta-data/")
    for entry in ("ami-id", "instance-id", "instance-type", "local-ipv4", "public-ipv4",
                  "placement/", "public-keys/", "network/", "security-groups", "mac"):
        assert entry in listing.split("\n"), listing
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/local-ipv4")[0] == \
        inst["PrivateIpAddress"]
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/public-ipv4")[0] == \
        inst["PublicIpAddress"]
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/instance-type")[0] == "t2.micro"
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/security-groups")[0] == "ssh"
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/placement/availability-zone")[0] \
        == inst["Placement"]["AvailabilityZone"]
    mac = curl(cloud.key_path, host, f"{MD}/latest/meta-data/mac")[0]
    assert curl(cloud.key_path, host,
                f"{MD}/latest/meta-data/network/interfaces/macs/{mac}/subnet-id")[0] == \
        inst["SubnetId"]
    key_line = curl(cloud.key_path, host, f"{MD}/latest/meta-data/public-keys/0/openssh-key")[0]
    assert key_line.split()[:2] == k.derived_public(cloud.key_path).split()[:2]
    assert curl(cloud.key_path, host, f"{MD}/2009-04-04/meta-data/instance-id")[0] == iid
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/instance-life-cycle")[0] == \
        "on-demand"
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/spot/instance-action")[1] == "404"
    assert curl(cloud.key_path, host, f"{MD}/latest/user-data") == ("hello from user data", "200")

    # IMDSv2: a token, then requests with it; a made-up token is refused.
    token, code = curl(cloud.key_path, host, "-X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "
                       f"{MD}/latest/api/token")
    assert code == "200" and token
    assert curl(cloud.key_path, host, f"-H 'X-aws-ec2-metadata-token: {token}' "
                f"{MD}/latest/meta-data/instance-id") == (iid, "200")
    assert curl(cloud.key_path, host, "-H 'X-aws-ec2-metadata-token: forged' "
                f"{MD}/latest/meta-data/instance-id")[1] == "401"
    assert curl(cloud.key_path, host, f"-X PUT {MD}/latest/api/token")[1] == "400"

    # HttpTokens=required: no token, no metadata; with one, as before.
    cloud.aws("modify-instance-metadata-options", "--instance-id", iid, "--http-tokens",
              "required")
    k.wait_until(lambda: curl(cloud.key_path, host, f"{MD}/latest/meta-data/instance-id")[1]
                 == "401", 10, "HttpTokens=required in force")
    assert curl(cloud.key_path, host, f"-H 'X-aws-ec2-metadata-token: {token}' "
                f"{MD}/latest/meta-data/instance-id") == (iid, "200")
    # HttpEndpoint=disabled: nothing at all.
    cloud.aws("modify-instance-metadata-options", "--instance-id", iid, "--http-endpoint",
              "disabled")
    k.wait_until(lambda: curl(cloud.key_path, host, f"-H 'X-aws-ec2-metadata-token: {token}' "
                              f"{MD}/latest/meta-data/instance-id")[1] != "200", 10,
                 "HttpEndpoint=disabled in force")
    cloud.aws("modify-instance-metadata-options", "--instance-id", iid, "--http-endpoint",
              "enabled", "--http-tokens", "optional")

    # The identity document, signed with the region's key whose certificate Kumo publishes.
    doc, code = curl(cloud.key_path, host, f"{MD}/latest/dynamic/instance-identity/document")
    assert code == "200"
    d = json.loads(doc)
    assert d["instanceId"] == iid and d["region"] == k.HOME_REGION
    assert d["accountId"] == cloud.account.account_id
    assert d["privateIp"] == inst["PrivateIpAddress"] and d["imageId"] == inst["ImageId"]
    pkcs7, code = curl(cloud.key_path, host, f"{MD}/latest/dynamic/instance-identity/pkcs7")
    assert code == "200"
    cert = subprocess.run([str(k.kumo_bin()), "--data-dir", str(cloud.daemon.data_dir),
                           "identity-certificate", "--region", k.HOME_REGION],
                          capture_output=True, text=True, check=True).stdout
    (tmp_path / "doc.json").write_text(doc)
    (tmp_path / "cert.pem").write_text(cert)
    (tmp_path / "sig.p7").write_text(f"-----BEGIN PKCS7-----\n{pkcs7}\n-----END PKCS7-----\n")
    verify = ["openssl", "smime", "-verify", "-inform", "PEM", "-in", str(tmp_path / "sig.p7"),
              "-content", str(tmp_path / "doc.json"), "-certfile", str(tmp_path / "cert.pem"),
              "-noverify"]
    ok = subprocess.run(verify, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "doc.json").write_text(doc.replace(iid, "i-0123456789abcdef0"))
    assert subprocess.run(verify, capture_output=True).returncode != 0

    cloud.ec2.terminate_instances(InstanceIds=[iid])


def test_callers_are_known_by_their_port(cloud):
    """Another account's instance (same private address space) and a spoofed source address
    in the same VPC each get only their own metadata."""
    a = launch(cloud)
    c = launch(cloud)
    other = cloud.new_account()
    other_key = cloud.tmp / "other.pem"
    cloud.key_and_group(other, other_key)
    b = launch(cloud, ec2=k.make_client(other))
    for inst, key in ((a, cloud.key_path), (c, cloud.key_path), (b, other_key)):
        wait_ssh(key, inst["PublicIpAddress"])
    assert b["PrivateIpAddress"].startswith("172.31.")  # the same default VPC CIDR as a's
    assert curl(other_key, b["PublicIpAddress"], f"{MD}/latest/meta-data/instance-id")[0] == \
        b["InstanceId"]
    assert curl(cloud.key_path, a["PublicIpAddress"], f"{MD}/latest/meta-data/instance-id")[0] \
        == a["InstanceId"]

    # a borrows c's private address as a second address and asks from it: never c's metadata.
    host = a["PublicIpAddress"]
    ssh(cloud.key_path, host, f"sudo ip addr add {c['PrivateIpAddress']}/32 dev eth0")
    body, code = curl(cloud.key_path, host, f"--interface {c['PrivateIpAddress']} "
                      f"{MD}/latest/meta-data/instance-id", check=False)
    assert c["InstanceId"] not in body
    assert body in ("", a["InstanceId"]), (body, code)
    ssh(cloud.key_path, host, f"sudo ip addr del {c['PrivateIpAddress']}/32 dev eth0")
    assert curl(cloud.key_path, host, f"{MD}/latest/meta-data/instance-id")[0] == a["InstanceId"]
    cloud.ec2.terminate_instances(InstanceIds=[a["InstanceId"], c["InstanceId"]])
    k.make_client(other).terminate_instances(InstanceIds=[b["InstanceId"]])


def test_cloud_init_runs_user_data(cloud):
    """Real cloud-init (Debian's, unchanged) with the EC2 datasource: a #cloud-config part and
    a #!/bin/bash part both run on first boot; the seeded host key stays the instance's key."""
    mime = MIMEMultipart()
    config = MIMEText("#cloud-config\nwrite_files:\n  - path: /var/tmp/from-cloud-config\n"
                      "    content: written by cloud-config\n", "cloud-config")
    script = MIMEText("#!/bin/bash\necho \"script ran as $(id -un)\" > /var/tmp/from-script\n",
                      "x-shellscript")
    mime.attach(config)
    mime.attach(script)
    inst = launch(cloud, UserData=mime.as_string())
    host = inst["PublicIpAddress"]
    wait_ssh(cloud.key_path, host)
    first_key = subprocess.run(["ssh-keyscan", "-t", "ed25519", host], capture_output=True,
                               text=True).stdout.split()[-1]

    def done():
        p = ssh(cloud.key_path, host, "cat /var/tmp/from-cloud-config /var/tmp/from-script",
                check=False)
        return p.stdout if p.returncode == 0 else None

    out = k.wait_until(done, 180, "cloud-init to run both parts of the user data", interval=1)
    assert "written by cloud-config" in out and "script ran as root" in out
    status = ssh(cloud.key_path, host, "cloud-init status --wait --long; "
                 "cat /run/cloud-init/result.json; hostname", timeout=180).stdout
    assert "DataSourceEc2" in status, status
    assert "status: done" in status, status
    assert status.strip().split("\n")[-1] == "ip-" + inst["PrivateIpAddress"].replace(".", "-")
    later_key = subprocess.run(["ssh-keyscan", "-t", "ed25519", host], capture_output=True,
                               text=True).stdout.split()[-1]
    assert later_key == first_key
    console = cloud.ec2.get_console_output(InstanceId=inst["InstanceId"])["Output"]
    assert first_key[:20] in console or "SSH HOST KEY" in console
    cloud.ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
