// The runner can fail: a copy of a vector with one expected byte changed must fail, and the
// unchanged copy must pass.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { VECTORS_DIR, runAll } from './conformance-runner.mjs';
import { JObject, parse, stringify } from './json.mjs';

// The first string leaf of v with one ASCII letter or digit changed (one byte of the body).
function mutateFirstString(v) {
  if (typeof v === 'string') {
    const m = /[A-Za-z0-9](?=[^A-Za-z0-9]*$)/.exec(v);
    if (m) {
      const c = v[m.index] === 'a' ? 'b' : 'a';
      return { done: true, value: v.slice(0, m.index) + c + v.slice(m.index + 1) };
    }
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = mutateFirstString(v[i]);
      if (r.done) return { done: true, value: v.map((x, j) => (j === i ? r.value : x)) };
    }
  }
  if (v instanceof JObject) {
    for (let i = 0; i < v.entries.length; i++) {
      const r = mutateFirstString(v.entries[i][1]);
      if (r.done) return { done: true, value: new JObject(v.entries.map((e, j) => (j === i ? [e[0], r.value] : e))) };
    }
  }
  return { done: false, value: v };
}

// Change one byte of the first expected body (body_json or body) of the vector's steps.
function mutateExpectedBody(vector) {
  for (const step of vector.get('steps')) {
    const e = step.get('expect');
    for (const key of ['body_json', 'body']) {
      if (e && e.has(key)) {
        const r = mutateFirstString(e.get(key));
        if (!r.done) continue;
        e.entries = e.entries.map(([k, x]) => (k === key ? [k, r.value] : [k, x]));
        return true;
      }
    }
  }
  return false;
}

const CASES = ['jwt-expired-in-band-tool-error', 'filter-sse-tools-list', 'metadata-document'];

test('a vector copy with one expected byte changed fails; the unchanged copy passes', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'authsec-vectors-'));
  try {
    for (const id of CASES) {
      const text = readFileSync(join(VECTORS_DIR, `${id}.json`), 'utf8');
      writeFileSync(join(dir, `${id}.json`), text);
      const ok = await runAll({ dir, filter: id, log: () => {} });
      assert.deepEqual([ok.passed, ok.failed.length], [1, 0], `${id} unchanged: ${ok.failed}`);

      const v = parse(text);
      assert.ok(mutateExpectedBody(v), `${id} has an expected body to mutate`);
      const mutated = stringify(v);
      assert.equal(mutated.length, stringify(parse(text)).length, 'exactly one byte differs');
      writeFileSync(join(dir, `${id}.json`), mutated);
      const bad = await runAll({ dir, filter: id, log: () => {} });
      assert.deepEqual([bad.passed, bad.failed.length], [0, 1], `${id} mutated must fail`);
      assert.match(bad.failed[0], /body/);
      rmSync(join(dir, `${id}.json`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
