/**
 * SNS in the sandbox through the real SDK client (Query protocol): idempotent topics, email
 * subscriptions pending confirmation, Publish recorded, tags, and the Tagging API's view of topics
 * and CloudWatch alarms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListTagsForResourceCommand,
  ListTopicsCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
  TagResourceCommand,
  UnsubscribeCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-sns';
import { CloudWatchClient, PutDashboardCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import type { SnsState } from '../../src/sandbox/services/sns.js';
import { clientConfig, rejection, withSandbox } from './support.js';

const ARN = 'arn:aws:sns:us-east-1:123456789012:stack-alarms';

test('SNS: CreateTopic is idempotent by name, email subscriptions stay pending, Publish is recorded', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const sns = new SNSClient(clientConfig(sb, { maxAttempts: 1 }));
    const tags = [{ Key: 'ecs-cwlogs:stack', Value: 'sns-test' }];
    const first = await sns.send(new CreateTopicCommand({ Name: 'stack-alarms', Tags: tags }));
    assert.equal(first.TopicArn, ARN);
    assert.equal((await sns.send(new CreateTopicCommand({ Name: 'stack-alarms' }))).TopicArn, ARN, 'same name, same topic');
    const clash = await rejection(sns.send(new CreateTopicCommand({ Name: 'stack-alarms', Attributes: { DisplayName: 'other' } })));
    assert.equal(clash.name, 'InvalidParameterException');
    assert.match(clash.message, /already exists with different attributes/);
    const badName = await rejection(sns.send(new CreateTopicCommand({ Name: 'has space' })));
    assert.equal(badName.$metadata.httpStatusCode, 400);

    const sub = await sns.send(new SubscribeCommand({ TopicArn: ARN, Protocol: 'email', Endpoint: 'ops@example.com' }));
    assert.equal(sub.SubscriptionArn, 'pending confirmation');
    const again = await sns.send(new SubscribeCommand({ TopicArn: ARN, Protocol: 'email', Endpoint: 'ops@example.com' }));
    assert.equal(again.SubscriptionArn, 'pending confirmation');
    const listed = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: ARN }));
    assert.deepEqual(
      listed.Subscriptions!.map((s) => [s.SubscriptionArn, s.Protocol, s.Endpoint]),
      [['PendingConfirmation', 'email', 'ops@example.com']],
      'one subscription, pending',
    );
    const attrs = await sns.send(new GetTopicAttributesCommand({ TopicArn: ARN }));
    assert.equal(attrs.Attributes!.SubscriptionsPending, '1');
    assert.equal(attrs.Attributes!.SubscriptionsConfirmed, '0');
    assert.equal(attrs.Attributes!.TopicArn, ARN);
    const badEmail = await rejection(sns.send(new SubscribeCommand({ TopicArn: ARN, Protocol: 'email', Endpoint: 'not-an-address' })));
    assert.equal(badEmail.name, 'InvalidParameterException');
    const noTopic = await rejection(sns.send(new SubscribeCommand({ TopicArn: `${ARN}-nope`, Protocol: 'email', Endpoint: 'a@b.co' })));
    assert.equal(noTopic.name, 'NotFoundException');

    // An SQS subscription in the account is confirmed at once: it has an ARN, and can be removed.
    const sqs = await sns.send(new SubscribeCommand({ TopicArn: ARN, Protocol: 'sqs', Endpoint: 'arn:aws:sqs:us-east-1:123456789012:q' }));
    assert.match(sqs.SubscriptionArn!, /^arn:aws:sns:us-east-1:123456789012:stack-alarms:[0-9a-f-]{36}$/);
    await sns.send(new UnsubscribeCommand({ SubscriptionArn: sqs.SubscriptionArn }));
    assert.equal((await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: ARN }))).Subscriptions!.length, 1);

    const pub = await sns.send(new PublishCommand({ TopicArn: ARN, Subject: 'hello', Message: 'the pipeline works' }));
    const published = (sb.world.state.sns as SnsState).published;
    assert.deepEqual(published.map((m) => [m.messageId, m.topicArn, m.subject, m.message]), [[pub.MessageId, ARN, 'hello', 'the pipeline works']]);
    const toNothing = await rejection(sns.send(new PublishCommand({ TopicArn: `${ARN}-nope`, Message: 'x' })));
    assert.equal(toNothing.name, 'NotFoundException');

    await sns.send(new TagResourceCommand({ ResourceArn: ARN, Tags: [{ Key: 'extra', Value: '1' }] }));
    await sns.send(new UntagResourceCommand({ ResourceArn: ARN, TagKeys: ['extra'] }));
    assert.deepEqual((await sns.send(new ListTagsForResourceCommand({ ResourceArn: ARN }))).Tags, tags);
    assert.deepEqual((await sns.send(new ListTopicsCommand({}))).Topics, [{ TopicArn: ARN }]);

    await sns.send(new DeleteTopicCommand({ TopicArn: ARN }));
    await sns.send(new DeleteTopicCommand({ TopicArn: ARN })); // deleting a topic that is gone is no error
    assert.deepEqual((await sns.send(new ListTopicsCommand({}))).Topics, []);
    const gone = await rejection(sns.send(new ListTagsForResourceCommand({ ResourceArn: ARN })));
    assert.equal(gone.$metadata.httpStatusCode, 404);
  });
});

test('the Tagging API lists SNS topics, CloudWatch alarms and dashboards by type', async () => {
  await withSandbox({ latency: 'fast' }, async (sb) => {
    const config = clientConfig(sb, { maxAttempts: 1 });
    const tags = [{ Key: 'ecs-cwlogs:stack', Value: 'tagged' }];
    await new SNSClient(config).send(new CreateTopicCommand({ Name: 'stack-alarms', Tags: tags }));
    const cw = new CloudWatchClient(config);
    await cw.send(new PutMetricAlarmCommand({ AlarmName: 'a', Namespace: 'n', MetricName: 'm', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', Tags: tags }));
    await cw.send(new PutDashboardCommand({ DashboardName: 'd', DashboardBody: '{"widgets":[]}', Tags: tags }));
    const tagging = new ResourceGroupsTaggingAPIClient(config);
    const arns = async (types?: string[]) =>
      (await tagging.send(new GetResourcesCommand({ TagFilters: [{ Key: 'ecs-cwlogs:stack', Values: ['tagged'] }], ResourceTypeFilters: types }))).ResourceTagMappingList!.map((r) => r.ResourceARN);
    assert.deepEqual(await arns(), ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:a', 'arn:aws:cloudwatch::123456789012:dashboard/d', ARN].sort());
    assert.deepEqual(await arns(['sns:topic']), [ARN]);
    assert.deepEqual(await arns(['cloudwatch:alarm']), ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:a']);
  });
});
