#!/usr/bin/python3
"""Metadata service latency/throughput from inside an instance, and how fast a security-group
change is in force.

    bench/imds_firewall_bench.py [-n 2000] [--changes 10]    (as root; KUMO_BIN_DIR as the tests)

Starts its own kumod, one account, key pair and ssh group, one t2.micro instance, then:
  1. inside the instance (python3 http.client, one kept-alive connection): n GETs of
     /latest/meta-data/instance-id with IMDSv1, n with an IMDSv2 token; p50/p99 latency and
     requests/s; 4 connections in parallel for throughput. Baseline in the same run: a plain TCP
     connect to 169.254.169.254:80 (the network path to the listener, no HTTP, no store);
  2. changes times: authorize tcp/8080 from the host's own source address, then time from the
     API call to the first accepted connection from the host; revoke, and time until new
     connections fail. Each connection attempt waits at most 50 ms.
Prints markdown tables of medians/p99s. Everything it starts is torn down at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("KUMO_BIN_DIR", str(ROOT / "build" / "bin"))
import kumo_e2e as k  # noqa: E402

SSH = ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "ConnectTimeout=2", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

INSIDE = r'''
import http.client, json, socket, statistics, sys, threading, time
n = int(sys.argv[1])
def pct(v, p):
    s = sorted(v); return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]
def run(headers, n):
    c = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", "/latest/meta-data/instance-id", headers=headers)
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
        lat.append(time.perf_counter() - t)
    return lat
c = http.client.HTTPConnection("169.254.169.254", 80, timeout=5)
c.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "600"})
token = c.getresponse().read().decode()
connect = []
for _ in range(n // 4):
    t = time.perf_counter()
    s = socket.create_connection(("169.254.169.254", 80)); s.close()
    connect.append(time.perf_counter() - t)
out = {"connect": connect, "v1": run({}, n), "v2": run({"X-aws-ec2-metadata-token": token}, n)}
lats = []
def worker():
    lats.extend(run({}, n // 4))
t = time.perf_counter()
ts = [threading.Thread(target=worker) for _ in range(4)]
[x.start() for x in ts]; [x.join() for x in ts]
out["parallel_rps"] = len(lats) / (time.perf_counter() - t)
print(json.dumps(out))
'''


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ssh(key, ip, cmd, input=None):
    return subprocess.run([*SSH, "-i", str(key), f"admin@{ip}", cmd], input=input,
                          capture_output=True, text=True, check=True).stdout


def connects(ip, port, timeout=0.05) -> bool:
    try:
        socket.create_connection((ip, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def until(predicate, timeout):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--changes", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-imds-bench-"))
    daemon = k.Kumod(tmp / "data", regions=(k.HOME_REGION,),
                     image_dir=Path(os.environ.get("KUMO_IMAGE_DIR", "/var/lib/kumo/images")))
    files = k.AwsFiles(tmp / "config", tmp / "credentials")
    try:
        daemon.start()
        acct = k.create_account(daemon.data_dir, daemon.endpoint, files)
        ec2 = k.make_client(acct)
        key = k.write_private(tmp / "key.pem",
                              ec2.create_key_pair(KeyName="b", KeyType="ed25519")["KeyMaterial"])
        sg = ec2.create_security_group(GroupName="bench", Description="bench")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        image = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
                     if i["Name"] == "debian-12")
        iid = ec2.run_instances(ImageId=image, InstanceType="t2.micro", KeyName="b",
                                SecurityGroupIds=[sg], MinCount=1,
                                MaxCount=1)["Instances"][0]["InstanceId"]
        ip = k.wait_until(lambda: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
                          ["Instances"][0].get("PublicIpAddress"), 60, "public address")
        k.wait_until(lambda: subprocess.run([*SSH, "-i", str(key), f"admin@{ip}", "true"],
                                            capture_output=True).returncode == 0, 60, "ssh")

        r = json.loads(ssh(key, ip, f"python3 - {args.n}", input=INSIDE))
        print(f"\nIMDS from inside the instance, n={args.n} (ms)\n")
        print("| request | p50 | p99 | req/s (one connection) |\n|---|---|---|---|")
        for name in ("connect", "v1", "v2"):
            v = r[name]
            print(f"| {name} | {statistics.median(v) * 1e3:.3f} | {pct(v, 99) * 1e3:.3f} | "
                  f"{len(v) / sum(v):.0f} |")
        print(f"\n4 connections in parallel: {r['parallel_rps']:.0f} req/s; "
              f"GET p50 / TCP connect p50 = "
              f"{statistics.median(r['v1']) / statistics.median(r['connect']):.1f}x")

        ssh(key, ip, "sudo systemd-run --unit=bench-http python3 -m http.server 8080")
        src = subprocess.run(["ip", "-o", "route", "get", ip], capture_output=True,
                             text=True).stdout.split(" src ")[1].split()[0]
        perm = [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                 "IpRanges": [{"CidrIp": f"{src}/32"}]}]
        open_s, close_s, api_s = [], [], []
        # The listener is up once an allowed connection gets through.
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=perm)
        assert until(lambda: connects(ip, 8080), 30), "listener never reachable"
        ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=perm)
        assert until(lambda: not connects(ip, 8080), 10)
        for _ in range(args.changes):
            t = time.monotonic()
            ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=perm)
            api_s.append(time.monotonic() - t)
            assert until(lambda: connects(ip, 8080), 10), "allow not in force"
            open_s.append(time.monotonic() - t)
            t = time.monotonic()
            ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=perm)
            assert until(lambda: not connects(ip, 8080), 10), "revoke not in force"
            close_s.append(time.monotonic() - t)
        print(f"\nSecurity-group change → in force, {args.changes} changes each way (ms)\n")
        print("| change | p50 | max |\n|---|---|---|")
        for name, v in (("authorize: API response", api_s), ("authorize → connect accepted",
                        open_s), ("revoke → new connections dropped", close_s)):
            print(f"| {name} | {statistics.median(v) * 1e3:.0f} | {max(v) * 1e3:.0f} |")
    finally:
        daemon.stop()
        daemon.teardown()


if __name__ == "__main__":
    main()
