// End to end: `authsec proxy` (the command line, cli/) in front of an MCP SDK server with no
// protection of its own (test/unprotected-server.mjs), oidc-provider issuing the tokens, the
// official MCP SDK Client driving it: filtered list, allowed call with the caller's identity in
// the upstream's headers (never the token), in-band denial, 401 with the metadata document,
// and the SDK's SSE answer filtered through the proxy's streaming filter.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../..');
const AS_DIR = resolve(ROOT, 'tests/interop/oidc');
const AUTHSEC = resolve(process.env.CARGO_TARGET_DIR ?? resolve(ROOT, 'target'), 'debug/authsec');
const TOOL_SCOPES = { list_issues: ['mcp:read'], create_issue: ['mcp:write'], delete_issue: ['mcp:admin'] };

const children = [];

async function start(cmd, args, cwd, env) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${args.join(' ')}: no READY in 30 s; stderr: ${stderr}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${cmd} exited (${code}) before READY; stderr: ${stderr}`));
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
let proxy;
let resource;

async function token(client, scope) {
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client}:${client}-secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  const body = await r.json();
  assert.ok(body.access_token, `no token for ${client}: ${JSON.stringify(body)}`);
  return body.access_token;
}

async function connect(bearer) {
  const client = new Client({ name: 'authsec-proxy-e2e', version: '1.0.0' });
  const headers = bearer ? { Authorization: `Bearer ${bearer}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(resource), { requestInit: { headers } }));
  return client;
}

before(async () => {
  assert.ok(existsSync(AUTHSEC), `${AUTHSEC} missing: cargo build --locked -p authsec-cli`);
  const port = await freePort();
  resource = `http://127.0.0.1:${port}/mcp`;
  issuer = (await start(process.execPath, ['as.mjs'], AS_DIR, { MCP_RESOURCES: resource })).url;
  const upstream = await start(process.execPath, [resolve(HERE, 'unprotected-server.mjs')], resolve(HERE, '..'), { PORT: '0' });
  proxy = await start(AUTHSEC, ['proxy', '--upstream', `${upstream.url}/mcp`, '--listen', `127.0.0.1:${port}`], ROOT, {
    AUTHSEC_ISSUER: issuer,
    AUTHSEC_JWKS_URL: `${issuer}/jwks`,
    AUTHSEC_RESOURCE_URI: resource,
    AUTHSEC_TOOL_SCOPES_JSON: JSON.stringify(TOOL_SCOPES),
    AUTHSEC_POLICY_MODE: 'local_only',
    AUTHSEC_SUPPORTED_SCOPES: 'mcp:read mcp:write mcp:admin',
  });
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
});

test('behind authsec proxy: filtered list, allowed call with the identity headers, in-band denial', async () => {
  const client = await connect(await token('mcp-rs256', 'mcp:read'));
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['list_issues']);
    const r = await client.callTool({ name: 'list_issues', arguments: {} });
    assert.notEqual(r.isError, true);
    const v = JSON.parse(r.content[0].text);
    assert.deepEqual(v.caller, { subject: 'mcp-rs256', client: 'mcp-rs256', authorization: null }, 'identity, never the token');
    const d = await client.callTool({ name: 'create_issue', arguments: { title: 'nope' } });
    assert.equal(d.isError, true);
    assert.equal(d._meta.authsec.error, 'insufficient_scope');
    assert.deepEqual(d._meta.authsec.required_scopes, ['mcp:write']);
  } finally {
    await client.close();
  }
});

test('behind authsec proxy: the SDK answers in SSE and the stream is filtered event by event', async () => {
  const raw = await fetch(resource, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await token('mcp-eddsa', 'mcp:read mcp:write')}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
  });
  assert.equal(raw.status, 200);
  assert.match(raw.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(raw.headers.get('via'), '1.1 authsec');
  const events = (await raw.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  assert.deepEqual(events.map((e) => e.result.tools.map((t) => t.name).sort()), [['create_issue', 'list_issues']]);
});

test('behind authsec proxy: no token is a 401 whose resource_metadata URL serves the document', async () => {
  await assert.rejects(connect(null), (e) => e.code === 401 && /missing bearer token/.test(e.message));
  const r = await fetch(resource, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(r.status, 401);
  const www = r.headers.get('www-authenticate');
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(www)[1];
  const doc = await (await fetch(metadataUrl)).json();
  assert.equal(doc.resource, resource);
  assert.deepEqual(doc.authorization_servers, [issuer]);
  assert.deepEqual(doc.scopes_supported.sort(), ['mcp:admin', 'mcp:read', 'mcp:write']);
  const health = await fetch(new URL('/healthz', resource));
  assert.equal(health.status, 200);
  const metrics = await (await fetch(new URL('/metrics', resource))).text();
  assert.match(metrics, /authsec_proxy_requests_total\{decision="deny",reason="no_token"\} \d+/);
  assert.ok(!proxy.stderr().includes('Bearer '), 'no token in the access log');
});
