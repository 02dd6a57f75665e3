#!/usr/bin/python3
"""GPU launch benchmark: RunInstances of a 1-GPU type → the GPU answering inside the instance,
against a launch of the same size without a GPU in the same run.

    bench/gpu_launch_bench.py [-n 10] [--bin-dir build/bin]    (as root)

On a host with NVIDIA GPUs (/dev/nvidia0 and nvidia-smi present) "answering" is `nvidia-smi -L`
run over ssh inside the instance, through the driver files Kumo binds in. On a host without
one it uses kumod's test facility (`--test-stand-in-gpus`): two stand-in nodes with the NVIDIA
major number, and "answering" is the assigned node being a character device inside. The
baseline is t3.xlarge (4 vCPUs, 16 GiB, like g4dn.xlarge) answering `true`. Launches alternate
(GPU, baseline, GPU, …), each terminated before the next, so both meet the same idle host.
Prints the medians and the ratio; without --bin-dir it builds Release into build-bench first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SSH = ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "ConnectTimeout=2", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]
GPU_TYPE, BASE_TYPE = "g4dn.xlarge", "t3.xlarge"


def ssh_ok(key, ip, command):
    return subprocess.run([*SSH, "-i", str(key), f"admin@{ip}", command], stdin=subprocess.DEVNULL,
                          capture_output=True).returncode == 0


def poll(predicate, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--bin-dir", type=Path)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("gpu_launch_bench needs root")
    if args.bin_dir is None:
        build = ROOT / "build-bench"
        subprocess.run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=Release", "-DKUMO_TESTS=OFF"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["ninja", "-C", build, "kumod", "kumo"], check=True,
                       stdout=subprocess.DEVNULL)
        args.bin_dir = build / "bin"
    sys.path.insert(0, str(ROOT / "bench"))
    from launch_bench import bench_account  # noqa: E402  (sets KUMO_BIN_DIR to build-bench)
    import kumo_e2e as k  # noqa: E402
    os.environ["KUMO_BIN_DIR"] = str(args.bin_dir.resolve())  # read at each start

    real = Path("/dev/nvidia0").exists() and shutil.which("nvidia-smi") is not None
    tmp = Path(tempfile.mkdtemp(prefix="kumo-gpu-bench-"))
    extra = ["--host-cpus", "8", "--host-memory-mib", "65536"]
    stand_in = None
    if not real:
        stand_in = Path("/var/lib/kumo/test-hosts") / k.unique("gpu-bench")
        stand_in.mkdir(parents=True)
        stand_in.chmod(0o755)
        for name, minor in (("nvidia0", 200), ("nvidia1", 201), ("nvidiactl", 202)):
            os.mknod(stand_in / name, 0o666 | stat.S_IFCHR, os.makedev(195, minor))
        extra += ["--test-stand-in-gpus", str(stand_in)]
    daemon = k.Kumod(tmp / "data", regions=(k.HOME_REGION,), image_dir=Path("/var/lib/kumo/images"),
                     extra_args=extra)
    try:
        daemon.start()
        ec2, key, image = bench_account(daemon, tmp)

        def launch(itype, probe):
            t0 = time.monotonic()
            inst = ec2.run_instances(ImageId=image, InstanceType=itype, MinCount=1, MaxCount=1,
                                     KeyName="bench")["Instances"][0]
            iid, ip = inst["InstanceId"], inst["PublicIpAddress"]
            poll(lambda: ssh_ok(key, ip, probe(iid)), 120, f"{iid} {itype} answering")
            took = time.monotonic() - t0
            ec2.terminate_instances(InstanceIds=[iid])
            poll(lambda: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"]
                 [0]["State"]["Name"] == "terminated", 60, f"{iid} terminated")
            return took

        def gpu_probe(iid):
            if real:
                return "nvidia-smi -L | grep -q '^GPU 0:'"
            # The assigned node, as the admin API records it.
            hosts = k.admin(daemon, "hosts")["Hosts"][0]["Gpus"]
            dev = next((g["Device"] for g in hosts if g["InstanceId"] == iid), None)
            return f"test -c /dev/{Path(dev).name}" if dev else "false"

        launch(BASE_TYPE, lambda _: "true")  # warm-up: the VPC's namespace, bridge, dnsmasq
        gpu, base = [], []
        for i in range(args.n):
            gpu.append(launch(GPU_TYPE, gpu_probe))
            base.append(launch(BASE_TYPE, lambda _: "true"))
            print(f"{i + 1}/{args.n}: {GPU_TYPE} {1000 * gpu[-1]:.0f} ms, {BASE_TYPE} "
                  f"{1000 * base[-1]:.0f} ms", file=sys.stderr)
        g, b = statistics.median(gpu) * 1000, statistics.median(base) * 1000
        what = "`nvidia-smi -L` answers" if real else "the assigned stand-in node is there"
        print(f"\n## GPU launch ({args.n} alternating launches, {'real GPUs' if real else 'stand-in GPUs'})\n")
        print("| from RunInstances sent to | median (ms) | min | max |")
        print("|---|---|---|---|")
        print(f"| {GPU_TYPE}: ssh in, {what} | {g:.0f} | {1000 * min(gpu):.0f} | "
              f"{1000 * max(gpu):.0f} |")
        print(f"| {BASE_TYPE}: ssh in, `true` | {b:.0f} | {1000 * min(base):.0f} | "
              f"{1000 * max(base):.0f} |")
        print(f"\nratio GPU / baseline (medians): {g / b:.2f}")
    finally:
        daemon.stop()
        if stand_in:
            shutil.rmtree(stand_in, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
