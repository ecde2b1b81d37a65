/**
 * The sandbox's EC2 placement model (services/ec2/ec2-offerings.ts) through the real SDK: offerings per
 * zone, Unsupported and InsufficientInstanceCapacity from RunInstances, CPU credits, AMI releases.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  DescribeImagesCommand,
  DescribeInstanceCreditSpecificationsCommand,
  DescribeInstanceTypeOfferingsCommand,
  EC2Client,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { builtinNetwork, ec2 as ec2Module } from '../../src/sandbox/services/ec2/index.js';
import { ssm as ssmModule } from '../../src/sandbox/services/ssm.js';
import { iam as iamModule } from '../../src/sandbox/services/iam.js';
import { publishEcsAmi } from '../../src/sandbox/services/ec2/ec2-data.js';
import { control, TEST_KEYS } from '../helpers/sandbox-context.js';

const RECOMMENDED = '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id';
const net = builtinNetwork('us-east-1');
let sb: RunningSandbox;
let ec2: EC2Client;
let ssm: SSMClient;
let ami: string;

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [ec2Module, ssmModule, iamModule] });
  const config = { region: 'us-east-1', endpoint: sb.url, credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' }, maxAttempts: 1 };
  ec2 = new EC2Client(config);
  ssm = new SSMClient(config);
  ami = (await ssm.send(new GetParameterCommand({ Name: RECOMMENDED }))).Parameter!.Value!;
});

after(async () => {
  ec2.destroy();
  ssm.destroy();
  await sb.close();
});

const launch = (subnet: number, extra: Partial<RunInstancesCommandInput> = {}) =>
  ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: net.defaultSubnetIds[subnet], ...extra }));

async function offered(type: string, locationType?: 'availability-zone' | 'availability-zone-id' | 'region'): Promise<string[]> {
  const res = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ ...(locationType ? { LocationType: locationType } : {}), Filters: [{ Name: 'instance-type', Values: [type] }] }));
  return (res.InstanceTypeOfferings ?? []).map((o) => `${o.InstanceType}@${o.Location}/${o.LocationType}`).sort();
}

test('DescribeInstanceTypeOfferings: every zone by default; settings.notOffered takes a zone out for matching types only', async () => {
  assert.deepEqual(await offered('t3.small', 'availability-zone'), ['us-east-1a', 'us-east-1b', 'us-east-1c'].map((z) => `t3.small@${z}/availability-zone`));
  assert.deepEqual(await offered('t3.small'), ['t3.small@us-east-1/region'], 'LocationType defaults to region');
  assert.deepEqual(await offered('t3.small', 'availability-zone-id'), ['use1-az1', 'use1-az2', 'use1-az3'].map((z) => `t3.small@${z}/availability-zone-id`));
  sb.world.settings.notOffered = { 'us-east-1a': ['t3.*'] };
  try {
    assert.deepEqual(await offered('t3.small', 'availability-zone'), ['t3.small@us-east-1b/availability-zone', 't3.small@us-east-1c/availability-zone']);
    assert.equal((await offered('t3a.small', 'availability-zone')).length, 3, 't3.* does not match t3a');
    await assert.rejects(launch(0), (e: any) => {
      assert.equal(e.name, 'Unsupported');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.match(e.message, /Your requested instance type \(t3\.small\) is not supported in your requested Availability Zone \(us-east-1a\)\. .*choosing us-east-1b, us-east-1c\./);
      return true;
    });
    const ok = await launch(1);
    assert.equal(ok.Instances?.[0]?.Placement?.AvailabilityZone, 'us-east-1b');
  } finally {
    delete sb.world.settings.notOffered;
  }
});

test('settings.capacity: 0 answers InsufficientInstanceCapacity (500) naming the zones with capacity; each launch uses one', async () => {
  sb.world.settings.capacity = { 'us-east-1a': 0, 'us-east-1b': 1 };
  try {
    await assert.rejects(launch(0), (e: any) => {
      assert.equal(e.name, 'InsufficientInstanceCapacity');
      assert.equal(e.$metadata.httpStatusCode, 500);
      assert.match(e.message, /We currently do not have sufficient t3\.small capacity in the Availability Zone you requested \(us-east-1a\)\..* or choosing us-east-1b, us-east-1c\./);
      return true;
    });
    const before = sb.requestLog().length;
    await launch(1);
    assert.equal(sb.world.settings.capacity['us-east-1b'], 0, 'the launch used the last unit');
    await assert.rejects(launch(1), { name: 'InsufficientInstanceCapacity' });
    await launch(2); // no limit set for us-east-1c
    assert.deepEqual(sb.requestLog().slice(before).map((r) => `${r.operation}:${r.status}`), ['RunInstances:200', 'RunInstances:500', 'RunInstances:200']);
  } finally {
    delete sb.world.settings.capacity;
  }
});

test('the settings control endpoint takes capacity and notOffered, checks their shape, and clears them with null', async () => {
  const post = (body: object) => control(sb, '/_sandbox/settings', { method: 'POST', body: JSON.stringify(body) });
  let res = await post({ capacity: { 'us-east-1a': 0 }, notOffered: { 'us-east-1c': ['m5.*'] } });
  assert.equal(res.status, 200);
  assert.deepEqual(sb.world.settings.capacity, { 'us-east-1a': 0 });
  assert.deepEqual(sb.world.settings.notOffered, { 'us-east-1c': ['m5.*'] });
  assert.equal((await post({ capacity: { 'us-east-1a': -1 } })).status, 400);
  assert.equal((await post({ notOffered: { 'us-east-1a': 't3.*' } })).status, 400);
  res = await post({ capacity: null, notOffered: null });
  assert.equal(res.status, 200);
  assert.equal(sb.world.settings.capacity, undefined);
  assert.equal(sb.world.settings.notOffered, undefined);
});

test('CPU credits: CreditSpecification is stored and reported; burstable defaults; unlimited is refused for m5', async () => {
  const std = (await launch(1, { CreditSpecification: { CpuCredits: 'standard' } })).Instances![0]!.InstanceId!;
  const dflt = (await launch(1)).Instances![0]!.InstanceId!;
  const t2 = (await launch(1, { InstanceType: 't2.micro' })).Instances![0]!.InstanceId!;
  const m5 = (await launch(1, { InstanceType: 'm5.large' })).Instances![0]!.InstanceId!;
  const res = await ec2.send(new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [std, dflt, t2, m5] }));
  assert.deepEqual(
    res.InstanceCreditSpecifications?.map((c) => `${c.InstanceId === std ? 'std' : c.InstanceId === dflt ? 'default' : c.InstanceId === t2 ? 't2' : 'm5'}:${c.CpuCredits}`),
    ['std:standard', 'default:unlimited', 't2:standard', 'm5:standard'],
  );
  const unlimited = (await ec2.send(new DescribeInstanceCreditSpecificationsCommand({}))).InstanceCreditSpecifications?.map((c) => c.InstanceId) ?? [];
  assert.ok(unlimited.includes(dflt) && !unlimited.includes(std) && !unlimited.includes(m5), 'without ids: the unlimited ones');
  await assert.rejects(launch(1, { InstanceType: 'm5.large', CreditSpecification: { CpuCredits: 'unlimited' } }), { name: 'InstanceCreditSpecification.NotSupported' });
});

test('publishEcsAmi: SSM recommends the new AMI, EC2 knows it and still launches the old one', async () => {
  const released = publishEcsAmi(sb.world, 'us-east-1', 'x86_64');
  const doc = await ssm.send(new GetParameterCommand({ Name: RECOMMENDED }));
  assert.equal(doc.Parameter?.Value, released.imageId);
  assert.notEqual(released.imageId, ami);
  assert.equal(doc.Parameter?.Version, 144, 'a new version of the parameter');
  const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [released.imageId, ami] }));
  assert.equal(images.Images?.length, 2);
  await launch(1, { ImageId: ami });
  await launch(1, { ImageId: released.imageId });
  // The arm64 parameter did not move.
  const arm = await ssm.send(new GetParameterCommand({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id' }));
  assert.equal(arm.Parameter?.Version, 143);
});
