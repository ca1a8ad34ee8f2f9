'use strict';
// @authsec/runtime: the JavaScript API over the native authsec core (authsec.node, napi-rs).
//
// The native module decides; this file only translates: request shapes in, decision objects out,
// and the node:http / Express glue (protect, mountMcp). See README.md.

const native = require('./authsec.node');
const { ErrorCode } = require('./codes.js');

const EMPTY = Buffer.alloc(0);

function authsecError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

// ---------------------------------------------------------------------------------------------
// Principal: a handle to the core's principal, read lazily (the fast path never converts claims).

let handleOf;

class Principal {
  #handle;
  #fields;
  #claims;

  constructor(handle) {
    this.#handle = handle;
  }

  static {
    handleOf = (p) => p.#handle;
  }

  // The typed fields come from the core's accessors; the claims are converted only when read.
  #get() {
    if (this.#fields === undefined) this.#fields = native.principalFields(this.#handle);
    return this.#fields;
  }

  /** `sub` (introspection: `sub`, else `subject`). */
  get subject() { return this.#get().subject; }
  /** `iss`. */
  get issuer() { return this.#get().issuer; }
  /** `aud` as a list. */
  get audience() { return this.#get().audience; }
  /** Granted scopes. */
  get scopes() { return this.#get().scopes; }
  /** Every claim (JWT payload, overlaid with the introspection answer when both ran). */
  get claims() {
    if (this.#claims === undefined) this.#claims = native.principalClaims(this.#handle);
    return this.#claims;
  }
  /** The OAuth client: `client_id`, else `azp`, else the subject. */
  get clientId() { return this.#get().clientId; }
  /** `exp` in Unix seconds, when the token has a numeric one. */
  get expiresAt() { return this.#get().expiresAt; }
  /** The SPIFFE ID of a workload caller (authenticated with a JWT-SVID), else null. */
  get spiffeId() { return this.#get().spiffeId ?? null; }
  /** Always true for an allowed request. */
  get active() { return this.#get().active; }

  /** True when any of `required` is granted (or `required` is empty). */
  hasAnyScope(required) {
    if (!required || required.length === 0) return true;
    const granted = this.scopes;
    return required.some((s) => granted.includes(s));
  }

  toJSON() {
    const f = this.#get();
    return { subject: f.subject, issuer: f.issuer, audience: f.audience, scopes: f.scopes, claims: this.claims, active: f.active };
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Principal ${JSON.stringify(this.toJSON())}`;
  }
}

function wrapDecision(d) {
  if (d.kind === 'allow') {
    return { kind: 'allow', principal: new Principal(d.principal), filterToolsList: d.filterToolsList, toolsListRequest: d.toolsListRequest };
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Request translation

function toBody(body) {
  if (body === undefined || body === null) return EMPTY;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw authsecError(ErrorCode.INVALID_INPUT, 'request.body must be a Buffer, a Uint8Array, a string or undefined');
}

// Headers as a flat [name, value, ...] list, from [[name, value], ...], a flat rawHeaders-style
// list, or an IncomingHttpHeaders-like object (array values give repeated headers).
function flatHeaders(headers) {
  const out = [];
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && typeof headers[0] === 'string') {
      if (headers.length % 2 !== 0) throw authsecError(ErrorCode.INVALID_INPUT, 'a flat header list needs name/value pairs');
      for (const h of headers) out.push(String(h));
      return out;
    }
    for (const pair of headers) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw authsecError(ErrorCode.INVALID_INPUT, 'request.headers must be [name, value] pairs');
      }
      out.push(String(pair[0]), String(pair[1]));
    }
    return out;
  }
  if (typeof headers === 'object') {
    for (const name of Object.keys(headers)) {
      const v = headers[name];
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const x of v) out.push(name, String(x));
      else out.push(name, String(v));
    }
    return out;
  }
  throw authsecError(ErrorCode.INVALID_INPUT, 'request.headers must be an array of [name, value] pairs or an object');
}

function runNativeCheck(rt, method, path, flat, body) {
  // One string crosses the boundary instead of 2n (names and values cannot contain NUL in HTTP).
  // `join` builds a flat string the native side copies once into a reused buffer (a `+=` chain
  // would be a rope V8 must flatten first). With the number of fields the native side sees a NUL
  // inside a name or value (more fields than joined) and answers null: the list form keeps it exact.
  let r = rt.check(method, path, flat.join('\0'), flat.length, body);
  if (typeof r === 'number') return allowOf(rt, r);
  if (r === null) r = rt.checkList(method, path, flat, body);
  if (typeof r === 'number') return allowOf(rt, r);
  if (r instanceof Promise) return r.then(wrapDecision);
  return wrapDecision(r);
}

// An allow decided from memory comes back as a number: the core principal's address with
// `filterToolsList` in bit 0 and `toolsListRequest` in bit 1 (src/principal_key.rs). The handle
// of that principal (an N-API external, a finalizable object: creating one per request was
// about 40% of the native call's time, docs/performance.md) is kept here per address, so a repeated token reuses the one it got the
// first time. Each kept handle owns a strong reference to its principal, so while the map holds
// an address no other principal can have it: a hit is always the principal the core returned.
// On a miss the native runtime hands over the principal it just allowed (only when the address
// matches). Bounded: past HANDLES_MAX the oldest entry goes (its principal is freed by the GC).
const HANDLES = new Map();
const HANDLES_MAX = 1024;

function allowOf(rt, n) {
  const flags = n % 4;
  const key = n - flags;
  let handle = HANDLES.get(key);
  if (handle === undefined) {
    handle = rt.principalHandle(n);
    if (HANDLES.size >= HANDLES_MAX) HANDLES.delete(HANDLES.keys().next().value);
    HANDLES.set(key, handle);
  }
  return { kind: 'allow', principal: new Principal(handle), filterToolsList: flags !== 0, toolsListRequest: flags === 3 };
}

function configJson(config) {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw authsecError(ErrorCode.CONFIG_INVALID, 'invalid config: expected an object');
  }
  try {
    return JSON.stringify(config);
  } catch {
    throw authsecError(ErrorCode.CONFIG_INVALID, 'invalid config: not serializable as JSON');
  }
}

function createOptions(options) {
  if (options === undefined || options === null) return false;
  if (typeof options !== 'object') throw authsecError(ErrorCode.INVALID_INPUT, 'options must be an object');
  for (const k of Object.keys(options)) {
    if (k !== 'manualClock') throw authsecError(ErrorCode.INVALID_INPUT, `unknown option \`${k}\` (known: manualClock)`);
  }
  return options.manualClock === true;
}

// The principal and the tools/list flag of an allow decision (a bare principal: tools/list).
function allowTarget(target, what) {
  const p = target instanceof Principal ? target : target && target.principal;
  if (!(p instanceof Principal)) {
    throw authsecError(ErrorCode.INVALID_INPUT, `${what} needs the principal (or the allow decision) from check`);
  }
  return { p, list: target instanceof Principal || target.toolsListRequest !== false };
}

// ---------------------------------------------------------------------------------------------
// Runtime

const TOKEN = Symbol('authsec.native');
let nativeOf; // the native runtime of a Runtime, for protect()'s hot path

// The method and path of a check's request object (GET and / when absent), refused when not strings.
function requestLine(request) {
  if (request === null || typeof request !== 'object') throw authsecError(ErrorCode.INVALID_INPUT, 'request must be an object');
  const method = request.method === undefined ? 'GET' : request.method;
  const path = request.path === undefined ? '/' : request.path;
  if (typeof method !== 'string' || typeof path !== 'string') {
    throw authsecError(ErrorCode.INVALID_INPUT, 'request.method and request.path must be strings');
  }
  return [method, path];
}

class Runtime {
  #native;
  /** One entry per audit callback: the flush markers it still has to see. */
  #audit = [];

  /** @internal Use Runtime.create, Runtime.fromJson or Runtime.fromEnv. */
  constructor(token, nativeRuntime) {
    if (token !== TOKEN) throw authsecError(ErrorCode.INVALID_INPUT, 'use Runtime.create(config) or Runtime.fromEnv()');
    this.#native = nativeRuntime;
  }

  /** Build from a camelCase config object. Unknown keys are refused (code `config_invalid`). */
  static create(config, options) {
    const manual = createOptions(options);
    return new Runtime(TOKEN, native.NativeRuntime.fromCamelJson(configJson(config), manual));
  }

  /** Build from the core's snake_case JSON configuration text (a config file). */
  static fromJson(text, options) {
    if (typeof text !== 'string') throw authsecError(ErrorCode.CONFIG_INVALID, 'invalid config: expected JSON text');
    return new Runtime(TOKEN, native.NativeRuntime.fromJson(text, createOptions(options)));
  }

  /** Build from the environment (`AUTHSEC_ISSUER`, ... and the SDK's legacy aliases). */
  static fromEnv(prefix = 'AUTHSEC_', options) {
    if (typeof prefix !== 'string') throw authsecError(ErrorCode.INVALID_INPUT, 'prefix must be a string');
    return new Runtime(TOKEN, native.NativeRuntime.fromEnv(prefix, createOptions(options)));
  }

  /** The camelCase configuration keys `create` accepts. */
  static configKeys() {
    return native.configKeys();
  }

  /** The core's answer while startup has failed: 503 `temporarily_unavailable`, no challenge. */
  static startupFailedResponse() {
    return native.startupFailedResponse();
  }

  /** The core's answer when a call failed: 500 `server_error`, a fixed description. */
  static internalErrorResponse() {
    return native.internalErrorResponse();
  }

  static {
    nativeOf = (r) => r.#rt();
  }

  #rt() {
    if (this.#native === null) throw authsecError(ErrorCode.INVALID_INPUT, 'the runtime is closed');
    return this.#native;
  }

  /** Startup work (the remote policy's first fetch). Resolves to warnings to log. */
  startup() {
    try {
      return this.#rt().startup();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Decide a request. Returns the decision synchronously when the core decided from memory, a
   * Promise of it only when a JWKS fetch or an introspection is needed.
   */
  check(request) {
    const rt = this.#rt();
    const [method, path] = requestLine(request);
    return runNativeCheck(rt, method, path, flatHeaders(request.headers), toBody(request.body));
  }

  /**
   * Decide a request whose body the host stopped reading because it is over `maxBodyBytes`
   * (`{method, path, headers}`; a body is not read): the answer `check` gives that whole body
   * (the metadata document on its route, the CORS Origin rule, otherwise 413), from memory.
   */
  checkOversized(request) {
    const rt = this.#rt();
    const [method, path] = requestLine(request);
    return wrapDecision(rt.checkOversized(method, path, flatHeaders(request.headers)));
  }

  /**
   * Filter a handler's whole answer (JSON or SSE) for an allowed decision (or its principal,
   * read as the answer to a tools/list request).
   */
  filterResponse(target, contentType, body) {
    const rt = this.#rt();
    const { p, list } = allowTarget(target, 'filterResponse');
    if (contentType !== undefined && contentType !== null && typeof contentType !== 'string') {
      throw authsecError(ErrorCode.INVALID_INPUT, 'contentType must be a string');
    }
    return rt.filter(handleOf(p), list, contentType ?? null, toBody(body));
  }

  /**
   * A streaming filter for the handler's answer to an allowed decision (or its principal, read as
   * a tools/list request): `feed(chunk)` and `finish()` give `{kind: 'forward', body}` (send it)
   * or `{kind: 'respond', status, headers, body}` (send that instead, nothing more of the
   * handler's). `head` is `{contentType, contentEncoding}` of the handler's answer.
   */
  responseFilter(target, head) {
    const rt = this.#rt();
    const { p, list } = allowTarget(target, 'responseFilter');
    const { contentType = null, contentEncoding = null } = head ?? {};
    for (const v of [contentType, contentEncoding]) {
      if (v !== null && typeof v !== 'string') throw authsecError(ErrorCode.INVALID_INPUT, 'contentType and contentEncoding must be strings');
    }
    const f = rt.responseFilter(handleOf(p), list, contentType, contentEncoding);
    return {
      feed: (chunk) => f.feed(toBody(chunk)),
      finish: () => f.finish(),
      passthrough: f.passthrough,
      dropsContentEncoding: f.dropsContentEncoding,
      holdsBody: f.holdsBody,
    };
  }

  /**
   * The `user_info` document of an allowed decision (or its principal), as JSON text: the core
   * builds it from the validated claims (`sub`, `email`, `tenant_id`, `roles`, `groups`, `scopes`,
   * `resources`, `permissions`; see docs/rbac.md).
   */
  userInfoJson(target) {
    const rt = this.#rt();
    const { p } = allowTarget(target, 'userInfoJson');
    return rt.userInfo(handleOf(p));
  }

  /** `userInfoJson` parsed: what a tool protected with `protectedByAuthSec` gets as `_user_info`. */
  userInfo(target) {
    return JSON.parse(this.userInfoJson(target));
  }

  /** The RFC 9728 document response ({kind: 'respond', status, headers, body}). */
  metadata() {
    return this.#rt().metadata();
  }

  /** The path the RFC 9728 document is served at. */
  get metadataPath() {
    return this.#rt().metadataPath;
  }

  /** The configured resource URI. */
  get resourceUri() {
    return this.#rt().resourceUri;
  }

  /** The configured largest request body. */
  get maxBodyBytes() {
    return this.#rt().maxBodyBytes;
  }

  /** Whether the configuration asks hosts to publish the manifest at startup. */
  get publishManifestAtStartup() {
    return this.#rt().publishManifestAtStartup;
  }

  /**
   * Publish the tool manifest: `source` is an array of MCP tool objects, or an async callback
   * that answers JSON-RPC requests (the synthetic initialize + tools/list handshake).
   */
  publishManifest(source) {
    let rt;
    try {
      rt = this.#rt();
    } catch (e) {
      return Promise.reject(e);
    }
    if (Array.isArray(source)) return rt.publishManifestTools(JSON.stringify(source));
    if (typeof source === 'function') {
      return rt.publishManifestHandshake(async (text) => {
        const answer = await source(JSON.parse(text));
        return JSON.stringify(answer === undefined ? null : answer);
      });
    }
    return Promise.reject(authsecError(ErrorCode.INVALID_INPUT, 'publishManifest needs an array of tools or a JSON-RPC callback'));
  }

  /**
   * The AuthSec services API (`servicesUrl`) for the user of `sessionId`: `what` is
   * `credentials`, `token` or `user_details` (see ServiceAccessSDK). Rejects with an Error whose
   * `code` is `services_error` or `invalid_input`; no message carries a credential.
   */
  service(what, sessionId, serviceName) {
    let rt;
    try {
      rt = this.#rt();
    } catch (e) {
      return Promise.reject(e);
    }
    if (typeof sessionId !== 'string' || typeof serviceName !== 'string') {
      return Promise.reject(authsecError(ErrorCode.INVALID_INPUT, 'sessionId and serviceName must be strings'));
    }
    return rt.service(what, sessionId, serviceName);
  }

  /** The remote policy cache status, or null unless the policy mode is remote. */
  policyStatus() {
    return this.#rt().policyStatus();
  }

  /** Release the runtime. Later calls throw (code `invalid_input`). */
  close() {
    this.#native = null;
  }

  /** Test hook: move the manual clock forward (`Runtime.create(config, { manualClock: true })`). */
  advanceClock(seconds) {
    if (typeof seconds !== 'number') throw authsecError(ErrorCode.INVALID_INPUT, 'seconds must be a number');
    this.#rt().advanceClock(seconds);
  }

  /**
   * Call `fn(line)` with every later audit line: one JSON object and its newline, written by
   * the core (schema: docs/audit.md). Runs on the JS thread, after the request was answered; a
   * callback that throws loses that line only. There is no removal; close() stops delivery.
   */
  onAudit(fn) {
    if (typeof fn !== 'function') throw authsecError(ErrorCode.INVALID_INPUT, 'onAudit needs a function');
    const rt = this.#rt();
    const waiters = [];
    rt.addAuditCallback((line) => {
      if (line === '') {
        const w = waiters.shift();
        if (w) w();
        return;
      }
      try {
        fn(line);
      } catch {
        // The audit trail never breaks the server: a failing callback loses this line.
      }
    });
    this.#audit.push(waiters);
  }

  /**
   * Resolve once every audit line queued before the call has reached every `onAudit` callback
   * (and the `auditLog` file), waiting at most `timeoutMs` (default 5000); resolves to whether
   * it completed.
   */
  async flushAudit(timeoutMs = 5000) {
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw authsecError(ErrorCode.INVALID_INPUT, 'timeoutMs must be a non-negative number');
    const rt = this.#rt();
    const done = await rt.flushAudit(Math.min(Math.floor(timeoutMs), 0xffffffff));
    // Every line the core delivered is now queued for the JS thread; a marker behind it on each
    // callback's own queue says when it has run.
    const seen = this.#audit.map((waiters) => new Promise((resolve) => waiters.push(resolve)));
    const queued = rt.auditMarkers();
    queued.forEach((ok, i) => {
      if (!ok) this.#audit[i].shift()?.();
    });
    // The callbacks are weak (they never keep the process alive); this wait does.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      await Promise.all(seen);
    } finally {
      clearInterval(keepAlive);
    }
    return done;
  }

  /** The runtime's metrics in the Prometheus text format 0.0.4 (serve with METRICS_CONTENT_TYPE). */
  metrics() {
    return this.#rt().metrics();
  }

  /** Test hook: wait until a running background policy refresh has finished. */
  waitPolicyRefresh() {
    try {
      return this.#rt().waitPolicyRefresh();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// node:http glue

function writeDecision(res, d) {
  res.statusCode = d.status;
  const seen = new Map();
  for (const [name, value] of d.headers) {
    const prev = seen.get(name);
    if (prev === undefined) seen.set(name, value);
    else seen.set(name, Array.isArray(prev) ? [...prev, value] : [prev, value]);
  }
  for (const [name, value] of seen) res.setHeader(name, value);
  res.end(d.body);
}

function clearHeaders(res) {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
}

/** The MCP SDK's AuthInfo for a principal (`req.auth`), from the core's typed accessors and its
 * bearer extraction. Every field is a memoized getter on the class (one small object per
 * request, no closures: an object literal with getters costs microseconds to create): a handler
 * that never reads `req.auth`, or reads only part of it, pays only for what it reads.
 * `toJSON()` gives every field as a plain object (`JSON.stringify(req.auth)`). */
class AuthInfo {
  #principal;
  #flat;
  #resourceUri;
  #runtime;
  #token;
  #resource;
  #extra;

  constructor(principal, flat, resourceUri, runtime) {
    this.#principal = principal;
    this.#flat = flat;
    this.#resourceUri = resourceUri;
    this.#runtime = runtime;
  }

  get token() {
    if (this.#token === undefined) this.#token = native.bearerToken(this.#flat);
    return this.#token;
  }

  get clientId() { return this.#principal.clientId; }

  get scopes() { return this.#principal.scopes; }

  get expiresAt() {
    const exp = this.#principal.expiresAt;
    return exp === null ? undefined : exp;
  }

  get resource() {
    if (this.#resource === undefined) {
      try {
        this.#resource = new URL(this.#resourceUri);
      } catch {
        this.#resource = null; // resource_uri is validated by the core; nothing to add otherwise
      }
    }
    return this.#resource === null ? undefined : this.#resource;
  }

  get extra() {
    if (this.#extra === undefined) {
      const principal = this.#principal;
      const runtime = this.#runtime;
      this.#extra = {
        subject: principal.subject,
        issuer: principal.issuer,
        audience: principal.audience,
        get claims() { return principal.claims; },
        principal,
        // The core's user_info document (docs/rbac.md), built on first read.
        get userInfo() {
          const v = runtime.userInfo(principal);
          Object.defineProperty(this, 'userInfo', { value: v, enumerable: true });
          return v;
        },
      };
    }
    return this.#extra;
  }

  toJSON() {
    return { token: this.token, clientId: this.clientId, scopes: this.scopes, expiresAt: this.expiresAt, resource: this.resource, extra: this.extra };
  }
}

// Read the request body. Over the limit (declared by Content-Length or counted while reading)
// it stops and keeps nothing: `over` tells the caller to ask the core with checkOversized,
// which answers without the body, so a huge declared length allocates nothing.
function readBody(req, limit) {
  if (req.readableEnded || req.complete && req.readableLength === 0 && req.body !== undefined) {
    const b = req.rawBody ?? req.body;
    if (Buffer.isBuffer(b) || typeof b === 'string') return Promise.resolve({ body: toBody(b), over: false });
    return Promise.reject(authsecError(ErrorCode.INVALID_INPUT, 'the request body was already consumed; mount authsec before any body parser'));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.resolve({ body: EMPTY, over: true });
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(v);
    };
    const onData = (c) => {
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        finish({ body: EMPTY, over: true });
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => finish({ body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), over: false });
    const onError = (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

// The core's `ResponseFilter::reads` answers, remembered per (tools/list flag, Content-Type): a
// server answers with a handful of Content-Types, so the crossing is paid once per type, not per
// request. Bounded: cleared past 64 types.
const READS = [new Map(), new Map()];

function filterReads(toolsListRequest, contentType) {
  const memo = READS[toolsListRequest ? 1 : 0];
  let reads = memo.get(contentType);
  if (reads === undefined) {
    reads = native.filterReads(toolsListRequest, contentType);
    if (memo.size >= 64) memo.clear();
    memo.set(contentType, reads);
  }
  return reads;
}

// The Content-Type a `writeHead(status, [reason], headers)` call commits: the headers argument's
// (a plain object with one Content-Type key) or the one set on the response. `undefined` when it
// cannot be told cheaply (an array of headers, two spellings of the key): the caller then takes
// the filtering path, which reads the head exactly as the filter itself does.
function headContentType(res, headers) {
  if (headers !== undefined && headers !== null) {
    if (typeof headers !== 'object' || Array.isArray(headers)) return undefined;
    let found = null;
    let seen = 0;
    for (const k of Object.keys(headers)) {
      if (headers[k] !== undefined && k.length === 12 && k.toLowerCase() === 'content-type') {
        found = String(headers[k]);
        seen++;
      }
    }
    if (seen > 1) return undefined;
    if (seen === 1) return found;
  }
  const v = res.getHeader('content-type');
  return v === undefined ? null : String(v);
}

/**
 * Arm the response of an allow whose answer the filter may have to read (`filterToolsList`):
 * shared hooks (no per-request closures) on writeHead, write, end and flushHeaders wait for the
 * head. The first of them puts the response's own methods back, asks the core whether it reads an
 * answer with that Content-Type (`filterReads`, the usual tools/call JSON answer: no), and only
 * then sets up the interception (`interceptToolsList`) before going on with the call.
 */
const ARMED = Symbol('authsec.armed');

function armResponse(res, runtime, decision, onError) {
  res[ARMED] = { runtime, decision, onError, writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  res.writeHead = armedWriteHead;
  res.write = armedWrite;
  res.end = armedEnd;
  res.flushHeaders = armedFlushHeaders;
}

// Put the response's methods back; set up the interception when the filter reads this answer.
function disarm(res, contentType) {
  const s = res[ARMED];
  res[ARMED] = undefined;
  res.writeHead = s.writeHead;
  res.write = s.write;
  res.end = s.end;
  res.flushHeaders = s.flushHeaders;
  if (contentType === undefined || filterReads(s.decision.toolsListRequest, contentType)) {
    interceptToolsList(res, s.runtime, s.decision, s.onError);
  }
}

function armedWriteHead(status, reason, headers) {
  disarm(this, headContentType(this, typeof reason === 'string' ? headers : reason));
  return this.writeHead.apply(this, arguments);
}

function armedWrite() {
  disarm(this, headContentType(this, undefined));
  return this.write.apply(this, arguments);
}

function armedEnd() {
  disarm(this, headContentType(this, undefined));
  return this.end.apply(this, arguments);
}

function armedFlushHeaders() {
  disarm(this, headContentType(this, undefined));
  return this.flushHeaders.apply(this, arguments);
}

/**
 * Route the handler's answer through the core's response filter: the head is held until the
 * filter's first bytes (Content-Length dropped, or set from a held JSON body; Content-Encoding
 * dropped when the filter decodes), every chunk is fed, and a refusal (502 unreadable, 503 policy
 * unavailable) replaces the answer, or closes the stream when bytes were already sent.
 */
const PASSTHROUGH = Object.freeze({ passthrough: true });

function interceptToolsList(res, runtime, decision, onError) {
  const orig = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  let filter = null;
  let refused = false;
  let headSent = false;
  const restore = () => Object.assign(res, orig);
  const chunkOf = (chunk, encoding) => (typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : toBody(chunk));
  const start = () => {
    if (filter !== null) return filter.passthrough;
    const h = (name) => (res.getHeader(name) === undefined ? null : String(res.getHeader(name)));
    const contentType = h('content-type');
    if (!filterReads(decision.toolsListRequest, contentType)) {
      // The core would pass this answer through untouched: no filter to create or feed.
      filter = PASSTHROUGH;
      restore();
      return true;
    }
    filter = runtime.responseFilter(decision, { contentType, contentEncoding: h('content-encoding') });
    if (filter.passthrough) {
      restore();
      return true;
    }
    res.removeHeader('content-length');
    if (filter.dropsContentEncoding) res.removeHeader('content-encoding');
    return false;
  };
  const sendHead = () => {
    if (!headSent) {
      headSent = true;
      orig.writeHead.call(res, res.statusCode);
    }
  };
  // Forward a filter step; false when it refused (the refusal is written or the stream closed).
  const forward = (out) => {
    if (out.kind === 'respond') {
      refused = true;
      restore();
      if (res.headersSent) {
        onError(authsecError(ErrorCode.BACKEND_ERROR, `response filter answered ${out.status} after the stream started; stream closed`));
        res.end();
      } else {
        clearHeaders(res);
        writeDecision(res, out);
      }
      return false;
    }
    if (out.body.length > 0) {
      sendHead();
      orig.write.call(res, out.body);
    }
    return true;
  };
  const callback = (cb) => cb && process.nextTick(cb);

  res.writeHead = function writeHead(status, reason, headers) {
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    res.statusCode = status;
    if (reason) res.statusMessage = reason;
    if (Array.isArray(headers)) {
      if (headers.length && Array.isArray(headers[0])) for (const [k, v] of headers) res.setHeader(k, v);
      else for (let i = 0; i + 1 < headers.length; i += 2) res.setHeader(headers[i], headers[i + 1]);
    } else if (headers) {
      for (const k of Object.keys(headers)) if (headers[k] !== undefined) res.setHeader(k, headers[k]);
    }
    return res;
  };
  res.flushHeaders = function flushHeaders() {
    if (start()) return orig.flushHeaders.call(res);
    // A held JSON body waits for finish (its length and a refusal's status are not known yet);
    // an SSE stream's head goes now (an idle GET stream must open), a later refusal closes it.
    if (!refused && !filter.holdsBody) {
      sendHead();
      orig.flushHeaders.call(res);
    }
  };
  res.write = function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    if (start()) return orig.write.call(res, chunk, encoding, cb);
    if (!refused && chunk !== undefined && chunk !== null) forward(filter.feed(chunkOf(chunk, encoding)));
    callback(cb);
    return true;
  };
  res.end = function end(chunk, encoding, cb) {
    if (typeof chunk === 'function') [cb, chunk] = [chunk, undefined];
    else if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    if (start()) return orig.end.call(res, chunk, encoding, cb);
    if (refused || (chunk !== undefined && chunk !== null && !forward(filter.feed(chunkOf(chunk, encoding))))) {
      callback(cb);
      return res;
    }
    const out = filter.finish();
    if (out.kind === 'respond') {
      forward(out);
      callback(cb);
      return res;
    }
    restore();
    if (filter.holdsBody) res.setHeader('content-length', out.body.length);
    sendHead();
    return orig.end.call(res, out.body, cb);
  };
}

function defaultLogger() {
  return { warn: (...a) => console.warn('[authsec]', ...a), error: (...a) => console.error('[authsec]', ...a) };
}

function resolveRuntime(options, logger) {
  if (!options || typeof options !== 'object') throw authsecError(ErrorCode.INVALID_INPUT, 'options must be an object with config or runtime');
  if (options.runtime && options.config) throw authsecError(ErrorCode.INVALID_INPUT, 'give either config or runtime, not both');
  if (options.runtime) {
    if (!(options.runtime instanceof Runtime)) throw authsecError(ErrorCode.INVALID_INPUT, 'options.runtime must be a Runtime');
    return { runtime: options.runtime, ready: Promise.resolve([]) };
  }
  if (!options.config) throw authsecError(ErrorCode.INVALID_INPUT, 'options.config or options.runtime is required');
  const runtime = Runtime.create(options.config);
  const ready = runtime.startup().then((warnings) => {
    for (const w of warnings) logger.warn(w);
    return warnings;
  });
  return { runtime, ready };
}

/**
 * Wrap a node:http style handler `(req, res, parsedBody) => ...` so every request goes through
 * authsec first. With `config` the runtime is built here and started (the returned function's
 * `ready` promise settles with startup); with `runtime` the caller has started it.
 */
function protect(handler, options) {
  if (typeof handler !== 'function') throw authsecError(ErrorCode.INVALID_INPUT, 'handler must be a function');
  const logger = (options && options.logger) || defaultLogger();
  const { runtime, ready } = resolveRuntime(options, logger);
  let started = false;
  let startError = null;
  const gate = ready.then(
    () => { started = true; },
    (e) => {
      startError = e;
      logger.error(`startup failed (${e.code}): ${e.message}`);
    },
  );

  // Configuration read once, not per request (each is a native call).
  const limit = runtime.maxBodyBytes;
  const resourceUri = runtime.resourceUri;
  const logError = (e) => logger.error(e.message);

  async function authsecProtected(req, res, next) {
    try {
      if (!started) {
        await gate;
        if (startError) {
          writeDecision(res, native.startupFailedResponse());
          return;
        }
      }
      const { body, over } = await readBody(req, limit);
      const flat = req.rawHeaders ? req.rawHeaders : flatHeaders(req.headers);
      const method = req.method || 'GET';
      const path = req.originalUrl || req.url || '/';
      let decision = over
        ? wrapDecision(nativeOf(runtime).checkOversized(method, path, flat))
        : runNativeCheck(nativeOf(runtime), method, path, flat, body);
      if (decision instanceof Promise) decision = await decision;
      if (over) {
        res.setHeader('connection', 'close');
        req.resume();
      }
      if (decision.kind === 'respond') {
        writeDecision(res, decision);
        return;
      }
      let parsed;
      if (body.length > 0 && (method === 'POST' || method.toUpperCase() === 'POST')) {
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          parsed = undefined; // the core passed it (non-POST or not JSON-RPC); the handler reads nothing
        }
      }
      if (parsed !== undefined && req.body === undefined) req.body = parsed;
      if (decision.kind === 'allow') {
        req.auth = new AuthInfo(decision.principal, flat, resourceUri, runtime);
        req.authsec = { principal: decision.principal, filterToolsList: decision.filterToolsList };
        if (decision.filterToolsList) armResponse(res, runtime, decision, logError);
      }
      await handler(req, res, parsed, next);
    } catch (e) {
      logger.error(`request failed (${e && e.code ? e.code : 'error'}): ${e && e.message}`);
      if (!res.headersSent) {
        clearHeaders(res);
        writeDecision(res, native.internalErrorResponse());
      } else {
        res.end();
      }
    }
  }
  authsecProtected.runtime = runtime;
  authsecProtected.ready = ready;
  return authsecProtected;
}

/**
 * Mount a protected MCP endpoint on an Express app: the RFC 9728 document at the runtime's
 * metadata path, and `handler(req, res, parsedBody)` at `path` behind authsec. When the config
 * asks for it (`publishManifest: true`), `tools` is published to the AuthSec backend in the
 * background after startup; a failure is logged, never fatal.
 */
function mountMcp(app, options) {
  if (!app || typeof app.all !== 'function' || typeof app.get !== 'function') {
    throw authsecError(ErrorCode.INVALID_INPUT, 'mountMcp needs an Express app (or router)');
  }
  const { path = '/mcp', handler, tools } = options || {};
  if (typeof handler !== 'function') throw authsecError(ErrorCode.INVALID_INPUT, 'options.handler must be a function');
  const logger = options.logger || defaultLogger();
  const protectedHandler = protect(handler, { config: options.config, runtime: options.runtime, logger });
  const { runtime, ready } = protectedHandler;
  app.get(runtime.metadataPath, (req, res) => writeDecision(res, runtime.metadata()));
  app.all(path, protectedHandler);
  const published = ready.then(async () => {
    if (!tools || !runtime.publishManifestAtStartup) return null;
    try {
      return await runtime.publishManifest(tools);
    } catch (e) {
      logger.warn(`manifest not published (${e.code}): ${e.message}`);
      return null;
    }
  }, () => null);
  return { runtime, ready, published };
}

const { QuickStartSVID, peerSpiffeId } = require('./spiffe.js');

// ---------------------------------------------------------------------------------------------
// RBAC decorators (the seed's protectedByAuthSec, docs/rbac.md). The core decides: a tool's
// requirement goes into the runtime's `toolRbac` (build it with `toolRbac(...)`), so the call is
// denied and the tool hidden from tools/list before the handler runs. The wrapper only hands the
// handler the core's user_info as `args._user_info`, and refuses when there is none (the tool is
// not served behind mountMcp/protect), never running the handler without a caller.

const RBAC_OPTIONS = ['toolName', 'roles', 'groups', 'resources', 'scopes', 'permissions', 'requireAll', 'description', 'inputSchema'];

function stringList(v, what) {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.trim() === '')) {
    throw authsecError(ErrorCode.INVALID_INPUT, `${what} must be a list of non-empty strings`);
  }
  return [...v];
}

/**
 * Protect an MCP SDK tool callback with RBAC requirements: `protectedByAuthSec({toolName, roles,
 * groups, resources, scopes, permissions, requireAll, description, inputSchema}, handler)`. The
 * returned callback calls `handler(args, extra)` (or `handler(args)` for a one-parameter handler)
 * with `args._user_info` set; `.authsec` carries the tool's name and requirement for `toolRbac`.
 */
function protectedByAuthSec(options, handler) {
  if (options === null || typeof options !== 'object') throw authsecError(ErrorCode.INVALID_INPUT, 'options must be an object');
  for (const k of Object.keys(options)) {
    if (!RBAC_OPTIONS.includes(k)) throw authsecError(ErrorCode.INVALID_INPUT, `unknown option \`${k}\` (known: ${RBAC_OPTIONS.join(', ')})`);
  }
  const tool = options.toolName;
  if (typeof tool !== 'string' || tool.trim() === '') throw authsecError(ErrorCode.INVALID_INPUT, 'toolName must be a non-empty string');
  if (typeof handler !== 'function') throw authsecError(ErrorCode.INVALID_INPUT, 'handler must be a function');
  if (options.requireAll !== undefined && typeof options.requireAll !== 'boolean') throw authsecError(ErrorCode.INVALID_INPUT, 'requireAll must be a boolean');
  const rbac = {
    roles: stringList(options.roles, 'roles'),
    groups: stringList(options.groups, 'groups'),
    resources: stringList(options.resources, 'resources'),
    scopes: stringList(options.scopes, 'scopes'),
    permissions: stringList(options.permissions, 'permissions'),
    require_all: options.requireAll === true,
  };
  const wrapped = async function authsecProtectedTool(...params) {
    // McpServer calls a tool registered without an inputSchema with `(extra)` alone.
    let [args, extra] = params;
    if (params.length < 2 && args && typeof args === 'object' && ('requestId' in args || 'signal' in args)) {
      extra = args;
      args = {};
    }
    const userInfo = extra && extra.authInfo && extra.authInfo.extra ? extra.authInfo.extra.userInfo : undefined;
    if (userInfo === null || typeof userInfo !== 'object') {
      const text = JSON.stringify({ error: 'Access denied', message: 'no authenticated AuthSec caller: serve this tool behind mountMcp or protect', tool });
      return { content: [{ type: 'text', text }], isError: true };
    }
    const a = { ...(args ?? {}), _user_info: userInfo };
    return handler.length >= 2 ? handler(a, extra) : handler(a);
  };
  Object.defineProperty(wrapped, 'authsec', {
    value: Object.freeze({ toolName: tool.trim(), rbac, description: options.description, inputSchema: options.inputSchema }),
  });
  return wrapped;
}

/** The `toolRbac` configuration map of tools made with `protectedByAuthSec`. */
function toolRbac(...tools) {
  const out = {};
  for (const t of tools.flat()) {
    if (!t || !t.authsec) throw authsecError(ErrorCode.INVALID_INPUT, 'toolRbac takes tools made with protectedByAuthSec');
    out[t.authsec.toolName] = t.authsec.rbac;
  }
  return out;
}

/** The Content-Type of Runtime.metrics()'s text (Prometheus text format 0.0.4). */
const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The seed's ServiceAccessSDK, camelCase: the credentials of the external services the user of
 * a sign-in session connected, from the AuthSec services API (`servicesUrl`), called by the
 * core. `session` is an object with `sessionId` (or the seed's `session_id`). Credential values
 * never appear in an error, and `inspect`/`JSON.stringify` of a credentials object name the
 * credential fields only.
 */
class ServiceAccessSDK {
  #runtime;

  constructor(session, runtime) {
    const id = session === null || typeof session !== 'object' ? undefined : (session.sessionId ?? session.session_id);
    if (typeof id !== 'string') throw new TypeError('Session must contain session_id');
    if (!(runtime instanceof Runtime)) throw authsecError(ErrorCode.INVALID_INPUT, 'ServiceAccessSDK needs a Runtime');
    this.sessionId = id;
    this.#runtime = runtime;
  }

  /** `{serviceId, serviceName, serviceType, authType, url, credentials, metadata, retrievedAt}`. */
  async getServiceCredentials(serviceName) {
    const c = JSON.parse(await this.#runtime.service('credentials', this.sessionId, serviceName));
    return serviceCredentials(c);
  }

  /** `credentials.access_token`; rejects `services_error` "No access token available for <name>". */
  async getServiceToken(serviceName) {
    return this.#runtime.service('token', this.sessionId, serviceName);
  }

  /** The user's details at the service, as the services API answers them. */
  async getServiceUserDetails(serviceName) {
    return JSON.parse(await this.#runtime.service('user_details', this.sessionId, serviceName));
  }

  /** Nothing to close (the runtime owns the connections). */
  async close() {}
}

/** The camelCase credentials object, its secrets hidden from inspect and JSON. */
function serviceCredentials(c) {
  const out = {
    serviceId: c.service_id,
    serviceName: c.service_name,
    serviceType: c.service_type,
    authType: c.auth_type,
    url: c.url,
    metadata: c.metadata ?? {},
    retrievedAt: c.retrieved_at,
  };
  const names = Object.keys(c.credentials);
  Object.defineProperty(out, 'credentials', { value: c.credentials, enumerable: false });
  Object.defineProperty(out, 'toJSON', { value: () => ({ ...out, credentials: `<redacted: ${names.join(', ')}>` }), enumerable: false });
  Object.defineProperty(out, Symbol.for('nodejs.util.inspect.custom'), {
    value: () => `ServiceCredentials ${JSON.stringify(out)}`,
    enumerable: false,
  });
  return out;
}

module.exports = { ServiceAccessSDK, Runtime, Principal, protect, mountMcp, writeDecision, protectedByAuthSec, toolRbac, ErrorCode, QuickStartSVID, peerSpiffeId, METRICS_CONTENT_TYPE };
// After the exports above: oauth-server.js builds on protect and toolRbac.
module.exports.runMcpServerWithOAuth = require('./oauth-server.js').runMcpServerWithOAuth;
