// node --test entry for the conformance runner: every vector through the Node binding.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runAll } from './conformance-runner.mjs';

test('conformance vectors (node binding)', { timeout: 600_000 }, async () => {
  const { passed, failed } = await runAll();
  console.log(`conformance (node): ${passed} passed, ${failed.length} failed`);
  assert.ok(passed > 0, 'no vector ran');
  assert.deepEqual(failed, [], `${failed.length} vectors failed`);
});
