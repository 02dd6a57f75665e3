"""DescribeRegions, DescribeAvailabilityZones, DescribeAccountAttributes and STS
GetCallerIdentity, through the aws CLI v2 and boto3."""

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k


def test_describe_regions_cli(kumod, account, aws):
    rc, out, err = aws(account, "ec2", "describe-regions")
    assert rc == 0, err
    regions = {r["RegionName"]: r for r in out["Regions"]}
    assert set(regions) == set(k.REGIONS)
    for r in regions.values():
        assert r["Endpoint"] == f"127.0.0.1:{kumod.port}"
        assert r["OptInStatus"] == "opt-in-not-required"

    rc, out, err = aws(account, "ec2", "describe-regions", "--region-names", k.OTHER_REGION)
    assert rc == 0, err
    assert [r["RegionName"] for r in out["Regions"]] == [k.OTHER_REGION]

    rc, out, err = aws(account, "ec2", "describe-regions", "--filters",
                       "Name=region-name,Values=eu-*")
    assert rc == 0, err
    assert [r["RegionName"] for r in out["Regions"]] == [k.HOME_REGION]

    rc, out, err = aws(account, "ec2", "describe-regions", "--region-names", "mars-north-1")
    assert rc != 0
    assert k.cli_error_code(err) == "InvalidParameterValue", err


def test_describe_regions_boto3(account, client):
    ec2 = client(account, region=k.OTHER_REGION)  # answers the same from any served region
    names = sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])
    assert names == sorted(k.REGIONS)
    out = ec2.describe_regions(RegionNames=[k.HOME_REGION, k.OTHER_REGION])
    assert sorted(r["RegionName"] for r in out["Regions"]) == sorted(k.REGIONS)
    out = ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["us-?ast-1"]}])
    assert [r["RegionName"] for r in out["Regions"]] == [k.OTHER_REGION]
    out = ec2.describe_regions(Filters=[{"Name": "opt-in-status", "Values": ["opted-in"]}])
    assert out["Regions"] == []
    with pytest.raises(ClientError) as e:
        ec2.describe_regions(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert k.error_code(e.value) == "InvalidParameterValue"


@pytest.mark.parametrize("region,zone_id", [(k.HOME_REGION, "euw1-az1"),
                                            (k.OTHER_REGION, "use1-az1")])
def test_describe_availability_zones_cli(account, aws, region, zone_id):
    rc, out, err = aws(account, "ec2", "describe-availability-zones", region=region)
    assert rc == 0, err
    zones = out["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [region + s for s in "abc"]
    assert all(z["RegionName"] == region and z["State"] == "available" for z in zones)
    assert zones[0]["ZoneId"] == zone_id

    rc, out, err = aws(account, "ec2", "describe-availability-zones", "--zone-names", region + "b",
                       region=region)
    assert rc == 0, err
    assert [z["ZoneName"] for z in out["AvailabilityZones"]] == [region + "b"]


def test_describe_availability_zones_boto3(account, client):
    for region in k.REGIONS:
        ec2 = client(account, region=region)
        zones = ec2.describe_availability_zones()["AvailabilityZones"]
        assert [z["ZoneName"] for z in zones] == [region + s for s in "abc"]
        out = ec2.describe_availability_zones(
            Filters=[{"Name": "zone-name", "Values": ["*c"]}])
        assert [z["ZoneName"] for z in out["AvailabilityZones"]] == [region + "c"]
    ec2 = client(account, region=k.OTHER_REGION)
    assert [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]] == [
        "us-east-1a", "us-east-1b", "us-east-1c"]
    # A zone of the other region is not one of this region's zones.
    with pytest.raises(ClientError) as e:
        ec2.describe_availability_zones(ZoneNames=["eu-west-1a"])
    assert k.error_code(e.value) == "InvalidParameterValue"


def test_get_caller_identity_cli(account, aws):
    rc, out, err = aws(account, "sts", "get-caller-identity")
    assert rc == 0, err
    assert out["Account"] == account.account_id
    assert out["Arn"] == f"arn:aws:iam::{account.account_id}:root"


def test_get_caller_identity_boto3(new_account, client):
    a, b = new_account(), new_account()
    assert a.account_id != b.account_id
    for acct in (a, b):
        for region in k.REGIONS:
            sts = client(acct, region=region, service="sts")
            assert sts.get_caller_identity()["Account"] == acct.account_id


def test_describe_account_attributes_cli(account, aws):
    rc, out, err = aws(account, "ec2", "describe-account-attributes")
    assert rc == 0, err
    attrs = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
             for a in out["AccountAttributes"]}
    assert attrs["supported-platforms"] == ["VPC"]
    (default_vpc,) = attrs["default-vpc"]
    assert default_vpc.startswith("vpc-")

    rc, out, err = aws(account, "ec2", "describe-account-attributes", "--attribute-names",
                       "default-vpc")
    assert rc == 0, err
    assert [a["AttributeName"] for a in out["AccountAttributes"]] == ["default-vpc"]
    # The model's enum admits only supported-platforms and default-vpc as names.
    rc, out, err = aws(account, "ec2", "describe-account-attributes", "--attribute-names",
                       "max-instances")
    assert rc != 0 and k.cli_error_code(err) == "InvalidParameterValue", err


def test_describe_account_attributes_boto3(ec2):
    out = ec2.describe_account_attributes(AttributeNames=["default-vpc", "supported-platforms"])
    names = sorted(a["AttributeName"] for a in out["AccountAttributes"])
    assert names == ["default-vpc", "supported-platforms"]
    with pytest.raises(ClientError) as e:
        ec2.describe_account_attributes(AttributeNames=["no-such-attribute"])
    assert k.error_code(e.value) == "InvalidParameterValue"
