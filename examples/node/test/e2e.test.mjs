// End to end: oidc-provider (tests/interop/oidc/as.mjs) issues real tokens; the example MCP server
// (server.mjs: McpServer + StreamableHTTPServerTransport behind mountMcp) checks them; the
// official MCP SDK Client drives it over StreamableHTTPClientTransport with bearer tokens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = resolve(HERE, '..');
const AS_DIR = resolve(HERE, '../../../tests/interop/oidc');
const TOOL_SCOPES = { list_issues: ['mcp:read'], create_issue: ['mcp:write'], delete_issue: ['mcp:admin'] };

const children = [];

/** Spawn a node process, wait for its `READY <url>` line; it is killed in after(). */
async function startNode(script, cwd, env) {
  const child = spawn(process.execPath, [script], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${script}: no READY in 30 s; stderr: ${stderr}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${script} exited (${code}) before READY; stderr: ${stderr}`));
    });
    lines.on('line', (line) => {
      const m = /^READY (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  child.removeAllListeners('exit');
  return { url, child, stderr: () => stderr };
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

let issuer;
let jwtServer; // the example in JWT mode
let introspectServer; // the example in introspection mode
let resource;
let resource2;
let blogServer; // blog.mjs: the blog's protectedByAuthSec tools
let blogResource;

async function token(client, scope, res = resource) {
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: res }),
  });
  const body = await r.json();
  assert.ok(body.access_token, `no token for ${client}: ${JSON.stringify(body)}`);
  return body.access_token;
}

async function connect(url, bearer) {
  const client = new Client({ name: 'authsec-e2e', version: '1.0.0' });
  const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
  return client;
}

before(async () => {
  const [port, port2, port3] = [await freePort(), await freePort(), await freePort()];
  resource = `http://127.0.0.1:${port}/mcp`;
  resource2 = `http://127.0.0.1:${port2}/mcp`;
  blogResource = `http://127.0.0.1:${port3}/mcp`;
  const as = await startNode('as.mjs', AS_DIR, { MCP_RESOURCES: `${resource},${resource2},${blogResource}` });
  issuer = as.url;
  blogServer = await startNode('blog.mjs', EXAMPLE, {
    PORT: String(port3), AUTHSEC_ISSUER: issuer, AUTHSEC_JWKS_URL: `${issuer}/jwks`, AUTHSEC_RESOURCE_URI: blogResource,
  });
  const common = {
    AUTHSEC_ISSUER: issuer,
    AUTHSEC_TOOL_SCOPES_JSON: JSON.stringify(TOOL_SCOPES),
    AUTHSEC_POLICY_MODE: 'local_only',
    AUTHSEC_SUPPORTED_SCOPES: 'mcp:read mcp:write mcp:admin',
  };
  jwtServer = await startNode('server.mjs', EXAMPLE, {
    ...common,
    PORT: String(port),
    AUTHSEC_RESOURCE_URI: resource,
    AUTHSEC_JWKS_URL: `${issuer}/jwks`,
  });
  introspectServer = await startNode('server.mjs', EXAMPLE, {
    ...common,
    PORT: String(port2),
    AUTHSEC_RESOURCE_URI: resource2,
    AUTHSEC_INTROSPECTION_URL: `${issuer}/token/introspection`,
    AUTHSEC_INTROSPECTION_CLIENT_ID: 'mcp-rs',
    AUTHSEC_INTROSPECTION_CLIENT_SECRET: 'mcp-rs-secret',
    AUTHSEC_VALIDATION_MODE: 'introspection_only',
  });
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
});

test('tools/list shows only the permitted tools; a permitted call succeeds with the principal', async () => {
  const reader = await connect(jwtServer.url, await token('mcp-rs256', 'mcp:read'));
  try {
    const { tools } = await reader.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['list_issues']);
    const r = await reader.callTool({ name: 'list_issues', arguments: {} });
    assert.notEqual(r.isError, true);
    const v = JSON.parse(r.content[0].text);
    assert.equal(v.caller, 'mcp-rs256', 'the handler sees req.auth (AuthInfo.clientId)');
    assert.equal(v.issues[0].title, 'Login page is slow');
  } finally {
    await reader.close();
  }
  // The transport answered over SSE: the stream was filtered event by event.
  const raw = await fetch(`${jwtServer.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await token('mcp-eddsa', 'mcp:read')}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
  });
  assert.match(raw.headers.get('content-type'), /^text\/event-stream/);
  const events = (await raw.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  assert.deepEqual(events.map((e) => e.result.tools.map((t) => t.name)), [['list_issues']]);

  const writer = await connect(jwtServer.url, await token('mcp-es256', 'mcp:read mcp:write'));
  try {
    const { tools } = await writer.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['create_issue', 'list_issues']);
    const r = await writer.callTool({ name: 'create_issue', arguments: { title: 'from e2e' } });
    assert.notEqual(r.isError, true);
    assert.equal(JSON.parse(r.content[0].text).created.title, 'from e2e');
  } finally {
    await writer.close();
  }
});

test('a denied call comes back as the in-band tool error with _meta.authsec', async () => {
  const client = await connect(jwtServer.url, await token('mcp-rs256', 'mcp:read'));
  try {
    const r = await client.callTool({ name: 'create_issue', arguments: { title: 'nope' } });
    assert.equal(r.isError, true);
    assert.equal(r._meta.authsec.error, 'insufficient_scope');
    assert.deepEqual(r._meta.authsec.required_scopes, ['mcp:write']);
    const d = await client.callTool({ name: 'delete_issue', arguments: { id: 1 } });
    assert.equal(d.isError, true);
    assert.deepEqual(d._meta.authsec.required_scopes, ['mcp:admin']);
  } finally {
    await client.close();
  }
});

test('a token for another resource is refused (the handshake passes through, every call is denied)', async () => {
  const other = await token('mcp-rs256', 'mcp:read', resource2);
  const client = await connect(jwtServer.url, other); // initialize: handshake pass-through
  try {
    const r = await client.callTool({ name: 'list_issues', arguments: {} });
    assert.equal(r.isError, true);
    assert.equal(r._meta.authsec.error, 'invalid_audience');
    await assert.rejects(client.listTools(), /-32001/); // in-band JSON-RPC error for a non-tools/call request
  } finally {
    await client.close();
  }
});

test('no token: 401 with a challenge whose resource_metadata URL serves the RFC 9728 document', async () => {
  await assert.rejects(connect(jwtServer.url, null), (e) => e.code === 401 && /missing bearer token/.test(e.message));
  const r = await fetch(`${jwtServer.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(r.status, 401);
  const www = r.headers.get('www-authenticate');
  assert.match(www, /^Bearer realm="[^"]+", resource_metadata="[^"]+", error="invalid_token", error_description="missing bearer token"$/);
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(www)[1];
  assert.equal(metadataUrl, `${jwtServer.url}/.well-known/oauth-protected-resource/mcp`);
  const doc = await fetch(metadataUrl);
  assert.equal(doc.status, 200);
  assert.match(doc.headers.get('content-type'), /^application\/json/);
  const body = await doc.json();
  assert.equal(body.resource, resource);
  assert.deepEqual(body.authorization_servers, [issuer]);
  assert.deepEqual(body.bearer_methods_supported, ['header']);
  assert.deepEqual(body.scopes_supported.sort(), ['mcp:admin', 'mcp:read', 'mcp:write']);
});

test('introspection mode: an opaque token works, and is refused once revoked', async () => {
  const opaque = await token('mcp-opaque', 'mcp:read', resource2);
  assert.ok(!opaque.includes('.'), 'an opaque token');
  const client = await connect(introspectServer.url, opaque);
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['list_issues']);
    const ok = await client.callTool({ name: 'list_issues', arguments: {} });
    assert.equal(JSON.parse(ok.content[0].text).caller, 'mcp-opaque');

    const revoked = await fetch(`${issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('mcp-opaque:mcp-opaque-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: opaque }),
    });
    assert.ok(revoked.ok, `revocation: ${revoked.status}`);

    const r = await client.callTool({ name: 'list_issues', arguments: {} });
    assert.equal(r.isError, true);
    assert.equal(r._meta.authsec.error, 'invalid_token');
    assert.equal(r._meta.authsec.reason, 'token_revoked');
    await assert.rejects(client.listTools(), /invalid_token|revoked|inactive|Unauthorized/i);
  } finally {
    await client.close();
  }
  const plain = await fetch(`${introspectServer.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opaque}`, 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'tools/list' }),
  });
  assert.equal(plain.status, 401);
  assert.match(plain.headers.get('www-authenticate'), /error="invalid_token"/);
});

test("the blog's protectedByAuthSec tools on McpServer: the list shows exactly the allowed tools, calls get _user_info, denials carry the RBAC reason", async () => {
  const client = await connect(blogServer.url, await token('mcp-blog', 'read write', blogResource));
  try {
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['admin_dashboard', 'calculator', 'engineering_tools', 'view_analytics', 'view_reports']);
    for (const name of ['calculator', 'admin_dashboard', 'view_analytics']) {
      const r = await client.callTool({ name, arguments: {} });
      assert.notEqual(r.isError, true, name);
      assert.equal(JSON.parse(r.content[0].text).user, 'dev@example.com', name);
    }
    const reports = await client.callTool({ name: 'view_reports', arguments: {} });
    assert.deepEqual(JSON.parse(reports.content[0].text), { reports: 'ok' });
    const eng = await client.callTool({ name: 'engineering_tools', arguments: {} });
    assert.deepEqual(JSON.parse(eng.content[0].text), { tenant: 'tenant-a', client: 'mcp-blog' });
    const reasons = { deploy_production: 'missing required resources', sensitive_operations: 'missing required groups, resources' };
    for (const [name, reason] of Object.entries(reasons)) {
      const r = await client.callTool({ name, arguments: {} });
      assert.equal(r.isError, true, name);
      assert.deepEqual(r._meta.authsec, { error: 'insufficient_scope', status: 403, error_description: `RBAC denied: ${reason}`, tool: name });
    }
  } finally {
    await client.close();
  }
});
