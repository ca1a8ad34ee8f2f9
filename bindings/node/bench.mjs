// Benchmark of the Node binding's check, each figure beside its baseline measured in the same run:
// `jose` jwtVerify (issuer, audience, exp) plus the same tool-scope check in plain JS.
//
//   npm run build && node bench.mjs        (release build of the native module)
//
// Cases: a repeated token (the core's verified-token cache; jose verifies every time), and a
// first-sight RS256 token (a token the runtime has never seen, JWKS already fetched: decided
// synchronously by the core). Request: a ~250-byte tools/call with six headers.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

import { SignJWT, exportJWK, jwtVerify } from 'jose';

import authsec from './index.js';

const { Runtime } = authsec;
const SAMPLES = Number(process.env.BENCH_SAMPLES || 15);
const FIRST_SIGHT = Number(process.env.BENCH_TOKENS || 3000);
const RESOURCE = 'https://mcp.example.com/mcp';
const TOOL_SCOPES = { list_issues: ['issues:read'], create_issue: ['issues:write'] };

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', use: 'sig' };
const jwks = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ keys: [jwk] }));
});
await new Promise((r) => jwks.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${jwks.address().port}`;

const mint = (jti) =>
  new SignJWT({ scope: 'issues:read', client_id: 'bench-client' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(RESOURCE)
    .setSubject('user-1')
    .setJti(jti)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);

const body = Buffer.from(JSON.stringify({
  jsonrpc: '2.0',
  id: 42,
  method: 'tools/call',
  params: { name: 'list_issues', arguments: { repo: 'acme/widgets', state: 'open', labels: ['bug', 'p1'], limit: 25, cursor: 'eyJwYWdlIjoyfQ' } },
}));
const headersFor = (token) => [
  ['host', 'mcp.example.com'],
  ['user-agent', 'bench/1.0'],
  ['accept', 'application/json, text/event-stream'],
  ['content-type', 'application/json'],
  ['mcp-protocol-version', '2025-06-18'],
  ['authorization', `Bearer ${token}`],
];

// The baseline: what a plain-JS server does per request with jose.
async function joseCheck(req) {
  const auth = req.headers[5][1];
  const token = auth.slice(7);
  const { payload } = await jwtVerify(token, publicKey, { issuer, audience: RESOURCE, algorithms: ['RS256'] });
  const msg = JSON.parse(req.body.toString('utf8'));
  if (msg.method === 'tools/call') {
    const required = TOOL_SCOPES[msg.params && msg.params.name];
    const granted = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!required || !(required.length === 0 || required.some((s) => granted.includes(s)))) return { kind: 'respond' };
  }
  return { kind: 'allow', principal: payload };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// µs per op: the median over samples of (batch time / batch size).
async function measure(name, batch, fn) {
  const samples = [];
  for (let s = 0; s < SAMPLES + 2; s++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) {
      const r = fn(i);
      if (r instanceof Promise) await r;
    }
    const dt = ((performance.now() - t0) * 1000) / batch;
    if (s >= 2) samples.push(dt); // two warm-up samples
  }
  return median(samples);
}

const rt = Runtime.create({ issuer, jwksUrl: `${issuer}/jwks`, resourceUri: RESOURCE, toolScopes: TOOL_SCOPES });
await rt.startup();
const repeated = { method: 'POST', path: '/mcp', headers: headersFor(await mint('repeated')), body };
const warm = await rt.check(repeated); // fetches the JWKS
if (warm.kind !== 'allow') throw new Error(`bench setup: expected allow, got ${warm.kind}`);
const sync = rt.check(repeated);
if (sync instanceof Promise || sync.kind !== 'allow') throw new Error('bench setup: the repeated token must be decided synchronously');
if ((await joseCheck(repeated)).kind !== 'allow') throw new Error('bench setup: jose baseline must allow');

process.stderr.write(`minting ${FIRST_SIGHT * (SAMPLES + 2)} RS256 tokens for the first-sight case...\n`);
const samplesTotal = SAMPLES + 2;
const fresh = [];
for (let i = 0; i < FIRST_SIGHT * samplesTotal; i++) fresh.push({ method: 'POST', path: '/mcp', headers: headersFor(await mint(randomUUID())), body });

const results = [];
results.push({
  bench: 'repeated token (verified-token cache hit)',
  binding: await measure('binding repeated', 20000, () => rt.check(repeated)),
  baseline: await measure('jose repeated', 2000, () => joseCheck(repeated)),
});
let k = 0;
const bindingFirst = await measure('binding first sight', FIRST_SIGHT, () => {
  const d = rt.check(fresh[k++]);
  if (d instanceof Promise) throw new Error('first sight with a warm JWKS must be synchronous');
  return d;
});
let j = 0;
const joseFirst = await measure('jose first sight', FIRST_SIGHT, () => joseCheck(fresh[j++]));
results.push({ bench: 'first sight, RS256', binding: bindingFirst, baseline: joseFirst });

jwks.close();
console.log(`\nNode ${process.version}, ${SAMPLES} samples, medians in µs per request (lower is better)\n`);
console.log('| bench | @authsec/runtime check | jose jwtVerify + scope check | ratio (binding / jose) | speed-up |');
console.log('|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.bench} | ${r.binding.toFixed(2)} | ${r.baseline.toFixed(2)} | ${(r.binding / r.baseline).toFixed(3)} | ${(r.baseline / r.binding).toFixed(1)}x |`);
}
