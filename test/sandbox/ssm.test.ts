import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, GetParametersByPathCommand, GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { ec2 as ec2Module } from '../../src/sandbox/services/ec2/index.js';
import { ssm as ssmModule } from '../../src/sandbox/services/ssm.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

const RECOMMENDED = '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended';
const RECOMMENDED_ARM = '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended';

let sb: RunningSandbox;
let ssm: SSMClient;
let ec2: EC2Client;

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [ec2Module, ssmModule] });
  const config = { region: 'us-east-1', endpoint: sb.url, credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' }, maxAttempts: 1 };
  ssm = new SSMClient(config);
  ec2 = new EC2Client(config);
});

after(async () => {
  ssm.destroy();
  ec2.destroy();
  await sb.close();
});

test('the recommended ECS AMI parameters, as JSON and as a bare id, match EC2 images', async () => {
  for (const [path, arch] of [
    [RECOMMENDED, 'x86_64'],
    [RECOMMENDED_ARM, 'arm64'],
  ]) {
    const doc = await ssm.send(new GetParameterCommand({ Name: path }));
    assert.equal(doc.Parameter?.Type, 'String');
    assert.ok(doc.Parameter?.LastModifiedDate instanceof Date);
    const value = JSON.parse(doc.Parameter!.Value!);
    assert.match(value.image_id, /^ami-0[0-9a-f]{16}$/);
    assert.match(value.image_name, new RegExp(`^al2023-ami-ecs-hvm-.*-${arch}$`));
    assert.equal(value.os, 'Amazon Linux 2023');
    assert.equal(value.schema_version, 1);
    assert.ok(value.ecs_agent_version);

    const bare = await ssm.send(new GetParameterCommand({ Name: `${path}/image_id` }));
    assert.equal(bare.Parameter?.Value, value.image_id);

    const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [value.image_id] }));
    assert.equal(images.Images?.[0].Architecture, arch);
    assert.equal(images.Images?.[0].Name, value.image_name);
  }
});

test('ParameterNotFound and InvalidParameters', async () => {
  await assert.rejects(ssm.send(new GetParameterCommand({ Name: '/no/such/parameter' })), (err: any) => {
    assert.equal(err.name, 'ParameterNotFound');
    assert.equal(err.$metadata.httpStatusCode, 400);
    return true;
  });
  const many = await ssm.send(new GetParametersCommand({ Names: [`${RECOMMENDED}/image_id`, '/nope'] }));
  assert.equal(many.Parameters?.length, 1);
  assert.deepEqual(many.InvalidParameters, ['/nope']);
});

test('regional AMI ids differ per region', async () => {
  const eu = new SSMClient({ region: 'eu-west-1', endpoint: sb.url, credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' } });
  const us = await ssm.send(new GetParameterCommand({ Name: `${RECOMMENDED}/image_id` }));
  const there = await eu.send(new GetParameterCommand({ Name: `${RECOMMENDED}/image_id` }));
  assert.notEqual(us.Parameter?.Value, there.Parameter?.Value);
  assert.match(there.Parameter?.ARN ?? '', /^arn:aws:ssm:eu-west-1::parameter\/aws\/service\//);
  eu.destroy();
});

test('GetParametersByPath follows NextToken', async () => {
  sb.world.settings.pageSize = 1;
  try {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await ssm.send(new GetParametersByPathCommand({ Path: RECOMMENDED, NextToken: token }));
      names.push(...(page.Parameters ?? []).map((p) => p.Name!));
      token = page.NextToken;
    } while (token);
    assert.ok(names.includes(`${RECOMMENDED}/image_id`));
    assert.ok(names.includes(`${RECOMMENDED}/ecs_agent_version`));
  } finally {
    sb.world.settings.pageSize = 0;
  }
});
