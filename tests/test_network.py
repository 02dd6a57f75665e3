"""The default network (VPC, subnets, default security group), security groups and their rules,
and the instance-type catalog, with the aws CLI v2 and boto3."""

import pytest
from botocore.exceptions import ClientError

import kumo_e2e as k


def test_default_vpc_and_subnets_cli(account, aws):
    rc, out, err = aws(account, "ec2", "describe-vpcs")
    assert rc == 0, err
    (vpc,) = out["Vpcs"]
    assert vpc["CidrBlock"] == "172.31.0.0/16" and vpc["IsDefault"] is True
    assert vpc["OwnerId"] == account.account_id and vpc["State"] == "available"

    rc, out, err = aws(account, "ec2", "describe-subnets", "--filters",
                       f"Name=vpc-id,Values={vpc['VpcId']}", "Name=default-for-az,Values=true")
    assert rc == 0, err
    got = sorted((s["AvailabilityZone"], s["CidrBlock"]) for s in out["Subnets"])
    assert got == [("eu-west-1a", "172.31.0.0/20"), ("eu-west-1b", "172.31.16.0/20"),
                   ("eu-west-1c", "172.31.32.0/20")]
    assert all(s["MapPublicIpOnLaunch"] and s["AvailableIpAddressCount"] == 4091
               for s in out["Subnets"])

    rc, out, err = aws(account, "ec2", "describe-account-attributes", "--attribute-names",
                       "default-vpc")
    assert rc == 0, err
    assert out["AccountAttributes"][0]["AttributeValues"][0]["AttributeValue"] == vpc["VpcId"]


def test_every_account_and_region_has_its_own_default_vpc(new_account, client):
    a, b = new_account(), new_account()
    ids = set()
    for acct in (a, b):
        for region in ("eu-west-1", "us-east-1"):
            (vpc,) = client(acct, region=region).describe_vpcs()["Vpcs"]
            assert vpc["CidrBlock"] == "172.31.0.0/16"
            ids.add(vpc["VpcId"])
    assert len(ids) == 4
    with pytest.raises(ClientError) as e:
        client(b).describe_vpcs(VpcIds=[client(a).describe_vpcs()["Vpcs"][0]["VpcId"]])
    assert k.error_code(e.value) == "InvalidVpcID.NotFound"


def test_security_group_lifecycle_cli(account, aws):
    # The getting-started path from the instances issue, word for word.
    rc, out, err = aws(account, "ec2", "create-security-group", "--group-name", "ssh",
                       "--description", "ssh")
    assert rc == 0, err
    gid = out["GroupId"]
    rc, out, err = aws(account, "ec2", "authorize-security-group-ingress", "--group-name", "ssh",
                       "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
    assert rc == 0, err
    assert out["Return"] is True
    (rule,) = out["SecurityGroupRules"]
    assert rule["SecurityGroupRuleId"].startswith("sgr-") and rule["FromPort"] == 22

    rc, out, err = aws(account, "ec2", "describe-security-groups", "--group-names", "ssh")
    assert rc == 0, err
    (group,) = out["SecurityGroups"]
    assert group["GroupId"] == gid and group["Description"] == "ssh"
    assert group["IpPermissions"] == [{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": []}]
    assert group["IpPermissionsEgress"][0]["IpProtocol"] == "-1"

    rc, _, err = aws(account, "ec2", "authorize-security-group-ingress", "--group-name", "ssh",
                     "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
    assert rc != 0 and k.cli_error_code(err) == "InvalidPermission.Duplicate"
    rc, _, err = aws(account, "ec2", "create-security-group", "--group-name", "ssh",
                     "--description", "again")
    assert rc != 0 and k.cli_error_code(err) == "InvalidGroup.Duplicate"

    # "Change Source from Anywhere to My IP": the same rule, edited in place by its id.
    rc, out, err = aws(account, "ec2", "modify-security-group-rules", "--group-id", gid,
                       "--security-group-rules",
                       f"SecurityGroupRuleId={rule['SecurityGroupRuleId']},SecurityGroupRule="
                       "{IpProtocol=tcp,FromPort=22,ToPort=22,CidrIpv4=203.0.113.7/32}")
    assert rc == 0 and out["Return"] is True, err
    rc, out, err = aws(account, "ec2", "describe-security-group-rules", "--security-group-rule-ids",
                       rule["SecurityGroupRuleId"])
    assert rc == 0, err
    assert out["SecurityGroupRules"][0]["CidrIpv4"] == "203.0.113.7/32"

    rc, _, err = aws(account, "ec2", "revoke-security-group-ingress", "--group-id", gid,
                     "--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.7/32")
    assert rc == 0, err
    rc, _, err = aws(account, "ec2", "delete-security-group", "--group-id", gid)
    assert rc == 0, err
    rc, _, err = aws(account, "ec2", "describe-security-groups", "--group-ids", gid)
    assert rc != 0 and k.cli_error_code(err) == "InvalidGroup.NotFound"


def test_security_group_rules_boto3(ec2):
    web = ec2.create_security_group(
        GroupName=k.unique("web"), Description="web tier",
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": "tier", "Value": "web"}]}])["GroupId"]
    app = ec2.create_security_group(GroupName=k.unique("app"), Description="app")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=app, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8081,
         "UserIdGroupPairs": [{"GroupId": web, "Description": "from web"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
         "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "192.168.0.0/16"}]},
    ])
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [app]}])["SecurityGroupRules"]
    ingress = [r for r in rules if not r["IsEgress"]]
    assert len(ingress) == 3
    assert {r.get("CidrIpv4") for r in ingress} == {None, "10.0.0.0/8", "192.168.0.0/16"}
    by_group = [r for r in ingress if "ReferencedGroupInfo" in r]
    assert by_group[0]["ReferencedGroupInfo"]["GroupId"] == web
    assert by_group[0]["Description"] == "from web"

    # Filters on rules and tags.
    found = ec2.describe_security_groups(Filters=[
        {"Name": "ip-permission.group-id", "Values": [web]}])["SecurityGroups"]
    assert [g["GroupId"] for g in found] == [app]
    found = ec2.describe_security_groups(Filters=[{"Name": "tag:tier", "Values": ["web"]}])
    assert [g["GroupId"] for g in found["SecurityGroups"]] == [web]

    # Egress, and revoking by rule id.
    out = ec2.authorize_security_group_egress(GroupId=app, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "1.1.1.1/32"}]}])
    egress_id = out["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    ec2.revoke_security_group_egress(GroupId=app, SecurityGroupRuleIds=[egress_id])
    with pytest.raises(ClientError) as e:
        ec2.revoke_security_group_egress(GroupId=app, SecurityGroupRuleIds=[egress_id])
    assert k.error_code(e.value) == "InvalidSecurityGroupRuleId.NotFound"

    # A group that others reference cannot go; the default group never can.
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupId=web)
    assert k.error_code(e.value) == "DependencyViolation"
    with pytest.raises(ClientError) as e:
        ec2.delete_security_group(GroupName="default")
    assert k.error_code(e.value) == "CannotDelete"


@pytest.mark.parametrize("perm,code", [
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 80, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "gre", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}, "InvalidPermission.Malformed"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
      "UserIdGroupPairs": [{"GroupId": "sg-00000000000000000"}]}, "InvalidGroup.NotFound"),
])
def test_bad_rules_get_ec2_errors(ec2, perm, code):
    gid = ec2.create_security_group(GroupName=k.unique("bad"), Description="x")["GroupId"]
    with pytest.raises(ClientError) as e:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[perm])
    assert k.error_code(e.value) == code
    # Nothing half-applied.
    (g,) = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]
    assert g["IpPermissions"] == []


def test_security_groups_are_per_tenant(new_account, client):
    a, b = client(new_account()), client(new_account())
    gid = a.create_security_group(GroupName="shared-name", Description="x")["GroupId"]
    b.create_security_group(GroupName="shared-name", Description="x")
    for call in (lambda: b.describe_security_groups(GroupIds=[gid]),
                 lambda: b.delete_security_group(GroupId=gid),
                 lambda: b.authorize_security_group_ingress(
                     GroupId=gid, IpProtocol="tcp", FromPort=1, ToPort=1, CidrIp="1.2.3.4/32")):
        with pytest.raises(ClientError) as e:
            call()
        assert k.error_code(e.value) == "InvalidGroup.NotFound"


def test_security_group_pagination(kumod, account, ec2):
    for _ in range(6):
        ec2.create_security_group(GroupName=k.unique("p"), Description="page")
    pages = ec2.get_paginator("describe_security_groups").paginate(
        Filters=[{"Name": "description", "Values": ["page"]}], PaginationConfig={"PageSize": 5})
    ids = [g["GroupId"] for page in pages for g in page["SecurityGroups"]]
    assert len(ids) == 6 == len(set(ids))
    # botocore refuses MaxResults < 5 itself, so the server's own bound is checked raw.
    status, body, _ = k.signed_request(kumod.endpoint, account, {
        "Action": "DescribeSecurityGroups", "Version": "2016-11-15", "MaxResults": "2"})
    assert status == 400 and k.parse_error(body)[0] == "InvalidParameterValue"


def test_dry_run_on_network_actions(ec2):
    for call in (lambda: ec2.describe_vpcs(DryRun=True),
                 lambda: ec2.create_security_group(GroupName="dry", Description="d", DryRun=True),
                 lambda: ec2.describe_instance_types(DryRun=True)):
        with pytest.raises(ClientError) as e:
            call()
        assert k.error_code(e.value) == "DryRunOperation"
    assert not ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["dry"]}])["SecurityGroups"]


def test_instance_types_cli_and_boto3(account, aws, ec2):
    rc, out, err = aws(account, "ec2", "describe-instance-types", "--instance-types", "t2.micro",
                       "p2.xlarge", "m1.small")
    assert rc == 0, err
    types = {t["InstanceType"]: t for t in out["InstanceTypes"]}
    assert types["t2.micro"]["VCpuInfo"]["DefaultVCpus"] == 1
    assert types["t2.micro"]["MemoryInfo"]["SizeInMiB"] == 1024
    assert types["t2.micro"]["FreeTierEligible"] is True
    assert types["p2.xlarge"]["GpuInfo"]["Gpus"][0]["Count"] == 1
    assert types["p2.xlarge"]["GpuInfo"]["Gpus"][0]["Manufacturer"] == "NVIDIA"
    assert "GpuInfo" not in types["m1.small"]

    names = {t["InstanceType"] for page in ec2.get_paginator("describe_instance_types").paginate()
             for t in page["InstanceTypes"]}
    for family in ("t1", "t2", "t3", "m1", "m4", "c4", "g2", "p2"):
        assert any(n.startswith(family + ".") for n in names), family
    free = ec2.describe_instance_types(
        Filters=[{"Name": "free-tier-eligible", "Values": ["true"]}])["InstanceTypes"]
    assert {t["InstanceType"] for t in free} == {"t1.micro", "t2.micro"}
    with pytest.raises(ClientError) as e:
        ec2.describe_instance_types(InstanceTypes=["x1e.32xlarge"])
    assert k.error_code(e.value) == "InvalidParameterValue"


def test_source_group_owner_and_names_with_ids(new_account, client):
    a, b = new_account(), new_account()
    ea = client(a)
    web = ea.create_security_group(GroupName=k.unique("web"), Description="w")["GroupId"]
    name = ea.describe_security_groups(GroupIds=[web])["SecurityGroups"][0]["GroupName"]
    # Another account's group, named through the flat form's owner id, is not found (no silent
    # fallback to the caller's own group of that name).
    with pytest.raises(ClientError) as e:
        ea.authorize_security_group_ingress(
            GroupId=web, IpProtocol="tcp", FromPort=22, ToPort=22,
            SourceSecurityGroupName=name, SourceSecurityGroupOwnerId=b.account_id)
    assert k.error_code(e.value) == "InvalidGroup.NotFound"
    # GroupNames and GroupIds together select both.
    got = ea.describe_security_groups(GroupNames=["default"], GroupIds=[web])["SecurityGroups"]
    assert sorted(g["GroupName"] for g in got) == sorted(["default", name])
