// Runtime.create (camelCase, the TypeScript API) and Runtime.fromJson (the core's snake_case JSON)
// agree on every vector's config: same success (same metadata document) or the same error code
// and message (unknown fields are named as the caller spelled them).
//
// Vector configs are plain JSON objects (string keys that are not array indices, small numbers),
// so JSON.parse/JSON.stringify keep their keys in file order and their values exact.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

import { ErrorCode, Runtime } from '../index.js';
import { REPO } from './fixture.mjs';

const VECTORS_DIR = resolve(REPO, 'tests/conformance/vectors');
const vectorFiles = (dir) => readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
// `{{base}}` in every string (the configs name no tokens).
const substitute = (v, base) => {
  if (typeof v === 'string') return v.replaceAll('{{base}}', base);
  if (Array.isArray(v)) return v.map((x) => substitute(x, base));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [substitute(k, base), substitute(x, base)]));
  return v;
};

const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const outcome = (build) => {
  try {
    const rt = build();
    const m = rt.metadata();
    return { ok: true, path: rt.metadataPath, body: m.body.toString('utf8') };
  } catch (e) {
    return { ok: false, code: e.code, message: e.message };
  }
};

test('create(camelCase) and fromJson(snake_case) agree on every vector config', () => {
  let compared = 0;
  const known = new Set(Runtime.configKeys());
  for (const file of vectorFiles(VECTORS_DIR)) {
    const v = substitute(JSON.parse(readFileSync(file, 'utf8')), 'http://127.0.0.1:9');
    const cfg = v.config;
    if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) continue;
    const snake = outcome(() => Runtime.fromJson(JSON.stringify(cfg)));
    const camelCfg = {};
    for (const [k, x] of Object.entries(cfg)) camelCfg[camel(k)] = x;
    const viaCreate = outcome(() => Runtime.create(camelCfg));
    const unknown = Object.keys(cfg).map(camel).filter((k) => !known.has(k));
    if (unknown.length) {
      assert.equal(snake.ok, false, file);
      assert.equal(viaCreate.ok, false, file);
      assert.equal(viaCreate.code, 'config_invalid');
      assert.match(viaCreate.message, new RegExp(`unknown field \`${unknown[0]}\``), file);
    } else if (!snake.ok && snake.message.startsWith('invalid config JSON: ')) {
      // A value of the wrong type or variant: the same serde detail, named by its key instead of
      // a position in JSON text the caller never wrote.
      const detail = snake.message.slice('invalid config JSON: '.length).replace(/ at line \d+ column \d+$/, '');
      assert.equal(viaCreate.code, snake.code, file);
      assert.ok(viaCreate.message.startsWith('invalid config: `') && viaCreate.message.endsWith(detail), `${file}: ${viaCreate.message}`);
    } else {
      assert.deepEqual(viaCreate, snake, file);
    }
    compared++;
  }
  assert.ok(compared > 150, `only ${compared} configs compared`);
});

test('config errors: codes, named keys, no secret in messages', () => {
  const base = { issuer: 'https://as.example', jwksUrl: 'https://as.example/jwks', resourceUri: 'https://mcp.example.com/mcp' };
  assert.throws(() => Runtime.create({ ...base, jwks_url: 'x' }), { code: 'config_invalid', message: /unknown field `jwks_url`/ });
  assert.throws(() => Runtime.create({ ...base, maxBodyBytes: 'big' }), { code: 'config_invalid', message: /`maxBodyBytes`/ });
  assert.throws(() => Runtime.create({ ...base, issuer: '' }), { code: 'config_invalid', message: 'issuer is required' });
  assert.throws(() => Runtime.create(null), { code: 'config_invalid' });
  assert.throws(() => Runtime.create(base, { manualClok: true }), { code: 'invalid_input' });
  for (const secret of [12345, 'sup3r-s3cret-value']) {
    try {
      Runtime.create({ ...base, introspectionUrl: 'not a url', introspectionClientId: 'rs', introspectionClientSecret: secret, policyMode: 'bogus' });
      assert.fail('must throw');
    } catch (e) {
      assert.equal(e.code, 'config_invalid');
      assert.ok(!e.message.includes(String(secret)), e.message);
      assert.ok(e instanceof Error);
    }
  }
  // undefined values are absent keys (JSON semantics)
  assert.equal(Runtime.create({ ...base, toolScopes: undefined }).metadataPath, '/.well-known/oauth-protected-resource/mcp');
});

test('fromEnv reads the SDK variables with a prefix', () => {
  const keys = ['TESTX_ISSUER', 'TESTX_JWKS_URI', 'TESTX_RESOURCE_URI', 'TESTX_RESOURCE_NAME'];
  process.env.TESTX_ISSUER = 'https://as.example';
  process.env.TESTX_JWKS_URI = 'https://as.example/jwks'; // legacy alias
  process.env.TESTX_RESOURCE_URI = 'https://mcp.example.com/tools/mcp';
  process.env.TESTX_RESOURCE_NAME = 'Env Server';
  try {
    const rt = Runtime.fromEnv('TESTX_');
    assert.equal(rt.metadataPath, '/.well-known/oauth-protected-resource/tools/mcp');
    const doc = JSON.parse(rt.metadata().body);
    assert.equal(doc.resource_name, 'Env Server');
    assert.throws(() => Runtime.fromEnv('NOPE_NOTHING_'), { code: 'config_invalid', message: 'issuer is required' });
  } finally {
    for (const k of keys) delete process.env[k];
  }
});

test('errors carry the registry codes (ErrorCode, generated from include/authsec_codes.json)', () => {
  const registry = JSON.parse(readFileSync(new URL('../../../include/authsec_codes.json', import.meta.url), 'utf8'));
  const names = registry.codes.filter((c) => c.scope !== 'ok').map((c) => c.name);
  assert.deepEqual(Object.values(ErrorCode), names);
  assert.throws(() => Runtime.fromJson('{}'), { code: ErrorCode.CONFIG_INVALID });
  assert.throws(() => Runtime.fromEnv(7), { code: ErrorCode.INVALID_INPUT });
});

test('fromEnv: an unreadable *_JSON variable is config_invalid naming the variable, never its value', () => {
  const keys = ['TESTY_ISSUER', 'TESTY_JWKS_URL', 'TESTY_RESOURCE_URI', 'TESTY_TOOL_SCOPES_JSON'];
  process.env.TESTY_ISSUER = 'https://as.example';
  process.env.TESTY_JWKS_URL = 'https://as.example/jwks';
  process.env.TESTY_RESOURCE_URI = 'https://mcp.example.com/mcp';
  try {
    process.env.TESTY_TOOL_SCOPES_JSON = '{"list_issues":["issues:read"],"s3cr3t":[],}';
    assert.throws(() => Runtime.fromEnv('TESTY_'), (e) => {
      assert.equal(e.code, 'config_invalid');
      assert.match(e.message, /^TESTY_TOOL_SCOPES_JSON is not valid JSON: /);
      assert.doesNotMatch(e.message, /s3cr3t|issues:read/);
      return true;
    });
    process.env.TESTY_TOOL_SCOPES_JSON = '{}';
    Runtime.fromEnv('TESTY_'); // an empty map is valid (local_only, every tool denied; core unit test)
    process.env.TESTY_TOOL_SCOPES_JSON = '{"t":[""]}';
    assert.throws(() => Runtime.fromEnv('TESTY_'), { code: 'config_invalid', message: "tool_scopes['t'] contains an empty scope" });
  } finally {
    for (const k of keys) delete process.env[k];
  }
});

test('create accepts requireTyp and requireTokenType (camelCase) and refuses a mistyped one by key', () => {
  const base = { issuer: 'https://as.example', jwksUrl: 'https://as.example/jwks', resourceUri: 'https://mcp.example.com/mcp' };
  assert.ok(Runtime.configKeys().includes('requireTyp'));
  assert.ok(Runtime.configKeys().includes('requireTokenType'));
  Runtime.create({ ...base, requireTyp: 'at+jwt', requireTokenType: 'access_token' });
  assert.throws(() => Runtime.create({ ...base, requireTyp: 5 }), (e) => {
    assert.equal(e.code, 'config_invalid');
    assert.match(e.message, /`requireTyp`/);
    return true;
  });
});
