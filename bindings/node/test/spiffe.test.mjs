// Workload identity against a real SPIRE server and agent on loopback (tests/spire/harness.py up:
// SPIRE v1.13.3 built from the Go module proxy, join token, unix workload attestor, one entry for
// this uid): QuickStartSVID's SPIFFE ID and files, an mTLS round trip with its node:tls options,
// the update counter moving on rotation, a JWT-SVID from the agent accepted by the runtime (JWT
// bundle from the Workload API) and one for another audience refused; disabled and agent-down
// errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { QuickStartSVID, Runtime, peerSpiffeId } from '../index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const HARNESS = join(ROOT, 'tests/spire/harness.py');
const RESOURCE = 'https://mcp.example.com/mcp';
const WORKLOAD = 'spiffe://example.org/ns/test/sa/mcp-server';
let dir;
let spire;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'authsec-spire-node-'));
  spire = JSON.parse(execFileSync('python3', [HARNESS, 'up', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
});
after(async () => {
  await QuickStartSVID.shutdown();
  execFileSync('python3', [HARNESS, 'down', dir]);
  rmSync(dir, { recursive: true, force: true });
});

test('disabled without a socket: null, or workload_not_configured', async () => {
  const saved = process.env.SPIFFE_ENDPOINT_SOCKET;
  delete process.env.SPIFFE_ENDPOINT_SOCKET;
  try {
    assert.equal(await QuickStartSVID.initialize(), null);
    await assert.rejects(QuickStartSVID.initialize({ raiseOnDisabled: true }), {
      code: 'workload_not_configured',
      message: 'no Workload API socket given and SPIFFE_ENDPOINT_SOCKET is not set',
    });
  } finally {
    if (saved !== undefined) process.env.SPIFFE_ENDPOINT_SOCKET = saved;
  }
});

test('agent down at start: workload_api_unavailable', async () => {
  const missing = join(dir, 'missing.sock');
  await assert.rejects(QuickStartSVID.initialize({ socketPath: missing, timeoutMs: 1000 }), (e) => {
    assert.equal(e.code, 'workload_api_unavailable');
    assert.match(e.message, /^no X\.509-SVID from the Workload API at unix:\/\/.*missing\.sock within 1000 ms: connect failed/);
    return true;
  });
});

test('SVID of the entry, files with their modes, mTLS round trip, rotation, JWT-SVID bearer', async () => {
  const certDir = join(dir, 'node-certs');
  const svid = await QuickStartSVID.initialize({ socketPath: spire.endpoint, certDir });
  assert.equal(await QuickStartSVID.initialize({ socketPath: spire.endpoint }), svid);
  assert.equal(svid.spiffeId, WORKLOAD);
  assert.equal(svid.certFilePath, join(certDir, 'svid.crt'));
  assert.equal(statSync(certDir).mode & 0o777, 0o700);
  assert.equal(statSync(svid.keyFilePath).mode & 0o777, 0o600);
  assert.equal(statSync(svid.certFilePath).mode & 0o777, 0o644);
  assert.equal(readFileSync(svid.certFilePath, 'utf8'), svid.certificate);
  assert.equal(readFileSync(svid.caFilePath, 'utf8'), svid.trustBundle);
  assert.ok(svid.leafCertificate().subjectAltName.includes(`URI:${WORKLOAD}`));

  // mTLS: a server with the server options, a client with the client options.
  const server = tls.createServer(svid.createSecureContextOptionsForServer(), (sock) => {
    sock.end(JSON.stringify({ client: peerSpiffeId(sock.getPeerCertificate()) }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const roundTrip = (opts) => new Promise((res, rej) => {
    const c = tls.connect({ host: '127.0.0.1', port, ...opts }, () => {
      let data = '';
      c.on('data', (d) => { data += d; });
      c.on('end', () => res({ server: peerSpiffeId(c.getPeerCertificate()), answer: JSON.parse(data) }));
    });
    c.on('error', rej);
  });
  try {
    const r = await roundTrip(svid.createSecureContextOptionsForClient({ expectedServerId: WORKLOAD }));
    assert.equal(r.server, WORKLOAD);
    assert.equal(r.answer.client, WORKLOAD);
    await assert.rejects(roundTrip(svid.createSecureContextOptionsForClient({ expectedServerId: 'spiffe://example.org/other' })),
      /server SPIFFE ID spiffe:\/\/example.org\/ns\/test\/sa\/mcp-server is not spiffe:\/\/example.org\/other/);
  } finally {
    server.close();
  }

  // Rotation (20 s TTL): the counter moves, the files change, the listener runs.
  const seen = [];
  svid.onUpdate((s) => seen.push(s.version));
  const v0 = svid.version;
  const cert0 = readFileSync(svid.certFilePath, 'utf8');
  const v1 = await svid.waitForUpdate(v0, 40000);
  assert.ok(v1 > v0, 'no rotation within two SVID lifetimes');
  assert.notEqual(readFileSync(svid.certFilePath, 'utf8'), cert0);
  const deadline = Date.now() + 5000;
  while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(seen.length > 0 && seen.at(-1) >= v1);

  // A JWT-SVID from the agent as a bearer token; another audience refused.
  const rt = Runtime.create({
    issuer: 'https://as.example.com', jwksUrl: 'https://as.example.com/jwks', resourceUri: RESOURCE,
    toolScopes: { list_issues: ['issues:read'] },
    spiffeTrustDomain: 'example.org', spiffeEndpointSocket: spire.endpoint,
    toolWorkloads: { list_issues: [WORKLOAD] },
  });
  assert.deepEqual(await rt.startup(), []);
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_issues' } });
  const check = async (token) => rt.check({ method: 'POST', path: '/mcp', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
  const ok = await check(await svid.fetchJwtSvid(RESOURCE));
  assert.equal(ok.kind, 'allow');
  assert.equal(ok.principal.spiffeId, WORKLOAD);
  assert.equal(ok.principal.subject, WORKLOAD);
  const refused = await check(await svid.fetchJwtSvid('https://other.example.com/mcp'));
  assert.equal(refused.kind, 'respond');
  assert.equal(refused.status, 200); // an MCP client calling a tool: the in-band tool error
  const answer = JSON.parse(Buffer.from(refused.body).toString());
  assert.equal(answer.result.isError, true);
  const authsec = answer.result._meta.authsec;
  assert.equal(authsec.error, 'invalid_audience');
  assert.equal(authsec.status, 401);
});
