"""Helpers for Kumo's end-to-end tests: running kumod and the kumo CLI, the aws CLI v2, boto3
clients, raw SigV4-signed HTTP requests and ssh-keygen/openssl.

The tests import this module directly (pytest puts tests/ on sys.path); conftest.py wraps the
stateful parts in fixtures.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parent.parent
HOME_REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
REGIONS = (HOME_REGION, OTHER_REGION)
AWS = "/usr/bin/aws"
EC2_VERSION = "2016-11-15"

# Nothing in these tests may reach a proxy or a real AWS account.
for _var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(_var, None)
for _var in [v for v in os.environ if v.startswith("AWS_") and v != "AWS_CA_BUNDLE"]:
    os.environ.pop(_var, None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def bin_dir() -> Path:
    return Path(os.environ.get("KUMO_BIN_DIR") or REPO / "build" / "bin")


def kumod_bin() -> Path:
    return bin_dir() / "kumod"


def kumo_bin() -> Path:
    return bin_dir() / "kumo"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """Polls predicate until it returns something truthy, or fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def healthy(endpoint: str, timeout: float = 1.0) -> bool:
    try:
        with _NO_PROXY.open(endpoint + "/healthz", timeout=timeout) as r:
            return r.status == 200 and r.read() == b"ok\n"
    except (OSError, urllib.error.URLError):
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Kumod:
    """One foreground kumod with its own data dir and port."""

    def __init__(self, data_dir: Path, port: int | None = None, regions=REGIONS,
                 image_dir: Path | None = None, host_root: Path | None = None,
                 extra_args=()):
        self.data_dir = Path(data_dir)
        self.extra_args = tuple(extra_args)
        # Tests never touch the host's real image store unless told to.
        self.image_dir = Path(image_dir) if image_dir else self.data_dir.parent / "images"
        # Nor the host's instance storage: each daemon's lives in a directory of its own that an
        # unprivileged container's root can reach (pytest's temporary directories are 0700).
        self.host_root = Path(host_root) if host_root else Path("/var/lib/kumo/test-hosts") / \
            unique("host")

        self.port = port or free_port()
        self.regions = tuple(regions)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.kumod.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "Kumod":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [str(kumod_bin()), "--data-dir", str(self.data_dir), "--listen",
                f"127.0.0.1:{self.port}", "--image-dir", str(self.image_dir),
                "--host-root", str(self.host_root)]
        for r in self.regions:
            args += ["--region", r]
        args += list(self.extra_args)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        try:
            wait_until(lambda: self.proc.poll() is not None or healthy(self.endpoint), timeout,
                       f"kumod on {self.endpoint}")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"kumod exited with {self.proc.returncode}:\n{self.log_tail()}")
        return self

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0):
        """SIGTERM, then SIGKILL after timeout. Returns (exit code, whether SIGKILL was needed),
        or None when it was not running."""
        if self.proc is None:
            return None
        killed = False
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                killed = True
                self.proc.kill()
                self.proc.wait(timeout=10)
        rc, self.proc = self.proc.returncode, None
        return rc, killed

    def teardown(self):
        """`kumod --teardown`: removes every host resource this daemon created (containers,
        namespaces, links, nft tables, storage) and gives its public pool back."""
        if not (self.data_dir / "daemon-id").exists():
            return None
        result = subprocess.run([str(kumod_bin()), "--data-dir", str(self.data_dir), "--host-root",
                                 str(self.host_root), "--teardown"], capture_output=True,
                                text=True, timeout=120, stdin=subprocess.DEVNULL)
        with contextlib.suppress(OSError):
            self.host_root.rmdir()  # empty once torn down
        return result

    def daemon_id(self) -> str:
        return (self.data_dir / "daemon-id").read_text().strip()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.teardown()


def admin(daemon: Kumod, operation: str, **body):
    """POST /kumo-admin/<operation> signed with the data dir's operator credentials; returns the
    JSON answer, raising AssertionError with the error on a non-200."""
    op = json.loads((daemon.data_dir / "operator.json").read_text())
    req = AWSRequest(method="POST", url=f"{daemon.endpoint}/kumo-admin/{operation}",
                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(op["AccessKeyId"], op["SecretAccessKey"]), "kumo",
              HOME_REGION).add_auth(req)
    status, payload, _ = http("POST", req.url, req.body, dict(req.headers.items()), timeout=120)
    out = json.loads(payload)
    if status != 200:
        raise AssertionError(f"admin {operation} → {status}: {out}")
    return out


def kumo(data_dir, *args, check: bool = True, env=None, timeout: float = 60):
    p = subprocess.run([str(kumo_bin()), "--data-dir", str(data_dir), *map(str, args)],
                       capture_output=True, text=True, env=env, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"kumo {' '.join(map(str, args))} failed ({p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    return p


def kumo_json(data_dir, *args, **kw):
    return json.loads(kumo(data_dir, *args, **kw).stdout)


@dataclass
class AwsFiles:
    config: Path
    credentials: Path

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE=str(self.config),
                   AWS_SHARED_CREDENTIALS_FILE=str(self.credentials),
                   AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="",
                   AWS_CA_BUNDLE=os.environ.get("AWS_CA_BUNDLE", ""))
        if not env["AWS_CA_BUNDLE"]:
            del env["AWS_CA_BUNDLE"]
        return env


@dataclass
class Account:
    name: str
    account_id: str
    access_key_id: str
    secret_access_key: str
    profile: str
    endpoint: str
    data_dir: Path


def create_account(data_dir, endpoint: str, files: AwsFiles, name: str | None = None) -> Account:
    name = name or unique("acct")
    out = kumo_json(data_dir, "account", "create", name, "--email", f"{name}@example.test",
                    "--write-profile", name, env=files.env())
    assert set(out) == {"AccountId", "AccessKeyId", "SecretAccessKey"}, out
    return Account(name, out["AccountId"], out["AccessKeyId"], out["SecretAccessKey"], name,
                   endpoint, Path(data_dir))


def aws_cli(files: AwsFiles, account: Account, *args, region: str = HOME_REGION,
            endpoint: str | None = None, timeout: float = 60):
    """Runs `aws --endpoint-url … --region … --output json --profile … <args>`.

    Returns (returncode, parsed JSON stdout or None, stderr)."""
    cmd = [AWS, "--endpoint-url", endpoint or account.endpoint, "--region", region,
           "--output", "json", "--profile", account.profile, *map(str, args)]
    p = subprocess.run(cmd, env=files.env(), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    data = None
    if p.stdout.strip():
        try:
            data = json.loads(p.stdout)
        except json.JSONDecodeError:
            data = None
    return p.returncode, data, p.stderr


def cli_error_code(stderr: str) -> str | None:
    """The code in the CLI's "An error occurred (Code) when calling …" line."""
    marker = "An error occurred ("
    i = stderr.find(marker)
    if i < 0:
        return None
    j = stderr.find(")", i)
    return stderr[i + len(marker):j]


_BOTOCORE = botocore.session.get_session()  # one loader: the EC2 model is parsed once
_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


def make_client(account_or_keys, region: str = HOME_REGION, service: str = "ec2",
                endpoint: str | None = None):
    if isinstance(account_or_keys, Account):
        akid, secret = account_or_keys.access_key_id, account_or_keys.secret_access_key
        endpoint = endpoint or account_or_keys.endpoint
    else:
        akid, secret = account_or_keys
    session = boto3.session.Session(botocore_session=_BOTOCORE)
    return session.client(service, region_name=region, endpoint_url=endpoint,
                          aws_access_key_id=akid, aws_secret_access_key=secret, config=_CONFIG)


def error_code(exc) -> str:
    return exc.response["Error"]["Code"]


def expect_error(code, fn, *args, status: int | None = 400, **kwargs):
    """Calls fn, which must fail with this EC2 error code (and HTTP status, unless None)."""
    from botocore.exceptions import ClientError
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        assert error_code(e) == code, e
        if status is not None:
            assert http_status(e) == status, e
        return e
    raise AssertionError(f"{getattr(fn, '__name__', fn)} did not fail with {code}")


def http_status(exc) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


# --- raw HTTP ---

def http(method: str, url: str, body: bytes | None = None, headers=None, timeout: float = 10):
    """urllib without raising on error statuses: (status, body bytes, headers)."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _NO_PROXY.open(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def signed_request(endpoint: str, account: Account | tuple, params=None, *, body: str | None = None,
                   region: str = HOME_REGION, service: str = "ec2", secret: str | None = None,
                   utc_now=None):
    """Signs a form POST with botocore's SigV4Auth and sends it with urllib.

    utc_now (a naive UTC datetime) backdates the signature; secret overrides the real secret."""
    if isinstance(account, Account):
        akid, real_secret = account.access_key_id, account.secret_access_key
    else:
        akid, real_secret = account
    if body is None:
        body = urlencode(params or {})
    req = AWSRequest(method="POST", url=endpoint + "/", data=body.encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    signer = SigV4Auth(Credentials(akid, secret or real_secret), service, region)
    with signing_clock(utc_now):
        signer.add_auth(req)
    prepared = req.prepare()
    return http("POST", prepared.url, prepared.body, dict(prepared.headers))


@contextlib.contextmanager
def signing_clock(utc_now):
    """Makes botocore's signers see utc_now (a naive UTC datetime) as the time; None: real time."""
    if utc_now is None:
        yield
        return

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return utc_now

    with mock.patch("botocore.auth.datetime", mock.Mock(datetime=FrozenDatetime)):
        yield


def parse_error(body: bytes):
    """(code, message, request id) of an EC2 error document; asserts its shape."""
    root = ET.fromstring(body)
    assert root.tag == "Response", body
    errors = root.find("Errors")
    assert errors is not None, body
    error = errors.find("Error")
    assert error is not None, body
    rid = root.find("RequestID")
    assert rid is not None and rid.text, body
    return error.findtext("Code"), error.findtext("Message"), rid.text


def strip_ns(xml_bytes: bytes) -> ET.Element:
    root = ET.fromstring(xml_bytes)
    for el in root.iter():
        if "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


# --- keys ---

def run(*args, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(list(map(str, args)), input=input, capture_output=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p


def ssh_keygen(directory: Path, key_type: str, bits: int | None = None, name: str | None = None):
    """Generates a key with ssh-keygen; returns (private path, public path)."""
    path = Path(directory) / (name or unique(key_type))
    args = ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", path.name, "-f", path]
    if bits:
        args[4:4] = ["-b", str(bits)]
    run(*args)
    return path, Path(str(path) + ".pub")


def ssh_pub_core(line: str) -> str:
    """'type base64' of an OpenSSH public key line, without the comment."""
    parts = line.split()
    assert len(parts) >= 2, line
    return f"{parts[0]} {parts[1]}"


def write_private(path: Path, material: str) -> Path:
    path = Path(path)
    path.write_text(material if material.endswith("\n") else material + "\n")
    os.chmod(path, 0o400)
    return path


def derived_public(private_path: Path) -> str:
    return ssh_pub_core(run("ssh-keygen", "-y", "-f", private_path).stdout.decode())


def sha256_fingerprint_of_pub(line: str) -> str:
    """EC2's ed25519 fingerprint: base64 SHA-256 of the blob, with padding."""
    blob = base64.b64decode(line.split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def openssl_colon_digest(alg: str, data: bytes) -> str:
    out = run("openssl", alg, "-c", input=data).stdout.decode().strip()
    # "(stdin)= 12:ab:…" or "MD5(stdin)= …"
    return out.split("= ", 1)[1].strip()


def spki_pem_of_pub(pub_path: Path) -> bytes:
    """The key as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo)."""
    line = Path(pub_path).read_text().split()
    if line[0] == "ssh-ed25519":
        # ssh-keygen cannot export ed25519 as PKCS#8: build the SPKI (RFC 8410) by hand and let
        # openssl check and re-encode it.
        blob = base64.b64decode(line[1])
        raw = blob[-32:]
        der = bytes.fromhex("302a300506032b6570032100") + raw
        return run("openssl", "pkey", "-pubin", "-inform", "DER", "-outform", "PEM",
                   input=der).stdout
    return run("ssh-keygen", "-e", "-m", "PKCS8", "-f", pub_path).stdout


def spki_der_of_pub(pub_path: Path) -> bytes:
    return run("openssl", "pkey", "-pubin", "-outform", "DER",
               input=spki_pem_of_pub(pub_path)).stdout
