import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunInstancesRequest$ } from '@aws-sdk/client-ec2';
import { unflatten } from '../../src/sandbox/protocols/query.js';
import { ec2NestedDecoder, ec2Params } from '../../src/sandbox/protocols/schema.js';
import { xmlElement, xmlFields, xmlList } from '../../src/sandbox/protocols/xml.js';
import { QUERY_XML_STYLE } from '../../src/sandbox/protocols/query.js';
import { EC2_XML_STYLE } from '../../src/sandbox/protocols/ec2.js';
import { readSigV4, signRequest } from '../../src/sandbox/sigv4.js';
import { ServiceError, type ServiceModule } from '../../src/sandbox/index.js';
import { withSandbox } from './support.js';
import { control, TEST_CREDENTIALS } from '../helpers/sandbox-context.js';

const SIGNED = (service: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=AKIDSANDBOX/20261125/eu-west-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcdef0123`,
});

test('unflatten: Query member lists, EC2 numbered lists, filters and maps', () => {
  assert.deepEqual(
    unflatten({
      RoleName: 'r',
      'Tags.member.1.Key': 'a',
      'Tags.member.1.Value': '1',
      'Tags.member.2.Key': 'b',
      'Tags.member.2.Value': '2',
    }),
    { RoleName: 'r', Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] },
  );
  assert.deepEqual(
    unflatten({
      'TagSpecification.1.ResourceType': 'instance',
      'TagSpecification.1.Tag.1.Key': 'Name',
      'TagSpecification.1.Tag.1.Value': 'x',
      'Filter.1.Name': 'tag:Name',
      'Filter.1.Value.1': 'x',
      'Filter.1.Value.2': 'y',
      'InstanceId.2': 'i-2',
      'InstanceId.1': 'i-1',
    }),
    {
      TagSpecification: [{ ResourceType: 'instance', Tag: [{ Key: 'Name', Value: 'x' }] }],
      Filter: [{ Name: 'tag:Name', Value: ['x', 'y'] }],
      InstanceId: ['i-1', 'i-2'],
    },
  );
  assert.deepEqual(unflatten({ 'Attributes.entry.1.key': 'k', 'Attributes.entry.1.value': 'v' }), { Attributes: { k: 'v' } });
  // Gaps in the numbering are closed up.
  assert.deepEqual(unflatten({ 'SecurityGroupId.3': 'sg-3', 'SecurityGroupId.1': 'sg-1' }), { SecurityGroupId: ['sg-1', 'sg-3'] });
});

test('XML serialiser: element names from keys, member/item lists, dates, booleans, escaping', () => {
  const when = new Date(Date.UTC(2026, 10, 25, 12, 0, 0, 123));
  assert.equal(
    xmlFields({ Role: { RoleName: 'a&b<c>', CreateDate: when, Tags: [{ Key: 'k', Value: 'v' }] }, IsTruncated: false, Skip: undefined }, QUERY_XML_STYLE),
    '<Role><RoleName>a&amp;b&lt;c&gt;</RoleName><CreateDate>2026-11-25T12:00:00Z</CreateDate>' +
      '<Tags><member><Key>k</Key><Value>v</Value></member></Tags></Role><IsTruncated>false</IsTruncated>',
  );
  assert.equal(
    xmlFields({ instancesSet: [{ instanceId: 'i-1', launchTime: when, amiLaunchIndex: 0 }], groupSet: [] }, EC2_XML_STYLE),
    '<instancesSet><item><instanceId>i-1</instanceId><launchTime>2026-11-25T12:00:00.123Z</launchTime>' +
      '<amiLaunchIndex>0</amiLaunchIndex></item></instancesSet><groupSet></groupSet>',
  );
  assert.equal(xmlElement('Names', xmlList(['a', 'b'], { itemName: 'Name' }), QUERY_XML_STYLE), '<Names><Name>a</Name><Name>b</Name></Names>');
  assert.equal(xmlElement('Item', xmlList(['a', 'b'], { flattened: true }), QUERY_XML_STYLE), '<Item>a</Item><Item>b</Item>');
});

test('SigV4: credential scope from the Authorization header or a presigned query', () => {
  const fromHeader = readSigV4(SIGNED('ecs'), new URLSearchParams());
  assert.equal(fromHeader.kind, 'signed');
  assert.deepEqual(fromHeader.kind === 'signed' && [fromHeader.scope.accessKeyId, fromHeader.scope.region, fromHeader.scope.service], ['AKIDSANDBOX', 'eu-west-1', 'ecs']);

  const presigned = readSigV4({}, new URLSearchParams({ 'X-Amz-Credential': 'AKID/20261125/us-west-2/sts/aws4_request', 'X-Amz-Signature': 'ab' }));
  assert.equal(presigned.kind === 'signed' && presigned.scope.region, 'us-west-2');

  assert.equal(readSigV4({}, new URLSearchParams()).kind, 'missing');
  assert.equal(readSigV4({ authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/ecs/aws4_request' }, new URLSearchParams()).kind, 'incomplete');
  assert.equal(readSigV4({ authorization: 'AWS4-HMAC-SHA256 Credential=AKID/bad, SignedHeaders=host, Signature=ab' }, new URLSearchParams()).kind, 'incomplete');
});

/**
 * fetch with a real signature (TEST_CREDENTIALS): the SIGNED(service) stand-in in `headers` names the
 * service and region; the request is signed over its method, Host, headers and body.
 */
function signedFetch(sb: { url: string }, init: { method: string; headers: Record<string, string>; body: string }): Promise<Response> {
  const { authorization, ...rest } = init.headers;
  const scope = /Credential=[^/]+\/\d+\/([^/]+)\/([^/]+)\//.exec(authorization ?? '');
  if (!scope) return fetch(sb.url, init);
  const { host: _host, ...headers } = signRequest({ method: init.method, url: `${sb.url}/`, headers: rest, body: init.body, credentials: TEST_CREDENTIALS, region: scope[1], service: scope[2] });
  return fetch(sb.url, { method: init.method, headers, body: init.body });
}

/** A tiny EC2-protocol module, so these tests do not depend on the real EC2 emulation. */
const fakeEc2: ServiceModule = {
  name: 'ec2',
  protocol: 'ec2',
  xmlNamespace: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  apiVersion: '2016-11-15',
  initState: () => ({}),
  operations: {
    DescribeThings: {
      mutating: false,
      handler: (req) => {
        const p = unflatten(req.params);
        if (!p.ThingId) throw new ServiceError('MissingParameter', 'The request must contain the parameter ThingId');
        return { thingSet: p.ThingId.map((id: string) => ({ thingId: id, region: req.region })) };
      },
    },
  },
};

test('unsigned requests get each protocol\'s real authentication error', async () => {
  const { ecsService } = await import('../../src/sandbox/services/ecs/index.js');
  const { stsService } = await import('../../src/sandbox/services/sts.js');
  await withSandbox({ services: [ecsService, stsService, fakeEc2] }, async (sb) => {
    const json = await fetch(sb.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters' },
      body: '{}',
    });
    assert.equal(json.status, 400);
    assert.equal(json.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
    assert.deepEqual(await json.json(), { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });

    const query = await fetch(sb.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    assert.equal(query.status, 403);
    const queryBody = await query.text();
    assert.match(queryBody, /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/);
    assert.match(queryBody, /<RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/);

    const ec2 = await fetch(sb.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeThings&Version=2016-11-15&ThingId.1=t-1',
    });
    assert.equal(ec2.status, 401);
    assert.match(await ec2.text(), /<Response><Errors><Error><Code>AuthFailure<\/Code>.*<RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);

    // Every one of them is in the request log, none as mutating.
    const log = sb.requestLog();
    assert.deepEqual(log.map((e) => [e.service, e.operation, e.status, e.errorCode]), [
      ['ecs', 'ListClusters', 400, 'MissingAuthenticationTokenException'],
      ['sts', 'GetCallerIdentity', 403, 'MissingAuthenticationToken'],
      ['ec2', 'DescribeThings', 401, 'AuthFailure'],
    ]);
  });
});

test('signed EC2-protocol request: <item> lists, requestId, region from the scope, EC2 error shape', async () => {
  await withSandbox({ services: [fakeEc2] }, async (sb) => {
    const ok = await signedFetch(sb, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...SIGNED('ec2') },
      body: 'Action=DescribeThings&Version=2016-11-15&ThingId.1=t-1&ThingId.2=t-2',
    });
    assert.equal(ok.status, 200);
    const body = await ok.text();
    assert.match(body, /<DescribeThingsResponse xmlns="http:\/\/ec2\.amazonaws\.com\/doc\/2016-11-15\/"><requestId>[0-9a-f-]{36}<\/requestId>/);
    assert.match(body, /<thingSet><item><thingId>t-1<\/thingId><region>eu-west-1<\/region><\/item><item><thingId>t-2<\/thingId>/);

    const bad = await signedFetch(sb, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...SIGNED('ec2') },
      body: 'Action=DescribeThings&Version=2016-11-15',
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /<Code>MissingParameter<\/Code><Message>The request must contain the parameter ThingId<\/Message>/);

    const unknown = await signedFetch(sb, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...SIGNED('ec2') },
      body: 'Action=LaunchRockets&Version=2016-11-15',
    });
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /<Code>InvalidAction<\/Code>/);
  });
});

test('JSON protocol: unknown operation and malformed body', async () => {
  await withSandbox({}, async (sb) => {
    const headers = { 'content-type': 'application/x-amz-json-1.1', ...SIGNED('ecs') };
    const unknown = await signedFetch(sb, { method: 'POST', headers: { ...headers, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.LaunchRockets' }, body: '{}' });
    assert.equal(unknown.status, 400);
    assert.equal((await unknown.json()).__type, 'UnknownOperationException');
    const malformed = await signedFetch(sb, { method: 'POST', headers: { ...headers, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters' }, body: '{not json' });
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).__type, 'SerializationException');
    const ok = await signedFetch(sb, { method: 'POST', headers: { ...headers, 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters' }, body: '' });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(await ok.json(), { clusterArns: [] });
  });
});

test('control endpoints: health, checkip, settings, requests, state', async () => {
  await withSandbox({}, async (sb) => {
    const health = await (await control(sb, '/_sandbox/health')).json();
    assert.equal(health.status, 'ok');
    assert.ok(health.services.includes('ecs'));

    assert.equal(await (await fetch(`${sb.url}/_sandbox/checkip`)).text(), '127.0.0.1\n');

    const patched = await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ pageSize: 2, latency: 'fast' }) });
    assert.equal(patched.status, 200);
    assert.equal(sb.world.settings.pageSize, 2);
    assert.equal(sb.world.settings.latency.name, 'fast');
    const rejected = await control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify({ throttleRate: 2 }) });
    assert.equal(rejected.status, 400);
    assert.equal(sb.world.settings.throttleRate, 0);

    await signedFetch(sb, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters', ...SIGNED('ecs') },
      body: '{}',
    });
    const requests = await (await control(sb, '/_sandbox/requests')).json();
    assert.deepEqual(requests.requests.map((r: any) => r.operation), ['ListClusters']);
    assert.equal((await control(sb, '/_sandbox/requests', { method: 'DELETE' })).status, 200);
    assert.deepEqual(sb.requestLog(), []);

    const state = await (await control(sb, '/_sandbox/state')).json();
    assert.deepEqual(Object.keys(state.state.ecs.clusters), []);
    assert.equal((await control(sb, '/_sandbox/nope')).status, 404);
  });
});

test("a launch template's data decodes as RunInstances parameters, its booleans, numbers and lists as the wire would send them", () => {
  const data = {
    ImageId: 'ami-1',
    EbsOptimized: true,
    BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 30, Encrypted: true, DeleteOnTermination: false, VolumeType: 'gp3' } }],
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2 },
  };
  const req = ec2NestedDecoder<Record<string, unknown>>(RunInstancesRequest$)(ec2Params(RunInstancesRequest$, data));
  assert.deepEqual(req, data);
});
