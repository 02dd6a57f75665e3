"""CreateTags, DeleteTags, DescribeTags (filters and pagination)."""

import collections

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k


def tag_map(ec2, resource_id):
    out = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    assert all(t["ResourceId"] == resource_id for t in out)
    return {t["Key"]: t["Value"] for t in out}


def test_tags_cli(account, aws, ec2):
    key_id = ec2.create_key_pair(KeyName=k.unique("k"), KeyType="ed25519")["KeyPairId"]
    rc, _, err = aws(account, "ec2", "create-tags", "--resources", key_id, "--tags",
                     "Key=Name,Value=web", "Key=Env,Value=prod", "Key=Team,Value=ops",
                     "Key=Blank,Value=")
    assert rc == 0, err
    rc, out, err = aws(account, "ec2", "describe-tags", "--filters",
                       f"Name=resource-id,Values={key_id}")
    assert rc == 0, err
    assert {t["Key"]: t["Value"] for t in out["Tags"]} == {
        "Name": "web", "Env": "prod", "Team": "ops", "Blank": ""}
    assert {t["ResourceType"] for t in out["Tags"]} == {"key-pair"}

    # Without a value: the key goes whatever its value. With a value: only on a match.
    rc, _, err = aws(account, "ec2", "delete-tags", "--resources", key_id, "--tags", "Key=Name",
                     "Key=Env,Value=staging", "Key=Team,Value=ops")
    assert rc == 0, err
    assert tag_map(ec2, key_id) == {"Env": "prod", "Blank": ""}

    rc, out, err = aws(account, "ec2", "describe-tags", "--filters", "Name=key,Values=Env",
                       "Name=value,Values=pr*")
    assert rc == 0, err
    assert [(t["ResourceId"], t["Key"]) for t in out["Tags"]] == [(key_id, "Env")]

    # No --tags at all: every tag of the resource goes.
    rc, _, err = aws(account, "ec2", "delete-tags", "--resources", key_id)
    assert rc == 0, err
    assert tag_map(ec2, key_id) == {}


def test_tags_boto3(ec2):
    a = ec2.create_key_pair(KeyName=k.unique("a"), KeyType="ed25519")["KeyPairId"]
    b = ec2.create_key_pair(KeyName=k.unique("b"), KeyType="ed25519")["KeyPairId"]
    ec2.create_tags(Resources=[a, b], Tags=[{"Key": "Env", "Value": "prod"},
                                            {"Key": "Cost", "Value": "42"}])
    assert tag_map(ec2, a) == tag_map(ec2, b) == {"Env": "prod", "Cost": "42"}
    # Overwrite a value.
    ec2.create_tags(Resources=[a], Tags=[{"Key": "Env", "Value": "dev"}])
    assert tag_map(ec2, a) == {"Env": "dev", "Cost": "42"}

    ec2.delete_tags(Resources=[a, b], Tags=[{"Key": "Env", "Value": "prod"}])
    assert tag_map(ec2, a) == {"Env": "dev", "Cost": "42"}
    assert tag_map(ec2, b) == {"Cost": "42"}
    ec2.delete_tags(Resources=[a], Tags=[{"Key": "Cost"}])
    assert tag_map(ec2, a) == {"Env": "dev"}

    out = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["Cost"]}])["Tags"]
    assert [(t["ResourceId"], t["Value"]) for t in out] == [(b, "42")]
    out = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["key-pair"]},
                                     {"Name": "tag:Env", "Values": ["d*"]}])["Tags"]
    assert [(t["ResourceId"], t["Key"]) for t in out] == [(a, "Env")]

    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=["key-0000000000000000f"], Tags=[{"Key": "x", "Value": "y"}])
    assert k.error_code(e.value) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[a], Tags=[{"Key": "aws:reserved", "Value": "y"}])
    assert k.error_code(e.value) == "InvalidParameterValue"
    # A failed CreateTags over several resources changes none of them.
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[a, "key-0000000000000000f"],
                        Tags=[{"Key": "Partial", "Value": "1"}])
    assert tag_map(ec2, a) == {"Env": "dev"}


def test_describe_tags_pagination(ec2, aws, account):
    ids = [ec2.create_key_pair(KeyName=k.unique("p"), KeyType="ed25519")["KeyPairId"]
           for _ in range(3)]
    expected = set()
    for n, rid in enumerate(ids):
        tags = [{"Key": f"k{j:02d}", "Value": f"v{n}-{j}"} for j in range(5 + n)]
        ec2.create_tags(Resources=[rid], Tags=tags)
        expected |= {(rid, t["Key"], t["Value"]) for t in tags}
    assert len(expected) == 18

    pages = list(ec2.get_paginator("describe_tags").paginate(
        PaginationConfig={"PageSize": 5}))
    assert len(pages) >= 4
    assert all(len(p["Tags"]) <= 5 for p in pages)
    assert all("NextToken" in p for p in pages[:-1])
    seen = collections.Counter((t["ResourceId"], t["Key"], t["Value"])
                               for p in pages for t in p["Tags"])
    assert set(seen) == expected
    assert max(seen.values()) == 1, [t for t, c in seen.items() if c > 1]

    # The aws CLI pages too (MaxResults=5 per call) and stitches the pages together.
    rc, out, err = aws(account, "ec2", "describe-tags", "--page-size", "5")
    assert rc == 0, err
    got = [(t["ResourceId"], t["Key"], t["Value"]) for t in out["Tags"]]
    assert len(got) == len(set(got)) and set(got) == expected

    with pytest.raises(ClientError) as e:
        ec2.describe_tags(MaxResults=4)
    assert k.error_code(e.value) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.describe_tags(MaxResults=5, NextToken="not-a-token")
    assert k.error_code(e.value) == "InvalidPaginationToken"
