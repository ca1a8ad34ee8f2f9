// Start the conformance fixture backend (tests/fixture, binary authsec-fixture) and talk to it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export function fixtureBinary() {
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : resolve(REPO, 'target');
  return resolve(target, 'debug', 'authsec-fixture');
}

/** Start `authsec-fixture --port 0 --ignore-stdin`, wait for `READY <url>`. */
export async function startFixture() {
  const bin = fixtureBinary();
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run \`cargo build -p authsec-fixture\` first`);
  }
  const child = spawn(bin, ['--port', '0', '--ignore-stdin'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture did not print READY in 30 s; stderr: ${stderr}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited (${code}) before READY; stderr: ${stderr}`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^READY (\S+)/.exec(line);
      if (m) resolvePromise(m[1]);
      else reject(new Error(`unexpected fixture output ${JSON.stringify(line)}`));
    });
  });
  lines.on('line', () => {}); // keep draining stdout
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', stop);
  return {
    base,
    async control(method, path, bodyText) {
      const init = { method: method.toUpperCase() };
      if (bodyText !== undefined) {
        init.body = bodyText;
        init.headers = { 'content-type': 'application/json' };
      }
      const resp = await fetch(`${base}${path}`, init);
      const text = await resp.text();
      try {
        return JSON.parse(text);
      } catch {
        return null;
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      stop();
      await exited;
    },
  };
}
