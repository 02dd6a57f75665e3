"""Security groups enforced, as a person would see it: connections from client machines (network
namespaces of their own, with addresses of their own, reaching instances by their public
addresses), from the host, and between instances, succeed or time out as the groups say, and a
rule change is in force within about a second.

One daemon and three instances serve the whole module:

    A  the instance under test in most scenarios (its groups change from test to test)
    B  A's peer: member of the source group "peers", target of A's egress
    C  an outsider to "peers", later moved in; target of the anti-spoofing checks

Every instance runs a TCP listener on 8080 (python3 -m http.server) from the start, and always
keeps the "admin" group (tcp/22 from the host's own source address), through which the test
runs commands inside instances. Each test sets the groups it needs with ModifyInstanceAttribute
and builds fresh groups, so a test depends only on the module fixtures.

Every expectation is polled: a probe loop (PROBE) runs where the connection starts (a client
namespace, the host, or inside an instance over ssh) until the outcome is the expected one or
RULE_DEADLINE passes. "Denied" means the connection does not succeed (EC2's groups drop: it
times out). How long each change took to be in force is recorded and printed at the end.

Needs root and the default image, like test_instances.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import kumo_e2e as k
from test_instances import IMAGE_DIR, SSH_OPTS, Cloud, wait_ssh

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="instances and client namespaces need root (CI runs as root)"),
    pytest.mark.skipif(not (IMAGE_DIR / "debian-12" / "image.json").exists(),
                       reason=f"no default image in {IMAGE_DIR} (scripts/build-image.sh)"),
]

# A rule change must be in force within ~1 s; the deadline leaves room for a loaded 2-core box.
RULE_DEADLINE = 3.0
# One connection attempt: a local SYN/SYN-ACK takes well under a millisecond, so an attempt that
# has not connected after this long was dropped.
CONNECT_TIMEOUT = 1.0
PORT = 8080          # the TCP listener every instance runs
UDP_PORT = 9999      # C's datagram logger (anti-spoofing)
PYTHON = sys.executable  # Debian's python3 on the host (a plain `python3` may be a pyenv shim)

# Tries TCP connections until the outcome is the wanted one ("ok" or "denied") or the deadline
# passes; prints the last outcome, when the attempt that gave it started (wall clock, which the
# host and its containers share), and how many attempts there were.
PROBE = r'''
import json, socket, sys, time
ip, port, want, deadline, src, timeout = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                          float(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
end = time.time() + deadline
tries = 0
while True:
    at = time.time()
    tries += 1
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if src != "-":
            s.bind((src, 0))
        s.connect((ip, port))
        got = "ok"
    except socket.timeout:
        got = "timeout"
    except ConnectionRefusedError:
        got = "refused"
    except OSError as e:
        got = "error %s" % e.errno
    finally:
        s.close()
    if (got == "ok") == (want == "ok") or time.time() >= end:
        print(json.dumps({"outcome": got, "at": at, "tries": tries}))
        break
    time.sleep(0.05)
'''

# Sends one UDP datagram from src (or the default source: "-") to ip:port.
UDP_SEND = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if sys.argv[1] != "-":
    s.bind((sys.argv[1], 0))
s.sendto(sys.argv[4].encode(), (sys.argv[2], int(sys.argv[3])))
'''

# C's datagram logger: one line "source-address payload" per datagram.
UDP_LOGGER = r'''
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", %d))
while True:
    data, peer = s.recvfrom(2048)
    with open("/run/kfw-udp.log", "a") as f:
        f.write("%%s %%s\n" %% (peer[0], data.decode(errors="replace")))
''' % UDP_PORT

# Broadcasts an ARP request "who has <target>? tell <claimed ip> at <mac>" on an interface (root:
# a raw socket): whoever has the target records the claimed address at that MAC.
ARP_CLAIM = r"""
import socket, sys
ifname, mac, claimed, target = sys.argv[1:5]
hw = bytes.fromhex(mac.replace(":", ""))
frame = (b"\xff" * 6 + hw + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01" + hw +
         socket.inet_aton(claimed) + b"\x00" * 6 + socket.inet_aton(target))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for _ in range(3):
    s.send(frame)
"""

TIMINGS: list[tuple[str, float, str]] = []  # (what, seconds after the change, "<=" if a bound)


def sh(*args, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    p = subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
    return p


# --- where a connection starts ---

class Where:
    """A place connections start from: the host, a client namespace, or inside an instance."""

    def __init__(self, name: str, prefix: list[str], python: str = PYTHON):
        self.name, self.prefix, self.python = name, prefix, python

    def run(self, script: str, *args, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, self.python, "-", *map(str, args)], input=script,
                              capture_output=True, text=True, timeout=timeout)

    def probe(self, ip: str, port: int, want: str, deadline: float, src: str = "-") -> dict:
        p = self.run(PROBE, ip, port, want, deadline, src, CONNECT_TIMEOUT,
                     timeout=deadline + CONNECT_TIMEOUT + 30)
        assert p.returncode == 0 and p.stdout.strip(), \
            f"probe from {self.name} to {ip}:{port} did not run ({p.returncode}): {p.stderr}"
        return json.loads(p.stdout.strip().splitlines()[-1])


def expect(where: Where, ip: str, port: int, ok: bool, what: str, since: float | None = None,
           deadline: float = RULE_DEADLINE, src: str = "-") -> float:
    """Polls until a TCP connection from `where` to ip:port succeeds (ok) or does not (denied),
    within deadline seconds; returns and records how long after `since` (a time.time() taken
    right after the change was acknowledged; default: now) the first matching attempt started."""
    since = since if since is not None else time.time()
    got = where.probe(ip, port, "ok" if ok else "denied", deadline, src)
    matched = (got["outcome"] == "ok") == ok
    src_text = f" from source {src}" if src != "-" else ""
    assert matched, (f"{what}: {where.name}{src_text} -> {ip}:{port} should be "
                     f"{'allowed' if ok else 'denied'} within {deadline}s, but was "
                     f"{got['outcome']} ({got['tries']} attempts)")
    took = max(0.0, got["at"] - since)
    # Already so at the first attempt: the time is only an upper bound (it includes starting the
    # probe, e.g. an ssh login into an instance, and the expectations checked before this one).
    bound = "<=" if got["tries"] == 1 else "  "
    TIMINGS.append((what, took, bound))
    print(f"  {bound}{took:5.2f}s  {what}: {where.name}{src_text} -> {ip}:{port} "
          f"{'allowed' if ok else 'denied'} ({got['outcome']}, {got['tries']} attempts)")
    return took


def assert_denied(denied: bool, what: str):
    """The other checks that something did not get through (one place, like expect)."""
    assert denied, what


# --- client machines ---

def _in_use_ipv4() -> str:
    return (sh("ip", "-4", "-o", "addr", "show").stdout +
            sh("ip", "-4", "route", "show", "table", "all").stdout)


def pick_client_nets(n: int) -> list[ipaddress.IPv4Network]:
    """n random /30s of 198.18.0.0/15 (benchmarking space) that nothing on this host uses."""
    space = ipaddress.ip_network("198.18.0.0/15")
    used = _in_use_ipv4()
    picked: list[ipaddress.IPv4Network] = []
    while len(picked) < n:
        net = ipaddress.ip_network(
            f"{space.network_address + 4 * random.randrange(space.num_addresses // 4)}/30")
        if net in picked or any(f"{a}/" in used or f"{a} " in used for a in net):
            continue
        picked.append(net)
    return picked


class Client:
    """A machine elsewhere on the network: a namespace with a veth to the host, its own address
    (/30's +2; the host end is +1), a default route via the host and a /32 route back."""

    def __init__(self, tag: str, name: str, net: ipaddress.IPv4Network):
        self.ns = f"kfw{tag}-{name}"
        self.host_if = f"kfw{tag}{name[0]}"
        self.peer_if = self.host_if + "p"
        self.gw, self.ip = str(net.network_address + 1), str(net.network_address + 2)
        self.cidr = f"{self.ip}/32"
        self.where = Where(name, ["ip", "netns", "exec", self.ns])

    def create(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if,
           "netns", self.ns)
        sh("ip", "addr", "add", f"{self.gw}/32", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        sh("ip", "route", "add", self.cidr, "dev", self.host_if, "src", self.gw)
        ns = ["ip", "-n", self.ns]
        sh(*ns, "link", "set", "lo", "up")
        sh(*ns, "addr", "add", self.cidr, "dev", self.peer_if)
        sh(*ns, "link", "set", self.peer_if, "up")
        sh(*ns, "route", "add", f"{self.gw}/32", "dev", self.peer_if)
        sh(*ns, "route", "add", "default", "via", self.gw, "dev", self.peer_if, "src", self.ip)

    def destroy(self):
        sh("ip", "netns", "del", self.ns, check=False)  # takes the veth pair with it
        sh("ip", "link", "del", self.host_if, check=False)

    def ssh(self, key: Path, host: str, command: str = "true", connect_timeout: int = 3):
        opts = [o if not o.startswith("ConnectTimeout=") else f"ConnectTimeout={connect_timeout}"
                for o in SSH_OPTS]
        return subprocess.run(["ip", "netns", "exec", self.ns, "ssh", *opts, "-i", str(key),
                               f"admin@{host}", command], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)


def client_leftovers(tag: str) -> list[str]:
    found = [f"netns {l.split()[0]}" for l in sh("ip", "netns", "list").stdout.splitlines()
             if l.startswith(f"kfw{tag}")]
    found += [f"link {l.split(':')[1].strip()}" for l in sh("ip", "-o", "link").stdout.splitlines()
              if l.split(":")[1].strip().startswith(f"kfw{tag}")]
    return found


# --- the module's cloud ---

class Inst:
    def __init__(self, name: str, data: dict, key: Path):
        self.name, self.id = name, data["InstanceId"]
        self.private_ip, self.public_ip = data["PrivateIpAddress"], data["PublicIpAddress"]
        self.key = key
        self.where = Where(f"instance {name}",
                           ["ssh", *SSH_OPTS, "-i", str(key), f"admin@{self.public_ip}"],
                           python="python3")

    def sh(self, command: str, check: bool = True, input: str | None = None):
        p = subprocess.run(["ssh", *SSH_OPTS, "-i", str(self.key), f"admin@{self.public_ip}",
                            command], input=input, capture_output=True, text=True, timeout=60,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, f"ssh {self.name} {command!r}: {p.returncode} {p.stderr}"
        return p


class Env:
    def __init__(self, cloud: Cloud, mine: Client, elsewhere: Client):
        self.cloud, self.ec2 = cloud, cloud.ec2
        self.mine, self.elsewhere = mine, elsewhere
        self.host = Where("host", [])

    def group(self, name: str, *rules, egress_all: bool = True) -> str:
        """A fresh group with ingress rules (protocol, port, cidr or group id)."""
        gid = self.ec2.create_security_group(GroupName=k.unique(f"fw-{name}"),
                                             Description=name)["GroupId"]
        for rule in rules:
            self.allow(gid, *rule)
        if not egress_all:
            self.ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[ALL_OUT])
        return gid

    def allow(self, gid: str, proto: str, port: int, peer: str) -> str:
        perm = {"IpProtocol": proto, "FromPort": port, "ToPort": port}
        if peer.startswith("sg-"):
            perm["UserIdGroupPairs"] = [{"GroupId": peer}]
        else:
            perm["IpRanges"] = [{"CidrIp": peer}]
        out = self.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[perm])
        return out["SecurityGroupRules"][0]["SecurityGroupRuleId"]

    def set_groups(self, inst: Inst, *gids: str):
        self.ec2.modify_instance_attribute(InstanceId=inst.id, Groups=[self.admin, *gids])
        return time.time()


ALL_OUT = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


@pytest.fixture(scope="module")
def clients():
    tag = secrets.token_hex(3)
    made = [Client(tag, name, net) for name, net in zip(("mine", "elsewhere"),
                                                         pick_client_nets(2))]
    try:
        for c in made:
            c.create()
        yield made
    finally:
        for c in made:
            c.destroy()
        assert not client_leftovers(tag), client_leftovers(tag)


@pytest.fixture(scope="module")
def env(tmp_path_factory, clients, request):
    cloud = Cloud(tmp_path_factory.mktemp("fw"))
    try:
        cloud.start()
        e = Env(cloud, *clients)
        yield build(e)
    finally:
        try:
            report(request)
        finally:
            cloud.stop()


def build(e: Env) -> Env:
    started = time.monotonic()
    ec2 = e.ec2
    material = ec2.create_key_pair(KeyName="fw", KeyType="ed25519")["KeyMaterial"]
    key = k.write_private(e.cloud.tmp / "fw.pem", material)
    e.admin = e.group("admin")  # its rule (the host's own source address) once that is known
    image = e.cloud.image_id()
    out = ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3, InstanceType="t2.micro",
                            KeyName="fw", SecurityGroupIds=[e.admin],
                            Placement={"AvailabilityZone": f"{k.HOME_REGION}a"})["Instances"]
    out.sort(key=lambda i: i["AmiLaunchIndex"])
    e.a, e.b, e.c = (Inst(n, d, key) for n, d in zip("ABC", out))
    e.key = key

    # The host is an ordinary client: its source towards the pool is the uplink's gateway address
    # (once the address is published: before, the pool's route is unreachable).
    uplink = f"k{e.cloud.daemon.daemon_id()}u"

    def published():
        p = sh("ip", "-o", "-4", "route", "get", e.a.public_ip, check=False)
        route = p.stdout.split()
        return route if p.returncode == 0 and route[route.index("dev") + 1].startswith(uplink) \
            else None
    route = k.wait_until(published, 60, f"{e.a.public_ip} routed to the VPC", interval=0.1)
    e.host_src = route[route.index("src") + 1]
    assert ipaddress.ip_address(e.host_src) in ipaddress.ip_network("100.64.0.0/10"), route
    e.host_cidr = f"{e.host_src}/32"
    e.allow(e.admin, "tcp", 22, e.host_cidr)
    vpc = next(v for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
    e.vpc_cidr = vpc["CidrBlock"]
    e.dns_ip = str(ipaddress.ip_network(e.vpc_cidr).network_address + 2)

    for inst in (e.a, e.b, e.c):
        wait_ssh(key, inst.public_ip, timeout=120)
    for inst in (e.a, e.b, e.c):
        inst.sh(f"sudo systemd-run --quiet --unit=kfw-http python3 -m http.server {PORT}")
        inst.mac = inst.sh("cat /sys/class/net/eth0/address").stdout.strip()
    e.c.sh(f"sudo systemd-run --quiet --unit=kfw-udp python3 -c '{UDP_LOGGER}'")
    for inst in (e.a, e.b, e.c):  # listening (from inside itself: no group in the way)
        k.wait_until(lambda: inst.sh(f"python3 -c 'import socket; socket.create_connection("
                                     f"(\"127.0.0.1\", {PORT}), 1)'", check=False).returncode == 0,
                     20, f"the listener on {inst.name}", interval=0.2)
    print(f"  setup: 3 instances up with listeners in {time.monotonic() - started:.1f}s; "
          f"host source {e.host_src}, mine {e.mine.ip}, elsewhere {e.elsewhere.ip}, "
          f"A {e.a.private_ip}/{e.a.public_ip}, B {e.b.private_ip}/{e.b.public_ip}, "
          f"C {e.c.private_ip}/{e.c.public_ip}")
    return e


def report(request):
    if not TIMINGS:
        return
    lines = [f"{bound}{took:5.2f}s  {what}" for what, took, bound in TIMINGS]
    measured = [t for _, t, bound in TIMINGS if not bound.strip()]
    summary = (f"firewall: {len(TIMINGS)} expectations met within {RULE_DEADLINE}s; slowest "
               f"{max(t for _, t, _ in TIMINGS):.2f}s after its change; {len(measured)} needed "
               f"more than one attempt" +
               (f" (slowest of those {max(measured):.2f}s)" if measured else "") +
               "; '<=': in force at the first attempt")
    # On the terminal even without -s: output capture is suspended while the report is written.
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(summary, *lines, sep="\n")
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(summary)
        for line in lines:
            reporter.write_line("  " + line)


# --- scenarios ---

@pytest.fixture(scope="module")
def web(env):
    """A's group for the CIDR scenarios: tcp/22 from mine only."""
    gid = env.group("web")
    env.web_rule = env.allow(gid, "tcp", 22, env.mine.cidr)
    env.web_since = env.set_groups(env.a, gid)
    return gid


def test_ssh_only_from_my_address(env, web):
    a, mine, elsewhere = env.a, env.mine, env.elsewhere
    expect(mine.where, a.public_ip, 22, True, "22 from mine/32 (A's groups changed)",
           since=env.web_since)
    expect(elsewhere.where, a.public_ip, 22, False, "22 not from elsewhere")
    p = mine.ssh(env.key, a.public_ip, "hostname")
    assert p.returncode == 0, f"ssh from mine: {p.returncode} {p.stderr}"
    assert p.stdout.strip() == "ip-" + a.private_ip.replace(".", "-")
    p = elsewhere.ssh(env.key, a.public_ip)
    assert_denied(p.returncode != 0, "ssh from elsewhere got in (tcp/22 is only for mine)")
    # Nothing allows 8080: the listener runs, and nobody outside reaches it.
    expect(mine.where, a.public_ip, PORT, False, "8080 without a rule, from mine")
    expect(elsewhere.where, a.public_ip, PORT, False, "8080 without a rule, from elsewhere")


def test_authorize_opens_a_port_for_one_source(env, web):
    a, mine, elsewhere = env.a, env.mine, env.elsewhere
    rc, out, err = k.aws_cli(env.cloud.files, env.cloud.account, "ec2",
                             "authorize-security-group-ingress", "--group-id", web,
                             "--protocol", "tcp", "--port", PORT, "--cidr", elsewhere.cidr)
    since = time.time()
    assert rc == 0, err
    expect(elsewhere.where, a.public_ip, PORT, True, "authorize 8080 from elsewhere/32", since)
    expect(mine.where, a.public_ip, PORT, False, "8080 still not from mine")
    expect(elsewhere.where, a.public_ip, 22, False, "22 still not from elsewhere")


def test_revoke_readd_modify_to_anywhere_revoke_by_id(env, web):
    a, mine, elsewhere = env.a, env.mine, env.elsewhere
    aws = env.cloud.aws

    # Revoke by IpPermissions: a new ssh from mine no longer gets in.
    aws("revoke-security-group-ingress", "--group-id", web, "--protocol", "tcp", "--port", "22",
        "--cidr", mine.cidr)
    since = time.time()
    expect(mine.where, a.public_ip, 22, False, "revoke 22 from mine (IpPermissions)", since)
    p = mine.ssh(env.key, a.public_ip)
    assert_denied(p.returncode != 0, "ssh from mine still gets in after the revoke")

    # Re-add.
    out = aws("authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
              "--port", "22", "--cidr", mine.cidr)
    since = time.time()
    rule = out["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    expect(mine.where, a.public_ip, 22, True, "re-authorize 22 from mine", since)
    assert mine.ssh(env.key, a.public_ip).returncode == 0
    expect(elsewhere.where, a.public_ip, 22, False, "22 still not from elsewhere")

    # Edit the rule in place: source My IP -> Anywhere.
    aws("modify-security-group-rules", "--group-id", web, "--security-group-rules",
        f"SecurityGroupRuleId={rule},SecurityGroupRule="
        "{IpProtocol=tcp,FromPort=22,ToPort=22,CidrIpv4=0.0.0.0/0}")
    since = time.time()
    expect(elsewhere.where, a.public_ip, 22, True, "modify 22 rule to 0.0.0.0/0", since)
    p = elsewhere.ssh(env.key, a.public_ip)
    assert p.returncode == 0, f"ssh from elsewhere after Anywhere: {p.returncode} {p.stderr}"
    expect(mine.where, a.public_ip, 22, True, "22 from mine under 0.0.0.0/0")

    # Revoke by rule id: nobody but the host (admin group) gets in.
    aws("revoke-security-group-ingress", "--group-id", web, "--security-group-rule-ids", rule)
    since = time.time()
    expect(elsewhere.where, a.public_ip, 22, False, "revoke the 22 rule by id (elsewhere)", since)
    expect(mine.where, a.public_ip, 22, False, "revoke the 22 rule by id (mine)", since)
    assert_denied(elsewhere.ssh(env.key, a.public_ip).returncode != 0,
                  "ssh from elsewhere after the revoke by id")
    assert_denied(mine.ssh(env.key, a.public_ip).returncode != 0,
                  "ssh from mine after the revoke by id")


def test_established_session_survives_unrelated_changes(env):
    a, mine = env.a, env.mine
    gid = env.group("sess", ("tcp", 22, mine.cidr))
    since = env.set_groups(env.a, gid)
    expect(mine.where, a.public_ip, 22, True, "22 from mine (A's groups changed)", since)

    ticks: list[float] = []
    opts = [o if not o.startswith("ConnectTimeout=") else "ConnectTimeout=5" for o in SSH_OPTS]
    session = subprocess.Popen(
        ["ip", "netns", "exec", mine.ns, "ssh", *opts, "-o", "ServerAliveInterval=0",
         "-i", str(env.key), f"admin@{a.public_ip}",
         "while true; do echo tick; sleep 0.2; done"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read():
        for line in session.stdout:
            if line.strip() == "tick":
                ticks.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        k.wait_until(lambda: len(ticks) >= 3 or session.poll() is not None, 20,
                     "the ssh session's first ticks")
        assert session.poll() is None, f"the session ended: {session.stderr.read()}"

        def still_ticking(after: float, what: str):
            k.wait_until(lambda: sum(t > after for t in ticks) >= 4 or session.poll() is not None,
                         5, f"ticks after {what}")
            assert session.poll() is None, f"the session ended after {what}"

        # An unrelated rule in (proved in force: mine now reaches 8080), then out again.
        rule = env.allow(gid, "tcp", PORT, mine.cidr)
        since = time.time()
        expect(mine.where, a.public_ip, PORT, True, "authorize 8080 from mine (session open)",
               since)
        still_ticking(time.monotonic(), "authorizing another rule")
        env.ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[rule])
        since = time.time()
        expect(mine.where, a.public_ip, PORT, False, "revoke 8080 from mine (session open)",
               since)
        still_ticking(time.monotonic(), "revoking another rule")
        # And a change of the instance's groups (the whole ruleset of its VPC is rebuilt).
        other = env.group("other", ("udp", 5000, env.elsewhere.cidr))
        env.set_groups(a, gid, other)
        still_ticking(time.monotonic() + 1, "adding a group")
        gaps = [b - a_ for a_, b in zip(ticks, ticks[1:])]
        print(f"  session: {len(ticks)} ticks, longest gap {max(gaps):.2f}s")
        assert max(gaps) < 2.0, f"the session stalled for {max(gaps):.2f}s"
    finally:
        session.kill()
        session.wait(timeout=10)


def test_source_group_rules_follow_membership(env):
    a, b, c = env.a, env.b, env.c
    peers = env.group("peers")
    svc = env.group("svc", ("tcp", PORT, peers))
    env.set_groups(b, peers)
    env.set_groups(c)
    since = env.set_groups(a, svc)
    expect(b.where, a.private_ip, PORT, True, "B (in peers) -> A:8080 by source group", since)
    expect(c.where, a.private_ip, PORT, False, "C (not in peers) -> A:8080")
    # A's public address from outside: the source group does not cover anyone there.
    expect(env.mine.where, a.public_ip, PORT, False, "mine -> A:8080 under a source-group rule")

    since = env.set_groups(c, peers)  # keeps its ssh (admin) group
    expect(c.where, a.private_ip, PORT, True, "C put into peers -> A:8080", since)
    since = env.set_groups(b)
    expect(b.where, a.private_ip, PORT, False, "B taken out of peers -> A:8080", since)
    expect(c.where, a.private_ip, PORT, True, "C still in peers -> A:8080")


def test_egress_rules(env):
    a, b = env.a, env.b
    inbound = env.group("vpc-8080", ("tcp", PORT, env.vpc_cidr))
    env.set_groups(b, inbound)
    # A's only group for this test: ssh from the host and the default egress rule.
    own = env.group("own", ("tcp", 22, env.host_cidr))
    since = time.time()
    env.ec2.modify_instance_attribute(InstanceId=a.id, Groups=[own])
    expect(a.where, b.private_ip, PORT, True, "A -> B:8080 with the default egress", since)

    env.ec2.revoke_security_group_egress(GroupId=own, IpPermissions=[ALL_OUT])
    since = time.time()
    expect(a.where, b.private_ip, PORT, False, "revoke A's default egress -> B:8080", since)
    # Inbound sessions still work without egress rules (replies are tracked).
    assert a.sh("true", check=False).returncode == 0, "ssh into A without egress rules"

    env.ec2.authorize_security_group_egress(GroupId=own, IpPermissions=[ALL_OUT])
    since = time.time()
    expect(a.where, b.private_ip, PORT, True, "re-authorize A's default egress -> B:8080", since)
    since = env.set_groups(a)


def test_the_host_is_an_ordinary_client(env):
    a = env.a
    gid = env.group("from-host")
    since = env.set_groups(a, gid)
    expect(env.host, a.public_ip, PORT, False, "host -> A:8080 without a rule", since)
    rule = env.allow(gid, "tcp", PORT, env.host_cidr)
    since = time.time()
    expect(env.host, a.public_ip, PORT, True, f"authorize 8080 from the host ({env.host_cidr})",
           since)
    expect(env.mine.where, a.public_ip, PORT, False, "mine -> A:8080 (only the host allowed)")
    env.ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[rule])
    since = time.time()
    expect(env.host, a.public_ip, PORT, False, "revoke 8080 from the host", since)


def test_rules_hold_across_a_daemon_restart(env):
    a, mine, elsewhere = env.a, env.mine, env.elsewhere
    gid = env.group("persist", ("tcp", PORT, mine.cidr))
    since = env.set_groups(a, gid)
    expect(mine.where, a.public_ip, PORT, True, "8080 from mine (before the restart)", since)
    expect(elsewhere.where, a.public_ip, PORT, False, "8080 not from elsewhere (before)")

    daemon = env.cloud.daemon
    daemon.kill9()
    expect(mine.where, a.public_ip, PORT, True, "8080 from mine while kumod is down")
    expect(elsewhere.where, a.public_ip, PORT, False, "8080 not from elsewhere while down")
    daemon.start()
    started = time.time()
    k.wait_until(lambda: env.ec2.describe_instances(InstanceIds=[a.id])["Reservations"],
                 20, "the API after the restart")
    expect(mine.where, a.public_ip, PORT, True, "8080 from mine after the restart", started)
    expect(elsewhere.where, a.public_ip, PORT, False, "8080 not from elsewhere after the restart")
    # The restarted daemon still enforces changes.
    rule = env.allow(gid, "tcp", PORT, elsewhere.cidr)
    since = time.time()
    expect(elsewhere.where, a.public_ip, PORT, True, "authorize 8080 from elsewhere (restarted)",
           since)
    env.ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[rule])
    since = time.time()
    expect(elsewhere.where, a.public_ip, PORT, False, "revoke it again (restarted)", since)


def test_instances_cannot_spoof_addresses(env):
    """Last: where nothing stops it, a spoofing instance poisons its neighbours' ARP caches."""
    a, b, c = env.a, env.b, env.c
    open_c = env.group("c-open", ("tcp", PORT, env.vpc_cidr), ("udp", UDP_PORT, env.vpc_cidr))
    since = env.set_groups(c, open_c)
    env.set_groups(b)
    env.set_groups(a)
    # From A's own address: C's port and the VPC's DNS (a service of the VPC router) answer, and
    # A has C's and the router's MACs in its neighbour table from now on.
    expect(a.where, c.private_ip, PORT, True, "A (own address) -> C:8080", since,
           src=a.private_ip)
    expect(a.where, env.dns_ip, 53, True, "A (own address) -> VPC DNS tcp/53", src=a.private_ip)
    nonce = secrets.token_hex(4)
    assert a.where.run(UDP_SEND, a.private_ip, c.private_ip, UDP_PORT,
                       f"own-{nonce}").returncode == 0

    # A takes B's address as a second one on eth0 and uses it as the source of IPv4 packets.
    a.sh(f"sudo ip addr add {b.private_ip}/32 dev eth0")
    try:
        assert a.where.run(UDP_SEND, b.private_ip, c.private_ip, UDP_PORT,
                           f"spoof-{nonce}").returncode == 0
        expect(a.where, c.private_ip, PORT, False, "A spoofing B's address -> C:8080",
               src=b.private_ip)
        expect(a.where, env.dns_ip, 53, False, "A spoofing B's address -> VPC DNS tcp/53",
               src=b.private_ip)
    finally:
        a.sh(f"sudo ip addr del {b.private_ip}/32 dev eth0", check=False)

    def logged():
        return c.sh("sudo cat /run/kfw-udp.log", check=False).stdout
    k.wait_until(lambda: f"own-{nonce}" in logged(), 5, "A's own datagram at C")
    log = logged()
    assert f"{a.private_ip} own-{nonce}" in log, log
    assert_denied(f"spoof-{nonce}" not in log,
                  f"C received a datagram from A claiming to be B:\n{log}")

    # ARP: A claims B's address in an ARP request to C, which would make C record B at A's MAC.
    c.sh(f"sudo ip neigh flush to {b.private_ip}; sudo ip neigh flush to {a.private_ip}")
    p = a.sh(f"sudo python3 - eth0 {a.mac} {b.private_ip} {c.private_ip}", input=ARP_CLAIM)
    own = a.sh(f"sudo python3 - eth0 {a.mac} {a.private_ip} {c.private_ip}", input=ARP_CLAIM)
    assert p.returncode == 0 and own.returncode == 0
    # A's own claim is let through: C learns A's MAC for A (the control for the check below).
    k.wait_until(lambda: a.mac in c.sh(f"ip neigh show {a.private_ip}").stdout, 5,
                 "C to learn A's address from A's own ARP request")
    neigh = c.sh(f"ip neigh show {b.private_ip}").stdout
    print(f"  C's neighbour entry for B: {neigh.strip() or '(none)'}; A is {a.mac}")
    assert_denied(a.mac not in neigh, f"C's ARP cache maps B's address to A's MAC: {neigh}")
