"""Fixtures for Kumo's end-to-end suite.

Run with Debian's interpreter (it has pytest, boto3 and the aws CLI v2 next to it):

    KUMO_BIN_DIR=$PWD/build/bin /usr/bin/python3 -m pytest tests/

Nothing is built here: the binaries come from $KUMO_BIN_DIR (default <repo>/build/bin). One
kumod serves the whole session (regions eu-west-1, the home, and us-east-1); tests that need a
daemon of their own (crash, supervisor, side-by-side) start one with their own data dir and port.
The suite needs nothing special from the machine: no root, no network beyond 127.0.0.1.
"""

from __future__ import annotations

import pytest

import kumo_e2e as k


def pytest_configure(config):
    missing = [p for p in (k.kumod_bin(), k.kumo_bin()) if not p.exists()]
    if missing:
        raise pytest.UsageError(
            f"Kumo binaries not found: {', '.join(map(str, missing))}. Build them first and/or "
            f"set KUMO_BIN_DIR (now {k.bin_dir()}).")


@pytest.fixture(scope="session")
def kumod(tmp_path_factory):
    """The shared daemon: one kumod on a free port with a temporary data dir."""
    root = tmp_path_factory.mktemp("shared")
    daemon = k.Kumod(root / "data", regions=k.REGIONS)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        daemon.teardown()


@pytest.fixture(scope="session")
def aws_files(tmp_path_factory) -> k.AwsFiles:
    """The aws CLI's config and credentials files for this session (written by kumo)."""
    root = tmp_path_factory.mktemp("aws")
    return k.AwsFiles(config=root / "config", credentials=root / "credentials")


@pytest.fixture
def new_account(kumod, aws_files):
    """Factory: a fresh account (unique name) on the shared daemon, with an aws CLI profile."""

    def make(name: str | None = None) -> k.Account:
        return k.create_account(kumod.data_dir, kumod.endpoint, aws_files, name)

    return make


@pytest.fixture
def account(new_account) -> k.Account:
    return new_account()


@pytest.fixture
def aws(aws_files):
    """aws(account, service, command, *args, region=…) → (rc, json or None, stderr)."""

    def run(account: k.Account, *args, region: str = k.HOME_REGION, endpoint: str | None = None):
        return k.aws_cli(aws_files, account, *args, region=region, endpoint=endpoint)

    return run


@pytest.fixture
def client():
    """Factory: a boto3 client with explicit keys for an account (or (akid, secret))."""
    return k.make_client


@pytest.fixture
def ec2(account):
    return k.make_client(account)
