"""The web console (issue 8) end to end: Debian's chromium, headless, driven by playwright-core
(npm) against a real kumod serving /console/, real instances and the real spot market.

The browser flow is tests/console/flow.mjs (Node: playwright's API is JavaScript); this file starts
the daemon, hands the script an account, and checks what the script saw against the API and the
host: the .pem it downloaded logs into the instance with the ssh command it copied, the instances
it launched and terminated are so in DescribeInstances, and the bill it showed is the bill.
Screenshots of every page go to $KUMO_ARTIFACTS_DIR/console (default tests/artifacts/console).

Needs root and the default image (instances), chromium and the console's npm packages
(scripts/deps.sh, scripts/build.sh).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

import kumo_e2e as k
from test_instances import Cloud, pytestmark, wait_state  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SRC = ROOT / "console"
FLOW = Path(__file__).resolve().parent / "console" / "flow.mjs"
ARTIFACTS = Path(os.environ.get("KUMO_ARTIFACTS_DIR", ROOT / "tests" / "artifacts")) / "console"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

def node_major() -> int:
    try:
        out = subprocess.run(["node", "-p", "process.versions.node.split('.')[0]"],
                             capture_output=True, text=True, timeout=30).stdout
        return int(out.strip() or 0)
    except (OSError, ValueError):
        return 0


needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or not (CONSOLE_SRC / "node_modules" / "playwright-core").exists()
    or node_major() < 20,
    reason="needs Debian's chromium, Node.js >= 20 (playwright-core) and the console's npm "
           "packages (scripts/deps.sh, build.sh)")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    c = Cloud(tmp_path_factory.mktemp("console"), extra_args=["--simulated-clock"])
    try:
        c.start()
        yield c
    finally:
        c.stop()


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_console_is_served_with_regions_and_safe_headers(cloud):
    base = cloud.daemon.endpoint
    status, headers, body = get(f"{base}/console/")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-cache"
    # The sign-in form and the region selector are in the HTML itself: nothing waits for a call.
    assert 'id="signin"' in body and "Access key ID" in body
    assert f'<option value="{k.HOME_REGION}" selected>{k.HOME_REGION}</option>' in body
    assert "<!--kumo:regions-->" not in body
    script = next(part.split('"')[0] for part in body.split('src="')[1:] if ".js" in part)
    status, headers, js = get(f"{base}{script}")
    assert status == 200 and "javascript" in headers["Content-Type"]
    assert "immutable" in headers["Cache-Control"] and len(js) > 1000
    assert get(f"{base}/console/assets/nope.js")[0] == 404
    # The data dir's operator.json is beside the daemon's files, never reachable from here.
    assert get(f"{base}/console/%2e%2e/%2e%2e/data/operator.json")[0] == 404
    assert get(f"{base}/console/..%2f..%2fdata%2foperator.json")[0] == 404
    # HEAD: the headers of the GET, no body (urllib reads what is sent).
    req = urllib.request.Request(f"{base}/console/", method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and int(r.headers["Content-Length"]) > 1000 and r.read() == b""
    # The EC2 API on / is unchanged: an unsigned GET is still EC2's error, not the console.
    status, _, body = get(f"{base}/?Action=DescribeRegions")
    assert status in (400, 401, 403) and "<Code>" in body


@needs_browser
def test_console_flow_in_chromium(cloud, tmp_path):
    """Sign in, create a key pair (.pem download), launch through the wizard, ssh in with the
    copied command, request a spot instance and see it fulfilled, view price history, terminate,
    see the bill: the flow of issue 8's Tests section."""
    account = cloud.account
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    results = tmp_path / "results.json"
    env = dict(os.environ, KUMO_URL=f"{cloud.daemon.endpoint}/console/",
               KUMO_AKID=account.access_key_id, KUMO_SECRET=account.secret_access_key,
               KUMO_REGION=k.HOME_REGION, KUMO_CHROMIUM=CHROMIUM,
               KUMO_CONSOLE_DIR=str(CONSOLE_SRC), KUMO_BIN_DIR=str(k.bin_dir()), KUMO_SHOTS=str(ARTIFACTS),
               KUMO_DOWNLOADS=str(tmp_path / "downloads"), KUMO_RESULTS=str(results),
               KUMO_ADMIN=json.dumps({"endpoint": cloud.daemon.endpoint,
                                      "data_dir": str(cloud.daemon.data_dir)}))
    p = subprocess.run(["node", str(FLOW)], env=env, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    print(p.stdout[-6000:])
    assert p.returncode == 0, f"flow.mjs failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    got = json.loads(results.read_text())

    # The key pair the browser created is the account's, and the .pem it saved is its private key.
    pem = Path(got["pem"])
    assert pem.read_text().startswith("-----BEGIN"), pem
    pairs = cloud.ec2.describe_key_pairs(KeyNames=[got["key_name"]])["KeyPairs"]
    assert len(pairs) == 1
    # The ssh command the page copied logged in with that key (the script ran it).
    assert got["ssh_command"].startswith(f"ssh -i ~/.ssh/{got['key_name']}.pem admin@ec2-")
    # ssh ran `hostname` there: the instance's private DNS name, as on EC2.

    # The instance came from the wizard's choices, with a group allowing only "My IP".
    inst = cloud.instance(got["instance_id"])
    # (terminated by now, so DescribeInstances no longer shows its private name: EC2's form)
    assert re.fullmatch(r"ip-\d+-\d+-\d+-\d+", got["ssh_output"].strip()), got["ssh_output"]
    assert inst["InstanceType"] == got["instance_type"] and inst["KeyName"] == got["key_name"]
    assert {"Key": "Name", "Value": got["name"]} in inst["Tags"]
    (group,) = cloud.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [got["group"]]}])["SecurityGroups"]
    (rule,) = group["IpPermissions"]
    assert rule["FromPort"] == 22 and rule["IpRanges"][0]["CidrIp"].endswith("/32")
    assert rule["IpRanges"][0]["CidrIp"] != "0.0.0.0/0"

    # The spot request was fulfilled, then cancelled with its instance terminated from the dialog.
    req = cloud.ec2.describe_spot_instance_requests(
        SpotInstanceRequestIds=[got["spot_request_id"]])["SpotInstanceRequests"][0]
    assert req["State"] == "cancelled" and req["InstanceId"] == got["spot_instance_id"]
    assert float(req["SpotPrice"]) == 0.05 and req["Type"] == "one-time"
    assert req["LaunchSpecification"]["InstanceType"] == "t3.small"
    wait_state(cloud.ec2, got["spot_instance_id"], "terminated")
    wait_state(cloud.ec2, got["instance_id"], "terminated")

    # The bill the page showed is the account's bill.
    bill = k.kumo_json(cloud.daemon.data_dir, "bill", "--profile", account.profile, "--json",
                       env=cloud.files.env())
    total = float(bill["Total"])
    assert total > 0
    shown = f"${total:.4f}" if total < 0.01 else f"${total:.2f}"  # the console's usd()
    assert got["bill_total"] == shown, (got["bill_total"], bill["Total"])
    assert got["csv_header"].startswith("identity/LineItemId") or "lineItem" in got["csv_header"]
    assert len(got["screenshots"]) >= 10
