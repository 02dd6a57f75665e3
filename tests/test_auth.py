"""Authentication, authorization and request errors: DryRun, suspended accounts, tenancy, region
isolation, the EC2 error document, SigV4 failures, presigned URLs, unknown parameters/actions,
access key lifecycle."""

import datetime
import urllib.parse

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import kumo_e2e as k


def assert_client_error(call, code, status=None, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    assert k.error_code(e.value) == code, e.value.response
    if status is not None:
        assert k.http_status(e.value) == status
    return e.value


def snapshot(ec2):
    keys = sorted((kp["KeyPairId"], kp["KeyName"]) for kp in ec2.describe_key_pairs()["KeyPairs"])
    tags = sorted((t["ResourceId"], t["Key"], t["Value"]) for t in ec2.describe_tags()["Tags"])
    return keys, tags


def test_dry_run_every_action_boto3(ec2, tmp_path):
    _, pub = k.ssh_keygen(tmp_path, "ed25519")
    existing = ec2.create_key_pair(KeyName="existing", KeyType="ed25519",
                                   TagSpecifications=[{"ResourceType": "key-pair",
                                                       "Tags": [{"Key": "t", "Value": "1"}]}])
    rid = existing["KeyPairId"]
    before = snapshot(ec2)
    calls = [
        (ec2.describe_regions, {}),
        (ec2.describe_availability_zones, {}),
        (ec2.describe_account_attributes, {}),
        (ec2.create_key_pair, {"KeyName": "dry", "KeyType": "ed25519"}),
        (ec2.import_key_pair, {"KeyName": "dry-import", "PublicKeyMaterial": pub.read_bytes()}),
        (ec2.describe_key_pairs, {}),
        (ec2.delete_key_pair, {"KeyName": "existing"}),
        (ec2.delete_key_pair, {"KeyPairId": rid}),
        (ec2.create_tags, {"Resources": [rid], "Tags": [{"Key": "dry", "Value": "run"}]}),
        (ec2.delete_tags, {"Resources": [rid]}),
        (ec2.describe_tags, {}),
    ]
    for call, kw in calls:
        assert_client_error(call, "DryRunOperation", 412, DryRun=True, **kw)
    assert snapshot(ec2) == before


def test_dry_run_cli(account, aws, ec2):
    rid = ec2.create_key_pair(KeyName="existing", KeyType="ed25519")["KeyPairId"]
    before = snapshot(ec2)
    for args in [("describe-regions",), ("describe-availability-zones",),
                 ("describe-account-attributes",), ("describe-key-pairs",), ("describe-tags",),
                 ("create-key-pair", "--key-name", "dry"),
                 ("delete-key-pair", "--key-name", "existing"),
                 ("create-tags", "--resources", rid, "--tags", "Key=a,Value=b"),
                 ("delete-tags", "--resources", rid)]:
        rc, _, err = aws(account, "ec2", *args, "--dry-run")
        assert rc != 0 and k.cli_error_code(err) == "DryRunOperation", (args, err)
    assert snapshot(ec2) == before


def test_suspended_account(kumod, new_account, aws, client):
    acct = new_account()
    ec2 = client(acct)
    ec2.create_key_pair(KeyName="before", KeyType="ed25519")
    k.kumo(kumod.data_dir, "account", "suspend", acct.name)
    try:
        assert_client_error(ec2.describe_regions, "UnauthorizedOperation", 403)
        assert_client_error(ec2.describe_key_pairs, "UnauthorizedOperation", 403)
        assert_client_error(ec2.create_key_pair, "UnauthorizedOperation", 403, KeyName="during")
        assert_client_error(ec2.delete_key_pair, "UnauthorizedOperation", 403, KeyName="before")
        # DryRun answers "would it be allowed?": no.
        assert_client_error(ec2.create_key_pair, "UnauthorizedOperation", 403, KeyName="during",
                            DryRun=True)
        rc, _, err = aws(acct, "ec2", "describe-key-pairs")
        assert rc != 0 and k.cli_error_code(err) == "UnauthorizedOperation", err
        listed = {a["Name"]: a["Status"] for a in k.kumo_json(kumod.data_dir, "account", "list")}
        assert listed[acct.name] == "suspended"
    finally:
        k.kumo(kumod.data_dir, "account", "activate", acct.name)
    assert [kp["KeyName"] for kp in ec2.describe_key_pairs()["KeyPairs"]] == ["before"]


def test_tenancy(new_account, client, aws):
    a, b = new_account(), new_account()
    ea, eb = client(a), client(b)
    name = k.unique("shared-name")
    ka = ea.create_key_pair(KeyName=name, KeyType="ed25519",
                            TagSpecifications=[{"ResourceType": "key-pair",
                                                "Tags": [{"Key": "owner", "Value": "a"}]}])
    aid = ka["KeyPairId"]
    missing = "key-0badc0ffee0ddf00d"

    # B sees A's id exactly as it sees an id that does not exist.
    e_a = assert_client_error(eb.describe_key_pairs, "InvalidKeyPair.NotFound", KeyPairIds=[aid])
    e_m = assert_client_error(eb.describe_key_pairs, "InvalidKeyPair.NotFound",
                              KeyPairIds=[missing])
    assert (e_a.response["Error"]["Message"].replace(aid, "ID") ==
            e_m.response["Error"]["Message"].replace(missing, "ID"))
    assert k.http_status(e_a) == k.http_status(e_m)
    assert_client_error(eb.describe_key_pairs, "InvalidKeyPair.NotFound", KeyNames=[name])
    assert_client_error(eb.create_tags, "InvalidKeyPair.NotFound", Resources=[aid],
                        Tags=[{"Key": "owner", "Value": "b"}])
    assert_client_error(eb.delete_tags, "InvalidKeyPair.NotFound", Resources=[aid])
    assert_client_error(eb.delete_key_pair, "InvalidKeyPair.NotFound", KeyPairId=aid)
    rc, _, err = aws(b, "ec2", "delete-key-pair", "--key-pair-id", aid)
    assert rc != 0 and k.cli_error_code(err) == "InvalidKeyPair.NotFound", err
    eb.delete_key_pair(KeyName=name)  # a no-op for B: it has no key of that name
    assert eb.describe_tags()["Tags"] == []
    assert eb.describe_key_pairs(Filters=[{"Name": "key-pair-id", "Values": [aid]}])[
        "KeyPairs"] == []

    # B may use the same name; the keys stay distinct.
    kb = eb.create_key_pair(KeyName=name, KeyType="ed25519")
    assert kb["KeyPairId"] != aid and kb["KeyFingerprint"] != ka["KeyFingerprint"]
    [kpa] = ea.describe_key_pairs()["KeyPairs"]
    assert kpa["KeyPairId"] == aid
    assert kpa["Tags"] == [{"Key": "owner", "Value": "a"}]
    [kpb] = eb.describe_key_pairs()["KeyPairs"]
    assert kpb["KeyPairId"] == kb["KeyPairId"] and kpb["Tags"] == []


def test_region_isolation(account, client, aws):
    east, west = client(account, region=k.OTHER_REGION), client(account, region=k.HOME_REGION)
    made = east.create_key_pair(KeyName="regional", KeyType="ed25519")
    east.create_tags(Resources=[made["KeyPairId"]], Tags=[{"Key": "where", "Value": "east"}])
    assert [kp["KeyName"] for kp in east.describe_key_pairs()["KeyPairs"]] == ["regional"]
    assert west.describe_key_pairs()["KeyPairs"] == []
    assert west.describe_tags()["Tags"] == []
    assert_client_error(west.describe_key_pairs, "InvalidKeyPair.NotFound", KeyNames=["regional"])
    assert_client_error(west.describe_key_pairs, "InvalidKeyPair.NotFound",
                        KeyPairIds=[made["KeyPairId"]])
    assert_client_error(west.delete_key_pair, "InvalidKeyPair.NotFound",
                        KeyPairId=made["KeyPairId"])
    rc, out, err = aws(account, "ec2", "describe-key-pairs", region=k.HOME_REGION)
    assert rc == 0 and out["KeyPairs"] == [], err
    rc, out, err = aws(account, "ec2", "describe-key-pairs", region=k.OTHER_REGION)
    assert rc == 0 and [kp["KeyName"] for kp in out["KeyPairs"]] == ["regional"], err
    # The same name is free in the other region.
    made_west = west.create_key_pair(KeyName="regional", KeyType="ed25519")
    assert made_west["KeyPairId"] != made["KeyPairId"]
    west.delete_key_pair(KeyName="regional")
    assert [kp["KeyPairId"] for kp in east.describe_key_pairs()["KeyPairs"]] == [
        made["KeyPairId"]]


def test_unsigned_request_error_shape(kumod):
    body = urllib.parse.urlencode({"Action": "DescribeRegions", "Version": k.EC2_VERSION}).encode()
    status, data, headers = k.http("POST", kumod.endpoint + "/", body,
                                   {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401
    assert headers["Content-Type"].startswith("text/xml")
    code, message, rid = k.parse_error(data)
    assert code == "AuthFailure" and message
    assert headers["x-amzn-requestid"] == rid
    # GET without a signature as well.
    status, data, _ = k.http("GET", kumod.endpoint + "/?Action=DescribeRegions&Version=2016-11-15")
    assert status == 401 and k.parse_error(data)[0] == "AuthFailure"


def test_bad_signature(kumod, account, client):
    params = {"Action": "DescribeRegions", "Version": k.EC2_VERSION}
    status, data, _ = k.signed_request(kumod.endpoint, account, params, secret="x" * 40)
    assert status == 403
    assert k.parse_error(data)[0] == "SignatureDoesNotMatch"
    wrong = account.secret_access_key[::-1]
    assert wrong != account.secret_access_key
    ec2 = client((account.access_key_id, wrong), endpoint=kumod.endpoint)
    assert_client_error(ec2.describe_regions, "SignatureDoesNotMatch", 403)
    # An unknown access key is an AuthFailure.
    ec2 = client(("AKIAIOSFODNN7EXAMPLE", "x" * 40), endpoint=kumod.endpoint)
    assert_client_error(ec2.describe_regions, "AuthFailure", 401)
    # The correctly signed request works.
    status, data, _ = k.signed_request(kumod.endpoint, account, params)
    assert status == 200
    assert {r.findtext("regionName") for r in k.strip_ns(data).iter("item")} == set(k.REGIONS)


def test_region_not_served(kumod, account, client):
    params = {"Action": "DescribeRegions", "Version": k.EC2_VERSION}
    status, data, _ = k.signed_request(kumod.endpoint, account, params, region="ap-south-1")
    assert status == 403
    code, message, _ = k.parse_error(data)
    assert code == "SignatureDoesNotMatch" and "ap-south-1" in message
    ec2 = client(account, region="ap-south-1")
    assert_client_error(ec2.describe_key_pairs, "SignatureDoesNotMatch")
    # A service this endpoint does not speak.
    status, data, _ = k.signed_request(kumod.endpoint, account, params, service="s3")
    assert status == 403 and k.parse_error(data)[0] == "SignatureDoesNotMatch"


def test_request_expired(kumod, account):
    params = {"Action": "DescribeRegions", "Version": k.EC2_VERSION}
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    status, data, _ = k.signed_request(kumod.endpoint, account, params, utc_now=old)
    assert status == 400
    assert k.parse_error(data)[0] == "RequestExpired"
    ahead = datetime.datetime.utcnow() + datetime.timedelta(minutes=20)
    status, data, _ = k.signed_request(kumod.endpoint, account, params, utc_now=ahead)
    assert status == 400 and k.parse_error(data)[0] == "RequestExpired"
    # Four minutes of skew is within the allowed window.
    recent = datetime.datetime.utcnow() - datetime.timedelta(minutes=4)
    status, _, _ = k.signed_request(kumod.endpoint, account, params, utc_now=recent)
    assert status == 200


def presign(endpoint, account, query, expires=60, region=k.HOME_REGION, utc_now=None):
    req = AWSRequest(method="GET", url=f"{endpoint}/?{query}")
    with k.signing_clock(utc_now):
        SigV4QueryAuth(Credentials(account.access_key_id, account.secret_access_key), "ec2",
                       region, expires=expires).add_auth(req)
    return req.url


def test_presigned_get(kumod, account):
    url = presign(kumod.endpoint, account, "Action=DescribeRegions&Version=2016-11-15")
    assert "X-Amz-Signature=" in url
    status, data, _ = k.http("GET", url)
    assert status == 200, data
    root = k.strip_ns(data)
    assert root.tag == "DescribeRegionsResponse"
    assert {r.findtext("regionName") for r in root.iter("item")} == set(k.REGIONS)
    # Tampering with the signed query breaks the signature.
    status, data, _ = k.http("GET", url.replace("DescribeRegions", "DescribeKeyPairs"))
    assert status == 403 and k.parse_error(data)[0] == "SignatureDoesNotMatch"
    # A URL past its X-Amz-Expires is refused; one still inside it works.
    five_ago = datetime.datetime.utcnow() - datetime.timedelta(minutes=5)
    stale = presign(kumod.endpoint, account, "Action=DescribeRegions&Version=2016-11-15",
                    expires=60, utc_now=five_ago)
    status, data, _ = k.http("GET", stale)
    assert status == 400 and k.parse_error(data)[0] == "RequestExpired"
    fresh = presign(kumod.endpoint, account, "Action=DescribeRegions&Version=2016-11-15",
                    expires=900, utc_now=five_ago)
    assert k.http("GET", fresh)[0] == 200


def test_unknown_parameter_and_action(kumod, account):
    def call(params):
        status, data, _ = k.signed_request(kumod.endpoint, account,
                                           {"Version": k.EC2_VERSION, **params})
        return status, k.parse_error(data)[0] if status != 200 else None

    assert call({"Action": "DescribeRegions", "Bogus": "1"}) == (400, "UnknownParameter")
    assert call({"Action": "DescribeKeyPairs", "KeyName.1.Extra": "x"}) == (400,
                                                                            "UnknownParameter")
    assert call({"Action": "DescribeRegions", "RegionName.0": "eu-west-1"}) == (
        400, "InvalidParameterValue")
    assert call({"Action": "CreateKeyPair"}) == (400, "MissingParameter")
    assert call({"Action": "CreateKeyPair", "KeyName": "x", "KeyType": "dsa"}) == (
        400, "InvalidParameterValue")
    assert call({"Action": "LaunchRockets"}) == (400, "InvalidAction")
    assert call({"Action": "DescribeRegions"}) == (200, None)


def test_access_keys(kumod, account, client, aws):
    first = client(account)
    second_keys = k.kumo_json(kumod.data_dir, "account", "keys", "create", account.name)
    assert second_keys["AccountId"] == account.account_id
    assert second_keys["AccessKeyId"] != account.access_key_id
    second = client((second_keys["AccessKeyId"], second_keys["SecretAccessKey"]),
                    endpoint=kumod.endpoint)
    sts2 = client((second_keys["AccessKeyId"], second_keys["SecretAccessKey"]),
                  service="sts", endpoint=kumod.endpoint)
    assert sts2.get_caller_identity()["Account"] == account.account_id
    # Both keys act on the same account's resources.
    made = second.create_key_pair(KeyName="via-second", KeyType="ed25519")
    assert [kp["KeyPairId"] for kp in first.describe_key_pairs()["KeyPairs"]] == [
        made["KeyPairId"]]

    third = k.kumo(kumod.data_dir, "account", "keys", "create", account.name, check=False)
    assert third.returncode != 0 and "AKIA" not in third.stdout
    listed = k.kumo_json(kumod.data_dir, "account", "keys", "list", account.name)
    assert sorted(x["AccessKeyId"] for x in listed) == sorted(
        [account.access_key_id, second_keys["AccessKeyId"]])
    assert {x["Status"] for x in listed} == {"Active"}

    k.kumo(kumod.data_dir, "account", "keys", "disable", account.access_key_id)
    assert_client_error(first.describe_regions, "AuthFailure", 401)
    rc, _, err = aws(account, "ec2", "describe-regions")
    assert rc != 0 and k.cli_error_code(err) == "AuthFailure", err
    assert second.describe_regions()["Regions"]  # the other key is unaffected
    k.kumo(kumod.data_dir, "account", "keys", "enable", account.access_key_id)
    assert first.describe_regions()["Regions"]

    k.kumo(kumod.data_dir, "account", "keys", "delete", second_keys["AccessKeyId"])
    assert_client_error(second.describe_regions, "AuthFailure", 401)
    listed = k.kumo_json(kumod.data_dir, "account", "keys", "list", account.name)
    assert [x["AccessKeyId"] for x in listed] == [account.access_key_id]
    # With one key gone there is room for another.
    again = k.kumo_json(kumod.data_dir, "account", "keys", "create", account.name)
    assert client((again["AccessKeyId"], again["SecretAccessKey"]),
                  endpoint=kumod.endpoint).describe_key_pairs()["KeyPairs"][0]["KeyName"] == (
        "via-second")
