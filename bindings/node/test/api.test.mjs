// The JavaScript API against the fixture backend: the sync/async split of check, request shapes,
// errors, manifest publishing, and protect() over node:http (denials, req.auth, JSON and SSE
// tools/list filtering, body limit).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';

import { Runtime, protect } from '../index.js';
import { startFixture } from './fixture.mjs';

const RESOURCE = 'https://mcp.example.com/mcp';
let fx;

before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx.stop();
});

async function mint(claims, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  const answer = await fx.control('POST', '/_control/mint', JSON.stringify({
    kid: 'rsa-1',
    claims: { iss: fx.base, aud: RESOURCE, sub: 'user-1', exp: now + 3600, ...claims },
    ...extra,
  }));
  return answer.token;
}

function config(extra = {}) {
  return {
    issuer: fx.base,
    jwksUrl: `${fx.base}/jwks`,
    resourceUri: RESOURCE,
    toolScopes: { list_issues: ['issues:read'], create_issue: ['issues:write'] },
    ...extra,
  };
}

const call = (tool) => JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: tool, arguments: {} } });

test('check is synchronous when the core decides from memory, a Promise only for I/O', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const rt = Runtime.create(config());
  assert.deepEqual(await rt.startup(), []);
  const token = await mint({ scope: 'issues:read' });
  const req = { method: 'POST', path: '/mcp', headers: [['authorization', `Bearer ${token}`]], body: call('list_issues') };

  const first = rt.check(req); // JWKS not fetched yet: I/O
  assert.ok(first instanceof Promise, 'first sight with a cold JWKS is pending');
  const d1 = await first;
  assert.equal(d1.kind, 'allow');
  assert.equal(d1.principal.subject, 'user-1');
  assert.deepEqual(d1.principal.scopes, ['issues:read']);
  assert.equal(d1.principal.claims.iss, fx.base);
  assert.equal(d1.principal.clientId, 'user-1', 'no client_id or azp: the subject');
  assert.equal(d1.principal.expiresAt, d1.principal.claims.exp);
  // Every allowed request under a policy is filtered (its SSE answer may carry a list result).
  assert.equal(d1.filterToolsList, true);
  assert.equal(d1.toolsListRequest, false);
  const withClient = await rt.check({ ...req, headers: [['authorization', `Bearer ${await mint({ scope: 'issues:read', azp: 'spa-1' })}`]] });
  assert.equal(withClient.principal.clientId, 'spa-1', 'azp when there is no client_id');

  const second = rt.check(req); // verified-token cache: decided from memory
  assert.ok(!(second instanceof Promise), 'a repeated token is decided synchronously');
  assert.equal(second.kind, 'allow');

  const fresh = await mint({ scope: 'issues:read', jti: 'another' }); // first sight, warm JWKS
  const third = rt.check({ ...req, headers: [['authorization', `Bearer ${fresh}`]] });
  assert.ok(!(third instanceof Promise), 'a new token with a warm JWKS is decided synchronously');
  assert.equal(third.kind, 'allow');
  const counters = await fx.control('GET', '/_control/counters');
  assert.equal(counters.jwks, 1);

  const denied = rt.check({ ...req, body: Buffer.from(call('create_issue')) });
  assert.equal(denied.kind, 'respond');
  assert.equal(denied.status, 200);
  const v = JSON.parse(denied.body);
  assert.equal(v.result.isError, true);
  assert.equal(v.result._meta.authsec.error, 'insufficient_scope');
  rt.close();
});

test('request shapes: header pairs, flat raw headers, header objects, string and Buffer bodies', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const rt = Runtime.create(config());
  const token = await mint({ scope: 'issues:read' });
  await rt.check({ method: 'POST', path: '/mcp', headers: { authorization: `Bearer ${token}` }, body: call('list_issues') });
  const forms = [
    [['Authorization', `Bearer ${token}`], ['Content-Type', 'application/json']],
    ['Authorization', `Bearer ${token}`, 'Content-Type', 'application/json'],
    { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  ];
  for (const headers of forms) {
    for (const body of [call('list_issues'), Buffer.from(call('list_issues')), new Uint8Array(Buffer.from(call('list_issues')))]) {
      assert.equal(rt.check({ method: 'POST', path: '/mcp', headers, body }).kind, 'allow');
    }
  }
  // Repeated Authorization headers survive every form (the core answers 400).
  for (const headers of [
    [['authorization', `Bearer ${token}`], ['authorization', `Bearer ${token}`]],
    { authorization: [`Bearer ${token}`, `Bearer ${token}`] },
  ]) {
    const d = rt.check({ method: 'POST', path: '/mcp', headers, body: call('list_issues') });
    assert.equal(d.kind, 'respond');
    assert.equal(d.status, 400);
  }
  // A NUL in a header value is carried exactly (list form), not split.
  const nul = rt.check({ method: 'POST', path: '/mcp', headers: [['authorization', `Bearer ${token}\0x`]], body: call('list_issues') });
  assert.notEqual(nul.kind, 'allow');
  // A value whose NULs would split into a whole Authorization pair if the joined block were
  // taken at its word: the native side sees more fields than were joined and the list form
  // keeps it one x-pad value, so there is no token (401), in every header form.
  for (const headers of [
    [['x-pad', `v\0authorization\0Bearer ${token}`]],
    ['x-pad', `v\0authorization\0Bearer ${token}`],
    { 'x-pad': `v\0authorization\0Bearer ${token}` },
    [[`x-pad\0v\0authorization`, `Bearer ${token}`]],
  ]) {
    const smuggled = rt.check({ method: 'POST', path: '/mcp', headers, body: call('list_issues') });
    assert.equal(smuggled.kind, 'respond');
    assert.equal(smuggled.status, 401);
  }
  // No token: 401 challenge; GET on the metadata path: the document.
  const none = rt.check({ method: 'POST', path: '/mcp', headers: [], body: undefined });
  assert.equal(none.status, 401);
  assert.match(Object.fromEntries(none.headers)['www-authenticate'], /resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"/);
  const meta = rt.check({ method: 'GET', path: rt.metadataPath });
  assert.deepEqual(meta, rt.metadata());
  assert.throws(() => rt.check({ method: 'POST', path: '/mcp', headers: 'x' }), { code: 'invalid_input' });
  assert.throws(() => rt.check({ method: 'POST', path: '/mcp', body: 42 }), { code: 'invalid_input' });
  assert.throws(() => rt.filterResponse({}, 'application/json', '{}'), { code: 'invalid_input' });
  // checkOversized: the whole-body answer without a body (413; the metadata document on its path).
  const over = rt.checkOversized({ method: 'POST', path: '/mcp', headers: [['authorization', `Bearer ${token}`]] });
  assert.equal(over.kind, 'respond');
  assert.equal(over.status, 413);
  assert.deepEqual(JSON.parse(Buffer.from(over.body).toString()), { error: 'invalid_request', error_description: 'request body exceeds max_body_bytes (4194304)' });
  assert.deepEqual(rt.checkOversized({ method: 'GET', path: rt.metadataPath }), rt.metadata());
  assert.throws(() => rt.checkOversized(null), { code: 'invalid_input', message: 'request must be an object' });
  assert.throws(() => rt.checkOversized({ method: 1 }), { code: 'invalid_input' });
  rt.close();
  assert.throws(() => rt.checkOversized({ method: 'GET', path: '/' }), { code: 'invalid_input', message: 'the runtime is closed' });
  assert.throws(() => rt.check({ method: 'GET', path: '/' }), { code: 'invalid_input', message: 'the runtime is closed' });
  await assert.rejects(rt.startup(), { code: 'invalid_input' });
});

test('test hooks: manual clock and policy refresh', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const rt = Runtime.create(config(), { manualClock: true });
  const token = await mint({ scope: 'issues:read', exp: Math.floor(Date.now() / 1000) + 30 });
  const req = { method: 'POST', path: '/mcp', headers: [['authorization', `Bearer ${token}`]], body: call('list_issues') };
  assert.equal((await rt.check(req)).kind, 'allow');
  rt.advanceClock(31);
  const d = await rt.check(req);
  assert.equal(d.kind, 'respond');
  assert.equal(JSON.parse(d.body).result._meta.authsec.reason, 'token_expired');
  assert.throws(() => rt.advanceClock(-1), { code: 'invalid_input' });
  assert.throws(() => rt.advanceClock(1e300), { code: 'invalid_input' });
  assert.throws(() => rt.advanceClock(Infinity), { code: 'invalid_input' });
  await rt.waitPolicyRefresh(); // local policy: nothing running, resolves
  assert.equal(rt.policyStatus(), null);
  const plain = Runtime.create(config());
  assert.throws(() => plain.advanceClock(1), { code: 'invalid_input' });
});

test('remote policy: startup error code, policy status', async () => {
  const remote = config({
    introspectionUrl: `${fx.base}/introspect`,
    introspectionClientId: 'rs-1',
    introspectionClientSecret: 'secret-1',
    resourceServerId: 'rs-1',
    policyMode: 'remote_required',
    toolScopes: undefined,
  });
  await fx.control('POST', '/_control/reset', '{}'); // policy answers 404
  const failing = Runtime.create(remote);
  await assert.rejects(failing.startup(), (e) => e instanceof Error && e.code === 'startup_failed' && !e.message.includes('secret-1'));
  await fx.control('POST', '/_control/reset', JSON.stringify({
    policy: { status: 200, body: { state: 'ready', policy_complete: true, generation: 4, tools: { list_issues: ['issues:read'] } } },
  }));
  const rt = Runtime.create(remote);
  await rt.startup();
  const s = rt.policyStatus();
  assert.equal(s.hasData, true);
  assert.equal(s.fetches, 1);
});

test('publishManifest: a tool list and a JSON-RPC handshake callback', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const rt = Runtime.create(config({ introspectionClientId: 'rs-1', introspectionClientSecret: 'secret-1', resourceServerId: 'rs-1', policyMode: 'local_only' }));
  const tools = [{ name: 'list_issues', description: 'List', inputSchema: { type: 'object' } }, { name: 'create_issue' }];
  const r1 = await rt.publishManifest(tools);
  assert.deepEqual(r1, { toolsSent: 2, toolsSeen: 2, generation: 1 });
  let last = await fx.control('GET', '/_control/last');
  assert.deepEqual(last.manifest.json.tools.map((t) => t.name), ['list_issues', 'create_issue']);

  const seen = [];
  const r2 = await rt.publishManifest(async (req) => {
    seen.push(req.method);
    if (req.method === 'initialize') return { jsonrpc: '2.0', id: req.id, result: { protocolVersion: '2024-11-05', capabilities: {}, serverInfo: { name: 't', version: '1' } } };
    if (req.method === 'tools/list') return { jsonrpc: '2.0', id: req.id, result: { tools: [{ name: 'delete_issue' }] } };
    return undefined; // notification
  });
  assert.deepEqual(seen, ['server/discover', 'initialize', 'notifications/initialized', 'tools/list']);
  assert.equal(r2.toolsSent, 1);
  last = await fx.control('GET', '/_control/last');
  assert.deepEqual(last.manifest.json.tools, [{ name: 'delete_issue' }]);

  await assert.rejects(rt.publishManifest([]), { code: 'invalid_input' });
  await assert.rejects(rt.publishManifest('x'), { code: 'invalid_input' });
  await assert.rejects(rt.publishManifest(async () => { throw new Error('handler down'); }), { code: 'invalid_input' });
  await fx.control('POST', '/_control/outage', JSON.stringify({ endpoint: 'manifest', status: 503 }));
  await assert.rejects(rt.publishManifest(tools), (e) => e.code === 'backend_error' && !e.message.includes('secret-1'));
});

// ---------------------------------------------------------------------------------------------
// protect() over node:http

const TOOLS = { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'list_issues', description: 'List' }, { name: 'create_issue', description: 'Create' }] } };

async function serve(handler) {
  const server = createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

test('protect(): denials as the core writes them, req.auth, parsed body, JSON and SSE filtering, 413', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const seen = [];
  const handler = protect(async (req, res, body) => {
    seen.push({ auth: req.auth, body });
    if (body && body.method === 'tools/list' && req.headers.accept === 'text/event-stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const event = `event: message\ndata: ${JSON.stringify(TOOLS)}\n\n`;
      res.write(event.slice(0, 25)); // an event split across writes
      res.write(event.slice(25) + ': keep-alive\n\n');
      res.end();
      return;
    }
    if (body && body.method === 'tools/list') {
      res.setHeader('content-type', 'application/json');
      res.setHeader('content-length', Buffer.byteLength(JSON.stringify(TOOLS)));
      res.end(JSON.stringify(TOOLS));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { content: [{ type: 'text', text: 'ok' }] } }));
  }, { config: config({ maxBodyBytes: 1000 }), logger: { warn() {}, error() {} } });
  await handler.ready;
  const srv = await serve(handler);
  try {
    const token = await mint({ scope: 'issues:read', client_id: 'client-7' });
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    let r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: call('list_issues') });
    assert.equal(r.status, 401);
    const expected = handler.runtime.check({ method: 'POST', path: '/mcp', headers: [], body: call('list_issues') });
    assert.equal(r.headers.get('www-authenticate'), Object.fromEntries(expected.headers)['www-authenticate']);
    assert.equal(await r.text(), expected.body.toString());

    r = await fetch(`${srv.url}${handler.runtime.metadataPath}`);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(await r.text()).resource, RESOURCE);

    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: auth, body: call('list_issues') });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).result.content[0].text, 'ok');
    const last = seen.at(-1);
    assert.equal(last.auth.token, token);
    assert.equal(last.auth.clientId, 'client-7');
    assert.deepEqual(last.auth.scopes, ['issues:read']);
    assert.equal(typeof last.auth.expiresAt, 'number');
    assert.equal(last.auth.resource.href, RESOURCE);
    assert.equal(last.auth.extra.subject, 'user-1');
    assert.equal(last.body.params.name, 'list_issues');

    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: auth, body: call('create_issue') });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).result._meta.authsec.error, 'insufficient_scope');

    const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: auth, body: list });
    const jsonText = await r.text();
    assert.deepEqual(JSON.parse(jsonText).result.tools.map((t) => t.name), ['list_issues']);
    assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(jsonText));

    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { ...auth, accept: 'text/event-stream' }, body: list });
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const sse = await r.text();
    const data = sse.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    assert.equal(data.length, 1);
    assert.deepEqual(data[0].result.tools.map((t) => t.name), ['list_issues']);
    assert.ok(sse.endsWith(': keep-alive\n\n'), JSON.stringify(sse));

    const before = seen.length;
    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: auth, body: 'x'.repeat(5000) });
    assert.equal(r.status, 413);
    assert.equal(await r.text(), '{"error":"invalid_request","error_description":"request body exceeds max_body_bytes (1000)"}');
    assert.equal(seen.length, before, 'the handler never ran');
  } finally {
    await srv.close();
  }
});

test('protect(): the filter reads an SSE answer however the handler starts its head; a JSON tools/call answer passes as written', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const event = `event: message\ndata: ${JSON.stringify(TOOLS)}\n\n`;
  // Each way a node:http handler can commit its head: the first response call decides whether
  // the core's filter reads the answer (an SSE answer, under a policy: always).
  const starts = {
    'writeHead, flat array': (res) => { res.writeHead(200, ['Content-Type', 'text/event-stream']); res.end(event); },
    'writeHead, pairs': (res) => { res.writeHead(200, 'OK', [['content-type', 'text/event-stream']]); res.end(event); },
    'writeHead, two spellings': (res) => { res.writeHead(200, { 'Content-Type': 'application/json', 'content-type': 'text/event-stream' }); res.end(event); },
    'writeHead over setHeader': (res) => { res.setHeader('content-type', 'application/json'); res.writeHead(200, { 'Content-Type': 'text/event-stream' }); res.end(event); },
    'implicit head by write': (res) => { res.setHeader('content-type', 'text/event-stream'); res.write(event); res.end(); },
    'implicit head by end': (res) => { res.statusCode = 200; res.setHeader('content-type', 'text/event-stream'); res.end(event); },
    flushHeaders: (res) => { res.setHeader('content-type', 'text/event-stream'); res.flushHeaders(); res.end(event); },
  };
  const answer = JSON.stringify({ jsonrpc: '2.0', id: 3, result: { content: [{ type: 'text', text: 'ok' }] } });
  const handler = protect((req, res) => {
    if (req.headers['x-start'] === undefined) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
      res.end(answer);
      return;
    }
    starts[req.headers['x-start']](res);
  }, { config: config(), logger: { warn() {}, error() {} } });
  await handler.ready;
  const srv = await serve(handler);
  try {
    const token = await mint({ scope: 'issues:read' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // A tools/call (not a list request): only the answer's Content-Type makes the filter read it.
    for (const name of Object.keys(starts)) {
      const r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { ...headers, 'x-start': name }, body: call('list_issues') });
      assert.equal(r.status, 200, name);
      const sse = await r.text();
      const data = sse.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
      assert.equal(data.length, 1, `${name}: ${sse}`);
      assert.deepEqual(data[0].result.tools.map((t) => t.name), ['list_issues'], name);
    }
    const r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers, body: call('list_issues') });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(answer)));
    assert.equal(await r.text(), answer);
  } finally {
    await srv.close();
  }
});

test('protect(): req.auth reads the principal lazily and serializes as the MCP SDK AuthInfo', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  let auth;
  const handler = protect((req, res) => {
    auth = req.auth;
    res.end(JSON.stringify(req.auth));
  }, { config: config(), logger: { warn() {}, error() {} } });
  await handler.ready;
  const srv = await serve(handler);
  try {
    const token = await mint({ scope: 'issues:read', client_id: 'client-9' });
    const r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: call('list_issues') });
    assert.equal(r.status, 200);
    const json = JSON.parse(await r.text());
    assert.equal(json.token, token);
    assert.equal(json.clientId, 'client-9');
    assert.deepEqual(json.scopes, ['issues:read']);
    assert.equal(typeof json.expiresAt, 'number');
    assert.equal(json.resource, RESOURCE);
    assert.equal(json.extra.subject, 'user-1');
    assert.equal(json.extra.claims.client_id, 'client-9');
    assert.equal(auth.token, token, 'the getters answer after the request too');
    assert.equal(auth.extra, auth.extra, 'memoized');
  } finally {
    await srv.close();
  }
});

test('protect(): a declared Content-Length over the limit gets the core 413 without buffering or allocating it', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  // A limit too large to allocate: a binding that sized a buffer from it would fail with 500.
  const limit = 2 ** 50;
  let ran = 0;
  const handler = protect((req, res) => { ran++; res.end(); }, { config: config({ maxBodyBytes: limit }), logger: { warn() {}, error() {} } });
  await handler.ready;
  const srv = await serve(handler);
  try {
    const { port } = new URL(srv.url);
    const answer = await new Promise((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${limit * 2}\r\n\r\n{"jsonrpc"`);
      });
      let text = '';
      sock.on('data', (d) => {
        text += d.toString('latin1');
        if (text.includes('\r\n\r\n') && text.endsWith('}')) { sock.destroy(); resolve(text); }
      });
      sock.on('error', reject);
      sock.on('close', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.ok(answer.endsWith(`{"error":"invalid_request","error_description":"request body exceeds max_body_bytes (${limit})"}`), answer);
    assert.equal(ran, 0, 'the handler never ran');
  } finally {
    await srv.close();
  }
});

test('protect(): a tools/list answer while the policy is unavailable is replaced by the core 503', async () => {
  await fx.control('POST', '/_control/reset', JSON.stringify({ policy: { status: 503, body: { status: 'pending_scan' } } }));
  const rt = Runtime.create(config({
    introspectionClientId: 'rs-1', introspectionClientSecret: 'secret-1', resourceServerId: 'rs-1',
    policyMode: 'remote_required', validationMode: 'jwt_only', toolScopes: undefined, publishManifest: true,
  }));
  const warnings = await rt.startup(); // deny-all until the policy arrives
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /deny-all/);
  let handled = 0;
  const handler = protect((req, res) => {
    handled++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(TOOLS));
  }, { runtime: rt, logger: { warn() {}, error() {} } });
  const srv = await serve(handler);
  try {
    const token = await mint({ scope: 'issues:read' });
    const r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    const text = await r.text();
    assert.equal(handled, 1);
    assert.equal(r.status, 503, text);
    assert.equal(JSON.parse(text).error, 'policy_unavailable');
    assert.match(r.headers.get('www-authenticate'), /error="policy_unavailable"/);
    assert.ok(!text.includes('create_issue'));
  } finally {
    await srv.close();
  }
});

test('protect(): GET SSE replay filtered, gzip decoded and filtered, unreadable list 502, stream cut after a refusal', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const errors = [];
  const handler = protect(async (req, res, body) => {
    if (req.method === 'GET') {
      // A Last-Event-ID replay of a stored, unfiltered list, split across writes at a CR/LF.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      const event = `id: 4\r\ndata: ${JSON.stringify(TOOLS)}\r\n\r\n`;
      res.write(event.slice(0, 6));
      res.write(event.slice(6));
      res.end();
      return;
    }
    if (body.id === 2) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify(TOOLS)));
      return;
    }
    if (body.id === 3) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(TOOLS).slice(0, 40)); // cut short: unreadable
      return;
    }
    // id 4: one good event, then an unreadable one after bytes went out.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(TOOLS)}\n\n`);
    res.write('data: {"result":{"tools":[{"name":"create_issue"}\n\n');
    res.end();
  }, { config: config(), logger: { warn() {}, error: (m) => errors.push(m) } });
  await handler.ready;
  const srv = await serve(handler);
  try {
    const token = await mint({ scope: 'issues:read' });
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const list = (id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' });
    const filtered = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'list_issues', description: 'List' }], cacheScope: 'private' } });

    let r = await fetch(`${srv.url}/mcp`, { headers: { authorization: auth.authorization, 'last-event-id': '3' } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), `id: 4\r\ndata: ${filtered}\r\n\r\n`);

    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: auth, body: list(2) });
    assert.equal(r.headers.get('content-encoding'), null);
    const text = await r.text();
    assert.equal(text, filtered);
    assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(filtered));

    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: auth, body: list(3) });
    assert.equal(r.status, 502);
    assert.equal(await r.text(), '{"error":"bad_gateway","error_description":"the MCP server\'s answer could not be read to filter its tool list"}');

    r = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: auth, body: list(4) });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), `data: ${filtered}\n\n`, 'the unreadable event never goes out');
    assert.equal(errors.length, 1);
    assert.match(errors[0], /502 after the stream started/);
  } finally {
    await srv.close();
  }
});

test('protect(): the startup-failed 503 and the internal-error 500 are the core answers', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const failing = protect(() => {}, {
    config: config({
      introspectionClientId: 'rs-1', introspectionClientSecret: 'secret-1', resourceServerId: 'rs-1',
      policyMode: 'remote_required', toolScopes: undefined,
    }),
    logger: { warn() {}, error() {} },
  });
  await failing.ready.catch(() => {});
  const throwing = protect(() => { throw new Error('boom secret-123'); }, { config: config(), logger: { warn() {}, error() {} } });
  await throwing.ready;
  const s1 = await serve(failing);
  const s2 = await serve(throwing);
  try {
    const token = await mint({ scope: 'issues:read' });
    let r = await fetch(`${s1.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: call('list_issues') });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('www-authenticate'), null);
    assert.equal(await r.text(), '{"error":"temporarily_unavailable","error_description":"authorization is not available"}');
    r = await fetch(`${s2.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: call('list_issues') });
    assert.equal(r.status, 500);
    assert.equal(await r.text(), '{"error":"server_error","error_description":"internal error"}');
  } finally {
    await s1.close();
    await s2.close();
  }
});

test('responseFilter: feed and finish through the public API', async () => {
  await fx.control('POST', '/_control/reset', '{}');
  const rt = Runtime.create(config());
  const token = await mint({ scope: 'issues:read' });
  const d = await rt.check({ method: 'POST', path: '/mcp', headers: [['authorization', `Bearer ${token}`]], body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
  assert.equal(d.toolsListRequest, true);
  const f = rt.responseFilter(d, { contentType: 'text/event-stream' });
  assert.equal(f.passthrough, false);
  assert.equal(f.holdsBody, false);
  const a = f.feed(`data: ${JSON.stringify(TOOLS)}\r`);
  assert.equal(a.kind, 'forward');
  assert.equal(a.body.length, 0, 'the event is not complete yet');
  const b = f.feed('\r');
  assert.match(b.body.toString(), /^data: .*"list_issues".*\r\r$/);
  assert.ok(!b.body.toString().includes('create_issue'));
  assert.deepEqual(f.finish(), { kind: 'forward', body: Buffer.alloc(0) });
  const j = rt.responseFilter(d.principal, { contentType: 'application/json', contentEncoding: 'zstd' });
  assert.equal(j.feed('x').status, 502);
  assert.throws(() => rt.responseFilter({}, {}), { code: 'invalid_input' });
});

test('protect(): a filtered SSE stream opens on flushHeaders, before its first event', { timeout: 20000 }, async () => {
  await fx.control('POST', '/_control/reset', '{}');
  let release;
  const released = new Promise((r) => { release = r; });
  const handler = protect(async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    await released; // nothing is written until the client has the head
    res.end(`data: ${JSON.stringify(TOOLS)}\n\n`);
  }, { config: config(), logger: { warn() {}, error() {} } });
  await handler.ready;
  const srv = await serve(handler);
  try {
    const token = await mint({ scope: 'issues:read' });
    const r = await fetch(`${srv.url}/mcp`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    release();
    const text = await r.text();
    assert.ok(text.includes('list_issues') && !text.includes('create_issue'), text);
  } finally {
    release();
    await srv.close();
  }
});
