#!/usr/bin/python3
"""Regenerates botocore_vectors.json: requests signed by Debian's botocore at a frozen time.

Run with Debian's interpreter (the one /usr/bin/aws uses) so the vectors pin the signer that
Kumo's users actually have:  /usr/bin/python3 src/auth/testdata/gen_vectors.py > \
    src/auth/testdata/botocore_vectors.json
"""
import datetime as real_datetime
import hashlib
import json
import sys
import types
from urllib.parse import urlsplit

import boto3
import botocore
import botocore.auth
import botocore.crt.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.crt.auth import CrtSigV4Auth, CrtSigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.config import Config

ACCESS_KEY = 'AKIDEXAMPLE'
SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
FROZEN = real_datetime.datetime(2024, 2, 29, 23, 59, 30)
AMZ_DATE = FROZEN.strftime('%Y%m%dT%H%M%SZ')


class _FrozenDateTime(real_datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FROZEN


# Both signers read the clock only through their module-level `datetime` import. Debian's botocore
# ships with awscrt, so clients sign with the CRT signer (aws-c-auth) unless told otherwise; the
# vectors cover both.
botocore.auth.datetime = types.SimpleNamespace(datetime=_FrozenDateTime)
botocore.crt.auth.datetime = types.SimpleNamespace(datetime=_FrozenDateTime,
                                                   timezone=real_datetime.timezone)

vectors = []


def wire_headers(url, headers):
    """Headers as they reach the server: urllib3 adds Host when botocore did not."""
    out = [[k, v.decode() if isinstance(v, bytes) else v] for k, v in headers.items()]
    # A fresh UUID per run; pinned so regenerating the file only changes what the signer changed.
    out = [[k, '00000000-0000-4000-8000-000000000000' if k == 'amz-sdk-invocation-id' else v]
           for k, v in out]
    if not any(k.lower() == 'host' for k, _ in out):
        out.insert(0, ['Host', urlsplit(url).netloc])
    return out


def add(name, method, url, headers, body, service='ec2', region='us-east-1', token=None,
        presigned=False, expires=0):
    parts = urlsplit(url)
    if isinstance(body, str):
        body = body.encode()
    vectors.append({
        'name': name,
        'method': method,
        'path': parts.path or '/',
        'query': parts.query,
        'headers': wire_headers(url, headers),
        'body': (body or b'').decode('utf-8'),
        'access_key_id': ACCESS_KEY,
        'secret_access_key': SECRET_KEY,
        'session_token': token,
        'service': service,
        'region': region,
        'amz_date': AMZ_DATE,
        'presigned': presigned,
        'expires': expires,
    })


def capture_client(name, endpoint, call, token=None, region='us-east-1', python_signer=False):
    """Runs one real boto3 EC2 call and records the request botocore would send."""
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                    aws_secret_access_key=SECRET_KEY,
                                    aws_session_token=token, region_name=region)
    client = session.client('ec2', endpoint_url=endpoint,
                            config=Config(retries={'max_attempts': 1}))
    captured = {}

    def before_send(request, **kwargs):
        captured['request'] = request
        body = b'<Response/>'
        raw = types.SimpleNamespace(stream=lambda **kw: iter([body]))
        return AWSResponse(request.url, 200, {}, raw)

    client.meta.events.register('before-send', before_send)
    saved = botocore.auth.AUTH_TYPE_MAPS['v4']
    if python_signer:
        botocore.auth.AUTH_TYPE_MAPS['v4'] = SigV4Auth
    try:
        call(client)
    except Exception:  # the canned response does not parse for every action; the request matters
        pass
    finally:
        botocore.auth.AUTH_TYPE_MAPS['v4'] = saved
    req = captured['request']
    add(name, req.method, req.url, req.headers, req.body, region=region, token=token)


def sign_direct(name, signer, method, url, headers=None, params=None, data=None, service='ec2',
                region='us-east-1', token=None):
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    req = AWSRequest(method=method, url=url, headers=headers or {}, params=params or {},
                     data=data)
    signer(creds, service, region).add_auth(req)
    prepared = req.prepare()
    add(name, method, prepared.url, prepared.headers, prepared.body, service, region, token)


def presign_direct(name, signer, method, url, expires, headers=None, params=None, data=None,
                   service='ec2', region='us-east-1', token=None):
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    req = AWSRequest(method=method, url=url, headers=headers or {}, params=params or {},
                     data=data)
    signer(creds, service, region, expires=expires).add_auth(req)
    prepared = req.prepare()
    add(name, method, prepared.url, prepared.headers, prepared.body, service, region, token,
        presigned=True, expires=expires)


EP = 'http://127.0.0.1:8773'
SPECIAL = ['a b', 'x/y', 'p+q', 'k=v', 'tilde~star*', 'caf\u00e9 \u2603', '%41', '&amp;',
           ' lead and trail ']
for python_signer in (False, True):
    tag = 'python' if python_signer else 'crt'
    capture_client(f'boto3-{tag}-describe-regions', EP, lambda c: c.describe_regions(),
                   python_signer=python_signer)
    capture_client(f'boto3-{tag}-describe-regions-names', EP,
                   lambda c: c.describe_regions(RegionNames=['us-east-1', 'eu-west-1']),
                   python_signer=python_signer)
    capture_client(f'boto3-{tag}-describe-tags-special-values', EP, lambda c: c.describe_tags(
        Filters=[{'Name': 'key', 'Values': SPECIAL}]), python_signer=python_signer)
    capture_client(f'boto3-{tag}-session-token', EP, lambda c: c.describe_regions(),
                   token='FQoGZXIvYXdzE+/=', python_signer=python_signer)
    capture_client(f'boto3-{tag}-https-no-port', 'https://ec2.eu-west-1.amazonaws.com',
                   lambda c: c.describe_availability_zones(), region='eu-west-1',
                   python_signer=python_signer)
    capture_client(f'boto3-{tag}-run-instances', EP, lambda c: c.run_instances(
        ImageId='ami-12345678', MinCount=1, MaxCount=2, InstanceType='t3.micro',
        UserData='#!/bin/sh\necho "hello world" > /tmp/x\n', ClientToken='token-1',
        TagSpecifications=[{'ResourceType': 'instance',
                            'Tags': [{'Key': 'Name', 'Value': 'web server #1 (\u00fc)'}]}]),
        python_signer=python_signer)

for signer, presigner, tag in ((SigV4Auth, SigV4QueryAuth, 'python'),
                               (CrtSigV4Auth, CrtSigV4QueryAuth, 'crt')):
    sign_direct(f'{tag}-get-query-params', signer, 'GET', EP + '/', params={
        'Action': 'DescribeRegions', 'Version': '2016-11-15',
        'RegionName.1': 'a b+c/d=e~*\u00fc', 'Empty': ''})
    sign_direct(f'{tag}-get-query-in-url', signer, 'GET',
                EP + '/?Version=2016-11-15&Action=DescribeRegions&Z=%20sp&A=1&A=0&B=%2B')
    sign_direct(f'{tag}-get-path-normalized', signer, 'GET', EP + '/a/./b//c/../d%20e/',
                params={'Action': 'DescribeRegions'})
    sign_direct(f'{tag}-post-extra-signed-headers', signer, 'POST', EP + '/',
                headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
                         'X-Custom': '  spaced   out\tvalue  ', 'X-Amz-Meta': 'm'},
                data='Action=DescribeRegions&Version=2016-11-15')
    sign_direct(f'{tag}-post-content-sha256-header', signer, 'POST', EP + '/',
                headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
                         'X-Amz-Content-SHA256': hashlib.sha256(
                             b'Action=DescribeRegions&Version=2016-11-15').hexdigest()},
                data='Action=DescribeRegions&Version=2016-11-15')
    sign_direct(f'{tag}-sts-other-service', signer, 'POST', 'https://sts.amazonaws.com/',
                headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'},
                data='Action=GetCallerIdentity&Version=2011-06-15', service='sts')
    presign_direct(f'{tag}-presign-get', presigner, 'GET', EP + '/', 300,
                   params={'Action': 'DescribeRegions', 'Version': '2016-11-15'})
    presign_direct(f'{tag}-presign-post-body-moved-to-query', presigner, 'POST', EP + '/', 3600,
                   headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'},
                   data={'Action': 'DescribeTags', 'Version': '2016-11-15',
                         'Filter.1.Value.1': 'a b+c/\u00fc'})
    presign_direct(f'{tag}-presign-session-token', presigner, 'GET', EP + '/', 604800,
                   params={'Action': 'DescribeRegions', 'Version': '2016-11-15'},
                   token='tok/en+=')

json.dump({'generator': 'botocore ' + botocore.__version__, 'vectors': vectors}, sys.stdout,
          indent=1, ensure_ascii=False)
sys.stdout.write('\n')
