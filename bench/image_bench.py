#!/usr/bin/python3
"""Custom images end to end: CreateSnapshot and CreateImage of an instance on the default image
with 100 MB of changes (time until completed/available, space on the host), and launching from
that image against launching the default image, alternated in one run.

    bench/image_bench.py [-n 5] [--bin-dir build/bin] [--write-mb 100]    (as root)

Starts its own kumod, one account and key pair; everything it starts is torn down at exit.
Prints markdown tables of medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--bin-dir", default=str(ROOT / "build" / "bin"))
    ap.add_argument("--write-mb", type=int, default=100)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("image_bench needs root")
    import kumo_e2e as k
    from launch_bench import SSH, bench_account, poll, ssh_ok, state
    os.environ["KUMO_BIN_DIR"] = str(Path(args.bin_dir).resolve())  # launch_bench sets its own

    tmp = Path(tempfile.mkdtemp(prefix="kumo-image-bench-"))
    daemon = k.Kumod(tmp / "data", regions=(k.HOME_REGION,), image_dir=Path("/var/lib/kumo/images"))
    try:
        daemon.start()
        ec2, key, default = bench_account(daemon, tmp)
        host_dir = daemon.host_root / daemon.daemon_id()

        def launch(image):
            t0 = time.monotonic()
            inst = ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1,
                                     MaxCount=1, KeyName="bench")["Instances"][0]
            iid, ip = inst["InstanceId"], inst["PublicIpAddress"]
            poll(lambda: state(ec2, iid) == "running", 60, f"{iid} running", 0.01)
            t1 = time.monotonic()
            poll(lambda: ssh_ok(key, ip), 60, f"{iid} ssh", 0.01)
            return iid, ip, t1 - t0, time.monotonic() - t0

        def terminate(iid):
            ec2.terminate_instances(InstanceIds=[iid])
            poll(lambda: state(ec2, iid) == "terminated", 60, f"{iid} terminated", 0.01)

        # The source: the default image plus write-mb of incompressible changes.
        src, ip, _, _ = launch(default)
        subprocess.run([*SSH, "-i", str(key), f"admin@{ip}",
                        f"head -c {args.write_mb}M /dev/urandom > ~/changes && sync"],
                       check=True, stdin=subprocess.DEVNULL, capture_output=True)
        root_vol = ec2.describe_instances(InstanceIds=[src])["Reservations"][0]["Instances"][0][
            "BlockDeviceMappings"][0]["Ebs"]["VolumeId"]

        def on_disk_mib(snapshot_id):
            st = (host_dir / "snapshots" / f"{snapshot_id}.img").stat()
            return st.st_blocks * 512 / 2**20

        snap_s, image_s, snap_mib, image_mib = [], [], [], []
        images = []
        for i in range(args.n):
            t0 = time.monotonic()
            sid = ec2.create_snapshot(VolumeId=root_vol)["SnapshotId"]
            poll(lambda: ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]["State"]
                 == "completed", 120, f"{sid} completed", 0.01)
            snap_s.append(time.monotonic() - t0)
            snap_mib.append(on_disk_mib(sid))
            ec2.delete_snapshot(SnapshotId=sid)
            t0 = time.monotonic()
            image_id = ec2.create_image(InstanceId=src, Name=f"bench-{i}", NoReboot=True)["ImageId"]
            poll(lambda: ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"]
                 == "available", 120, f"{image_id} available", 0.01)
            image_s.append(time.monotonic() - t0)
            img = ec2.describe_images(ImageIds=[image_id])["Images"][0]
            image_mib.append(on_disk_mib(img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]))
            images.append(img)
            print(f"round {i + 1}: snapshot {snap_s[-1]:.2f} s, image {image_s[-1]:.2f} s",
                  file=sys.stderr)
        terminate(src)

        # Launches alternate default and custom so that drift on this noisy machine hits both.
        runs = {"default": ([], []), "custom": ([], [])}
        custom = images[0]["ImageId"]
        for i in range(args.n):
            for name, image in (("default", default), ("custom", custom)):
                iid, ip, running, sshable = launch(image)
                if name == "custom":
                    out = subprocess.run([*SSH, "-i", str(key), f"admin@{ip}",
                                          "stat -c %s ~/changes"], capture_output=True,
                                         text=True, stdin=subprocess.DEVNULL)
                    assert out.stdout.strip() == str(args.write_mb << 20), out
                runs[name][0].append(running)
                runs[name][1].append(sshable)
                terminate(iid)
            print(f"launch round {i + 1} done", file=sys.stderr)

        med = statistics.median
        lower = Path("/var/lib/kumo/images/debian-12/rootfs")
        rootfs_mib = int(subprocess.run(["du", "-sm", str(lower)], capture_output=True,
                                        text=True).stdout.split()[0])
        print(f"\n{args.n} rounds, medians; default image rootfs {rootfs_mib} MiB "
              f"(shared, never copied); {args.write_mb} MB written in the instance\n")
        print("| operation | time (s) | on the host (MiB) |")
        print("|---|---|---|")
        print(f"| CreateSnapshot of the root volume → completed | {med(snap_s):.2f} | "
              f"{med(snap_mib):.0f} |")
        print(f"| CreateImage (running, no reboot) → available | {med(image_s):.2f} | "
              f"{med(image_mib):.0f} |")
        print("\n| launch | → running (ms) | → first ssh (ms) |")
        print("|---|---|---|")
        for name in ("default", "custom"):
            print(f"| {name} image | {1000 * med(runs[name][0]):.0f} | "
                  f"{1000 * med(runs[name][1]):.0f} |")
        print(f"\ncustom / default to first ssh: "
              f"{med(runs['custom'][1]) / med(runs['default'][1]):.2f}x")
        for img in images:
            ec2.deregister_image(ImageId=img["ImageId"])
    finally:
        daemon.stop()
        daemon.teardown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
