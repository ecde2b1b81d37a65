/**
 * Monitoring in the plan's cost line (core/pricing.ts): its list price, the free tier noted, gone
 * with --no-monitoring, nothing in a rehearsal; and the monitoring settings' validation and the
 * rule that only what the user gave is saved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costSentence, monitoringMonthly } from '../../src/core/pricing.js';
import { resolveSettings } from '../../src/core/resolve.js';
import { withUserSettings } from '../../src/core/config.js';

const base = { instanceType: 't3.small', instances: 1, loadBalancer: false };

test('the plan prices monitoring: 5 metrics, 3 alarm metrics, 1 dashboard, $0 within the free tier; not with --no-monitoring; nothing in a rehearsal', () => {
  assert.equal(monitoringMonthly().toFixed(2), '4.80');
  const on = costSentence({ ...base, monitoring: true }, 2, false);
  assert.match(on, /Monitoring: 5 custom metrics \(\$1\.50\), 2 alarms reading 3 metrics \(\$0\.30\) and 1 dashboard \(\$3\.00\): ~\$4\.80\/month at list prices, \$0 within CloudWatch's free tier \(10 custom metrics, 10 alarm metrics, 3 dashboards/);
  assert.doesNotMatch(on, /alarm emails/);
  assert.match(costSentence({ ...base, monitoring: true, alarmEmail: 'a@example.com' }, 2, false), /alarm emails are free up to 1,000 a month/);
  assert.doesNotMatch(costSentence({ ...base, monitoring: false }, 2, false), /Monitoring/);
  assert.doesNotMatch(costSentence({ ...base, monitoring: true }, 2, true), /Monitoring/);
});

test('monitoring settings: defaults on, 5 % and 10 lines; flags parsed; none of the defaults is saved', () => {
  const d = resolveSettings({ flags: {}, env: {} });
  assert.equal(d.config.monitoring, true);
  assert.equal(d.config.alarm5xxPercent, 5);
  assert.equal(d.config.alarmErrorLines, 10);
  assert.equal(d.config.alarmEmail, undefined);
  const given = resolveSettings({ flags: { monitoring: 'false', alarmEmail: 'ops@example.com', alarm5xxPercent: '2.5' }, env: { ECS_CWLOGS_ALARM_ERROR_LINES: '20' } });
  assert.deepEqual([given.config.monitoring, given.config.alarmEmail, given.config.alarm5xxPercent, given.config.alarmErrorLines], [false, 'ops@example.com', 2.5, 20]);
  const target = { kind: 'sandbox' as const, account: '123456789012', region: 'us-east-1' };
  const saved = JSON.stringify(withUserSettings('s', target, d, undefined));
  assert.doesNotMatch(saved, /monitoring|alarm/);
  const savedGiven = JSON.stringify(withUserSettings('s', target, given, undefined));
  assert.match(savedGiven, /"monitoring":false/);
  assert.match(savedGiven, /"alarmEmail":"ops@example.com"/);
});
