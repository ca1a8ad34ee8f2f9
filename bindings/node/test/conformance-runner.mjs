// The conformance runner of the Node binding: every vector of tests/conformance/vectors through
// the public @authsec/runtime API, following tests/conformance/README.md and mirroring the shared
// Rust runner (tests/conformance/runner/src/lib.rs). AUTHSEC_VECTOR=<id prefix> runs a subset;
// AUTHSEC_VECTORS_DIR points at another vectors directory.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { Runtime } from '../index.js';
import { REPO, startFixture } from './fixture.mjs';
import { JObject, deepEqual, parse, stringify, substitute, toJs } from './json.mjs';

export const VECTORS_DIR = resolve(REPO, 'tests/conformance/vectors');

const get = (o, k) => (o instanceof JObject ? o.get(k) : undefined);
const str = (v) => (typeof v === 'string' ? v : undefined);

function header(resp, name) {
  const n = name.toLowerCase();
  const h = resp.headers.find(([k]) => k.toLowerCase() === n);
  return h ? h[1] : undefined;
}

function bodyOf(r) {
  if (r.has('body_json')) return Buffer.from(stringify(r.get('body_json')), 'utf8');
  if (typeof r.get('body') === 'string') return Buffer.from(r.get('body'), 'utf8');
  if (typeof r.get('body_base64') === 'string') return Buffer.from(r.get('body_base64'), 'base64');
  const rep = r.get('body_repeat');
  if (rep !== undefined) {
    const byte = str(get(rep, 'byte')) ?? 'a';
    const count = Number(get(rep, 'count'));
    if (!Number.isInteger(count) || count < 0) throw new Error('body_repeat.count');
    return Buffer.alloc(count, byte.charCodeAt(0));
  }
  return Buffer.alloc(0);
}

function buildRequest(r) {
  const headers = [];
  for (const h of r.get('headers') ?? []) {
    if (!Array.isArray(h) || typeof h[0] !== 'string' || typeof h[1] !== 'string') throw new Error('header must be [name, value]');
    headers.push([h[0], h[1]]);
  }
  return { method: str(r.get('method')) ?? 'POST', path: str(r.get('path')) ?? '/mcp', headers, body: bodyOf(r) };
}

/** `Bearer a="b", c="d"` -> scheme and parameters (the Rust runner's parser). */
function parseChallenge(h) {
  const sp = h.indexOf(' ');
  const scheme = sp === -1 ? h : h.slice(0, sp);
  let rest = (sp === -1 ? '' : h.slice(sp + 1)).trim();
  const params = new Map();
  while (rest.length) {
    const eq = rest.indexOf('=');
    if (eq === -1) break;
    const name = rest.slice(0, eq).trim().replace(/^,+/, '').trim();
    const after = rest.slice(eq + 1).trimStart();
    let value;
    let tail;
    if (after.startsWith('"')) {
      const q = after.slice(1);
      let end = q.indexOf('"');
      if (end === -1) end = q.length;
      value = q.slice(0, end);
      tail = q.slice(Math.min(end + 1, q.length));
    } else {
      let end = after.indexOf(',');
      if (end === -1) end = after.length;
      value = after.slice(0, end).trim();
      tail = after.slice(end);
    }
    params.set(name, value);
    rest = tail.trimStart().replace(/^,+/, '').trimStart();
  }
  return { scheme, params };
}

function checkResponse(resp, e) {
  const bodyText = resp.body.toString('utf8');
  const status = get(e, 'status');
  if (status !== undefined && resp.status !== Number(status)) {
    throw new Error(`status ${resp.status} != expected ${Number(status)}; body ${bodyText}`);
  }
  const hs = get(e, 'headers');
  if (hs instanceof JObject) {
    for (const [k, v] of hs.entries) {
      const got = header(resp, k);
      if (got !== v) throw new Error(`header ${k}: ${JSON.stringify(got)} != expected ${JSON.stringify(v)}`);
    }
  }
  const www = header(resp, 'www-authenticate');
  if (get(e, 'no_www_authenticate') === true && www !== undefined) throw new Error(`unexpected www-authenticate ${www}`);
  const wantWww = get(e, 'www_authenticate');
  if (typeof wantWww === 'string' && www !== wantWww) {
    throw new Error(`www-authenticate ${JSON.stringify(www)}\n   != expected ${JSON.stringify(wantWww)}`);
  }
  if (wantWww instanceof JObject) {
    if (www === undefined) throw new Error('missing www-authenticate');
    const { scheme, params } = parseChallenge(www);
    for (const [k, v] of wantWww.entries) {
      if (k === 'scheme') {
        if (scheme !== v) throw new Error(`challenge scheme ${scheme} != ${v}`);
        continue;
      }
      const g = params.get(k);
      if (v === null) {
        if (g !== undefined) throw new Error(`challenge param ${k}=${JSON.stringify(g)} must be absent in ${www}`);
      } else if (typeof v !== 'string' || g !== v) {
        throw new Error(`challenge param ${k}: ${JSON.stringify(g)} != ${stringify(v)} in ${www}`);
      }
    }
  }
  if (e.has('body_json')) {
    const want = stringify(e.get('body_json'));
    if (!resp.body.equals(Buffer.from(want, 'utf8'))) throw new Error(`body\n   got      ${bodyText}\n   expected ${want}`);
  }
  const wantBody = get(e, 'body');
  if (typeof wantBody === 'string' && !resp.body.equals(Buffer.from(wantBody, 'utf8'))) {
    throw new Error(`body\n   got      ${JSON.stringify(bodyText)}\n   expected ${JSON.stringify(wantBody)}`);
  }
}

function checkPrincipal(got, want) {
  for (const [k, v] of want.entries) {
    if (k === 'claims') {
      if (!(v instanceof JObject)) throw new Error('claims must be an object');
      for (const [ck, cv] of v.entries) {
        const g = got.claims ? got.claims[ck] : undefined;
        if (!deepEqual(g, toJs(cv))) throw new Error(`principal claim ${ck}: ${JSON.stringify(g)} != ${stringify(cv)}`);
      }
    } else if (!deepEqual(got[k], toJs(v))) {
      throw new Error(`principal ${k}: ${JSON.stringify(got[k])} != ${stringify(v)}`);
    }
  }
}

function describe(d) {
  if (d.kind === 'respond') return `respond ${d.status} ${JSON.stringify(header(d, 'www-authenticate'))} ${d.body.toString('utf8')}`;
  if (d.kind === 'allow') return `allow ${JSON.stringify(d.principal)}`;
  return d.kind;
}

function checkOutcome(d, e) {
  const want = get(e, 'decision');
  if (typeof want !== 'string') throw new Error('expect.decision missing');
  if (want !== d.kind) throw new Error(`expected ${want}, got ${describe(d)}`);
  if (d.kind === 'respond') checkResponse(d, e);
  if (d.kind === 'allow') {
    const p = get(e, 'principal');
    if (p instanceof JObject) checkPrincipal(d.principal.toJSON(), p);
    const f = get(e, 'filter_tools_list');
    if (typeof f === 'boolean' && f !== d.filterToolsList) throw new Error(`filter_tools_list ${d.filterToolsList} != ${f}`);
  }
}

function checkFailure(err, e) {
  if (!(err instanceof Error)) throw new Error(`expected an Error, got ${typeof err}`);
  const code = get(e, 'code');
  if (typeof code === 'string' && err.code !== code) throw new Error(`error code ${err.code} != ${code} (${err.message})`);
  const m = get(e, 'message');
  if (typeof m === 'string' && err.message !== m) throw new Error(`error message ${JSON.stringify(err.message)} != ${JSON.stringify(m)}`);
  const mc = get(e, 'message_contains');
  if (typeof mc === 'string' && !err.message.includes(mc)) throw new Error(`error message ${JSON.stringify(err.message)} lacks ${JSON.stringify(mc)}`);
}

function checkFiltered(out, e) {
  const want = get(e, 'result');
  if (want !== out.kind) throw new Error(`filter: expected ${want}, got ${out.kind}${out.body ? ` ${out.body.toString('utf8')}` : ''}`);
  if (out.kind === 'rewritten') {
    checkResponse({ status: 200, headers: [], body: out.body }, e);
    const cl = get(e, 'content_length');
    if (cl !== undefined && Number(cl) !== out.body.length) throw new Error(`content_length ${out.body.length} != ${Number(cl)}`);
  }
  if (out.kind === 'respond') checkResponse(out, e);
}

async function runVector(fx, raw) {
  const tokens = new Map();
  const specs = get(raw, 'tokens');
  for (const [name, spec0] of specs instanceof JObject ? specs.entries : []) {
    const spec = substitute(spec0, fx.base, new Map());
    const opaque = get(spec, 'opaque');
    if (typeof opaque === 'string') {
      tokens.set(name, opaque);
    } else {
      const answer = await fx.control('POST', '/_control/mint', stringify(spec));
      if (!answer || typeof answer.token !== 'string') throw new Error(`mint failed: ${JSON.stringify(answer)}`);
      tokens.set(name, answer.token);
    }
  }
  const v = substitute(raw, fx.base, tokens);
  await fx.control('POST', '/_control/reset', stringify(v.get('backend') ?? new JObject()));

  let rt;
  try {
    // The vector's config is the core's snake_case JSON: the binding's JSON entry point takes
    // it as it is (Runtime.create takes the camelCase form; test/config.test.mjs checks both agree).
    rt = Runtime.fromJson(stringify(v.get('config') ?? null), { manualClock: true });
  } catch (err) {
    if (v.has('expect_config_error')) return checkFailure(err, v.get('expect_config_error'));
    throw new Error(`runtime build failed: ${err.code}: ${err.message}`);
  }
  if (v.has('expect_config_error')) throw new Error('expected a config error, runtime was built');
  try {
    let startupError = null;
    try {
      await rt.startup();
    } catch (err) {
      startupError = err;
    }
    if (v.has('expect_startup_error')) {
      if (!startupError) throw new Error('expected a startup error');
      return checkFailure(startupError, v.get('expect_startup_error'));
    }
    if (startupError) throw new Error(`startup failed: ${startupError.code}: ${startupError.message}`);

    let lastAllowed = null;
    const steps = v.get('steps') ?? [];
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      try {
        if (step.has('control')) {
          const c = step.get('control');
          const path = get(c, 'path');
          if (typeof path !== 'string') throw new Error('control.path');
          await fx.control(str(get(c, 'method')) ?? 'POST', path, c.has('body') ? stringify(c.get('body')) : undefined);
        } else if (step.has('request')) {
          const req = buildRequest(step.get('request'));
          const n = Math.max(1, Number(step.get('concurrency') ?? 1));
          // All at once: every check is issued before any result is awaited.
          const pending = [];
          for (let k = 0; k < n; k++) pending.push(rt.check(req));
          const outcomes = await Promise.all(pending);
          for (const d of outcomes) {
            checkOutcome(d, step.get('expect'));
            if (d.kind === 'allow') lastAllowed = d;
          }
        } else if (step.has('filter')) {
          if (!lastAllowed) throw new Error('filter step without a previous allow');
          const f = step.get('filter');
          const out = rt.filterResponse(lastAllowed, str(get(f, 'content_type')) ?? null, bodyOf(f));
          checkFiltered(out, step.get('expect'));
        } else if (step.has('metadata')) {
          checkResponse(rt.metadata(), step.get('expect'));
        } else if (step.get('counters') instanceof JObject) {
          const got = await fx.control('GET', '/_control/counters');
          for (const [k, want] of step.get('counters').entries) {
            if (!got || got[k] !== toJs(want)) throw new Error(`counter ${k}: ${JSON.stringify(got && got[k])} != ${stringify(want)}`);
          }
        } else if (step.has('await_policy_refresh')) {
          await rt.waitPolicyRefresh();
        } else if (step.get('advance_clock') !== undefined) {
          rt.advanceClock(Number(step.get('advance_clock')));
        } else {
          throw new Error(`unknown step ${stringify(step)}`);
        }
      } catch (err) {
        throw new Error(`step ${i}: ${err.message}`);
      }
    }
  } finally {
    rt.close();
  }
}

export function vectorFiles(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f));
}

/** Run every vector (or the AUTHSEC_VECTOR subset); resolves to {passed, failed: [messages]}. */
export async function runAll({ dir = process.env.AUTHSEC_VECTORS_DIR || VECTORS_DIR, filter = process.env.AUTHSEC_VECTOR || '', log = console.error } = {}) {
  const files = vectorFiles(dir);
  if (files.length === 0) throw new Error(`no vectors found in ${dir}`);
  const fx = await startFixture();
  let passed = 0;
  const failed = [];
  try {
    for (const path of files) {
      const raw = parse(readFileSync(path, 'utf8'));
      const id = str(get(raw, 'id')) ?? '?';
      if (id !== basename(path, '.json')) throw new Error(`${path}: vector id must equal its file name`);
      if (!id.startsWith(filter)) continue;
      try {
        await runVector(fx, raw);
        passed++;
      } catch (err) {
        failed.push(`${id}: ${err.message}`);
      }
    }
  } finally {
    await fx.stop();
  }
  for (const f of failed) log(`FAIL ${f}`);
  log(`conformance (node): ${passed} passed, ${failed.length} failed`);
  return { passed, failed };
}
