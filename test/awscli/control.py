#!/usr/bin/env python3
"""A call to the sandbox's /_sandbox/ control endpoints, signed with SigV4 (standard library only, so
it runs beside any AWS CLI, Debian's included).

  ENDPOINT=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\
    control.py METHOD PATH [BODY] [--host NAME] [--origin URL] [--unsigned]

Prints the HTTP status, a space and the body. --host sends another Host header (signed as sent),
--origin adds an Origin header, --unsigned sends no signature.
"""
import datetime, hashlib, hmac, http.client, os, sys, urllib.parse

args = [a for a in sys.argv[1:] if not a.startswith('--')]
opts = {}
rest = sys.argv[1:]
for i, a in enumerate(rest):
    if a in ('--host', '--origin'):
        opts[a] = rest[i + 1]
        args.remove(rest[i + 1])
    elif a == '--unsigned':
        opts[a] = True
method, path = args[0], args[1]
body = (args[2] if len(args) > 2 else '').encode()
endpoint = urllib.parse.urlsplit(os.environ['ENDPOINT'])
host = opts.get('--host', endpoint.netloc)

def h(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()

now = datetime.datetime.now(datetime.timezone.utc)
amz_date = now.strftime('%Y%m%dT%H%M%SZ')
headers = {'host': host, 'x-amz-date': amz_date, 'x-amz-content-sha256': hashlib.sha256(body).hexdigest()}
if body:
    headers['content-type'] = 'application/json'
if '--unsigned' not in opts:
    signed = sorted(headers)
    canonical = '\n'.join([method, path, '', ''.join(f'{k}:{headers[k]}\n' for k in signed), ';'.join(signed), headers['x-amz-content-sha256']])
    scope = f'{amz_date[:8]}/us-east-1/sandbox/aws4_request'
    to_sign = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = h(h(h(h(('AWS4' + os.environ['AWS_SECRET_ACCESS_KEY']).encode(), amz_date[:8]), 'us-east-1'), 'sandbox'), 'aws4_request')
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers['authorization'] = f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
if '--origin' in opts:
    headers['origin'] = opts['--origin']
conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=10)
conn.putrequest(method, path, skip_host=True)
for k, v in headers.items():
    conn.putheader(k, v)
conn.putheader('content-length', str(len(body)))
conn.endheaders(body)
res = conn.getresponse()
print(res.status, res.read().decode().strip())
