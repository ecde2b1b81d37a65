import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
  ListTagsForResourceCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateServiceCommand,
  paginateListTaskDefinitions,
} from '@aws-sdk/client-ecs';
import { ManualClock } from '../../src/sandbox/index.js';
import { clientConfig, rejection, rejects, taskDefinitionInput, withSandbox } from './support.js';

test('CreateCluster is idempotent; DescribeClusters reports MISSING and tags on request', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    const first = await ecs.send(new CreateClusterCommand({ clusterName: 'logs', tags: [{ key: 'stack', value: 'a' }] }));
    assert.equal(first.cluster?.clusterArn, 'arn:aws:ecs:us-east-1:123456789012:cluster/logs');
    assert.equal(first.cluster?.status, 'ACTIVE');
    const again = await ecs.send(new CreateClusterCommand({ clusterName: 'logs' }));
    assert.equal(again.cluster?.clusterArn, first.cluster?.clusterArn);
    assert.deepEqual((await ecs.send(new ListClustersCommand({}))).clusterArns, [first.cluster?.clusterArn]);

    const plain = await ecs.send(new DescribeClustersCommand({ clusters: ['logs', 'nope'] }));
    assert.equal(plain.clusters?.[0].tags, undefined);
    assert.deepEqual(plain.failures, [{ arn: 'arn:aws:ecs:us-east-1:123456789012:cluster/nope', reason: 'MISSING' }]);
    const withTags = await ecs.send(new DescribeClustersCommand({ clusters: ['logs'], include: ['TAGS'] }));
    assert.deepEqual(withTags.clusters?.[0].tags, [{ key: 'stack', value: 'a' }]);

    const err = await rejection(ecs.send(new CreateClusterCommand({ clusterName: 'bad name!' })));
    assert.equal(err.name, 'InvalidParameterException');
  });
});

test('DeleteCluster: not found, refuses while services exist, then INACTIVE in describe', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    const missing = await rejection(ecs.send(new DeleteClusterCommand({ cluster: 'ghost' })));
    assert.equal(missing.name, 'ClusterNotFoundException');
    assert.equal(missing.$metadata.httpStatusCode, 400);

    await ecs.send(new CreateClusterCommand({ clusterName: 'c' }));
    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')));
    await ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: 'web', desiredCount: 0 }));
    const busy = await rejection(ecs.send(new DeleteClusterCommand({ cluster: 'c' })));
    assert.equal(busy.name, 'ClusterContainsServicesException');

    await ecs.send(new DeleteServiceCommand({ cluster: 'c', service: 's' }));
    const deleted = await ecs.send(new DeleteClusterCommand({ cluster: 'c' }));
    assert.equal(deleted.cluster?.status, 'INACTIVE');
    const described = await ecs.send(new DescribeClustersCommand({ clusters: ['c'] }));
    assert.equal(described.clusters?.[0].status, 'INACTIVE');
    assert.deepEqual((await ecs.send(new ListClustersCommand({}))).clusterArns, []);
    // An INACTIVE cluster is gone for every other API.
    const gone = await rejection(ecs.send(new ListServicesCommand({ cluster: 'c' })));
    assert.equal(gone.name, 'ClusterNotFoundException');
    // And the name can be used again.
    assert.equal((await ecs.send(new CreateClusterCommand({ clusterName: 'c' }))).cluster?.status, 'ACTIVE');
  });
});

test('RegisterTaskDefinition: revisions per family, validation, describe by family / family:rev / ARN', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    const r1 = await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web', { tags: [{ key: 't', value: '1' }] })));
    const r2 = await ecs.send(
      new RegisterTaskDefinitionCommand(
        taskDefinitionInput('web', {
          containerDefinitions: [
            { name: 'app', image: 'nginx:1.28', memoryReservation: 64, portMappings: [{ containerPort: 80 }], logConfiguration: { logDriver: 'awslogs', options: {} } },
          ],
        }),
      ),
    );
    assert.equal(r1.taskDefinition?.taskDefinitionArn, 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:1');
    assert.equal(r2.taskDefinition?.revision, 2);
    const container = r2.taskDefinition?.containerDefinitions?.[0];
    assert.deepEqual(container?.portMappings, [{ containerPort: 80, hostPort: 0, protocol: 'tcp' }]);
    assert.equal(container?.essential, true);
    assert.ok(r2.taskDefinition?.requiresAttributes?.some((a) => a.name === 'com.amazonaws.ecs.capability.logging-driver.awslogs'));
    assert.ok(r2.taskDefinition?.registeredAt instanceof Date);

    assert.equal((await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))).taskDefinition?.revision, 2);
    const byRev = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:1', include: ['TAGS'] }));
    assert.equal(byRev.taskDefinition?.containerDefinitions?.[0].image, 'nginx:1.27');
    assert.deepEqual(byRev.tags, [{ key: 't', value: '1' }]);
    const byArn = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: r1.taskDefinition!.taskDefinitionArn! }));
    assert.equal(byArn.taskDefinition?.revision, 1);

    const unknown = await rejection(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope' })));
    assert.equal(unknown.name, 'ClientException');
    assert.equal(unknown.message, 'Unable to describe task definition.');

    const noImage = await rejection(ecs.send(new RegisterTaskDefinitionCommand({ family: 'x', containerDefinitions: [{ name: 'a', memory: 64 }] })));
    assert.equal(noImage.name, 'ClientException');
    assert.match(noImage.message, /image/);
    const noMemory = await rejection(ecs.send(new RegisterTaskDefinitionCommand({ family: 'x', containerDefinitions: [{ name: 'a', image: 'i' }] })));
    assert.match(noMemory.message, /At least one of 'memory' or 'memoryReservation' must be specified/);
    const hostMismatch = await rejection(
      ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('x', { networkMode: 'host', containerDefinitions: [{ name: 'a', image: 'i', memory: 64, portMappings: [{ containerPort: 80, hostPort: 8080 }] }] }))),
    );
    assert.equal(hostMismatch.name, 'ClientException');
    // Failed registrations do not use up revision numbers.
    assert.equal((await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('x')))).taskDefinition?.revision, 1);
  });
});

test('Deregister and delete task definitions; revisions are never reused', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')));
    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')));
    const noRevision = await rejection(ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web' })));
    assert.equal(noRevision.name, 'ClientException');

    const active = await ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['web:1'] }));
    assert.equal(active.taskDefinitions?.length, 0);
    assert.match(active.failures?.[0].reason ?? '', /still in ACTIVE status/);

    const dereg = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:1' }));
    assert.equal(dereg.taskDefinition?.status, 'INACTIVE');
    const listed = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web' }));
    assert.deepEqual(listed.taskDefinitionArns, ['arn:aws:ecs:us-east-1:123456789012:task-definition/web:2']);
    const inactive = await ecs.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE' }));
    assert.deepEqual(inactive.taskDefinitionArns, ['arn:aws:ecs:us-east-1:123456789012:task-definition/web:1']);

    const del = await ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['web:1'] }));
    assert.equal(del.taskDefinitions?.[0].status, 'DELETE_IN_PROGRESS');
    // The latest revision is still 2 and the next is 3.
    assert.equal((await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')))).taskDefinition?.revision, 3);
    const gone = await rejection(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:1' })));
    assert.equal(gone.name, 'ClientException');
  });
});

test('pagination with pageSize 1: ListTaskDefinitions and ListServices follow nextToken', async () => {
  await withSandbox({ pageSize: 1 }, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    await ecs.send(new CreateClusterCommand({ clusterName: 'c' }));
    for (const family of ['b', 'a', 'a']) await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput(family)));
    const first = await ecs.send(new ListTaskDefinitionsCommand({ maxResults: 100 }));
    assert.equal(first.taskDefinitionArns?.length, 1);
    assert.ok(first.nextToken);

    const all: string[] = [];
    for await (const page of paginateListTaskDefinitions({ client: ecs }, {})) all.push(...(page.taskDefinitionArns ?? []));
    assert.deepEqual(all.map((a) => a.split('/')[1]), ['a:1', 'a:2', 'b:1']);
    const desc: string[] = [];
    for await (const page of paginateListTaskDefinitions({ client: ecs }, { sort: 'DESC' })) desc.push(...(page.taskDefinitionArns ?? []));
    assert.deepEqual(desc.map((a) => a.split('/')[1]), ['b:1', 'a:2', 'a:1']);

    for (const name of ['s1', 's2', 's3']) {
      await ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: name, taskDefinition: 'a', desiredCount: 0 }));
    }
    const services: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await ecs.send(new ListServicesCommand({ cluster: 'c', nextToken }));
      services.push(...(page.serviceArns ?? []));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    assert.equal(pages, 3);
    assert.deepEqual(services.map((a) => a.split('/').pop()), ['s1', 's2', 's3']);

    const bad = await rejection(ecs.send(new ListServicesCommand({ cluster: 'c', nextToken: 'garbage!' })));
    assert.equal(bad.name, 'InvalidParameterException');
  });
});

test('services: not-found and duplicate errors, UpdateService, DeleteService preconditions and lifecycle', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    const noCluster = await rejection(ecs.send(new CreateServiceCommand({ cluster: 'ghost', serviceName: 's', taskDefinition: 'web', desiredCount: 1 })));
    assert.equal(noCluster.name, 'ClusterNotFoundException');

    await ecs.send(new CreateClusterCommand({ clusterName: 'c' }));
    const noTd = await rejection(ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: 'web', desiredCount: 1 })));
    assert.equal(noTd.name, 'InvalidParameterException');
    assert.equal(noTd.message, 'TaskDefinition not found.');

    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')));
    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')));
    const created = await ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: 'web:1', desiredCount: 2, tags: [{ key: 'k', value: 'v' }] }));
    assert.equal(created.service?.serviceArn, 'arn:aws:ecs:us-east-1:123456789012:service/c/s');
    assert.equal(created.service?.deployments?.[0].status, 'PRIMARY');

    // The same request again is idempotent; a different one conflicts.
    const same = await ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: 'web:1', desiredCount: 2 }));
    assert.equal(same.service?.serviceArn, created.service?.serviceArn);
    const dup = await rejection(ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: 'web:2', desiredCount: 2 })));
    assert.equal(dup.name, 'InvalidParameterException');
    assert.equal(dup.message, 'Creation of service was not idempotent.');

    const described = await ecs.send(new DescribeServicesCommand({ cluster: 'c', services: ['s', 'ghost'], include: ['TAGS'] }));
    assert.deepEqual(described.services?.[0].tags, [{ key: 'k', value: 'v' }]);
    assert.deepEqual(described.failures, [{ arn: 'arn:aws:ecs:us-east-1:123456789012:service/c/ghost', reason: 'MISSING' }]);

    const updated = await ecs.send(new UpdateServiceCommand({ cluster: 'c', service: 's', taskDefinition: 'web:2' }));
    assert.equal(updated.service?.taskDefinition, 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:2');
    assert.equal(updated.service?.deployments?.[0].taskDefinition, updated.service?.taskDefinition);
    const noService = await rejection(ecs.send(new UpdateServiceCommand({ cluster: 'c', service: 'ghost', desiredCount: 1 })));
    assert.equal(noService.name, 'ServiceNotFoundException');

    const scaled = await rejection(ecs.send(new DeleteServiceCommand({ cluster: 'c', service: 's' })));
    assert.equal(scaled.name, 'InvalidParameterException');
    assert.equal(scaled.message, 'The service cannot be stopped while it is scaled above 0.');

    const deleting = await ecs.send(new DeleteServiceCommand({ cluster: 'c', service: 's', force: true }));
    assert.equal(deleting.service?.status, 'DRAINING');
    const notActive = await rejection(ecs.send(new UpdateServiceCommand({ cluster: 'c', service: 's', desiredCount: 1 })));
    assert.equal(notActive.name, 'ServiceNotActiveException');
    // No tasks were running (no container instances), so draining finishes at once.
    const after = await ecs.send(new DescribeServicesCommand({ cluster: 'c', services: ['s'] }));
    assert.equal(after.services?.[0].status, 'INACTIVE');
    assert.deepEqual((await ecs.send(new ListServicesCommand({ cluster: 'c' }))).serviceArns, []);
    // The name is free again.
    const recreated = await ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: 'web', desiredCount: 0 }));
    assert.equal(recreated.service?.status, 'ACTIVE');
  });
});

test('tags on clusters, services and task definitions', async () => {
  await withSandbox({}, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb));
    const cluster = (await ecs.send(new CreateClusterCommand({ clusterName: 'c' }))).cluster!.clusterArn!;
    const td = (await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('web')))).taskDefinition!.taskDefinitionArn!;
    const service = (await ecs.send(new CreateServiceCommand({ cluster: 'c', serviceName: 's', taskDefinition: 'web', desiredCount: 0 }))).service!.serviceArn!;
    for (const arn of [cluster, td, service]) {
      await ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] }));
      await ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'a', value: '3' }] }));
      await ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['b'] }));
      assert.deepEqual((await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, [{ key: 'a', value: '3' }], arn);
    }
    const missing = await rejection(ecs.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/ghost' })));
    assert.equal(missing.name, 'ClusterNotFoundException');
    const invalid = await rejection(ecs.send(new ListTagsForResourceCommand({ resourceArn: 'not-an-arn' })));
    assert.equal(invalid.name, 'InvalidParameterException');
  });
});

test('regions are separate: a cluster in us-east-1 is not visible from eu-west-1', async () => {
  await withSandbox({}, async (sb) => {
    await new ECSClient(clientConfig(sb)).send(new CreateClusterCommand({ clusterName: 'c' }));
    const eu = new ECSClient(clientConfig(sb, { region: 'eu-west-1' }));
    const described = await eu.send(new DescribeClustersCommand({ clusters: ['c'] }));
    assert.deepEqual(described.failures, [{ arn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/c', reason: 'MISSING' }]);
  });
});

test('task definition states: INACTIVE revisions listed, described with their tags, deleted through DELETE_IN_PROGRESS', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const ecs = new ECSClient(clientConfig(sb, { maxAttempts: 1 }));
    const arn = (ref: string) => `arn:aws:ecs:us-east-1:123456789012:task-definition/${ref}`;
    const tags = [{ key: 'ecs-cwlogs:stack', value: 'lab' }];
    for (let i = 0; i < 3; i++) await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('lab-web', { tags })));
    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('lab-webx')));
    await ecs.send(new RegisterTaskDefinitionCommand(taskDefinitionInput('old')));
    for (const ref of ['lab-web:1', 'lab-web:2', 'old:1']) await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: ref }));

    // familyPrefix is a whole family name for ListTaskDefinitions; sort orders revisions.
    assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE', familyPrefix: 'lab-web', sort: 'DESC' }))).taskDefinitionArns, [arn('lab-web:2'), arn('lab-web:1')]);
    assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'lab-web' }))).taskDefinitionArns, [arn('lab-web:3')]);
    // ...and a prefix for ListTaskDefinitionFamilies; INACTIVE families are those without an ACTIVE revision.
    assert.deepEqual((await ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'lab-' }))).families, ['lab-web', 'lab-webx']);
    assert.deepEqual((await ecs.send(new ListTaskDefinitionFamiliesCommand({ status: 'INACTIVE' }))).families, ['old']);
    assert.deepEqual((await ecs.send(new ListTaskDefinitionFamiliesCommand({ status: 'ALL' }))).families, ['lab-web', 'lab-webx', 'old']);
    await rejects(ecs.send(new ListTaskDefinitionsCommand({ status: 'GONE' as never })), 'InvalidParameterException');

    const inactive = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'lab-web:1', include: ['TAGS'] }));
    assert.equal(inactive.taskDefinition?.status, 'INACTIVE');
    assert.ok(inactive.taskDefinition?.deregisteredAt instanceof Date);
    assert.deepEqual(inactive.tags, tags);

    const del = await ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['lab-web:1', arn('lab-web:3'), 'lab-web', 'lab-web:9'] }));
    assert.deepEqual(del.taskDefinitions?.map((t) => [t.taskDefinitionArn, t.status]), [[arn('lab-web:1'), 'DELETE_IN_PROGRESS']]);
    assert.deepEqual(del.failures, [
      { arn: arn('lab-web:3'), reason: 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.' },
      { arn: 'lab-web', reason: 'The specified task definition identifier is invalid. Specify a valid name or ARN and try again.' },
      { arn: arn('lab-web:9'), reason: 'The specified task definition does not exist. Specify a valid account, family, revision and try again.' },
    ]);
    await rejects(ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: [] })), 'InvalidParameterException');
    await rejects(ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: Array.from({ length: 11 }, (_, i) => `x:${i + 1}`) })), 'InvalidParameterException');

    // DELETE_IN_PROGRESS: still listed under that status and described, tags kept; then gone.
    assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ status: 'DELETE_IN_PROGRESS' }))).taskDefinitionArns, [arn('lab-web:1')]);
    const deleting = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'lab-web:1', include: ['TAGS'] }));
    assert.equal(deleting.taskDefinition?.status, 'DELETE_IN_PROGRESS');
    assert.ok(deleting.taskDefinition?.deleteRequestedAt instanceof Date);
    assert.deepEqual(deleting.tags, tags);
    clock.advance(150);
    assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ status: 'DELETE_IN_PROGRESS' }))).taskDefinitionArns, []);
    assert.equal((await rejection(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'lab-web:1' })))).name, 'ClientException');
    assert.deepEqual((await ecs.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE', familyPrefix: 'lab-web' }))).taskDefinitionArns, [arn('lab-web:2')]);
    ecs.destroy();
  });
});
