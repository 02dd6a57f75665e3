"""DescribeInstanceTypeOfferings on the shared daemon (no GPUs): by region, zone and zone id,
with filters and paging, through boto3 and the aws CLI v2 (which pages by itself)."""

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k


def offered(ec2, **kw):
    out, token = [], None
    while True:
        page = ec2.describe_instance_type_offerings(**kw, **({"NextToken": token} if token else {}))
        out += page["InstanceTypeOfferings"]
        token = page.get("NextToken")
        if not token:
            return out


def test_offerings_by_location(ec2, account, aws):
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    by_region = offered(ec2)
    names = {o["InstanceType"] for o in by_region}
    assert {o["Location"] for o in by_region} == {k.HOME_REGION}
    assert {o["LocationType"] for o in by_region} == {"region"}
    assert "t2.micro" in names and names <= set(types)
    # This host has no GPUs: no GPU type is offered anywhere.
    assert not [n for n in names if "GpuInfo" in types[n]]
    assert "p2.xlarge" in types and "p2.xlarge" not in names

    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    by_zone = offered(ec2, LocationType="availability-zone", MaxResults=5)
    assert len(by_zone) == len(names) * len(zones)
    assert {o["Location"] for o in by_zone} == set(zones)
    got = offered(ec2, LocationType="availability-zone",
                  Filters=[{"Name": "location", "Values": [zones[1]]},
                           {"Name": "instance-type", "Values": ["t2.*"]}])
    assert got and {o["Location"] for o in got} == {zones[1]}
    assert all(o["InstanceType"].startswith("t2.") for o in got)

    rc, out, err = aws(account, "ec2", "describe-instance-type-offerings", "--location-type",
                       "availability-zone-id", "--page-size", "5")
    assert rc == 0, err
    ids = {z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert {o["Location"] for o in out["InstanceTypeOfferings"]} == ids
    assert len(out["InstanceTypeOfferings"]) == len(names) * len(ids)

    with pytest.raises(ClientError) as e:
        ec2.describe_instance_type_offerings(LocationType="planet")
    assert k.error_code(e.value) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.describe_instance_type_offerings(Filters=[{"Name": "vcpus", "Values": ["2"]}])
    assert k.error_code(e.value) == "InvalidParameterValue"
