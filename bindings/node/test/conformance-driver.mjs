// The conformance driver of the Node binding: translates each command of the driver protocol
// (tests/conformance/README.md, "Driver protocol") into the public API of @authsec/runtime.
// It holds no vector logic: the Rust runner (tests/conformance/runner) reads the vectors, runs
// the fixture and compares every answer. One JSON command per stdin line, one JSON answer per
// stdout line, in order; end of input ends the process (exit status 0).
//
//   cargo test -p authsec-node --test conformance_driver   (spawns `node test/conformance-driver.mjs`)
import { createInterface } from 'node:readline';

import { Runtime } from '../index.js';

const PROTOCOL = 1;

let rt = null; // the one runtime of the session
let allowed = new Map(); // handle -> allow decision, until close
let nextHandle = 1;

class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.code = 'protocol_error';
  }
}

const b64 = (buf) => Buffer.from(buf).toString('base64');

function runtime() {
  if (rt === null) throw new ProtocolError('no runtime: send create first');
  return rt;
}

function response(r) {
  return { status: r.status, headers: r.headers, body_base64: b64(r.body) };
}

function decision(d) {
  if (d.kind === 'allow') {
    const handle = nextHandle++;
    allowed.set(handle, d);
    const userInfo = Buffer.from(runtime().userInfoJson(d), 'utf8').toString('base64');
    return { kind: 'allow', principal: d.principal.toJSON(), filter_tools_list: d.filterToolsList, user_info_base64: userInfo, handle };
  }
  if (d.kind === 'respond') return { kind: 'respond', ...response(d) };
  if (d.kind === 'pass_through') return { kind: 'pass_through' };
  throw new Error(`unknown decision kind ${d.kind}`);
}

function request(r) {
  if (r === null || typeof r !== 'object') throw new ProtocolError('request must be an object');
  return { method: r.method, path: r.path, headers: r.headers, body: Buffer.from(r.body_base64 ?? '', 'base64'), oversized: r.oversized === true };
}

// One check, as its own answer (a rejected check is an error answer, not a protocol failure).
async function check(req) {
  try {
    // oversized: the host stopped reading the body, so the oversized-body call gets none.
    const d = req.oversized ? runtime().checkOversized(req) : await runtime().check(req);
    return { ok: true, decision: decision(d) };
  } catch (e) {
    return failure(e);
  }
}

// The audit lines of the open runtime, as its onAudit callback received them.
let auditLines = [];

function create(build) {
  if (rt !== null) throw new ProtocolError('a runtime is open: send close first');
  rt = build();
  const lines = [];
  auditLines = lines;
  rt.onAudit((line) => lines.push(line));
  return {};
}

// Set the given variables for the duration of `fn` only, restoring the previous environment.
function withEnv(env, fn) {
  if (env === null || typeof env !== 'object') throw new ProtocolError('env must be an object');
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) process.env[k] = String(v);
  try {
    return fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const OPS = {
  hello: (c) => {
    if (c.protocol !== PROTOCOL) throw new ProtocolError(`this driver speaks protocol ${PROTOCOL}, not ${c.protocol}`);
    return { protocol: PROTOCOL, binding: 'node' };
  },
  create: (c) => {
    if (typeof c.config !== 'string') throw new ProtocolError('config must be the JSON text of the config');
    return create(() => Runtime.fromJson(c.config, { manualClock: true }));
  },
  create_from_env: (c) => create(() => withEnv(c.env ?? {}, () => Runtime.fromEnv(c.prefix ?? 'AUTHSEC_', { manualClock: true }))),
  startup: async () => ({ warnings: await runtime().startup() }),
  check: (c) => check(request(c.request)),
  check_many: async (c) => {
    if (!Number.isInteger(c.count) || c.count < 1) throw new ProtocolError('count must be a positive integer');
    const req = request(c.request);
    // Every check is issued before any result is awaited.
    const pending = [];
    for (let i = 0; i < c.count; i++) pending.push(check(req));
    return { answers: await Promise.all(pending) };
  },
  filter: (c) => {
    const d = allowed.get(c.handle);
    if (d === undefined) throw new ProtocolError(`unknown handle ${c.handle}`);
    const out = runtime().filterResponse(d, c.content_type ?? null, Buffer.from(c.body_base64 ?? '', 'base64'));
    if (out.kind === 'unchanged') return { result: { kind: 'unchanged' } };
    if (out.kind === 'rewritten') return { result: { kind: 'rewritten', body_base64: b64(out.body) } };
    if (out.kind === 'respond') return { result: { kind: 'respond', ...response(out) } };
    throw new Error(`unknown filter result ${out.kind}`);
  },
  filter_stream: (c) => {
    const d = allowed.get(c.handle);
    if (d === undefined) throw new ProtocolError(`unknown handle ${c.handle}`);
    if (!Array.isArray(c.chunks_base64)) throw new ProtocolError('chunks_base64 must be a list');
    const f = runtime().responseFilter(d, { contentType: c.content_type ?? null, contentEncoding: c.content_encoding ?? null });
    const forwarded = [];
    let respond = null;
    for (const step of [...c.chunks_base64.map((b) => () => f.feed(Buffer.from(b, 'base64'))), () => f.finish()]) {
      const out = step();
      if (out.kind === 'respond') {
        respond = response(out);
        break;
      }
      forwarded.push(out.body);
    }
    return { forwarded_base64: b64(Buffer.concat(forwarded)), drops_content_encoding: f.dropsContentEncoding, respond };
  },
  canned: (c) => {
    const answers = { startup_failed: Runtime.startupFailedResponse, internal_error: Runtime.internalErrorResponse };
    if (!Object.hasOwn(answers, c.which)) throw new ProtocolError(`unknown canned answer ${c.which}`);
    return { response: response(answers[c.which]()) };
  },
  metadata: () => ({ response: response(runtime().metadata()) }),
  publish_manifest: async (c) => {
    if (!Array.isArray(c.tools)) throw new ProtocolError('tools must be a list of tool objects');
    const r = await runtime().publishManifest(c.tools);
    return { report: { tools_sent: r.toolsSent, tools_seen: r.toolsSeen ?? null, generation: r.generation ?? null } };
  },
  advance_clock: (c) => {
    runtime().advanceClock(c.seconds);
    return {};
  },
  wait_policy_refresh: async () => {
    await runtime().waitPolicyRefresh();
    return {};
  },
  events: async () => {
    const r = runtime();
    if (!(await r.flushAudit(30000))) throw new Error('flushAudit timed out');
    const events = auditLines.splice(0);
    return { events };
  },
  close: () => {
    runtime().close();
    rt = null;
    allowed = new Map();
    return {};
  },
};

function failure(e) {
  const code = typeof e?.code === 'string' ? e.code : 'driver_failed';
  return { ok: false, error: { code, message: String(e?.message ?? e) } };
}

async function answer(line) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    return failure(new ProtocolError(`not JSON: ${e.message}`));
  }
  const op = cmd !== null && typeof cmd === 'object' ? OPS[cmd.op] : undefined;
  if (op === undefined || !Object.hasOwn(OPS, cmd.op)) return failure(new ProtocolError(`unknown op ${JSON.stringify(cmd?.op)}`));
  try {
    const out = await op(cmd);
    return out.ok === undefined ? { ok: true, ...out } : out;
  } catch (e) {
    return failure(e);
  }
}

// Commands are answered one at a time, in order.
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  process.stdout.write(`${JSON.stringify(await answer(line))}\n`);
}
