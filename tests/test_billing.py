"""Billing end to end (issue 7): the ledger written by real instances' state changes, read back
through `kumo bill`, KumoBilling.GetBill and Cost Explorer's GetCostAndUsage (boto3 and the aws
CLI v2), with the simulated clock.

Needs root and the default image, like test_instances.py. One daemon for the module; each test
bills an account of its own, so bills never mix. The clock only moves forward and the tests run
in file order: later ones (the month boundary) rely on nothing the earlier ones left running.
"""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from decimal import ROUND_HALF_UP, Decimal

import pytest

import kumo_e2e as k
import subprocess

from test_instances import SSH_OPTS, Cloud, pytestmark, wait_ssh, wait_state  # noqa: F401

HOUR = 3600
PRICES = {"m1.small": Decimal("0.047"), "m1.medium": Decimal("0.095"),
          "m1.large": Decimal("0.19"), "t2.micro": Decimal("0.013")}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    c = Cloud(tmp_path_factory.mktemp("billing"), extra_args=["--simulated-clock"])
    try:
        c.start()
        yield c
    finally:
        c.stop()


class Tenant:
    """An account of its own with a key pair and an ssh group."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.account = cloud.new_account()
        self.ec2 = k.make_client(self.account)
        self.ce = k.make_client(self.account, service="ce")
        cloud.key_and_group(account=self.account,
                            key_path=cloud.tmp / f"{self.account.profile}.pem")

    def launch(self, itype, count=1):
        out = self.ec2.run_instances(ImageId=self.cloud.image_id(), InstanceType=itype,
                                     MinCount=count, MaxCount=count, KeyName="mykey",
                                     SecurityGroups=["ssh"])
        ids = [i["InstanceId"] for i in out["Instances"]]
        for i in ids:
            wait_state(self.ec2, i, "running")
        return ids

    def stop(self, *ids):
        self.ec2.stop_instances(InstanceIds=list(ids))
        for i in ids:
            wait_state(self.ec2, i, "stopped")

    def terminate(self, *ids):
        self.ec2.terminate_instances(InstanceIds=list(ids))
        for i in ids:
            wait_state(self.ec2, i, "terminated")

    def bill(self, *args):
        return k.kumo_json(self.cloud.daemon.data_dir, "bill", "--profile", self.account.profile,
                           "--json", *args, env=self.cloud.files.env())


class Webhook:
    """A local HTTP endpoint that keeps the JSON bodies POSTed to it."""

    def __init__(self):
        self.bodies = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the stdlib's name)
                n = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def admin(cloud, op, **body):
    return k.admin(cloud.daemon, op, **body)


def advance(cloud, seconds):
    return admin(cloud, "clock/advance", seconds=seconds)


def now(cloud) -> datetime.datetime:
    t = admin(cloud, "clock")["now"]
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def next_month(t: datetime.datetime) -> datetime.datetime:
    return (t.replace(day=28) + datetime.timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0)


def room_in_month(cloud, hours):
    """Moves the clock to the next month when this one has fewer than `hours` (+2) left, so a
    test that expects one month's bill does not straddle two on the calendar's last days."""
    n = now(cloud)
    if (next_month(n) - n).total_seconds() < (hours + 2) * HOUR:
        advance(cloud, (next_month(n) - n).total_seconds() + 60)


def micros(usd: str) -> int:
    return int(Decimal(usd) * 1_000_000)


def month_seconds(iso: str) -> int:
    start = datetime.datetime.strptime(iso[:7], "%Y-%m").replace(tzinfo=datetime.timezone.utc)
    return int((next_month(start) - start).total_seconds())


def exact_cost(line) -> int:
    """What a line must cost, rounded half up to micro-USD: its exact billed time at its hourly
    rate, or for a volume its GiB × the rate per GiB-month × its share of the month."""
    usd = Decimal(line["BilledSeconds"]) * Decimal(line["Rate"])
    if "VolumeId" in line:
        usd = usd * line["GiB"] / month_seconds(line["Start"])
    else:
        usd = usd / HOUR
    return int((usd * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def instance_lines(bill):
    """The instances' lines (every instance also has its root volume's)."""
    return [line for line in bill["Lines"] if "InstanceId" in line]


def check_lines(bill):
    """Every line recomputes from its billed time and rate; the total is their sum (±1 µ$ per
    line: the total is rounded once, lines each)."""
    for line in bill["Lines"]:
        assert micros(line["Cost"]) == exact_cost(line), line
    total = sum(micros(line["Cost"]) for line in bill["Lines"])
    assert abs(micros(bill["Total"]) - total) <= len(bill["Lines"]), bill


def hours_of(bill, instance_id):
    return sum(Decimal(line["BilledSeconds"]) for line in instance_lines(bill)
               if line["InstanceId"] == instance_id) / HOUR


def test_thirty_one_hours_left_running(cloud):
    """The forgotten instance: left running 31 simulated hours, it costs 31 hours at its
    On-Demand price (plus the real seconds the test itself took), to the micro-dollar."""
    t = Tenant(cloud)
    room_in_month(cloud, 32)
    [iid] = t.launch("m1.small")
    t.ec2.create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": "forgotten"}])
    advance(cloud, 31 * HOUR)
    running = t.bill()
    assert [r["InstanceId"] for r in running["Running"]] == [iid]
    assert Decimal(running["Running"][0]["AgeHours"]) >= 31
    assert Decimal(running["Forecast"]) > Decimal(running["Total"]) > 0
    # The daily summary named it when the day turned (the clock stepped through midnight).
    log = cloud.daemon.log_path.read_text(errors="replace")
    assert f"still running: account {t.account.account_id}: 1 instance(s), {iid}" in log
    t.stop(iid)
    bill = t.bill()
    check_lines(bill)
    hours = hours_of(bill, iid)
    assert 31 <= hours < Decimal("31.05"), hours
    assert bill["Running"] == []
    [line] = instance_lines(bill)
    # The root volume's storage is in the Free Tier (30 GiB-months): the total is the instance.
    assert all(v["Cost"] == "0.000000" for v in bill["Lines"] if "VolumeId" in v)
    assert micros(bill["Total"]) == exact_cost(line)
    assert line["UsageType"] == "EUW1-BoxUsage:m1.small" and line["Rate"] == "0.047000"

    # Cost Explorer sees the same money, by day and by month.
    start = (now(cloud) - datetime.timedelta(days=3)).date().isoformat()
    end = (now(cloud) + datetime.timedelta(days=1)).date().isoformat()
    daily = t.ce.get_cost_and_usage(TimePeriod={"Start": start, "End": end}, Granularity="DAILY",
                                    Metrics=["UnblendedCost", "UsageQuantity"],
                                    GroupBy=[{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}])
    days = daily["ResultsByTime"]
    assert len(days) == 4
    groups = [g for d in days for g in d["Groups"]]
    assert {g["Keys"][0] for g in groups} == {"m1.small", "NoInstanceType"}  # storage has none
    amounts = [Decimal(g["Metrics"]["UnblendedCost"]["Amount"]) for g in groups]
    assert abs(sum(amounts) - Decimal(bill["Total"])) <= Decimal("0.000004")
    usage = sum(Decimal(g["Metrics"]["UsageQuantity"]["Amount"]) for g in groups
                if g["Keys"] == ["m1.small"])
    assert abs(usage - hours) < Decimal("0.00001")
    assert daily["GroupDefinitions"] == [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}]
    # Grouped by the Name tag, as Cost Explorer writes tag keys ("Name$value").
    tagged = t.ce.get_cost_and_usage(TimePeriod={"Start": start, "End": end},
                                     Granularity="MONTHLY", Metrics=["UnblendedCost"],
                                     GroupBy=[{"Type": "TAG", "Key": "Name"}])
    keys = {tuple(g["Keys"]) for r in tagged["ResultsByTime"] for g in r["Groups"]}
    assert keys == {("Name$forgotten",), ("Name$",)}, keys  # the root volume has no Name
    assert {"Name": "forgotten", "Hours": bill["ByInstance"][0]["Hours"],
            "Cost": bill["Total"]} in bill["ByName"]
    # The aws CLI v2 against the same endpoint, MONTHLY, no grouping.
    month_start = now(cloud).date().replace(day=1).isoformat()
    rc, out, err = k.aws_cli(cloud.files, t.account, "ce", "get-cost-and-usage",
                             "--time-period", f"Start={month_start},End={end}",
                             "--granularity", "MONTHLY", "--metrics", "UnblendedCost")
    assert rc == 0, err
    [month] = out["ResultsByTime"]
    assert month["Total"]["UnblendedCost"] == {"Amount": bill["Total"], "Unit": "USD"}
    assert month["Estimated"] is True
    t.terminate(iid)


def test_free_tier_is_pooled_across_instances(cloud):
    """Two t2.micro instances of a new account share 750 free hours a month: 2 × 400 hours cost
    50 hours, and the free hours still show, at $0."""
    t = Tenant(cloud)
    room_in_month(cloud, 401)
    a, b = t.launch("t2.micro", count=2)
    advance(cloud, 400 * HOUR)
    t.stop(a, b)
    bill = t.bill()
    check_lines(bill)
    assert bill["FreeTier"]["HoursUsed"] == "750.000000"
    assert bill["FreeTier"]["HoursLeft"] == "0.000000"
    hours = hours_of(bill, a) + hours_of(bill, b)
    assert 800 <= hours < Decimal("800.1"), hours
    paid = hours - 750
    assert abs(Decimal(bill["Total"]) - paid * PRICES["t2.micro"]) <= Decimal("0.000004")
    free = [line for line in bill["Lines"] if line["UsageType"] == "EUW1-BoxUsage:freetier.micro"]
    assert free and all(line["Cost"] == "0.000000" for line in free)

    # Cost Explorer shows the free usage as a group with amount 0.
    day = now(cloud).date()
    out = t.ce.get_cost_and_usage(
        TimePeriod={"Start": (day - datetime.timedelta(days=20)).isoformat(),
                    "End": (day + datetime.timedelta(days=1)).isoformat()},
        Granularity="MONTHLY", Metrics=["UnblendedCost", "UsageQuantity"],
        GroupBy=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}])
    groups = {}
    for r in out["ResultsByTime"]:
        for g in r["Groups"]:
            groups.setdefault(g["Keys"][0], []).append(g["Metrics"])
    assert set(groups) == {"EUW1-BoxUsage:freetier.micro", "EUW1-BoxUsage:t2.micro",
                           "EUW1-EBS:VolumeUsage.gp2"}  # the root volumes, free too
    assert all(m["UnblendedCost"]["Amount"] == "0.000000"
               for m in groups["EUW1-EBS:VolumeUsage.gp2"])
    assert all(m["UnblendedCost"]["Amount"] == "0.000000"
               for m in groups["EUW1-BoxUsage:freetier.micro"])
    assert sum(Decimal(m["UsageQuantity"]["Amount"])
               for m in groups["EUW1-BoxUsage:freetier.micro"]) == 750
    # A filter on the type keeps only its lines; one on another type keeps nothing.
    none = t.ce.get_cost_and_usage(
        TimePeriod={"Start": day.isoformat(), "End": (day + datetime.timedelta(days=1)).isoformat()},
        Granularity="DAILY", Metrics=["UnblendedCost"],
        Filter={"Dimensions": {"Key": "INSTANCE_TYPE", "Values": ["m1.small"]}})
    assert none["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "0.000000"
    t.terminate(a, b)


def test_price_change_mid_hour(cloud):
    """The operator changes the On-Demand price while an instance runs: seconds before the change
    are billed at the old price, seconds after at the new one."""
    t = Tenant(cloud)
    room_in_month(cloud, 2)
    [iid] = t.launch("m1.medium")
    advance(cloud, 1800)
    admin(cloud, "billing/set-price", instance_type="m1.medium", price="0.19")
    advance(cloud, 1800)
    t.stop(iid)
    admin(cloud, "billing/set-price", instance_type="m1.medium", price="0.095")
    bill = t.bill()
    check_lines(bill)
    rates = [line["Rate"] for line in instance_lines(bill)]
    assert rates == ["0.095000", "0.190000"], bill["Lines"]
    first, second = (Decimal(line["BilledSeconds"]) for line in instance_lines(bill))
    assert 1800 <= first < 1800 + 120 and 1800 <= second < 1800 + 120
    t.terminate(iid)


def test_bad_requests_get_json_errors(cloud):
    t = Tenant(cloud)
    for kwargs in ({"TimePeriod": {"Start": "2026-12-05", "End": "2026-12-01"},
                    "Granularity": "DAILY", "Metrics": ["UnblendedCost"]},
                   {"TimePeriod": {"Start": "2026-12-01", "End": "2026-12-05"},
                    "Granularity": "DAILY", "Metrics": ["Nonsense"]},
                   {"TimePeriod": {"Start": "2026-12-01", "End": "2026-12-05"},
                    "Granularity": "DAILY", "Metrics": ["UnblendedCost"],
                    "GroupBy": [{"Type": "DIMENSION", "Key": "DATABASE_ENGINE"}]}):
        with pytest.raises(Exception) as e:
            t.ce.get_cost_and_usage(**kwargs)
        assert k.error_code(e.value) == "ValidationException", e.value
        assert k.http_status(e.value) == 400
    # Another account's keys see nothing of this one: a fresh account's month is empty.
    assert t.bill()["Lines"] == []
    # A wrong signature is refused before anything is read.
    bad = k.make_client((t.account.access_key_id, "x" * 40), service="ce",
                        endpoint=t.account.endpoint)
    with pytest.raises(Exception) as e:
        bad.get_cost_and_usage(TimePeriod={"Start": "2026-12-01", "End": "2026-12-05"},
                               Granularity="DAILY", Metrics=["UnblendedCost"])
    assert k.http_status(e.value) == 403


def test_restart_in_the_middle_keeps_the_bill(cloud):
    """kill -9 while one instance runs and another has stopped: after the restart the bill is
    the one an uninterrupted daemon would show: the stopped instance's lines unchanged, the
    running one's stay in `running` continuous (no second start, no lost second)."""
    t = Tenant(cloud)
    room_in_month(cloud, 4)
    a, b = t.launch("m1.small", count=2)
    advance(cloud, 2 * HOUR)
    t.stop(a)
    before = t.bill()
    cloud.daemon.kill9()
    cloud.daemon.start()
    after = t.bill()
    lines = lambda bill, i: [line for line in bill["Lines"] if line.get("InstanceId") == i]  # noqa
    assert lines(after, a) == lines(before, a)
    [b_before], [b_after] = lines(before, b), lines(after, b)
    assert b_after["Start"] == b_before["Start"]
    assert Decimal(b_after["BilledSeconds"]) >= Decimal(b_before["BilledSeconds"])
    advance(cloud, HOUR)
    t.stop(b)
    final = t.bill()
    check_lines(final)
    assert lines(final, a) == lines(before, a)
    [b_final] = lines(final, b)
    assert b_final["Start"] == b_before["Start"]
    assert 3 * HOUR <= Decimal(b_final["BilledSeconds"]) < 3 * HOUR + 300
    t.terminate(a, b)


def test_month_boundary_splits_the_bill(cloud):
    """An instance running across midnight at the end of the month is on both months' bills,
    cut exactly at the boundary."""
    t = Tenant(cloud)
    room_in_month(cloud, 2)
    n = now(cloud)
    first_of_next = next_month(n)
    advance(cloud, (first_of_next - n).total_seconds() - HOUR)
    [iid] = t.launch("m1.large")
    this_month = now(cloud).strftime("%Y-%m")
    advance(cloud, 2 * HOUR)
    t.stop(iid)
    old, new = t.bill("--month", this_month), t.bill()
    assert new["Month"] == first_of_next.strftime("%Y-%m") != this_month
    check_lines(old)
    check_lines(new)
    boundary = first_of_next.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert instance_lines(old)[-1]["End"] == boundary
    assert instance_lines(new)[0]["Start"] == boundary
    assert old["Estimated"] is False and old["Forecast"] == old["Total"]
    total = hours_of(old, iid) + hours_of(new, iid)
    assert 2 <= total < Decimal("2.05")
    # The CSV export has the Cost and Usage Report's columns and one row per line.
    csv = k.kumo(cloud.daemon.data_dir, "bill", "--profile", t.account.profile, "--csv",
                 env=cloud.files.env()).stdout.splitlines()
    assert csv[0].startswith("identity/LineItemId,bill/BillingPeriodStartDate")
    assert len(csv) == 1 + len(new["Lines"])
    assert any("EUW1-BoxUsage:m1.large" in row and iid in row for row in csv[1:])
    assert any("EUW1-EBS:VolumeUsage.gp2" in row and "GB-Mo" in row for row in csv[1:])
    # The operator's invoice of the finished month: printable HTML with the same total.
    invoice = cloud.tmp / f"invoice-{t.account.account_id}.html"
    k.kumo(cloud.daemon.data_dir, "admin", "invoice", t.account.account_id, "--month",
           this_month, "--out", invoice)
    html = invoice.read_text()
    assert html.startswith("<!DOCTYPE html>") and f"USD {old['Total']}" in html
    assert "Total due" in html and iid in html and "EUW1-BoxUsage:m1.large" in html
    # kumo ls lists the instance, stopped: no running cost.
    ls = k.kumo(cloud.daemon.data_dir, "ls", "--profile", t.account.profile,
                env=cloud.files.env()).stdout
    assert iid in ls and "stopped" in ls
    t.terminate(iid)


def test_budget_action_stops_instances_at_its_threshold(cloud):
    """A $1 monthly budget with an alert at 50 % and stop-instances: the m1.small is stopped when
    the month's spend reaches $0.50 (10.6 hours), however far the clock jumps; the action is in
    the bill, the log and the webhook."""
    t = Tenant(cloud)
    room_in_month(cloud, 16)
    hook = Webhook()
    try:
        env = cloud.files.env()
        out = k.kumo_json(cloud.daemon.data_dir, "budget", "--profile", t.account.profile, "set",
                          "--monthly", "1", "--alert", "50%", "--action", "stop-instances",
                          "--webhook", hook.url, env=env)
        assert out["Budget"]["MonthlyLimit"] == "1.000000" and out["Budget"]["Alerts"] == [50]
        [iid] = t.launch("m1.small")
        advance(cloud, 15 * HOUR)
        wait_state(t.ec2, iid, "stopped")
        bill = t.bill()
        check_lines(bill)
        assert Decimal("0.50") <= Decimal(bill["Total"]) < Decimal("0.502"), bill["Total"]
        [action] = bill["Budget"]["Actions"]
        assert (action["Percent"], action["Action"], action["Instances"]) == (
            50, "stop-instances", [iid])
        k.wait_until(lambda: hook.bodies, 10, "the webhook's POST")
        [body] = hook.bodies
        assert (body["kind"], body["percent"], body["instances"]) == ("budget", 50, [iid])
        assert f"budget: account {t.account.account_id} has spent" in \
            cloud.daemon.log_path.read_text(errors="replace")
        # Bad budgets are refused with the reason.
        p = k.kumo(cloud.daemon.data_dir, "budget", "--profile", t.account.profile, "set",
                   "--monthly", "0", check=False, env=env)
        assert p.returncode != 0 and "MonthlyLimit" in p.stderr
        k.kumo(cloud.daemon.data_dir, "budget", "--profile", t.account.profile, "delete", env=env)
    finally:
        hook.close()
    t.terminate(iid)


def test_ttl_tag_ends_an_instance_at_its_lifetime(cloud):
    """kumo:ttl=8h: the instance is stopped 8 hours after its launch, and billed for those."""
    t = Tenant(cloud)
    room_in_month(cloud, 11)
    [iid] = t.launch("m1.small")
    t.ec2.create_tags(Resources=[iid], Tags=[{"Key": "kumo:ttl", "Value": "8h"}])
    advance(cloud, 10 * HOUR)
    wait_state(t.ec2, iid, "stopped")
    hours = hours_of(t.bill(), iid)
    assert Decimal("7.95") < hours <= 8, hours
    assert f"ttl: {iid} of account {t.account.account_id} reached its kumo:ttl=8h" in \
        cloud.daemon.log_path.read_text(errors="replace")
    t.terminate(iid)


def test_idle_stop_ends_the_forgotten_instance_after_30_minutes(cloud):
    """The 31-hour story with an idle-stop policy of 30 minutes: while an SSH session is open the
    instance runs on; once it is idle (no session, CPU below 5 %) it is stopped 30 minutes later,
    so jumping 31 hours ahead costs 30 minutes, not 31 hours."""
    t = Tenant(cloud)
    room_in_month(cloud, 34)
    env = cloud.files.env()
    out = k.kumo_json(cloud.daemon.data_dir, "idle-stop", "--profile", t.account.profile, "set",
                      "--minutes", "30", env=env)
    assert out["IdlePolicy"] == {"Minutes": 30, "CpuBelow": 5.0}
    [iid] = t.launch("m1.small")
    ip = t.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
        "PublicIpAddress"]
    key = cloud.tmp / f"{t.account.profile}.pem"
    wait_ssh(key, ip)

    def activity():
        return admin(cloud, "billing/activity").get(iid)

    session = subprocess.Popen(["ssh", *SSH_OPTS, "-i", str(key), f"admin@{ip}", "sleep 300"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        k.wait_until(lambda: (activity() or {}).get("ssh_sessions", 0) >= 1, 30,
                     "the open SSH session to be seen", interval=0.5)
        advance(cloud, 2 * HOUR)
        assert t.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
            "State"]["Name"] == "running"
    finally:
        session.terminate()
        session.wait(timeout=10)
    k.wait_until(lambda: (a := activity()) and a["ssh_sessions"] == 0 and a["cpu_percent"] < 5,
                 60, "the instance to be idle", interval=0.5)
    advance(cloud, 31 * HOUR)
    wait_state(t.ec2, iid, "stopped")
    bill = t.bill()
    check_lines(bill)
    hours = hours_of(bill, iid)
    # 2 hours with the session open, then 30 idle minutes (and the real seconds of the test).
    assert Decimal("2.5") <= hours < Decimal("2.55"), hours
    assert f"idle-stop: {iid} of account {t.account.account_id} had no SSH session" in \
        cloud.daemon.log_path.read_text(errors="replace")
    k.kumo(cloud.daemon.data_dir, "idle-stop", "--profile", t.account.profile, "delete", env=env)
    t.terminate(iid)


def test_volumes_are_billed_per_gib_month_until_deleted(cloud):
    """A 100 GiB gp3 volume for a day, grown to 200 GiB for another, then deleted: each size is
    billed for its seconds as a share of the month's GiB-months, at the catalog's $0.088, whatever
    the volume's state (it is never attached). The account's Free Tier is turned off by the
    operator so that the storage is paid."""
    t = Tenant(cloud)
    room_in_month(cloud, 50)
    admin(cloud, "billing/free-tier", account_id=t.account.account_id, enabled=False)
    vol = t.ec2.create_volume(AvailabilityZone=k.HOME_REGION + "a", Size=100,
                              VolumeType="gp3")["VolumeId"]
    k.wait_until(lambda: t.ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["State"]
                 == "available", 30, f"{vol} available")
    advance(cloud, 24 * HOUR)
    t.ec2.modify_volume(VolumeId=vol, Size=200)
    k.wait_until(lambda: t.ec2.describe_volumes_modifications(VolumeIds=[vol])[
        "VolumesModifications"][0]["ModificationState"] == "completed", 60, "the resize")
    advance(cloud, 24 * HOUR)
    t.ec2.delete_volume(VolumeId=vol)

    def gone():
        try:
            t.ec2.describe_volumes(VolumeIds=[vol])
            return False
        except Exception as e:  # noqa: BLE001 (botocore's ClientError)
            return k.error_code(e) == "InvalidVolume.NotFound"
    k.wait_until(gone, 60, f"{vol} deleted")
    bill = t.bill()
    check_lines(bill)
    lines = [line for line in bill["Lines"] if line.get("VolumeId") == vol]
    assert [line["GiB"] for line in lines] == [100, 200], lines
    assert all(line["Rate"] == "0.088000" and line["RateUnit"] == "GB-Mo" for line in lines)
    first, second = (Decimal(line["BilledSeconds"]) for line in lines)
    assert 24 * HOUR <= first < 24 * HOUR + 120 and 24 * HOUR <= second < 24 * HOUR + 120
    [by_volume] = [v for v in bill["ByVolume"] if v["VolumeId"] == vol]
    # Rounded once from the exact sum, so within a micro-dollar per line of the lines' sum.
    lines_sum = sum(micros(line["Cost"]) for line in lines)
    assert abs(micros(by_volume["Cost"]) - lines_sum) <= len(lines)
    assert bill["FreeTier"] is None
    # A day of 300 GiB (100 then 200) of a 30- or 31-day month at $0.088: about $0.85-0.88.
    assert Decimal("0.84") < Decimal(by_volume["Cost"]) < Decimal("0.89"), by_volume


def test_spot_hours_at_their_starting_price_and_free_first_hour_interruptions(cloud):
    """specs/spot.md scenarios 32, 33 and 35 with the real market: an instance Kumo interrupts
    after 30 minutes costs nothing; one interrupted after 90 minutes pays its 5400 s at $0.0040;
    one whose pool's price moves from $0.0040 to $0.0050 half-way through its first hour pays
    that hour at $0.0040 and the next 20 minutes at $0.0050 ($0.005667)."""
    t = Tenant(cloud)
    room_in_month(cloud, 3)
    za = k.HOME_REGION + "a"
    for itype in ("c4.large", "c4.xlarge"):
        admin(cloud, "spot/set-price", instance_type=itype, availability_zone=za, price="0.0040")

    def spot(itype):
        out = t.ec2.run_instances(ImageId=cloud.image_id(), InstanceType=itype, MinCount=1,
                                  MaxCount=1, KeyName="mykey", SecurityGroups=["ssh"],
                                  Placement={"AvailabilityZone": za},
                                  InstanceMarketOptions={"MarketType": "spot"})
        iid = out["Instances"][0]["InstanceId"]
        wait_state(t.ec2, iid, "running")
        return iid

    early, late = spot("c4.large"), spot("c4.large")
    locked = spot("c4.xlarge")
    advance(cloud, 30 * 60)
    admin(cloud, "spot/interrupt", instance_id=early, reason="capacity")
    admin(cloud, "spot/set-price", instance_type="c4.xlarge", availability_zone=za, price="0.0050")
    advance(cloud, 50 * 60)  # 1 h 20 min
    t.terminate(locked)
    advance(cloud, 8 * 60)   # 1 h 28 min
    admin(cloud, "spot/interrupt", instance_id=late, reason="capacity")
    advance(cloud, 3 * 60)   # the 2-minute notice runs out at 1 h 30 min
    wait_state(t.ec2, early, "terminated")
    wait_state(t.ec2, late, "terminated")
    bill = t.bill()
    check_lines(bill)
    by = {i: [line for line in instance_lines(bill) if line["InstanceId"] == i]
          for i in (early, late, locked)}
    assert all(line["Cost"] == "0.000000" and "first hour" in line["Note"] for line in by[early])
    assert sum(micros(line["Cost"]) for line in by[early]) == 0
    assert {line["UsageType"] for line in by[late]} == {"EUW1-SpotUsage:c4.large"}
    late_cost = sum(micros(line["Cost"]) for line in by[late])
    assert 6000 <= late_cost < 6000 + 15, by[late]  # 5400 s at $0.0040 (+ the test's seconds)
    assert [line["Rate"] for line in by[locked]] == ["0.004000", "0.005000"], by[locked]
    assert Decimal(by[locked][0]["BilledSeconds"]) == 3600
    assert 1200 <= Decimal(by[locked][1]["BilledSeconds"]) < 1200 + 120
    locked_cost = sum(micros(line["Cost"]) for line in by[locked])
    assert 5667 <= locked_cost < 5667 + 170, by[locked]
