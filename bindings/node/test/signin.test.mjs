// Sign-in for clients without OAuth (issue 19, docs/sign-in.md) in Node: runMcpServerWithOAuth
// with a protectedByAuthSec tool, the fixture as the authorization server: oauth_start, the
// authorization request followed as a browser does, the callback page, tools/list on the same
// MCP session (per RBAC), the protected tool with args._user_info, oauth_logout.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';

import { protectedByAuthSec, runMcpServerWithOAuth } from '../index.js';
import { startFixture } from './fixture.mjs';

let fx;
const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
before(async () => { fx = await startFixture(); });
after(async () => { await fx.stop(); });

const profile = protectedByAuthSec({ toolName: 'get_profile', description: 'Who am I' },
  async (args) => ({ content: [{ type: 'text', text: JSON.stringify({ email: args._user_info.email, roles: args._user_info.roles }) }] }));
const billing = protectedByAuthSec({ toolName: 'billing', roles: ['finance'] }, async () => ({ content: [{ type: 'text', text: 'billing' }] }));

test('sign-in through the oauth_* tools', async () => {
  const port = await freePort();
  const server = await runMcpServerWithOAuth({
    tools: [profile, billing], clientId: 'mcp-client', appName: 'Node quickstart', port,
    config: { issuer: fx.base, jwksUrl: `${fx.base}/jwks`, resourceUri: `http://127.0.0.1:${port}/`, signIn: { scopes: ['openid'] } },
  });
  try {
    let mcpSession;
    let n = 0;
    const rpc = async (method, params) => {
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      if (mcpSession) headers['mcp-session-id'] = mcpSession;
      const r = await fetch(server.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: ++n, method, params }) });
      if (r.headers.get('mcp-session-id')) mcpSession = r.headers.get('mcp-session-id');
      return r.json();
    };
    const doc = (answer) => JSON.parse(answer.result.content[0].text);
    await rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } });
    assert.ok(mcpSession);
    const names = async () => (await rpc('tools/list', {})).result.tools.map((t) => t.name).sort();
    assert.deepEqual(await names(), ['oauth_authenticate', 'oauth_logout', 'oauth_start', 'oauth_status', 'oauth_user_info']);
    const started = doc(await rpc('tools/call', { name: 'oauth_start', arguments: {} }));
    const auth = await fetch(started.authorization_url, { redirect: 'manual' });
    assert.equal(auth.status, 302);
    const page = await fetch(auth.headers.get('location'));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /You are signed in to Node quickstart/);
    assert.deepEqual(await names(), ['get_profile']);
    const me = doc(await rpc('tools/call', { name: 'get_profile', arguments: { session_id: started.session_id } }));
    assert.deepEqual(me, { email: 'signin-user@example.com', roles: ['admin'] });
    const denied = await rpc('tools/call', { name: 'billing', arguments: { session_id: started.session_id } });
    assert.equal(denied.result.isError, true);
    const out = doc(await rpc('tools/call', { name: 'oauth_logout', arguments: { session_id: [started.session_id] } }));
    assert.equal(out.logged_out, true);
    assert.equal((await names()).length, 5);
  } finally {
    await server.close();
  }
});
