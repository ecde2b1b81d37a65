/**
 * Elastic Load Balancing v2 through the real SDK client: load balancers (subnets in two zones,
 * provisioning -> active, idempotency, pagination), target groups and attributes, listeners, targets
 * and their health, tags, and AWS's error codes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DescribeImagesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client, RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { ManualClock } from '../../src/sandbox/index.js';
import { clientConfig, elbv2Client, rejects, withSandbox } from './support.js';

async function network(ec2: EC2Client) {
  const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets!;
  const byZone = new Map(subnets.map((s) => [s.AvailabilityZone!, s]));
  const two = [...byZone.values()].slice(0, 2);
  const vpcId = two[0].VpcId!;
  const sg = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: ['default'] }] }))).SecurityGroups![0];
  return { subnets: two, vpcId, sgId: sg.GroupId! };
}

test('load balancers: two zones required, DNS name and ARN, provisioning then active, idempotent create, delete', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'fast', clock }, async (sb) => {
    const ec2 = new EC2Client(clientConfig(sb));
    const elb = await elbv2Client(sb);
    const { subnets, vpcId, sgId } = await network(ec2);

    await rejects(elb.createLoadBalancer({ Name: 'web', Subnets: [subnets[0].SubnetId!] }), 'ValidationError', /At least two subnets in two different Availability Zones must be specified/);
    await rejects(elb.createLoadBalancer({ Name: 'web', Subnets: [subnets[0].SubnetId!, 'subnet-0123456789abcdef0'] }), 'SubnetNotFoundException');
    await rejects(elb.createLoadBalancer({ Name: 'internal-web', Subnets: subnets.map((s) => s.SubnetId!) }), 'ValidationError');

    const created = await elb.createLoadBalancer({ Name: 'web', Subnets: subnets.map((s) => s.SubnetId!), SecurityGroups: [sgId], Tags: [{ Key: 'app', Value: 'httpd' }] });
    const lb = created.LoadBalancers![0];
    assert.match(lb.LoadBalancerArn!, /^arn:aws:elasticloadbalancing:us-east-1:\d{12}:loadbalancer\/app\/web\/[0-9a-f]{16}$/);
    assert.match(lb.DNSName!, /^web-\d+\.us-east-1\.elb\.amazonaws\.com$/);
    assert.equal(lb.State!.Code, 'provisioning');
    assert.equal(lb.VpcId, vpcId);
    assert.deepEqual(lb.AvailabilityZones!.map((z) => z.SubnetId).sort(), subnets.map((s) => s.SubnetId).sort());

    // Same name and settings: the same load balancer; other settings: DuplicateLoadBalancerName.
    const again = await elb.createLoadBalancer({ Name: 'web', Subnets: subnets.map((s) => s.SubnetId!), SecurityGroups: [sgId] });
    assert.equal(again.LoadBalancers![0].LoadBalancerArn, lb.LoadBalancerArn);
    await rejects(elb.createLoadBalancer({ Name: 'web', Subnets: subnets.map((s) => s.SubnetId!), Scheme: 'internal' }), 'DuplicateLoadBalancerNameException');

    clock.advance(1000);
    const described = await elb.describeLoadBalancers({ Names: ['web'] });
    assert.equal(described.LoadBalancers![0].State!.Code, 'active');
    await rejects(elb.describeLoadBalancers({ Names: ['nope'] }), 'LoadBalancerNotFoundException');

    await elb.createLoadBalancer({ Name: 'web2', Subnets: subnets.map((s) => s.SubnetId!) });
    const first = await elb.describeLoadBalancers({ PageSize: 1 });
    assert.equal(first.LoadBalancers!.length, 1);
    assert.ok(first.NextMarker);
    const second = await elb.describeLoadBalancers({ PageSize: 1, Marker: first.NextMarker });
    assert.equal(second.LoadBalancers![0].LoadBalancerName, 'web2');
    assert.equal(second.NextMarker, undefined);

    const tags = await elb.describeTags({ ResourceArns: [lb.LoadBalancerArn!] });
    assert.deepEqual(tags.TagDescriptions![0].Tags, [{ Key: 'app', Value: 'httpd' }]);

    await elb.deleteLoadBalancer({ LoadBalancerArn: lb.LoadBalancerArn! });
    await rejects(elb.describeLoadBalancers({ LoadBalancerArns: [lb.LoadBalancerArn!] }), 'LoadBalancerNotFoundException');
  });
});

test('target groups, listeners, attributes and tags: duplicates, in-use, freed by deleting the load balancer', async () => {
  await withSandbox({}, async (sb) => {
    const ec2 = new EC2Client(clientConfig(sb));
    const elb = await elbv2Client(sb);
    const { subnets, vpcId } = await network(ec2);
    const lb = (await elb.createLoadBalancer({ Name: 'web', Subnets: subnets.map((s) => s.SubnetId!) })).LoadBalancers![0];

    const tg = (await elb.createTargetGroup({ Name: 'httpd', Protocol: 'HTTP', Port: 80, VpcId: vpcId, HealthCheckPath: '/health', Matcher: { HttpCode: '200-299' } })).TargetGroups![0];
    assert.match(tg.TargetGroupArn!, /:targetgroup\/httpd\/[0-9a-f]{16}$/);
    assert.equal(tg.HealthCheckIntervalSeconds, 30);
    assert.equal(tg.HealthyThresholdCount, 5);
    assert.equal(tg.HealthCheckPort, 'traffic-port');
    assert.deepEqual(tg.LoadBalancerArns, []);
    const same = await elb.createTargetGroup({ Name: 'httpd', Protocol: 'HTTP', Port: 80, VpcId: vpcId, HealthCheckPath: '/health', Matcher: { HttpCode: '200-299' } });
    assert.equal(same.TargetGroups![0].TargetGroupArn, tg.TargetGroupArn);
    await rejects(elb.createTargetGroup({ Name: 'httpd', Protocol: 'HTTP', Port: 8080, VpcId: vpcId }), 'DuplicateTargetGroupNameException', /same name 'httpd' exists, but with different settings/);

    const attrs = await elb.describeTargetGroupAttributes({ TargetGroupArn: tg.TargetGroupArn! });
    assert.equal(attrs.Attributes!.find((a) => a.Key === 'deregistration_delay.timeout_seconds')!.Value, '300');
    await elb.modifyTargetGroupAttributes({ TargetGroupArn: tg.TargetGroupArn!, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '10' }] });
    const modified = await elb.describeTargetGroupAttributes({ TargetGroupArn: tg.TargetGroupArn! });
    assert.equal(modified.Attributes!.find((a) => a.Key === 'deregistration_delay.timeout_seconds')!.Value, '10');
    const mtg = await elb.modifyTargetGroup({ TargetGroupArn: tg.TargetGroupArn!, HealthCheckIntervalSeconds: 10, HealthyThresholdCount: 2 });
    assert.equal(mtg.TargetGroups![0].HealthCheckIntervalSeconds, 10);

    const listener = (await elb.createListener({ LoadBalancerArn: lb.LoadBalancerArn!, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn! }] })).Listeners![0];
    assert.match(listener.ListenerArn!, new RegExp(`:listener/app/web/${lb.LoadBalancerArn!.split('/').pop()}/[0-9a-f]{16}$`));
    const tg2 = (await elb.createTargetGroup({ Name: 'other', Protocol: 'HTTP', Port: 80, VpcId: vpcId })).TargetGroups![0];
    await rejects(elb.createListener({ LoadBalancerArn: lb.LoadBalancerArn!, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg2.TargetGroupArn! }] }), 'DuplicateListenerException');
    const listed = await elb.describeListeners({ LoadBalancerArn: lb.LoadBalancerArn! });
    assert.equal(listed.Listeners!.length, 1);
    assert.deepEqual((await elb.describeTargetGroups({ TargetGroupArns: [tg.TargetGroupArn!] })).TargetGroups![0].LoadBalancerArns, [lb.LoadBalancerArn]);

    await rejects(elb.deleteTargetGroup({ TargetGroupArn: tg.TargetGroupArn! }), 'ResourceInUseException', /is currently in use by a listener or a rule/);
    await elb.modifyListener({ ListenerArn: listener.ListenerArn!, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg2.TargetGroupArn! }] });
    await elb.deleteTargetGroup({ TargetGroupArn: tg.TargetGroupArn! });
    await rejects(elb.describeTargetGroups({ TargetGroupArns: [tg.TargetGroupArn!] }), 'TargetGroupNotFoundException');

    await elb.addTags({ ResourceArns: [tg2.TargetGroupArn!], Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }] });
    await elb.removeTags({ ResourceArns: [tg2.TargetGroupArn!], TagKeys: ['a'] });
    assert.deepEqual((await elb.describeTags({ ResourceArns: [tg2.TargetGroupArn!] })).TagDescriptions![0].Tags, [{ Key: 'b', Value: '2' }]);

    // Deleting the load balancer frees its listeners, and so the target group.
    await rejects(elb.deleteTargetGroup({ TargetGroupArn: tg2.TargetGroupArn! }), 'ResourceInUseException');
    await elb.deleteLoadBalancer({ LoadBalancerArn: lb.LoadBalancerArn! });
    await rejects(elb.describeListeners({ ListenerArns: [listener.ListenerArn!] }), 'ListenerNotFoundException');
    await elb.deleteTargetGroup({ TargetGroupArn: tg2.TargetGroupArn! });
  });
});

test('targets: unused until a listener forwards, unhealthy with nothing answering, draining after deregistration, InvalidTarget', async () => {
  await withSandbox({}, async (sb) => {
    const ec2 = new EC2Client(clientConfig(sb));
    const elb = await elbv2Client(sb);
    const { subnets, vpcId } = await network(ec2);
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] }, { Name: 'architecture', Values: ['x86_64'] }] }));
    const run = await ec2.send(new RunInstancesCommand({ ImageId: images.Images![0].ImageId!, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnets[0].SubnetId }));
    const instanceId = run.Instances![0].InstanceId!;

    const tg = (await elb.createTargetGroup({ Name: 'httpd', Protocol: 'HTTP', Port: 80, VpcId: vpcId })).TargetGroups![0];
    await rejects(elb.registerTargets({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: 'i-0123456789abcdef0' }] }), 'InvalidTargetException');
    await elb.registerTargets({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: instanceId, Port: 32768 }] });
    let h = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! });
    assert.equal(h.TargetHealthDescriptions![0].TargetHealth!.State, 'unused');
    assert.equal(h.TargetHealthDescriptions![0].TargetHealth!.Reason, 'Target.NotInUse');
    assert.equal(h.TargetHealthDescriptions![0].HealthCheckPort, '32768');

    const lb = (await elb.createLoadBalancer({ Name: 'web', Subnets: subnets.map((s) => s.SubnetId!) })).LoadBalancers![0];
    await elb.createListener({ LoadBalancerArn: lb.LoadBalancerArn!, Protocol: 'HTTP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.TargetGroupArn! }] });
    h = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! });
    // Nothing listens on the port: health checks fail.
    assert.equal(h.TargetHealthDescriptions![0].TargetHealth!.State, 'unhealthy');
    assert.equal(h.TargetHealthDescriptions![0].TargetHealth!.Reason, 'Target.FailedHealthChecks');

    const other = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: instanceId, Port: 8080 }] });
    assert.equal(other.TargetHealthDescriptions![0].TargetHealth!.Reason, 'Target.NotRegistered');

    // Without Port the target group's port is meant: the target on 32768 stays; an unregistered target is ignored.
    await elb.deregisterTargets({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: instanceId }] });
    assert.equal((await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! })).TargetHealthDescriptions!.length, 1);
    await elb.deregisterTargets({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: instanceId, Port: 32768 }] });
    h = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! });
    // Latency 'none' scales the 300 s delay to nothing: the target is gone at the next request.
    assert.equal(h.TargetHealthDescriptions!.length, 0);

    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await rejects(elb.registerTargets({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: instanceId }] }), 'InvalidTargetException', /not in a running state/);
  });
});

test('targets drain for the deregistration delay (scaled by the latency profile)', async () => {
  const clock = new ManualClock();
  await withSandbox({ latency: 'realistic', clock }, async (sb) => {
    const ec2 = new EC2Client(clientConfig(sb));
    const elb = await elbv2Client(sb);
    const { subnets, vpcId } = await network(ec2);
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-ecs-hvm-*'] }, { Name: 'architecture', Values: ['x86_64'] }] }));
    const run = await ec2.send(new RunInstancesCommand({ ImageId: images.Images![0].ImageId!, InstanceType: 't3.small', MinCount: 1, MaxCount: 1, SubnetId: subnets[0].SubnetId }));
    clock.advance(60_000);
    const instanceId = run.Instances![0].InstanceId!;
    const tg = (await elb.createTargetGroup({ Name: 'httpd', Protocol: 'HTTP', Port: 80, VpcId: vpcId })).TargetGroups![0];
    await elb.registerTargets({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: instanceId }] });
    await elb.deregisterTargets({ TargetGroupArn: tg.TargetGroupArn!, Targets: [{ Id: instanceId }] });
    let h = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! });
    assert.equal(h.TargetHealthDescriptions![0].TargetHealth!.State, 'draining');
    assert.equal(h.TargetHealthDescriptions![0].TargetHealth!.Reason, 'Target.DeregistrationInProgress');
    clock.advance(300_000);
    h = await elb.describeTargetHealth({ TargetGroupArn: tg.TargetGroupArn! });
    assert.equal(h.TargetHealthDescriptions!.length, 0);
  });
});
