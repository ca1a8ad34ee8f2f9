// The audit trail and metrics through the JavaScript API: onAudit receives the core's lines in
// order on the JS thread, flushAudit resolves after they ran, a throwing callback loses only its
// line, metrics() is the core's Prometheus text, and every misuse is a typed error.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ErrorCode, METRICS_CONTENT_TYPE, Runtime } from '../index.js';

const config = {
  issuer: 'https://as.example.com',
  jwksUrl: 'https://as.example.com/jwks',
  resourceUri: 'https://mcp.example.com/mcp',
  toolScopes: { list_issues: ['issues:read'] },
};

function deny(rt, id) {
  const d = rt.check({
    method: 'POST',
    path: '/mcp',
    headers: { 'x-request-id': `r-${id}` },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'list_issues' } }),
  });
  assert.equal(d.kind, 'respond');
  assert.equal(d.status, 401);
}

test('onAudit gets every line in order; flushAudit waits for them', async () => {
  const rt = Runtime.create(config);
  const lines = [];
  const second = [];
  rt.onAudit((l) => lines.push(l));
  rt.onAudit((l) => {
    second.push(l);
    throw new Error('a broken callback loses its line only');
  });
  for (let id = 1; id <= 5; id++) deny(rt, id);
  assert.equal(await rt.flushAudit(), true);
  assert.equal(lines.length, 5);
  assert.equal(second.length, 5);
  lines.forEach((l, i) => {
    assert.ok(l.endsWith('\n'));
    const e = JSON.parse(l);
    assert.equal(e.v, 1);
    assert.equal(e.type, 'decision');
    assert.equal(e.rpc_id, i + 1);
    assert.equal(e.http_request_id, `r-${i + 1}`);
    assert.equal(e.reason, 'no_token');
  });
  deny(rt, 6);
  assert.equal(await rt.flushAudit(1000), true);
  assert.equal(lines.length, 6);
  const m = rt.metrics();
  assert.match(m, /^authsec_decisions_total\{outcome="deny",reason="no_token"\} 6$/m);
  assert.match(m, /^authsec_audit_events_total 6$/m);
  assert.equal(METRICS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  rt.close();
});

test('audit misuse is a typed error', async () => {
  const rt = Runtime.create({ ...config, auditSampleAllowed: 1 });
  assert.throws(() => rt.onAudit('not a function'), { code: ErrorCode.INVALID_INPUT });
  await assert.rejects(rt.flushAudit(-1), { code: ErrorCode.INVALID_INPUT });
  assert.equal(await rt.flushAudit(), true, 'no callback: completes at once');
  rt.close();
  assert.throws(() => rt.metrics(), { code: ErrorCode.INVALID_INPUT });
  assert.throws(() => rt.onAudit(() => {}), { code: ErrorCode.INVALID_INPUT });
  await assert.rejects(rt.flushAudit(), { code: ErrorCode.INVALID_INPUT });
  assert.throws(() => Runtime.create({ ...config, auditSampleAllowed: 2 }), {
    code: ErrorCode.CONFIG_INVALID,
    message: 'audit_sample_allowed must be between 0 and 1',
  });
});
