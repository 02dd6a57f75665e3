"""`kumo daemon start|status|stop` with its supervisor, and two daemons side by side."""

import json
import os
import signal
import socket
import time
import uuid

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k


def read_runtime_pid(data_dir):
    try:
        return json.loads((data_dir / "kumod.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_daemon_lifecycle_and_supervised_restart(tmp_path):
    data = tmp_path / "data"
    port = k.free_port()
    endpoint = f"http://127.0.0.1:{port}"
    files = k.AwsFiles(tmp_path / "aws-config", tmp_path / "aws-credentials")
    pids = set()
    try:
        started = k.kumo_json(data, "daemon", "start", "--listen", f"127.0.0.1:{port}",
                              "--region", k.HOME_REGION, "--region", k.OTHER_REGION)
        assert started["Status"] == "running"
        assert k.healthy(endpoint)
        supervisor = int((data / "kumod.pid").read_text())
        pids.add(supervisor)
        assert k.pid_alive(supervisor)

        status = k.kumo(data, "daemon", "status")
        info = json.loads(status.stdout)
        assert info["Status"] == "running" and info["Endpoint"] == endpoint
        assert info["Pid"] == supervisor

        acct = k.create_account(data, endpoint, files)
        ec2 = k.make_client(acct)
        assert sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"]) == sorted(
            k.REGIONS)
        ec2.create_key_pair(KeyName="survivor", KeyType="ed25519")

        # kill -9 the kumod child, not the supervisor: the supervisor brings it back.
        child = read_runtime_pid(data)
        assert child and child != supervisor and k.pid_alive(child)
        pids.add(child)
        os.kill(child, signal.SIGKILL)
        k.wait_until(lambda: not k.pid_alive(child), 10, "the killed kumod to die")

        def restarted():
            pid = read_runtime_pid(data)
            return pid if pid and pid != child and k.pid_alive(pid) and k.healthy(endpoint) else None

        new_child = k.wait_until(restarted, 30, "the supervisor to restart kumod")
        pids.add(new_child)
        assert k.pid_alive(supervisor)
        assert int((data / "kumod.pid").read_text()) == supervisor
        assert [kp["KeyName"] for kp in ec2.describe_key_pairs()["KeyPairs"]] == ["survivor"]

        # start again is a no-op that reports the running daemon.
        again = k.kumo_json(data, "daemon", "start", "--listen", f"127.0.0.1:{port}")
        assert again["Status"] == "running" and again["Pid"] == supervisor

        stopped = k.kumo_json(data, "daemon", "stop")
        assert stopped["Status"] == "stopped"
        assert not k.pid_alive(supervisor)
        k.wait_until(lambda: not k.pid_alive(new_child), 10, "kumod to exit with its supervisor")
        assert not k.healthy(endpoint)
        assert not (data / "kumod.pid").exists()
        status = k.kumo(data, "daemon", "status", check=False)
        assert status.returncode != 0
        assert json.loads(status.stdout)["Status"] == "stopped"
    finally:
        if (data / "kumod.pid").exists():
            k.kumo(data, "daemon", "stop", check=False)
        for pid in pids:  # only processes this test started
            if k.pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_two_daemons_side_by_side(tmp_path):
    files = k.AwsFiles(tmp_path / "aws-config", tmp_path / "aws-credentials")
    with k.Kumod(tmp_path / "one", regions=(k.HOME_REGION,)) as one, \
            k.Kumod(tmp_path / "two", regions=(k.OTHER_REGION, k.HOME_REGION)) as two:
        assert one.port != two.port
        a1 = k.create_account(one.data_dir, one.endpoint, files, name=k.unique("one"))
        a2 = k.create_account(two.data_dir, two.endpoint, files, name=k.unique("two"))
        c1, c2 = k.make_client(a1), k.make_client(a2)
        r1 = c1.describe_regions()["Regions"]
        r2 = c2.describe_regions()["Regions"]
        assert [r["RegionName"] for r in r1] == [k.HOME_REGION]
        assert sorted(r["RegionName"] for r in r2) == sorted(k.REGIONS)
        assert {r["Endpoint"] for r in r1} == {f"127.0.0.1:{one.port}"}
        assert {r["Endpoint"] for r in r2} == {f"127.0.0.1:{two.port}"}

        # Each daemon knows only its own accounts.
        for acct, other in ((a1, two), (a2, one)):
            with pytest.raises(ClientError) as e:
                k.make_client(acct, endpoint=other.endpoint).describe_regions()
            assert k.error_code(e.value) == "AuthFailure"
        names1 = {a["Name"] for a in k.kumo_json(one.data_dir, "account", "list")}
        names2 = {a["Name"] for a in k.kumo_json(two.data_dir, "account", "list")}
        assert names1 == {a1.name} and names2 == {a2.name}

        # Resources are separate too, even under the same account name and key name.
        twin = k.create_account(two.data_dir, two.endpoint,
                                k.AwsFiles(tmp_path / "c2", tmp_path / "k2"), name=a1.name)
        c1.create_key_pair(KeyName="same", KeyType="ed25519")
        ct = k.make_client(twin)
        assert ct.describe_key_pairs()["KeyPairs"] == []
        ct.create_key_pair(KeyName="same", KeyType="ed25519")
        assert len(c1.describe_key_pairs()["KeyPairs"]) == 1
        # The aws CLI, with the profile --write-profile wrote, reaches each daemon's own account.
        for acct in (a1, a2):
            rc, out, err = k.aws_cli(files, acct, "sts", "get-caller-identity")
            assert rc == 0 and out["Account"] == acct.account_id, err
        assert k.pid_alive(one.proc.pid) and k.pid_alive(two.proc.pid)


def test_account_cli_and_profiles(kumod, aws_files):
    name = k.unique("cli")
    fixed_id = str(uuid.uuid4().int)[:12]
    out = k.kumo_json(kumod.data_dir, "account", "create", name, "--email", "ops@example.test",
                      "--account-id", fixed_id, "--write-profile", name,
                      env=aws_files.env())
    assert out["AccountId"] == fixed_id and out["AccessKeyId"].startswith("AKIA")
    # The profile points at the running daemon and its home region.
    config = aws_files.config.read_text()
    section = config.split(f"[profile {name}]", 1)[1].split("\n[", 1)[0]
    assert "region = eu-west-1" in section
    assert f"endpoint_url = {kumod.endpoint}" in section
    creds = aws_files.credentials.read_text().split(f"[{name}]", 1)[1].split("\n[", 1)[0]
    assert out["AccessKeyId"] in creds and out["SecretAccessKey"] in creds
    assert aws_files.credentials.stat().st_mode & 0o077 == 0
    listed = {a["Name"]: a for a in k.kumo_json(kumod.data_dir, "account", "list")}
    assert listed[name]["AccountId"] == fixed_id and listed[name]["Email"] == "ops@example.test"
    assert listed[name]["Status"] == "active"
    acct = k.Account(name, fixed_id, out["AccessKeyId"], out["SecretAccessKey"], name,
                     kumod.endpoint, kumod.data_dir)
    rc, ident, err = k.aws_cli(aws_files, acct, "sts", "get-caller-identity")
    assert rc == 0 and ident["Account"] == fixed_id, err

    # Names and ids are unique; ids are 12 digits.
    assert k.kumo(kumod.data_dir, "account", "create", name, check=False).returncode != 0
    assert k.kumo(kumod.data_dir, "account", "create", k.unique("x"), "--account-id", fixed_id,
                  check=False).returncode != 0
    assert k.kumo(kumod.data_dir, "account", "create", k.unique("x"), "--account-id", "123",
                  check=False).returncode != 0
    assert k.kumo(kumod.data_dir, "account", "suspend", "no-such-account",
                  check=False).returncode != 0


def test_account_create_without_daemon(tmp_path):
    """kumo account create works on a data dir no daemon runs on; the daemon started later
    honours the account."""
    data = tmp_path / "data"
    files = k.AwsFiles(tmp_path / "aws-config", tmp_path / "aws-credentials")
    daemon = k.Kumod(data)
    acct = k.create_account(data, daemon.endpoint, files)
    with daemon:
        ident = k.make_client(acct, service="sts").get_caller_identity()
        assert ident["Account"] == acct.account_id
        # And with the daemon running, a CLI change is seen by the very next request.
        k.kumo(data, "account", "suspend", acct.name)
        with pytest.raises(ClientError) as e:
            k.make_client(acct).describe_key_pairs()
        assert k.error_code(e.value) == "UnauthorizedOperation"


def test_sigterm_stops_kumod_cleanly(tmp_path):
    files = k.AwsFiles(tmp_path / "aws-config", tmp_path / "aws-credentials")
    daemon = k.Kumod(tmp_path / "data")
    idle = None
    try:
        daemon.start()
        info = json.loads((daemon.data_dir / "kumod.json").read_text())
        assert info["endpoint"] == daemon.endpoint
        assert info["regions"] == list(k.REGIONS) and info["pid"] == daemon.proc.pid
        acct = k.create_account(daemon.data_dir, daemon.endpoint, files)
        k.make_client(acct).describe_regions()  # leaves a kept-alive connection open
        idle = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and one mid-request
    finally:
        result = daemon.stop(timeout=5)
        if idle:
            idle.close()
    assert result == (0, False), f"{result}: {daemon.log_tail()}"
    assert not k.healthy(daemon.endpoint)


def test_cli_does_not_hang_on_a_silent_listener(tmp_path):
    """A port held by something that accepts connections but never answers (a stopped kumod,
    another program) must not hang `daemon status` or `daemon start`."""
    data = tmp_path / "data"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accept()ed: the kernel completes handshakes, nobody answers
        port = silent.getsockname()[1]
        data.mkdir()
        (data / "kumod.json").write_text(json.dumps(
            {"endpoint": f"http://127.0.0.1:{port}", "regions": [k.HOME_REGION], "pid": 1}))
        started = time.monotonic()
        status = k.kumo(data, "daemon", "status", check=False, timeout=30)
        assert time.monotonic() - started < 10
        assert status.returncode == 3 and json.loads(status.stdout)["Status"] == "stopped"

        started = time.monotonic()
        try:
            start = k.kumo(data, "daemon", "start", "--listen", f"127.0.0.1:{port}", "--wait", "3",
                           check=False, timeout=60)
            assert time.monotonic() - started < 20
            assert start.returncode != 0 and "did not start serving" in start.stderr
        finally:
            # The failed start leaves its supervisor retrying in the background: stop it.
            k.kumo(data, "daemon", "stop", check=False)
        assert not (data / "kumod.pid").exists()
