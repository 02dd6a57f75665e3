"""Instances' public DNS names resolve on the host through libnss_kumo (installed by
scripts/install-host.sh, which install.sh and test.sh run), with no per-name state."""

import shutil
import socket
import subprocess

import pytest

INSTALLED = "kumo" in next((l for l in open("/etc/nsswitch.conf") if l.startswith("hosts:")), "")


@pytest.mark.skipif(not INSTALLED, reason="libnss_kumo not in /etc/nsswitch.conf "
                    "(scripts/install-host.sh installs it; test.sh runs that)")
def test_public_names_resolve_through_every_resolver_path():
    name = "ec2-100-64-3-7.eu-west-1.compute.kumo"
    assert socket.gethostbyname(name) == "100.64.3.7"                  # gethostbyname2_r
    assert {a[4][0] for a in socket.getaddrinfo(name, 22)} == {"100.64.3.7"}  # gethostbyname4_r
    out = subprocess.run([shutil.which("getent"), "hosts", "ec2-100-127-0-9.us-east-1.compute.kumo"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["100.127.0.9", "ec2-100-127-0-9.us-east-1.compute.kumo"]


@pytest.mark.skipif(not INSTALLED, reason="libnss_kumo not installed")
@pytest.mark.parametrize("name", ["ec2-10-0-0-1.eu-west-1.compute.kumo",
                                  "ec2-100-64-3-07.eu-west-1.compute.kumo",
                                  "ec2-100-64-3-7.eu-west-1.compute.internal"])
def test_other_names_are_not_answered(name):
    with pytest.raises(socket.gaierror):
        socket.gethostbyname(name)


def test_ssh_config_stanza(tmp_path):
    """`kumo ssh-config` writes the stanza; ssh itself reads it back for an instance's name."""
    import kumo_e2e as k
    cfg = tmp_path / "ssh" / "config"
    cfg.parent.mkdir()
    cfg.write_text("Host other\n    User someone\n")
    for _ in range(2):  # idempotent: the block is replaced, not repeated
        subprocess.run([str(k.kumo_bin()), "ssh-config", "-i", str(tmp_path / "mykey.pem"),
                        "--file", str(cfg)], check=True, capture_output=True)
    text = cfg.read_text()
    assert text.count("Host ec2-*.compute.kumo") == 1 and "Host other" in text
    effective = subprocess.run(["ssh", "-G", "-F", str(cfg), "ec2-100-64-3-7.eu-west-1.compute.kumo"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert "user admin" in effective
    assert f"identityfile {tmp_path / 'mykey.pem'}" in effective
    other = subprocess.run(["ssh", "-G", "-F", str(cfg), "other"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert "user someone" in other


def test_ssh_config_relative_file_and_broken_block(tmp_path, monkeypatch):
    import kumo_e2e as k
    monkeypatch.chdir(tmp_path)
    run = lambda *a: subprocess.run([str(k.kumo_bin()), "ssh-config", "-i", "key.pem", *a],
                                    capture_output=True, text=True)
    assert run("--file", "myconfig").returncode == 0  # no directory part
    assert (tmp_path / "myconfig").is_file()
    # A begin marker whose end was deleted by hand: refuse instead of dropping what follows.
    text = (tmp_path / "myconfig").read_text().replace("# <<< kumo\n", "")
    (tmp_path / "myconfig").write_text(text + "Host mine\n    User me\n")
    proc = run("--file", "myconfig")
    assert proc.returncode != 0
    assert "Host mine" in (tmp_path / "myconfig").read_text()
