// RBAC (issue 16, docs/rbac.md): protectedByAuthSec and toolRbac, the core's decisions and its
// user_info through protect() over node:http, and the wrapper's refusal without a caller.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import { Runtime, protect, protectedByAuthSec, toolRbac } from '../index.js';
import { startFixture } from './fixture.mjs';

const RESOURCE = 'https://mcp.example.com/mcp';
let fx;

before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx.stop();
});

async function mint(claims) {
  const now = Math.floor(Date.now() / 1000);
  const answer = await fx.control('POST', '/_control/mint', JSON.stringify({
    kid: 'rsa-1',
    claims: { iss: fx.base, aud: RESOURCE, sub: 'user-1', exp: now + 3600, ...claims },
  }));
  return answer.token;
}

const deploy = protectedByAuthSec(
  { toolName: 'deploy_production', roles: ['admin', 'deployer'], scopes: ['write'], resources: ['production'], requireAll: true },
  async (args) => ({ content: [{ type: 'text', text: `deployed by ${args._user_info.email}` }] }),
);
const dashboard = protectedByAuthSec({ toolName: 'admin_dashboard', roles: ['admin'] }, async (args, extra) => ({
  content: [{ type: 'text', text: `${args._user_info.email} ${extra.authInfo.clientId}` }],
}));

test('toolRbac builds the core table; options are checked', () => {
  assert.deepEqual(toolRbac(deploy, [dashboard]), {
    deploy_production: { roles: ['admin', 'deployer'], groups: [], resources: ['production'], scopes: ['write'], permissions: [], require_all: true },
    admin_dashboard: { roles: ['admin'], groups: [], resources: [], scopes: [], permissions: [], require_all: false },
  });
  assert.throws(() => protectedByAuthSec({ toolName: 'x', rolez: [] }, () => {}), { code: 'invalid_input' });
  assert.throws(() => protectedByAuthSec({ toolName: 'x', roles: [''] }, () => {}), { code: 'invalid_input' });
  assert.throws(() => protectedByAuthSec({ toolName: ' ' }, () => {}), { code: 'invalid_input' });
  assert.throws(() => toolRbac(() => {}), { code: 'invalid_input' });
});

test('without an authenticated caller the wrapper refuses and never runs the handler', async () => {
  let ran = false;
  const t = protectedByAuthSec({ toolName: 't' }, async () => { ran = true; });
  const out = await t({}, {});
  assert.equal(ran, false);
  assert.equal(out.isError, true);
  assert.deepEqual(JSON.parse(out.content[0].text), {
    error: 'Access denied', message: 'no authenticated AuthSec caller: serve this tool behind mountMcp or protect', tool: 't',
  });
});

test('behind protect(): the core denies with the RBAC reason, the allowed tool gets _user_info', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const rt = Runtime.create({ issuer: fx.base, jwksUrl: `${fx.base}/jwks`, resourceUri: RESOURCE, toolRbac: toolRbac(deploy, dashboard) });
  const tools = { deploy_production: deploy, admin_dashboard: dashboard };
  await rt.startup();
  const server = createServer(protect(async (req, res, body) => {
    const out = await tools[body.params.name](body.params.arguments, { authInfo: req.auth });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: out }));
  }, { runtime: rt }));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/mcp`;
  const token = await mint({ email: 'dev@example.com', roles: ['admin', 'developer'], scope: 'read write', resources: ['projects'] });
  const post = (tool) => fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: tool, arguments: {} } }),
  });
  try {
    const ok = await (await post('admin_dashboard')).json();
    assert.equal(ok.result.content[0].text, 'dev@example.com user-1');
    const denied = await (await post('deploy_production')).json();
    assert.equal(denied.result.isError, true);
    assert.deepEqual(denied.result._meta.authsec, {
      error: 'insufficient_scope', status: 403, error_description: 'RBAC denied: missing required resources', tool: 'deploy_production',
    });
  } finally {
    server.close();
    rt.close();
  }
});
