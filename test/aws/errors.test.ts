/**
 * Endpoint errors name the setting of the service whose call failed: with per-service variables
 * (AWS_ENDPOINT_URL_<SERVICE>), the STS one decides only STS's calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointOrigin } from '../../src/aws/endpoints.js';
import { setEndpointOrigin, toCliError } from '../../src/aws/errors.js';

function netError(code: string, at: { hostname?: string; address?: string; port?: number }): Error {
  return Object.assign(new Error(`${code} ${at.hostname ?? at.address}`), { code, ...at });
}

test('a service without its AWS_ENDPOINT_URL_<SERVICE> (STS has one): the error names the missing variable', () => {
  const env = { AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:4566' };
  setEndpointOrigin(endpointOrigin({ serviceEnvId: 'STS', env }), (id) => endpointOrigin({ serviceEnvId: id, env }));
  try {
    for (const [host, variable] of [
      ['sns.us-east-1.amazonaws.com', 'AWS_ENDPOINT_URL_SNS'],
      ['monitoring.us-east-1.amazonaws.com', 'AWS_ENDPOINT_URL_CLOUDWATCH'],
      ['logs.us-east-1.amazonaws.com', 'AWS_ENDPOINT_URL_CLOUDWATCH_LOGS'],
    ]) {
      const e = toCliError(netError('ENOTFOUND', { hostname: host }), 'Creating the alarms');
      const text = `${e.message}\n${(e as { fix?: string }).fix ?? ''}`;
      assert.match(text, new RegExp(`Cannot reach AWS \\(${host.replace(/\./g, '\\.')}\\)`), host);
      assert.match(text, new RegExp(`${variable} is not set`), host);
      assert.doesNotMatch(text, /unset AWS_ENDPOINT_URL_STS/, host);
    }
    // STS's own call still names STS's variable.
    const sts = toCliError(netError('ECONNREFUSED', { address: '127.0.0.1', port: 4566 }), 'Checking your AWS identity');
    assert.match(`${sts.message}\n${(sts as { fix?: string }).fix}`, /\(from AWS_ENDPOINT_URL_STS\)[\s\S]*unset AWS_ENDPOINT_URL_STS/);
  } finally {
    setEndpointOrigin(undefined);
  }
});
