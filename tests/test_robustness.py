"""Hostile and broken clients against the shared daemon: after each, the daemon must still answer
a signed DescribeRegions."""

import socket
import threading
import time
import urllib.parse

import pytest

import kumo_e2e as k


@pytest.fixture(autouse=True)
def still_serving(kumod, account):
    yield
    assert kumod.proc is not None and kumod.proc.poll() is None, kumod.log_tail()
    regions = k.make_client(account).describe_regions()["Regions"]
    assert sorted(r["RegionName"] for r in regions) == sorted(k.REGIONS)


def connect(kumod, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", kumod.port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_until_close(s, limit=1 << 20):
    """Everything the server sends until it closes (or resets) the connection."""
    chunks = []
    try:
        while sum(map(len, chunks)) < limit:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def split_response(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1]), body


@pytest.mark.parametrize("request_bytes", [
    b"THIS IS NOT HTTP\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/7.3\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost x no colon\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64) + b"\r\n\r\n",  # a TLS hello
])
def test_malformed_http(kumod, request_bytes):
    with connect(kumod) as s:
        s.sendall(request_bytes)
        raw = read_until_close(s)  # the socket timeout fails the test if the server hangs
    # A clean 400 in EC2's error shape, then the connection is closed (read_until_close returned).
    status, body = split_response(raw)
    assert status == 400, raw[:200]
    assert k.parse_error(body)[0] == "MalformedHTTPRequest"


def oversize_exchange(kumod, head: bytes, chunk: bytes, total: int):
    started = time.monotonic()
    with connect(kumod, timeout=10) as s:
        s.sendall(head)
        sent = 0
        try:
            while sent < total:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: fine, what it said is what matters
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        raw = read_until_close(s)
    assert time.monotonic() - started < 20
    if raw:
        status, body = split_response(raw)
        assert status == 413, raw[:300]
        assert k.parse_error(body)[0] == "RequestEntityTooLarge"
    return raw


def test_oversize_body_content_length(kumod):
    size = 3 * 1024 * 1024
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
            f"\r\nContent-Length: {size}\r\n\r\n").encode()
    oversize_exchange(kumod, head, b"A" * 65536, size)


def test_oversize_body_chunked(kumod):
    head = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    data = b"B" * 65536
    chunk = f"{len(data):x}\r\n".encode() + data + b"\r\n"
    oversize_exchange(kumod, head, chunk, 3 * 1024 * 1024)


def test_oversize_headers(kumod):
    with connect(kumod) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 64 * 1024 + b"\r\n\r\n")
        raw = read_until_close(s)
    if raw:
        assert split_response(raw)[0] in (400, 413, 431)


def signed_error(kumod, account, body: str):
    status, data, _ = k.signed_request(kumod.endpoint, account, body=body)
    assert 400 <= status < 500, (status, data[:300])
    return k.parse_error(data)[0]


def test_invalid_utf8_signed(kumod, account):
    body = f"Action=DescribeKeyPairs&Version={k.EC2_VERSION}&KeyName.1=%FF%FE"
    assert signed_error(kumod, account, body) == "InvalidParameterValue"
    body = f"Action=DescribeKeyPairs&Version={k.EC2_VERSION}&Key%C3%28Name.1=x"
    assert signed_error(kumod, account, body) == "InvalidParameterValue"


def test_ten_thousand_parameters(kumod, account):
    params = [("Action", "DescribeKeyPairs"), ("Version", k.EC2_VERSION)]
    params += [(f"KeyName.{i}", f"key-{i}") for i in range(1, 10_001)]
    body = urllib.parse.urlencode(params)
    assert signed_error(kumod, account, body) == "InvalidParameterValue"


def test_deeply_nested_parameter_names(kumod, account):
    base = f"Action=DescribeKeyPairs&Version={k.EC2_VERSION}&Filter.1.Name=key-name&"
    shallow = "Filter.1.Value.1.X.1.Y=z"
    assert signed_error(kumod, account, base + shallow) == "UnknownParameter"
    # 60 levels, still under the 256-character name limit.
    deep = "Filter.1.Value.1" + ".X.1" * 29 + ".Y"
    assert deep.count(".") >= 60 and len(deep) < 256
    assert signed_error(kumod, account, base + deep + "=z") == "UnknownParameter"
    # 20,000 levels: refused as an overlong name before anything walks it.
    deeper = "Filter.1.Value.1" + ".X.1" * 10_000
    assert signed_error(kumod, account, base + deeper + "=z") == "InvalidParameterValue"


def test_huge_list_index(kumod, account):
    for index in ("99999999999", "10001", "0", "-1", "1e3", "01"):
        body = f"Action=DescribeKeyPairs&Version={k.EC2_VERSION}&KeyName.{index}=x"
        assert signed_error(kumod, account, body) == "InvalidParameterValue", index


def test_slowloris_does_not_block_others(kumod, account):
    # Partial headers that are never finished, some left open, some closed half-way.
    stalled = []
    try:
        for i in range(20):
            s = connect(kumod)
            s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-" + str(i).encode() + b": ")
            stalled.append(s)
        for _ in range(10):
            with connect(kumod) as s:
                s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        results = []

        def others():
            ec2 = k.make_client(account)
            for _ in range(5):
                results.append(len(ec2.describe_regions()["Regions"]))

        started = time.monotonic()
        t = threading.Thread(target=others)
        t.start()
        t.join(timeout=15)
        assert not t.is_alive(), "signed requests were blocked by stalled connections"
        assert results == [len(k.REGIONS)] * 5
        assert time.monotonic() - started < 10
        assert k.healthy(kumod.endpoint)
    finally:
        for s in stalled:
            s.close()
