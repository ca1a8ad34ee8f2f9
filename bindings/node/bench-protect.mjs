// What protect() costs per request, in-process: the same node:http handler called with and
// without protect() on the same requests, CPU time (process.cpuUsage) over a fixed number of
// requests, the two alternating in one run. No sockets: each request is a real
// http.IncomingMessage (body pushed into it) and http.ServerResponse (its output buffered), so
// the figure is the wrapper's work and the core's check, without the network and the kernel,
// which dominate wrk figures on a shared machine.
//
//   npm run build && node bench-protect.mjs            (release build of the native module)
//
// Request: the whole-server load benchmark's allowed tools/call (scripts/load.sh) with a repeated
// RS256 token, tool_scopes {"list_issues": ["issues:read"]}; every answer is checked.
// BENCH_REQUESTS (default 20000) requests per sample, BENCH_SAMPLES (default 7) samples each.
// BENCH_BASELINE=<dir>: also protect() of another build of @authsec/runtime (a directory with its
// index.js and authsec.node, e.g. a copy of main's release build), alternating with the three
// others in the same run: a before/after comparison on the same machine state.
import { generateKeyPairSync, sign } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import authsec from './index.js';

const { Runtime, protect } = authsec;
const baseline = process.env.BENCH_BASELINE ? createRequire(import.meta.url)(path.resolve(process.env.BENCH_BASELINE, 'index.js')) : null;
const N = Number(process.env.BENCH_REQUESTS || 20000);
const SAMPLES = Number(process.env.BENCH_SAMPLES || 7);
const RESOURCE = 'http://127.0.0.1/mcp';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-1', use: 'sig', alg: 'RS256' };
const jwks = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ keys: [jwk] }));
});
await new Promise((r) => jwks.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${jwks.address().port}`;

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const input = `${b64({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })}.${b64({
  iss: issuer, sub: 'load-user', client_id: 'load-client', aud: RESOURCE, scope: 'issues:read', iat: now, exp: now + 3600,
})}`;
const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;

const BODY = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues","arguments":{}}}');
const RAW = ['Host', '127.0.0.1:8080', 'Content-Type', 'application/json', 'Accept', 'application/json, text/event-stream',
  'Authorization', `Bearer ${token}`, 'Content-Length', String(BODY.length)];
const HEADERS = {};
for (let i = 0; i < RAW.length; i += 2) HEADERS[RAW[i].toLowerCase()] = RAW[i + 1];
const OK = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}';
const CT = { 'content-type': 'application/json' };

// The handler of scripts/load/node/server.mjs: reads the body itself unless protect() parsed it.
function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        resolve(undefined);
      }
    });
    req.on('error', reject);
  });
}
async function handler(req, res, parsed) {
  const msg = parsed !== undefined ? parsed : await readJson(req);
  res.writeHead(200, CT).end(`{"jsonrpc":"2.0","id":${JSON.stringify(msg.id ?? null)},"result":{"content":[{"type":"text","text":"ok"}]}}`);
}

const CONFIG = { issuer, jwksUrl: `${issuer}/jwks`, resourceUri: RESOURCE, toolScopes: { list_issues: ['issues:read'] } };
async function protectWith(lib) {
  const runtime = lib.Runtime.create(CONFIG);
  await runtime.startup();
  return lib.protect(handler, { runtime });
}
const protectedHandler = await protectWith(authsec);
const baselineHandler = baseline && await protectWith(baseline);

async function one(h) {
  const req = new http.IncomingMessage(null);
  req.method = 'POST';
  req.url = '/mcp';
  req.rawHeaders = RAW;
  req.headers = HEADERS;
  req.push(BODY);
  req.push(null);
  const res = new http.ServerResponse(req);
  await h(req, res);
  return res;
}

async function checked(h) {
  const res = await one(h);
  const out = res.outputData.map((d) => String(d.data)).join('');
  if (res.statusCode !== 200 || !out.endsWith(`\r\n\r\n${OK}`)) throw new Error(`unexpected answer: ${out.slice(0, 300)}`);
}
await checked(protectedHandler); // first sight (JWKS fetch), then the verified-token cache
await checked(handler);
if (baselineHandler) await checked(baselineHandler);

async function sample(h) {
  const t = process.cpuUsage();
  for (let i = 0; i < N; i++) await one(h);
  const d = process.cpuUsage(t);
  return (d.user + d.system) / N;
}
const runs = [['handler', handler], ['protect(handler)', protectedHandler]];
if (baselineHandler) runs.push(['baseline protect(handler)', baselineHandler]);
for (let i = 0; i < 2; i++) for (const [, h] of runs) await sample(h); // warm-up (JIT)
const samples = runs.map(() => []);
for (let i = 0; i < SAMPLES; i++) for (let j = 0; j < runs.length; j++) samples[j].push(await sample(runs[j][1]));
const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const [mu, ...mps] = samples.map(median);
console.log(`CPU per request (median of ${SAMPLES} samples of ${N}, µs): handler ${mu.toFixed(2)}`);
runs.slice(1).forEach(([name], j) => {
  const mp = mps[j];
  console.log(`  ${name}: ${mp.toFixed(2)}, adds ${(mp - mu).toFixed(2)} µs; handler / protected ${(mu / mp).toFixed(2)}`);
});
jwks.close();
