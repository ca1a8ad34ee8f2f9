// Service credentials (issue 19): the seed's ServiceAccessSDK, camelCase, over the core's
// services API client, against the fixture backend's /services/* endpoints: the fields, the
// token, the user details, secrets out of JSON and inspect, and the errors a caller sees.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, test } from 'node:test';

import { Runtime, ServiceAccessSDK } from '../index.js';
import { startFixture } from './fixture.mjs';

let fx;
before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx.stop();
});

const GITHUB = {
  service_id: 'svc-1', service_name: 'github', service_type: 'github', auth_type: 'oauth2',
  url: 'https://api.github.com', credentials: { access_token: 'gho-node-secret-1' },
  metadata: { org: 'acme' }, retrieved_at: '2026-12-01T10:00:00Z',
};

function runtime() {
  return Runtime.create({
    issuer: fx.base, jwksUrl: `${fx.base}/jwks`, resourceUri: 'https://mcp.example.com/mcp',
    servicesUrl: `${fx.base}/services`,
  });
}

test('the seed calls, camelCase', async () => {
  await fx.control('POST', '/_control/reset', JSON.stringify({
    services: { 'sess-node github': { credentials: GITHUB, user_details: { login: 'octo' } } },
  }));
  const rt = runtime();
  const sdk = new ServiceAccessSDK({ sessionId: 'sess-node' }, rt);
  const c = await sdk.getServiceCredentials('github');
  assert.deepEqual({ ...c }, {
    serviceId: 'svc-1', serviceName: 'github', serviceType: 'github', authType: 'oauth2',
    url: 'https://api.github.com', metadata: { org: 'acme' }, retrievedAt: '2026-12-01T10:00:00Z',
  });
  assert.deepEqual(c.credentials, { access_token: 'gho-node-secret-1' });
  for (const shown of [JSON.stringify(c), inspect(c), `${JSON.stringify({ c })}`]) {
    assert.ok(!shown.includes('gho-node-secret-1'), shown);
  }
  assert.ok(JSON.stringify(c).includes('"credentials":"<redacted: access_token>"'));
  assert.equal(await sdk.getServiceToken('github'), 'gho-node-secret-1');
  assert.deepEqual(await new ServiceAccessSDK({ session_id: 'sess-node' }, rt).getServiceUserDetails('github'), { login: 'octo' });
  rt.close();
});

test('errors a caller sees', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const rt = runtime();
  await assert.rejects(new ServiceAccessSDK({ sessionId: 'sess-node' }, rt).getServiceToken('gitlab'),
    { code: 'services_error', message: 'services API returned HTTP 404' });
  await assert.rejects(new ServiceAccessSDK({ sessionId: '' }, rt).getServiceCredentials('github'),
    { code: 'invalid_input', message: 'session_id and service_name are required' });
  assert.throws(() => new ServiceAccessSDK({ user: 'x' }, rt), { name: 'TypeError', message: 'Session must contain session_id' });
  assert.throws(() => new ServiceAccessSDK({ sessionId: 's' }, {}), { code: 'invalid_input' });
  rt.close();
});
