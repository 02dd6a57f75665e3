"""Key pairs: create (rsa/ed25519, pem/ppk), import (OpenSSH, RFC 4716, PEM, base64 DER; rsa,
ed25519, ecdsa), describe (names, ids, filters), delete; fingerprints checked against
ssh-keygen/openssl/puttygen."""

import base64
import shutil
import threading

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k


def described(ec2, name):
    out = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
    assert len(out) == 1
    return out[0]


def test_create_rsa_pem_cli(account, aws, tmp_path):
    name = k.unique("rsa")
    rc, out, err = aws(account, "ec2", "create-key-pair", "--key-name", name, "--key-type", "rsa",
                       "--key-format", "pem")
    assert rc == 0, err
    assert out["KeyName"] == name and out["KeyPairId"].startswith("key-")
    assert out["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    pem = k.write_private(tmp_path / "key.pem", out["KeyMaterial"])

    rc, desc, err = aws(account, "ec2", "describe-key-pairs", "--key-names", name,
                        "--include-public-key")
    assert rc == 0, err
    [kp] = desc["KeyPairs"]
    assert kp["KeyPairId"] == out["KeyPairId"]
    assert kp["KeyType"] == "rsa"
    assert kp["KeyFingerprint"] == out["KeyFingerprint"]
    # The private key we were given derives exactly the public key the cloud stored.
    assert k.derived_public(pem) == k.ssh_pub_core(kp["PublicKey"])
    assert kp["PublicKey"].startswith("ssh-rsa ")
    # EC2's fingerprint of a created RSA key: SHA-1 of the PKCS#8 DER private key.
    der = k.run("openssl", "pkcs8", "-in", pem, "-inform", "PEM", "-outform", "DER", "-topk8",
                "-nocrypt").stdout
    assert out["KeyFingerprint"] == k.openssl_colon_digest("sha1", der)


def test_create_rsa_pem_boto3(ec2, tmp_path):
    name = k.unique("rsa")
    out = ec2.create_key_pair(KeyName=name)  # rsa/pem are the defaults
    pem = k.write_private(tmp_path / "key.pem", out["KeyMaterial"])
    kp = described(ec2, name)
    assert kp["KeyType"] == "rsa"
    assert k.derived_public(pem) == k.ssh_pub_core(kp["PublicKey"])
    der = k.run("openssl", "pkcs8", "-in", pem, "-outform", "DER", "-topk8", "-nocrypt").stdout
    assert out["KeyFingerprint"] == k.openssl_colon_digest("sha1", der)
    assert len(out["KeyFingerprint"].split(":")) == 20


def ed25519_fingerprint_from_ssh_keygen(path):
    line = k.run("ssh-keygen", "-l", "-E", "sha256", "-f", path).stdout.decode()
    fp = line.split()[1]
    assert fp.startswith("SHA256:"), line
    fp = fp[len("SHA256:"):]
    return fp + "=" * (-len(fp) % 4)


def test_create_ed25519_pem_cli(account, aws, tmp_path):
    name = k.unique("ed")
    rc, out, err = aws(account, "ec2", "create-key-pair", "--key-name", name, "--key-type",
                       "ed25519", "--key-format", "pem")
    assert rc == 0, err
    pem = k.write_private(tmp_path / "ed.pem", out["KeyMaterial"])
    rc, desc, err = aws(account, "ec2", "describe-key-pairs", "--key-pair-ids", out["KeyPairId"],
                        "--include-public-key")
    assert rc == 0, err
    [kp] = desc["KeyPairs"]
    assert kp["KeyName"] == name and kp["KeyType"] == "ed25519"
    assert kp["PublicKey"].startswith("ssh-ed25519 ")
    assert k.derived_public(pem) == k.ssh_pub_core(kp["PublicKey"])
    assert out["KeyFingerprint"] == ed25519_fingerprint_from_ssh_keygen(pem)
    assert out["KeyFingerprint"] == k.sha256_fingerprint_of_pub(kp["PublicKey"])


def test_create_ed25519_pem_boto3(ec2, tmp_path):
    name = k.unique("ed")
    out = ec2.create_key_pair(KeyName=name, KeyType="ed25519", KeyFormat="pem")
    assert out["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    pem = k.write_private(tmp_path / "ed.pem", out["KeyMaterial"])
    kp = described(ec2, name)
    assert k.derived_public(pem) == k.ssh_pub_core(kp["PublicKey"])
    assert out["KeyFingerprint"] == ed25519_fingerprint_from_ssh_keygen(pem)
    assert out["KeyFingerprint"].endswith("=") and len(out["KeyFingerprint"]) == 44


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_create_ppk(ec2, tmp_path, key_type):
    name = k.unique("ppk")
    out = ec2.create_key_pair(KeyName=name, KeyType=key_type, KeyFormat="ppk")
    material = out["KeyMaterial"]
    assert material.startswith("PuTTY-User-Key-File-")
    assert f"Comment: {name}" in material
    kp = described(ec2, name)
    assert kp["KeyType"] == key_type
    if shutil.which("puttygen") is None:
        pytest.skip("puttygen is not installed: the PPK contents were not cross-checked")
    ppk = k.write_private(tmp_path / "key.ppk", material)
    pub = tmp_path / "key.pub"
    k.run("puttygen", ppk, "-O", "public-openssh", "-o", pub)
    assert k.ssh_pub_core(pub.read_text()) == k.ssh_pub_core(kp["PublicKey"])
    # The private half converts to OpenSSH too and derives the same public key.
    priv = tmp_path / "key.openssh"
    k.run("puttygen", ppk, "-O", "private-openssh", "-o", priv)
    assert k.derived_public(priv) == k.ssh_pub_core(kp["PublicKey"])
    if key_type == "rsa":
        der = k.run("openssl", "pkcs8", "-in", priv, "-outform", "DER", "-topk8",
                    "-nocrypt").stdout
        assert out["KeyFingerprint"] == k.openssl_colon_digest("sha1", der)
    else:
        assert out["KeyFingerprint"] == k.sha256_fingerprint_of_pub(kp["PublicKey"])


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("sshkeys")
    return {
        "rsa": k.ssh_keygen(d, "rsa", 2048),
        "ed25519": k.ssh_keygen(d, "ed25519"),
        "ecdsa": k.ssh_keygen(d, "ecdsa", 256),
        "ecdsa384": k.ssh_keygen(d, "ecdsa", 384),
    }


def test_import_openssh_cli(account, aws, ssh_keys):
    for kind, expected_type in [("rsa", "rsa"), ("ed25519", "ed25519"), ("ecdsa", "ecdsa")]:
        _, pub = ssh_keys[kind]
        name = k.unique(kind)
        rc, out, err = aws(account, "ec2", "import-key-pair", "--key-name", name,
                           "--public-key-material", f"fileb://{pub}")
        assert rc == 0, err
        assert out["KeyName"] == name and out["KeyPairId"].startswith("key-")
        assert "KeyMaterial" not in out
        rc, desc, err = aws(account, "ec2", "describe-key-pairs", "--key-names", name,
                            "--include-public-key")
        assert rc == 0, err
        [kp] = desc["KeyPairs"]
        assert kp["KeyType"] == expected_type
        assert k.ssh_pub_core(kp["PublicKey"]) == k.ssh_pub_core(pub.read_text())
        if kind in ("rsa", "ecdsa"):
            # MD5 of the DER SubjectPublicKeyInfo (ECDSA: Kumo's extension, same rule as RSA).
            spki = k.spki_der_of_pub(pub)
            assert out["KeyFingerprint"] == k.openssl_colon_digest("md5", spki)
        else:
            assert out["KeyFingerprint"] == k.sha256_fingerprint_of_pub(pub.read_text())


def test_import_openssh_boto3(ec2, ssh_keys):
    for kind, key_type in [("rsa", "rsa"), ("ed25519", "ed25519"), ("ecdsa", "ecdsa"),
                           ("ecdsa384", "ecdsa")]:
        _, pub = ssh_keys[kind]
        name = k.unique(kind)
        out = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=pub.read_bytes())
        kp = described(ec2, name)
        assert kp["KeyPairId"] == out["KeyPairId"]
        assert kp["KeyFingerprint"] == out["KeyFingerprint"]
        assert kp["KeyType"] == key_type
        assert k.ssh_pub_core(kp["PublicKey"]) == k.ssh_pub_core(pub.read_text())
        if key_type == "ed25519":
            assert out["KeyFingerprint"] == k.sha256_fingerprint_of_pub(pub.read_text())
        else:  # MD5 of the DER SubjectPublicKeyInfo
            assert out["KeyFingerprint"] == k.openssl_colon_digest("md5", k.spki_der_of_pub(pub))


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ecdsa"])
def test_import_other_formats(ec2, ssh_keys, kind):
    _, pub = ssh_keys[kind]
    want = k.ssh_pub_core(pub.read_text())
    rfc4716 = k.run("ssh-keygen", "-e", "-f", pub).stdout
    assert rfc4716.startswith(b"---- BEGIN SSH2 PUBLIC KEY ----")
    pkcs8_pem = k.spki_pem_of_pub(pub)
    assert pkcs8_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    der_b64 = base64.b64encode(k.spki_der_of_pub(pub))
    fingerprints = set()
    for label, material in [("rfc4716", rfc4716), ("pem", pkcs8_pem), ("der", der_b64)]:
        name = k.unique(f"{kind}-{label}")
        out = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)
        kp = described(ec2, name)
        assert k.ssh_pub_core(kp["PublicKey"]) == want, label
        assert kp["KeyType"] == kind
        fingerprints.add(out["KeyFingerprint"])
    # One key, one fingerprint, whatever the format it came in.
    assert len(fingerprints) == 1


def test_import_garbage(account, aws, ec2, ssh_keys, tmp_path):
    for material in [b"hello world", b"ssh-rsa AAAAB3NzaC1yc2E= broken",
                     b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                     ssh_keys["ed25519"][0].read_bytes()]:  # a private key is no public key
        with pytest.raises(ClientError) as e:
            ec2.import_key_pair(KeyName=k.unique("bad"), PublicKeyMaterial=material)
        assert k.error_code(e.value) == "InvalidKey.Format", material
    # An ed25519 line whose type word disagrees with its blob (a mangled copy).
    line = ssh_keys["ed25519"][1].read_text().split()
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=k.unique("bad"),
                            PublicKeyMaterial=f"ssh-rsa {line[1]}".encode())
    assert k.error_code(e.value) == "InvalidKey.Format"
    garbage = tmp_path / "garbage.pub"
    garbage.write_bytes(b"\x00\x01not a key at all\xff")
    rc, _, err = aws(account, "ec2", "import-key-pair", "--key-name", k.unique("bad"),
                     "--public-key-material", f"fileb://{garbage}")
    assert rc != 0
    assert k.cli_error_code(err) == "InvalidKey.Format", err
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_duplicate_names(account, aws, ec2, ssh_keys):
    name = k.unique("dup")
    first = ec2.create_key_pair(KeyName=name, KeyType="ed25519")
    rc, _, err = aws(account, "ec2", "create-key-pair", "--key-name", name)
    assert rc != 0 and k.cli_error_code(err) == "InvalidKeyPair.Duplicate", err
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=ssh_keys["rsa"][1].read_bytes())
    assert k.error_code(e.value) == "InvalidKeyPair.Duplicate"
    # The original is untouched.
    kp = described(ec2, name)
    assert kp["KeyPairId"] == first["KeyPairId"] and kp["KeyType"] == "ed25519"
    # The same public key under another name is fine.
    other = k.unique("dup")
    ec2.import_key_pair(KeyName=other, PublicKeyMaterial=ssh_keys["rsa"][1].read_bytes())
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=other, PublicKeyMaterial=ssh_keys["rsa"][1].read_bytes())
    assert k.error_code(e.value) == "InvalidKeyPair.Duplicate"


@pytest.fixture
def three_keys(ec2, ssh_keys):
    """web-1 (rsa; Env=prod, Role=web), web-2 (ed25519; Env=dev), db-1 (imported ed25519;
    Role=db) in a fresh account."""

    def tags(**kv):
        return [{"ResourceType": "key-pair",
                 "Tags": [{"Key": a, "Value": b} for a, b in kv.items()]}]

    keys = {
        "web-1": ec2.create_key_pair(KeyName="web-1", TagSpecifications=tags(Env="prod",
                                                                              Role="web")),
        "web-2": ec2.create_key_pair(KeyName="web-2", KeyType="ed25519",
                                     TagSpecifications=tags(Env="dev")),
        "db-1": ec2.import_key_pair(KeyName="db-1",
                                    PublicKeyMaterial=ssh_keys["ed25519"][1].read_bytes(),
                                    TagSpecifications=tags(Role="db")),
    }
    return keys


def names_for(ec2, **kw):
    return sorted(kp["KeyName"] for kp in ec2.describe_key_pairs(**kw)["KeyPairs"])


def test_describe_filters_boto3(ec2, three_keys):
    f = lambda name, *values: {"Name": name, "Values": list(values)}  # noqa: E731
    assert names_for(ec2) == ["db-1", "web-1", "web-2"]
    assert names_for(ec2, KeyNames=["web-2"]) == ["web-2"]
    assert names_for(ec2, KeyPairIds=[three_keys["db-1"]["KeyPairId"]]) == ["db-1"]
    assert names_for(ec2, Filters=[f("key-name", "web-*")]) == ["web-1", "web-2"]
    assert names_for(ec2, Filters=[f("key-name", "web-?")]) == ["web-1", "web-2"]
    assert names_for(ec2, Filters=[f("key-name", "*-1")]) == ["db-1", "web-1"]
    assert names_for(ec2, Filters=[f("key-name", "web-1", "db-1")]) == ["db-1", "web-1"]
    assert names_for(ec2, Filters=[f("key-name", "web")]) == []
    assert names_for(ec2, Filters=[f("key-pair-id", three_keys["web-2"]["KeyPairId"])]) == [
        "web-2"]
    assert names_for(ec2, Filters=[f("fingerprint", three_keys["web-1"]["KeyFingerprint"])]) == [
        "web-1"]
    assert names_for(ec2, Filters=[f("key-type", "ed25519")]) == ["db-1", "web-2"]
    assert names_for(ec2, Filters=[f("key-type", "rsa")]) == ["web-1"]
    assert names_for(ec2, Filters=[f("tag:Env", "prod")]) == ["web-1"]
    assert names_for(ec2, Filters=[f("tag:Env", "*")]) == ["web-1", "web-2"]
    assert names_for(ec2, Filters=[f("tag:Env", "p*", "d?v")]) == ["web-1", "web-2"]
    assert names_for(ec2, Filters=[f("tag-key", "Role")]) == ["db-1", "web-1"]
    assert names_for(ec2, Filters=[f("tag-key", "Nope")]) == []
    # Filters AND across names.
    assert names_for(ec2, Filters=[f("key-type", "ed25519"), f("tag-key", "Env")]) == ["web-2"]
    assert names_for(ec2, KeyNames=["web-1", "db-1"], Filters=[f("tag-key", "Role")]) == [
        "db-1", "web-1"]
    # Tags come back on every key.
    web1 = ec2.describe_key_pairs(KeyNames=["web-1"])["KeyPairs"][0]
    assert sorted((t["Key"], t["Value"]) for t in web1["Tags"]) == [("Env", "prod"),
                                                                      ("Role", "web")]
    assert "PublicKey" not in web1
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(Filters=[f("colour", "blue")])
    assert k.error_code(e.value) == "InvalidParameterValue"


def test_describe_filters_cli(account, aws, three_keys):
    rc, out, err = aws(account, "ec2", "describe-key-pairs", "--filters",
                       "Name=key-name,Values=web-*", "Name=tag:Env,Values=dev")
    assert rc == 0, err
    assert [kp["KeyName"] for kp in out["KeyPairs"]] == ["web-2"]
    rc, out, err = aws(account, "ec2", "describe-key-pairs", "--filters",
                       "Name=tag-key,Values=Role", "Name=key-type,Values=rsa")
    assert rc == 0, err
    assert [kp["KeyName"] for kp in out["KeyPairs"]] == ["web-1"]


def test_describe_not_found(account, aws, ec2, three_keys):
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyNames=["no-such-key"])
    assert k.error_code(e.value) == "InvalidKeyPair.NotFound"
    assert "no-such-key" in e.value.response["Error"]["Message"]
    # One missing name spoils the whole request, as on EC2.
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyNames=["web-1", "no-such-key"])
    assert k.error_code(e.value) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyPairIds=["key-0123456789abcdef0"])
    assert k.error_code(e.value) == "InvalidKeyPair.NotFound"
    rc, _, err = aws(account, "ec2", "describe-key-pairs", "--key-names", "no-such-key")
    assert rc != 0 and k.cli_error_code(err) == "InvalidKeyPair.NotFound", err


def test_delete_cli(account, aws, ec2, three_keys):
    rc, _, err = aws(account, "ec2", "delete-key-pair", "--key-name", "web-1")
    assert rc == 0, err
    assert names_for(ec2) == ["db-1", "web-2"]
    rc, _, err = aws(account, "ec2", "delete-key-pair", "--key-pair-id",
                     three_keys["db-1"]["KeyPairId"])
    assert rc == 0, err
    assert names_for(ec2) == ["web-2"]
    # Deleting a name that does not exist succeeds, as on EC2.
    rc, _, err = aws(account, "ec2", "delete-key-pair", "--key-name", "web-1")
    assert rc == 0, err
    rc, _, err = aws(account, "ec2", "describe-key-pairs", "--key-names", "web-1")
    assert rc != 0 and k.cli_error_code(err) == "InvalidKeyPair.NotFound", err


def test_delete_boto3(ec2, three_keys):
    ec2.delete_key_pair(KeyPairId=three_keys["web-2"]["KeyPairId"])
    assert names_for(ec2) == ["db-1", "web-1"]
    ec2.delete_key_pair(KeyName="db-1")
    assert names_for(ec2) == ["web-1"]
    ec2.delete_key_pair(KeyName="never-existed")
    with pytest.raises(ClientError) as e:
        ec2.delete_key_pair(KeyPairId=three_keys["web-2"]["KeyPairId"])
    assert k.error_code(e.value) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.delete_key_pair()
    assert k.error_code(e.value) == "MissingParameter"
    assert names_for(ec2) == ["web-1"]
    # The name is free again, and its tags went with the old key.
    ec2.create_key_pair(KeyName="db-1", KeyType="ed25519")
    assert ec2.describe_key_pairs(KeyNames=["db-1"])["KeyPairs"][0]["Tags"] == []


def test_names_and_tags_with_xml_special_characters(ec2):
    name = 'my key & <stuff> "q" \'s ]]>'
    tag = {"Key": "Ünï <&>", "Value": '✓ "x" ]]> \t tab'}
    out = ec2.create_key_pair(KeyName=name, KeyType="ed25519",
                              TagSpecifications=[{"ResourceType": "key-pair", "Tags": [tag]}])
    assert out["KeyName"] == name and out["Tags"] == [tag]
    kp = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]
    assert kp["KeyName"] == name and kp["Tags"] == [tag]
    [t] = ec2.describe_tags()["Tags"]
    assert (t["Key"], t["Value"]) == (tag["Key"], tag["Value"])
    # '\\' escapes the next character in filter values.
    f = [{"Name": "key-name", "Values": ["my key \\& <*"]}]
    assert [kp["KeyName"] for kp in ec2.describe_key_pairs(Filters=f)["KeyPairs"]] == [name]
    for bad in ("n" * 256, "tab\there", "caf\u00e9"):
        with pytest.raises(ClientError) as e:
            ec2.create_key_pair(KeyName=bad)
        assert k.error_code(e.value) == "InvalidParameterValue"
    assert ec2.create_key_pair(KeyName="n" * 255, KeyType="ed25519")["KeyName"] == "n" * 255
    ec2.delete_key_pair(KeyName=name)
    assert [kp["KeyName"] for kp in ec2.describe_key_pairs()["KeyPairs"]] == ["n" * 255]


def test_tag_specifications_cli(account, aws, ec2):
    name = k.unique("tagged")
    rc, out, err = aws(account, "ec2", "create-key-pair", "--key-name", name, "--key-type",
                       "ed25519", "--tag-specifications",
                       '[{"ResourceType": "key-pair", "Tags": [{"Key": "Owner", "Value": "alice"},'
                       ' {"Key": "Empty", "Value": ""}]}]')
    assert rc == 0, err
    assert sorted((t["Key"], t["Value"]) for t in out["Tags"]) == [("Empty", ""),
                                                                    ("Owner", "alice")]
    kp = described(ec2, name)
    assert sorted((t["Key"], t["Value"]) for t in kp["Tags"]) == [("Empty", ""),
                                                                   ("Owner", "alice")]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [out["KeyPairId"]]}])
    assert {t["Key"] for t in tags["Tags"]} == {"Owner", "Empty"}
    assert all(t["ResourceType"] == "key-pair" for t in tags["Tags"])
    # A tag specification for another resource type is refused, and nothing is created.
    bad = k.unique("tagged")
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName=bad, TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}])
    assert k.error_code(e.value) == "InvalidParameterValue"
    assert names_for(ec2) == [name]


def test_concurrent_creates_of_one_name(account):
    """Eight clients race to create the same name: exactly one wins, the rest are duplicates."""
    name = k.unique("race")
    results = []
    barrier = threading.Barrier(8)

    def create():
        ec2 = k.make_client(account)
        barrier.wait(timeout=10)
        try:
            results.append(ec2.create_key_pair(KeyName=name, KeyType="ed25519")["KeyPairId"])
        except ClientError as e:
            results.append(k.error_code(e))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 8
    winners = [r for r in results if r.startswith("key-")]
    assert len(winners) == 1, results
    assert sorted(set(results) - set(winners)) == ["InvalidKeyPair.Duplicate"]
    [kp] = k.make_client(account).describe_key_pairs(KeyNames=[name])["KeyPairs"]
    assert kp["KeyPairId"] == winners[0]
