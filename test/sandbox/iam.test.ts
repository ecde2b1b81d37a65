import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  type CreatePolicyVersionCommandOutput,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DetachRolePolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
  ListRolesCommand,
  ListInstanceProfilesForRoleCommand,
  ListPoliciesCommand,
  ListPolicyTagsCommand,
  ListPolicyVersionsCommand,
  ListRoleTagsCommand,
  RemoveRoleFromInstanceProfileCommand,
  TagInstanceProfileCommand,
  ListInstanceProfileTagsCommand,
  TagPolicyCommand,
  TagRoleCommand,
} from '@aws-sdk/client-iam';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/index.js';
import { iam as iamModule } from '../../src/sandbox/services/iam.js';
import { TEST_KEYS } from '../helpers/sandbox-context.js';

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: '*' }],
});
const ECS_ROLE_POLICY = 'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role';

let sb: RunningSandbox;
let iam: IAMClient;

before(async () => {
  sb = await startSandbox({ credentials: TEST_KEYS, services: [iamModule], pageSize: 1 });
  iam = new IAMClient({
    region: 'us-east-1',
    endpoint: sb.url,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
});

after(async () => {
  iam.destroy();
  await sb.close();
});

/** Asserts the call fails with this AWS error code (the SDK names the error after its shape) and status. */
async function rejects(call: Promise<unknown>, code: string, status: number) {
  await assert.rejects(call, (err: any) => {
    assert.ok(err.name === code || err.name === `${code}Exception` || err.Code === code, `expected ${code}, got ${err.name}: ${err.message}`);
    assert.equal(err.$metadata?.httpStatusCode, status);
    return true;
  });
}

test('roles: create, duplicate, get, not found, tags', async () => {
  const created = await iam.send(
    new CreateRoleCommand({ RoleName: 'app-role', AssumeRolePolicyDocument: TRUST, Tags: [{ Key: 'stack', Value: 'test' }] }),
  );
  assert.equal(created.Role?.Arn, 'arn:aws:iam::123456789012:role/app-role');
  assert.match(created.Role?.RoleId ?? '', /^AROA[0-9A-Z]{17}$/);
  assert.ok(created.Role?.CreateDate instanceof Date);

  await rejects(iam.send(new CreateRoleCommand({ RoleName: 'app-role', AssumeRolePolicyDocument: TRUST })), 'EntityAlreadyExists', 409);
  await rejects(iam.send(new GetRoleCommand({ RoleName: 'nope' })), 'NoSuchEntity', 404);

  const got = await iam.send(new GetRoleCommand({ RoleName: 'app-role' }));
  // AWS returns policy documents URL-encoded.
  assert.equal(decodeURIComponent(got.Role?.AssumeRolePolicyDocument ?? ''), TRUST);
  assert.deepEqual(got.Role?.Tags, [{ Key: 'stack', Value: 'test' }]);

  await iam.send(new TagRoleCommand({ RoleName: 'app-role', Tags: [{ Key: 'owner', Value: 'me' }] }));
  // pageSize 1 forces pagination: follow Marker.
  const first = await iam.send(new ListRoleTagsCommand({ RoleName: 'app-role' }));
  assert.equal(first.IsTruncated, true);
  assert.equal(first.Tags?.length, 1);
  const second = await iam.send(new ListRoleTagsCommand({ RoleName: 'app-role', Marker: first.Marker }));
  assert.equal(second.IsTruncated, false);
  assert.deepEqual([...(first.Tags ?? []), ...(second.Tags ?? [])].map((t) => t.Key).sort(), ['owner', 'stack']);
});

test('roles: invalid names and malformed documents', async () => {
  await rejects(iam.send(new CreateRoleCommand({ RoleName: 'bad name', AssumeRolePolicyDocument: TRUST })), 'ValidationError', 400);
  await rejects(iam.send(new CreateRoleCommand({ RoleName: 'r2', AssumeRolePolicyDocument: '{not json' })), 'MalformedPolicyDocument', 400);
  await rejects(iam.send(new CreatePolicyCommand({ PolicyName: 'p-bad', PolicyDocument: TRUST })), 'MalformedPolicyDocument', 400);
});

test('policies: versions, limits, delete conflicts', async () => {
  const { Policy } = await iam.send(
    new CreatePolicyCommand({ PolicyName: 'app-policy', PolicyDocument: POLICY, Tags: [{ Key: 'stack', Value: 'test' }] }),
  );
  const arn = Policy!.Arn!;
  assert.equal(arn, 'arn:aws:iam::123456789012:policy/app-policy');
  assert.equal(Policy?.DefaultVersionId, 'v1');
  await rejects(iam.send(new CreatePolicyCommand({ PolicyName: 'app-policy', PolicyDocument: POLICY })), 'EntityAlreadyExists', 409);
  await rejects(iam.send(new GetPolicyCommand({ PolicyArn: 'arn:aws:iam::123456789012:policy/nope' })), 'NoSuchEntity', 404);

  const v1 = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
  // URL-encoded as AWS sends it (RFC 3986: '*' too).
  assert.equal(v1.PolicyVersion?.Document, encodeURIComponent(POLICY).replace(/\*/g, '%2A'));
  assert.equal(decodeURIComponent(v1.PolicyVersion?.Document ?? ''), POLICY);
  assert.equal(v1.PolicyVersion?.IsDefaultVersion, true);

  for (let i = 2; i <= 5; i++) {
    const created: CreatePolicyVersionCommandOutput = await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: POLICY, SetAsDefault: i === 5 }));
    assert.equal(created.PolicyVersion?.VersionId, `v${i}`);
  }
  await rejects(iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: POLICY })), 'LimitExceeded', 409);
  assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId, 'v5');

  const versions: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn, Marker: marker }));
    versions.push(...(page.Versions ?? []).map((v) => v.VersionId!));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  assert.deepEqual(versions, ['v5', 'v4', 'v3', 'v2', 'v1']);

  await rejects(iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v5' })), 'DeleteConflict', 409);
  await rejects(iam.send(new DeletePolicyCommand({ PolicyArn: arn })), 'DeleteConflict', 409);
  for (const v of ['v1', 'v2', 'v3', 'v4']) await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v }));

  await iam.send(new CreateRoleCommand({ RoleName: 'policy-holder', AssumeRolePolicyDocument: TRUST }));
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'policy-holder', PolicyArn: arn }));
  await rejects(iam.send(new DeletePolicyCommand({ PolicyArn: arn })), 'DeleteConflict', 409);
  await rejects(iam.send(new DeleteRoleCommand({ RoleName: 'policy-holder' })), 'DeleteConflict', 409);
  await iam.send(new DetachRolePolicyCommand({ RoleName: 'policy-holder', PolicyArn: arn }));
  await rejects(iam.send(new DetachRolePolicyCommand({ RoleName: 'policy-holder', PolicyArn: arn })), 'NoSuchEntity', 404);
  await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
  await iam.send(new DeleteRoleCommand({ RoleName: 'policy-holder' }));
  await rejects(iam.send(new GetPolicyCommand({ PolicyArn: arn })), 'NoSuchEntity', 404);
});

test('policies: ListPolicies Scope Local paginates with Marker; tags', async () => {
  for (const name of ['pa', 'pb', 'pc']) await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: POLICY }));
  const names: string[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await iam.send(new ListPoliciesCommand({ Scope: 'Local', Marker: marker }));
    pages++;
    names.push(...(page.Policies ?? []).map((p) => p.PolicyName!));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  assert.deepEqual(names, ['pa', 'pb', 'pc']);
  assert.equal(pages, 3);

  const aws = await iam.send(new ListPoliciesCommand({ Scope: 'AWS', MaxItems: 100 }));
  assert.equal(aws.Policies?.length, 1); // pageSize 1 caps MaxItems

  const arn = 'arn:aws:iam::123456789012:policy/pa';
  await iam.send(new TagPolicyCommand({ PolicyArn: arn, Tags: [{ Key: 'k', Value: 'v' }] }));
  assert.deepEqual((await iam.send(new ListPolicyTagsCommand({ PolicyArn: arn }))).Tags, [{ Key: 'k', Value: 'v' }]);
});

test('role policies: managed policies attach, unknown ones are NoSuchEntity', async () => {
  await iam.send(new CreateRoleCommand({ RoleName: 'instance-role', AssumeRolePolicyDocument: TRUST }));
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'instance-role', PolicyArn: ECS_ROLE_POLICY }));
  await iam.send(
    new AttachRolePolicyCommand({ RoleName: 'instance-role', PolicyArn: 'arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy' }),
  );
  await rejects(
    iam.send(new AttachRolePolicyCommand({ RoleName: 'instance-role', PolicyArn: 'arn:aws:iam::aws:policy/NoSuchPolicy' })),
    'NoSuchEntity',
    404,
  );
  await rejects(iam.send(new AttachRolePolicyCommand({ RoleName: 'ghost', PolicyArn: ECS_ROLE_POLICY })), 'NoSuchEntity', 404);
  const first = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'instance-role' }));
  const second = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'instance-role', Marker: first.Marker }));
  assert.deepEqual(
    [...(first.AttachedPolicies ?? []), ...(second.AttachedPolicies ?? [])].map((p) => p.PolicyName),
    ['AmazonEC2ContainerServiceforEC2Role', 'CloudWatchAgentServerPolicy'],
  );
  const managed = await iam.send(new GetPolicyCommand({ PolicyArn: ECS_ROLE_POLICY }));
  assert.equal(managed.Policy?.AttachmentCount, 1);
  const doc = await iam.send(new GetPolicyVersionCommand({ PolicyArn: ECS_ROLE_POLICY, VersionId: 'v1' }));
  assert.match(decodeURIComponent(doc.PolicyVersion?.Document ?? ''), /ecs:RegisterContainerInstance/);
});

test('instance profiles: one role, delete conflicts, tags', async () => {
  await iam.send(new CreateRoleCommand({ RoleName: 'ip-role', AssumeRolePolicyDocument: TRUST }));
  await iam.send(new CreateRoleCommand({ RoleName: 'ip-role-2', AssumeRolePolicyDocument: TRUST }));
  const created = await iam.send(
    new CreateInstanceProfileCommand({ InstanceProfileName: 'ip', Tags: [{ Key: 'stack', Value: 'test' }] }),
  );
  assert.equal(created.InstanceProfile?.Arn, 'arn:aws:iam::123456789012:instance-profile/ip');
  assert.deepEqual(created.InstanceProfile?.Roles, []);
  await rejects(iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'ip' })), 'EntityAlreadyExists', 409);
  await rejects(iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'nope' })), 'NoSuchEntity', 404);

  await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'ip', RoleName: 'ip-role' }));
  await rejects(
    iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'ip', RoleName: 'ip-role-2' })),
    'LimitExceeded',
    409,
  );
  const got = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'ip' }));
  assert.deepEqual(got.InstanceProfile?.Roles?.map((r) => r.RoleName), ['ip-role']);
  const forRole = await iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: 'ip-role' }));
  assert.deepEqual(forRole.InstanceProfiles?.map((p) => p.InstanceProfileName), ['ip']);

  await rejects(iam.send(new DeleteRoleCommand({ RoleName: 'ip-role' })), 'DeleteConflict', 409);
  await rejects(iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: 'ip' })), 'DeleteConflict', 409);

  await iam.send(new TagInstanceProfileCommand({ InstanceProfileName: 'ip', Tags: [{ Key: 'a', Value: 'b' }] }));
  const tags = await iam.send(new ListInstanceProfileTagsCommand({ InstanceProfileName: 'ip', MaxItems: 10 }));
  assert.equal(tags.Tags?.length, 1); // pageSize 1
  assert.equal(tags.IsTruncated, true);

  await iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: 'ip', RoleName: 'ip-role' }));
  await rejects(
    iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: 'ip', RoleName: 'ip-role' })),
    'NoSuchEntity',
    404,
  );
  await iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: 'ip' }));
  await iam.send(new DeleteRoleCommand({ RoleName: 'ip-role' }));
});

test('paths: kept at create, in the ARN, and honoured by ListRoles / ListPolicies / ListInstanceProfiles PathPrefix', async () => {
  const role = await iam.send(new CreateRoleCommand({ RoleName: 'pathed-role', Path: '/ecs-cwlogs/lab/', AssumeRolePolicyDocument: TRUST }));
  assert.equal(role.Role?.Arn, 'arn:aws:iam::123456789012:role/ecs-cwlogs/lab/pathed-role');
  assert.equal(role.Role?.Path, '/ecs-cwlogs/lab/');
  const policy = await iam.send(new CreatePolicyCommand({ PolicyName: 'pathed-policy', Path: '/ecs-cwlogs/', PolicyDocument: POLICY }));
  assert.equal(policy.Policy?.Arn, 'arn:aws:iam::123456789012:policy/ecs-cwlogs/pathed-policy');
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'pathed-profile', Path: '/ecs-cwlogs/' }));
  assert.equal(profile.InstanceProfile?.Arn, 'arn:aws:iam::123456789012:instance-profile/ecs-cwlogs/pathed-profile');
  await rejects(iam.send(new CreateRoleCommand({ RoleName: 'bad-path', Path: 'no-slashes', AssumeRolePolicyDocument: TRUST })), 'ValidationError', 400);

  // pageSize is 1 in this file: collect every page through Marker.
  async function all<T>(page: (marker?: string) => Promise<{ items?: T[]; IsTruncated?: boolean; Marker?: string }>): Promise<T[]> {
    const out: T[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 50; i++) {
      const r = await page(marker);
      out.push(...(r.items ?? []));
      if (!r.IsTruncated) return out;
      marker = r.Marker;
    }
    throw new Error('pagination did not end');
  }
  const roles = await all(async (Marker) => {
    const r = await iam.send(new ListRolesCommand({ PathPrefix: '/ecs-cwlogs/', Marker }));
    return { ...r, items: r.Roles?.map((x) => x.RoleName) };
  });
  assert.deepEqual(roles, ['pathed-role']);
  const deeper = await iam.send(new ListRolesCommand({ PathPrefix: '/ecs-cwlogs/lab/' }));
  assert.deepEqual(deeper.Roles?.map((x) => x.Path), ['/ecs-cwlogs/lab/']);
  assert.deepEqual((await iam.send(new ListRolesCommand({ PathPrefix: '/elsewhere/' }))).Roles, []);
  const policies = await all(async (Marker) => {
    const r = await iam.send(new ListPoliciesCommand({ Scope: 'Local', PathPrefix: '/ecs-cwlogs/', Marker }));
    return { ...r, items: r.Policies?.map((x) => x.PolicyName) };
  });
  assert.deepEqual(policies, ['pathed-policy']);
  const profiles = await all(async (Marker) => {
    const r = await iam.send(new ListInstanceProfilesCommand({ PathPrefix: '/ecs-cwlogs/', Marker }));
    return { ...r, items: r.InstanceProfiles?.map((x) => x.Arn) };
  });
  assert.deepEqual(profiles, ['arn:aws:iam::123456789012:instance-profile/ecs-cwlogs/pathed-profile']);
  await rejects(iam.send(new ListRolesCommand({ PathPrefix: 'ecs-cwlogs' })), 'ValidationError', 400);
});
