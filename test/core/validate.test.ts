import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v from '../../src/core/validate.js';
import { diff, normalise } from '../../src/core/diff.js';

test('region accepts real region codes and rejects the rest', () => {
  for (const r of ['us-east-1', 'eu-west-2', 'ap-southeast-4', 'us-gov-west-1', 'il-central-1', 'eusc-de-east-1', 'us-isob-east-1']) assert.equal(v.region(r), r);
  for (const r of ['us-east', 'US-EAST-1', 'us-east-99x', 'moon_base-1', '']) assert.throws(() => v.region(r), v.ValidationFailure);
});

test('ECS names: up to 255 letters, digits, hyphens and underscores', () => {
  assert.equal(v.ecsName('cluster name')('A'.repeat(255)), 'A'.repeat(255));
  assert.throws(() => v.ecsName('cluster name')('A'.repeat(256)), /not a valid cluster name/);
  assert.throws(() => v.ecsName('cluster name')('bad name'), /letters, digits, hyphens and underscores/);
  assert.throws(() => v.ecsName('cluster name')(''), v.ValidationFailure);
});

test('CIDR: IPv4 blocks only, no host bits', () => {
  assert.equal(v.cidr('203.0.113.7/32'), '203.0.113.7/32');
  assert.equal(v.cidr('10.0.0.0/8'), '10.0.0.0/8');
  assert.throws(() => v.cidr('10.0.0.1/8'), /host bits.*10\.0\.0\.0\/8/s);
  for (const c of ['1.2.3.4', '300.1.1.1/32', '1.2.3.4/33', 'a.b.c.d/1']) assert.throws(() => v.cidr(c), v.ValidationFailure);
});

test('instance types: the shape is checked locally (EC2 says which exist), Graviton detected', () => {
  for (const t of ['t3.small', 'm7i-flex.large', 'c5d.xlarge', 'i3en.24xlarge', 'm7g.metal', 'u-6tb1.metal'.replace('u-6tb1', 'x2iedn')]) assert.equal(v.instanceType(t), t);
  for (const t of ['t3', 'T3.SMALL', 't3.humongous', 't3 small', '.small']) assert.throws(() => v.instanceType(t), /not an EC2 instance type/, t);
  assert.equal(v.isArmInstanceType('t4g.small'), true);
  assert.equal(v.isArmInstanceType('c7gn.large'), true);
  assert.equal(v.isArmInstanceType('t3.small'), false);
  assert.equal(v.isArmInstanceType('m7i-flex.large'), false);
});

test('retention days: only the values CloudWatch Logs accepts', () => {
  assert.equal(v.retentionDays('30'), 30);
  assert.throws(() => v.retentionDays('31'), /one of 1, 3, 5/);
});

test('image references', () => {
  for (const ok of ['httpd:2.4', 'user/cloudwatchlogs', '127.0.0.1:5000/cwl:abc', `123456789012.dkr.ecr.us-east-1.amazonaws.com/cwl@sha256:${'a'.repeat(64)}`]) {
    assert.equal(v.imageRef(ok), ok);
  }
  for (const bad of ['Upper/Case', 'a b', 'repo:', '']) assert.throws(() => v.imageRef(bad), v.ValidationFailure);
});

test('normalise then diff ignores key order, nulls and empty lists, and names changed fields', () => {
  assert.deepEqual(normalise({ b: 1, a: [], c: null, d: { z: 2, y: undefined } }), { b: 1, d: { z: 2 } });
  assert.deepEqual(diff({ a: 1, b: { c: 'x' } }, { b: { c: 'x' }, a: 1, e: [] }), []);
  assert.deepEqual(diff({ a: 1, b: { c: 'x' } }, { a: 2, b: { c: 'y' } }), [
    { field: 'a', from: 1, to: 2 },
    { field: 'b.c', from: 'x', to: 'y' },
  ]);
  assert.deepEqual(diff({ l: [1, 2] }, { l: [1, 3] }), [{ field: 'l[1]', from: 2, to: 3 }]);
});
