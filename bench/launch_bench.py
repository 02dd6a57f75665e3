#!/usr/bin/python3
"""End-to-end launch benchmark: RunInstances → response, → `running`, → first `ssh … true`.

    bench/launch_bench.py [-n 50] [--concurrent 20] [--idle-seconds 300]    (as root)

Starts its own kumod (Release build in build-bench), one account, key pair and ssh group, then:
  1. n sequential launches of t2.micro on the cached default image; each is terminated (and
     waited for) before the next, so every launch meets an idle host;
  2. the floor in the same run: bench/runtime_bench.cc (plain liblxc + overlay, no API, no
     network), `kumo_runtime_bench -n 20`;
  3. `concurrent` launches in one RunInstances call, timed until all are running and all answer
     ssh;
  4. those instances left idle for idle-seconds, then memory per instance: the container's
     cgroup (memory.usage_in_bytes, page cache included, and its rss) plus kumod's host-side
     processes for it (the liblxc monitor; the VPC's dnsmasq shared by all of them).
Prints markdown tables of medians/p99s. Everything it starts is torn down at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
BUILD = ROOT / "build-bench"
os.environ["KUMO_BIN_DIR"] = str(BUILD / "bin")
import kumo_e2e as k  # noqa: E402

SSH = ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "ConnectTimeout=2", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def row(name, values):
    ms = [v * 1000 for v in values]
    return f"| {name} | {statistics.median(ms):.0f} | {pct(ms, 99):.0f} | {min(ms):.0f} | {max(ms):.0f} |"


def ssh_ok(key, ip):
    return subprocess.run([*SSH, "-i", str(key), f"admin@{ip}", "true"], stdin=subprocess.DEVNULL,
                          capture_output=True).returncode == 0


def poll(predicate, timeout, what, interval=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError(what)


def state(ec2, iid):
    r = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return r["State"]["Name"]


def pss_kib(pid):
    """Proportional set size: shared library pages split among the processes that map them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def bench_account(daemon, tmp):
    """An account on the started daemon with key pair "bench" (its private key at tmp/key.pem),
    ssh open in the default group, and the default image: (ec2 client, key path, image id)."""
    files = k.AwsFiles(tmp / "aws-config", tmp / "aws-credentials")
    account = k.create_account(daemon.data_dir, daemon.endpoint, files)
    ec2 = k.make_client(account)
    key = tmp / "key.pem"
    k.write_private(key, ec2.create_key_pair(KeyName="bench", KeyType="ed25519")["KeyMaterial"])
    # Security groups are real firewall rules: the default group lets nothing in.
    ec2.authorize_security_group_ingress(GroupName="default", IpProtocol="tcp", FromPort=22,
                                         ToPort=22, CidrIp="0.0.0.0/0")
    image = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
                 if i["Name"] == "debian-12")
    return ec2, key, image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--concurrent", type=int, default=20)
    ap.add_argument("--idle-seconds", type=int, default=300)
    ap.add_argument("--type", default="t2.micro")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("launch_bench needs root")
    subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DKUMO_TESTS=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", BUILD, "kumod", "kumo", "kumo_runtime_bench"], check=True,
                   stdout=subprocess.DEVNULL)

    tmp = Path(tempfile.mkdtemp(prefix="kumo-launch-bench-"))
    daemon = k.Kumod(tmp / "data", regions=(k.HOME_REGION,), image_dir=Path("/var/lib/kumo/images"))
    try:
        daemon.start()
        ec2, key, image = bench_account(daemon, tmp)
        # Warm-up: the VPC's namespace, bridge and dnsmasq are made by the first launch.
        warm = ec2.run_instances(ImageId=image, InstanceType=args.type, MinCount=1, MaxCount=1,
                                 KeyName="bench")["Instances"][0]
        poll(lambda: ssh_ok(key, warm["PublicIpAddress"]), 60, "warm-up ssh", 0.05)
        ec2.terminate_instances(InstanceIds=[warm["InstanceId"]])
        poll(lambda: state(ec2, warm["InstanceId"]) == "terminated", 60, "warm-up terminate")

        resp, running, sshable = [], [], []
        for i in range(args.n):
            t0 = time.monotonic()
            inst = ec2.run_instances(ImageId=image, InstanceType=args.type, MinCount=1,
                                     MaxCount=1, KeyName="bench")["Instances"][0]
            t1 = time.monotonic()
            iid, ip = inst["InstanceId"], inst["PublicIpAddress"]
            poll(lambda: state(ec2, iid) == "running", 60, f"{iid} running")
            t2 = time.monotonic()
            poll(lambda: ssh_ok(key, ip), 60, f"{iid} ssh", 0.01)
            t3 = time.monotonic()
            resp.append(t1 - t0)
            running.append(t2 - t0)
            sshable.append(t3 - t0)
            ec2.terminate_instances(InstanceIds=[iid])
            poll(lambda: state(ec2, iid) == "terminated", 60, f"{iid} terminated", 0.01)
            print(f"launch {i + 1}/{args.n}: response {1000 * (t1 - t0):.0f} ms, running "
                  f"{1000 * (t2 - t0):.0f} ms, ssh {1000 * (t3 - t0):.0f} ms", file=sys.stderr)

        floor = subprocess.run([str(BUILD / "bin" / "kumo_runtime_bench"), "-n", "20"],
                               capture_output=True, text=True)

        t0 = time.monotonic()
        insts = ec2.run_instances(ImageId=image, InstanceType=args.type,
                                  MinCount=args.concurrent, MaxCount=args.concurrent,
                                  KeyName="bench")["Instances"]
        t1 = time.monotonic()
        ids = [i["InstanceId"] for i in insts]

        def all_running():
            rs = ec2.describe_instances(InstanceIds=ids)["Reservations"]
            return all(i["State"]["Name"] == "running" for r in rs for i in r["Instances"])
        poll(all_running, 120, "all running", 0.01)
        t2 = time.monotonic()
        pending = {i["PublicIpAddress"] for i in insts}
        while pending:
            pending = {ip for ip in pending if not ssh_ok(key, ip)}
            if time.monotonic() - t0 > 180:
                raise TimeoutError(f"concurrent ssh: {sorted(pending)} never answered")
        t3 = time.monotonic()

        print(f"\n## Launch latency ({args.n} sequential {args.type} launches, cached image)\n")
        print("| from RunInstances sent to | p50 (ms) | p99 (ms) | min | max |")
        print("|---|---|---|---|---|")
        print(row("response", resp))
        print(row("`running` seen by DescribeInstances", running))
        print(row("first `ssh … true` succeeds", sshable))
        print("\n### Floor in the same run: plain liblxc + overlay (kumo_runtime_bench -n 20)\n")
        print(floor.stdout.strip() or floor.stderr.strip())
        print(f"\n## {args.concurrent} concurrent launches (one RunInstances call)\n")
        print(f"response {1000 * (t1 - t0):.0f} ms, all running {1000 * (t2 - t0):.0f} ms, "
              f"all answer ssh {1000 * (t3 - t0):.0f} ms")

        if args.idle_seconds > 0:
            time.sleep(args.idle_seconds)  # the measurement itself: idle for this long
            did = daemon.daemon_id()
            usage, rss, monitors = [], [], []
            for iid in ids:
                name = f"k{did}-{iid}"
                cg = next(Path("/sys/fs/cgroup/memory").glob(f"**/lxc.payload.{name}"), None)
                if cg is None:
                    cg = next(Path("/sys/fs/cgroup").glob(f"**/lxc.payload.{name}"), None)
                if cg is None:
                    continue
                u = cg / "memory.usage_in_bytes"
                usage.append(int(u.read_text()) if u.exists() else
                             int((cg / "memory.current").read_text()))
                stat = dict(l.split() for l in (cg / "memory.stat").read_text().splitlines())
                rss.append(int(stat.get("total_rss", stat.get("anon", 0))))
                ps = subprocess.run(["pgrep", "-f", f"lxc monitor.* {name}$"], capture_output=True,
                                    text=True).stdout.split()
                monitors.append(sum(pss_kib(int(p)) for p in ps) * 1024)
            dnsmasq = subprocess.run(["pgrep", "-f", f"dnsmasq.*{did}"], capture_output=True,
                                     text=True).stdout.split()
            dns_kib = sum(pss_kib(int(p)) for p in dnsmasq)
            mib = lambda b: b / (1 << 20)
            print(f"\n## Idle memory per instance after {args.idle_seconds} s "
                  f"({len(usage)} instances)\n")
            print("| what | median (MiB) | max (MiB) |")
            print("|---|---|---|")
            print(f"| container cgroup, all (incl. page cache) | {mib(statistics.median(usage)):.1f} "
                  f"| {mib(max(usage)):.1f} |")
            print(f"| container cgroup, anonymous (rss) | {mib(statistics.median(rss)):.1f} | "
                  f"{mib(max(rss)):.1f} |")
            print(f"| liblxc monitor process on the host (PSS) | {mib(statistics.median(monitors)):.1f} | "
                  f"{mib(max(monitors)):.1f} |")
            print(f"| the VPC's dnsmasq (PSS), shared ({len(dnsmasq)} process) | {dns_kib / 1024:.1f} "
                  f"total | |")
    finally:
        daemon.stop()
        daemon.teardown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
