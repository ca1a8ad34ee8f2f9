// The principal handles check() and protect() reuse across requests (index.js `allowOf`,
// src/principal_key.rs): an allow decided from memory comes back as the core principal's
// address, and the JS layer reuses the handle it keeps for that address. Every allowed request
// must still see its own caller's principal: two callers alternating (sequentially and
// interleaved), across the core's verified-token cache evictions and a token's expiry, and
// across handle evictions and garbage collection, when freed addresses are taken by new
// principals of other callers.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

import { Runtime, protect } from '../index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

// Every handle the native side hands over on a miss: the key (the principal's address) and
// the subject of the principal it holds.
const native = createRequire(import.meta.url)('../authsec.node');
const handedOver = [];
const principalHandle = native.NativeRuntime.prototype.principalHandle;
native.NativeRuntime.prototype.principalHandle = function countedPrincipalHandle(key) {
  const handle = principalHandle.call(this, key);
  handedOver.push({ key: key - (key % 4), subject: native.principalFields(handle).subject });
  return handle;
};
// A full collection, then a turn of the event loop (N-API runs the externals' finalizers, which
// free the principals, from there).
async function collect() {
  gc();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}

const RESOURCE = 'http://127.0.0.1/mcp';
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'h-1', use: 'sig', alg: 'ES256' };
let jwks;
let issuer;

before(async () => {
  jwks = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((r) => jwks.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${jwks.address().port}`;
});
after(() => new Promise((r) => jwks.close(r)));

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
function mint(claims) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'ES256', kid: 'h-1', typ: 'at+jwt' })}.${b64({
    iss: issuer, aud: RESOURCE, scope: 'issues:read', iat: now, exp: now + 3600, ...claims,
  })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const config = (extra = {}) => ({ issuer, jwksUrl: `${issuer}/jwks`, resourceUri: RESOURCE, toolScopes: { list_issues: ['issues:read'] }, ...extra });
const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_issues', arguments: {} } });
const request = (token) => ({ method: 'POST', path: '/mcp', headers: [['authorization', `Bearer ${token}`]], body: CALL });

test('protect(): two callers alternating each see their own principal in req.auth, one handle each', async () => {
  const alice = { sub: 'alice', client_id: 'alice-app', scope: 'issues:read' };
  const bob = { sub: 'bob', client_id: 'bob-app', scope: 'issues:read issues:write' };
  const tokens = { alice: mint(alice), bob: mint(bob) };
  const handler = protect((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      token: req.auth.token, clientId: req.auth.clientId, scopes: req.auth.scopes,
      subject: req.auth.extra.subject, claimsSub: req.auth.extra.claims.sub,
    }));
  }, { config: config(), logger: { warn() {}, error() {} } });
  await handler.ready;
  const server = createServer(handler);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/mcp`;
  const ask = async (who) => {
    const r = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'application/json' }, body: CALL });
    assert.equal(r.status, 200, who);
    return JSON.parse(await r.text());
  };
  const expect = (who, got) => {
    const c = who === 'alice' ? alice : bob;
    assert.deepEqual(got, { token: tokens[who], clientId: c.client_id, scopes: c.scope.split(' '), subject: c.sub, claimsSub: c.sub }, who);
  };
  try {
    handedOver.length = 0;
    for (let i = 0; i < 20; i++) {
      const who = i % 2 === 0 ? 'alice' : 'bob';
      expect(who, await ask(who));
    }
    // Interleaved: requests of both callers in flight at once.
    const order = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 'bob' : 'alice'));
    const answers = await Promise.all(order.map(ask));
    order.forEach((who, i) => expect(who, answers[i]));
    // Alice's first request fetched the JWKS (a Promise, its own handle); every later allow of
    // a caller reuses the handle taken once for its principal.
    assert.deepEqual(handedOver.map((h) => h.subject).sort(), ['alice', 'bob'], 'one handle per caller, reused for every repeated request');
    assert.notEqual(handedOver[0].key, handedOver[1].key);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('check(): the right principal across the core cache evicting each caller and a token expiring', async () => {
  // A verified-token cache of one entry: alternating callers evict each other, so every check
  // verifies again and the core answers with a new principal object each time.
  const rt = Runtime.create(config({ tokenCacheCapacity: 1 }), { manualClock: true });
  await rt.startup();
  const now = Math.floor(Date.now() / 1000);
  const short = mint({ sub: 'short-lived', exp: now + 60 });
  const long = mint({ sub: 'long-lived', exp: now + 100000 });
  const alternate = async (n, expectShort) => {
    for (let i = 0; i < n; i++) {
      const d = await rt.check(request(i % 2 === 0 ? short : long));
      if (i % 2 === 0 && expectShort === 'refused') {
        // (a tools/call is refused in-band, HTTP 200 with the core's invalid_token error)
        assert.equal(d.kind, 'respond', 'an expired token is refused, whatever handle is kept');
        assert.match(`${JSON.stringify(d.headers)} ${d.body.toString('utf8')}`, /invalid_token/);
        continue;
      }
      const sub = i % 2 === 0 ? 'short-lived' : 'long-lived';
      assert.equal(d.kind, 'allow', sub);
      assert.equal(d.principal.subject, sub);
      assert.equal(d.principal.claims.sub, sub);
    }
  };
  await alternate(20, 'allowed');
  // The same token twice in a row: a cache hit, the same principal.
  assert.equal((await rt.check(request(long))).principal.subject, 'long-lived');
  assert.equal((await rt.check(request(long))).principal.subject, 'long-lived');
  rt.advanceClock(30);
  await alternate(6, 'allowed');
  rt.advanceClock(31); // past the short token's exp (no clock skew configured)
  await alternate(10, 'refused');
});

test('check(): more callers than kept handles, with garbage collection: freed addresses reused by other callers', async () => {
  // More distinct callers than the handles index.js keeps (1024) and a small core cache: old
  // handles are dropped, collected, their principals freed, and new principals of other
  // callers are allocated where they were.
  const rt = Runtime.create(config({ tokenCacheCapacity: 16 }));
  await rt.startup();
  const callers = 1100;
  const tokens = Array.from({ length: callers }, (_, i) => mint({ sub: `caller-${i}`, client_id: `app-${i}` }));
  handedOver.length = 0;
  for (let i = 0; i < callers; i++) {
    for (const j of [i, (i * 7919) % callers, i]) { // a new caller, an older one, the new one again
      const d = await rt.check(request(tokens[j]));
      assert.equal(d.kind, 'allow');
      assert.equal(d.principal.subject, `caller-${j}`);
      assert.equal(d.principal.clientId, `app-${j}`);
    }
    if (i % 100 === 99) await collect();
  }
  assert.ok(handedOver.length > callers, `handles were taken for new principals (${handedOver.length})`);
  // The checks above are what matter; this says the situation they guard against happened: an
  // address handed over for one caller's principal, later for another caller's.
  const subjects = new Map();
  for (const { key, subject } of handedOver) subjects.set(key, (subjects.get(key) ?? new Set()).add(subject));
  const reused = [...subjects.values()].filter((s) => s.size > 1).length;
  assert.ok(reused > 0, `an address was reused by another caller (${subjects.size} addresses for ${handedOver.length} handles)`);
});

test('principalHandle refuses a key that is not the last allow of that runtime', async () => {
  const nrt = native.NativeRuntime.fromCamelJson(JSON.stringify(config()), false);
  assert.throws(() => principalHandle.call(nrt, 4096), { code: 'invalid_input', message: /no allowed principal/ });
  const rt = Runtime.create(config());
  await rt.startup();
  const token = mint({ sub: 'someone' });
  handedOver.length = 0;
  for (let i = 0; i < 2; i++) assert.equal((await rt.check(request(token))).principal.subject, 'someone');
  assert.equal(handedOver.length, 1, 'the second check (from memory) took a handle');
  // A runtime that allowed nothing holds nothing, whatever key it is given.
  for (const key of handedOver.map((h) => h.key)) assert.throws(() => principalHandle.call(nrt, key), { code: 'invalid_input' });
  for (const bad of [Number.NaN, -4, 1e300, 0.5]) assert.throws(() => principalHandle.call(nrt, bad), { code: 'invalid_input' });
});
