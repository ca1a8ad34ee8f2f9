// The Node servers of the whole-server load benchmark (scripts/load.sh). One trivial MCP handler
// (a JSON-RPC tools/call answered with a fixed small result, the same bytes as the Rust, C and
// Python load servers), served five ways so each pair differs only by its protection:
//
//   node server.mjs unprotected   node:http, the handler alone
//   node server.mjs protect       node:http, the handler wrapped in protect() (bindings/node)
//   node server.mjs runtime-check node:http, runtime.check() called by hand before the handler
//   node server.mjs express       Express 5, express.json() and the handler (the peer's baseline)
//   node server.mjs sdk           Express 5, the MCP TypeScript SDK's requireBearerAuth with a
//                                 jose JWT verifier, the same per-tool scope check, the handler
//
// Configuration comes from the environment (AUTHSEC_ISSUER, AUTHSEC_JWKS_URL, AUTHSEC_RESOURCE_URI,
// AUTHSEC_TOOL_SCOPES_JSON; the peer reads the same variables; AUTHSEC_LOAD_NODE_RUNTIME: the
// directory of the @authsec/runtime index.js to load, default bindings/node). Listens on 127.0.0.1 (PORT, default
// 0 = a free port) and prints `READY http://127.0.0.1:<port>`; SIGTERM stops it.
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// @authsec/runtime: bindings/node, or the copy with the release addon that scripts/load.sh makes.
const RUNTIME = process.env.AUTHSEC_LOAD_NODE_RUNTIME
  ? `${process.env.AUTHSEC_LOAD_NODE_RUNTIME}/index.js`
  : '../../../bindings/node/index.js';
const mode = process.argv[2];
const MODES = ['unprotected', 'protect', 'runtime-check', 'express', 'sdk'];
if (!MODES.includes(mode)) {
  console.error(`usage: node server.mjs ${MODES.join('|')}`);
  process.exit(2);
}

// ---- the MCP handler: what an application writes, knowing nothing about auth ----------------

const CT = { 'content-type': 'application/json' };
const PARSE_ERROR = '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}';

/** The answer to one parsed JSON-RPC message, or null for a notification (HTTP 202). */
function mcpAnswer(msg) {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return PARSE_ERROR;
  const method = typeof msg.method === 'string' ? msg.method : '';
  if (!('id' in msg) && method.startsWith('notifications/')) return null;
  const id = JSON.stringify(msg.id ?? null);
  if (method === 'tools/call') return `{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"ok"}]}}`;
  return `{"jsonrpc":"2.0","id":${id},"error":{"code":-32601,"message":"method not found"}}`;
}

function send(res, answer) {
  if (answer === null) {
    res.writeHead(202).end();
    return;
  }
  res.writeHead(200, CT).end(answer);
}

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

/** The node:http handler `(req, res, parsedBody)`: protect() hands over the body it parsed. */
async function nodeHandler(req, res, parsed) {
  const path = (req.url || '/').split('?')[0];
  if (path !== '/mcp' || req.method !== 'POST') {
    res.writeHead(404, CT).end('{"error":"not_found"}');
    return;
  }
  // Under protect() the body was read (and parsed when it was JSON); unprotected it is read here.
  const msg = parsed !== undefined ? parsed : req.readableEnded ? undefined : await readJson(req);
  send(res, msg === undefined ? PARSE_ERROR : mcpAnswer(msg));
}

function guarded(handler) {
  return (req, res) => {
    Promise.resolve(handler(req, res)).catch((e) => {
      console.error(`request failed: ${e && e.code ? e.code : 'error'}: ${e && e.message}`);
      if (!res.headersSent) res.writeHead(500, CT).end('{"error":"server_error"}');
      else res.end();
    });
  };
}

// ---- the five servers -------------------------------------------------------------------------

function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return v;
}

async function authsecRuntime() {
  const { Runtime } = require(RUNTIME);
  const runtime = Runtime.fromEnv('AUTHSEC_');
  for (const w of await runtime.startup()) console.warn(w);
  return runtime;
}

async function build() {
  if (mode === 'unprotected') return http.createServer(guarded(nodeHandler));
  if (mode === 'protect') {
    const { protect } = require(RUNTIME);
    const runtime = await authsecRuntime();
    return http.createServer(protect(nodeHandler, { runtime }));
  }
  if (mode === 'runtime-check') {
    // The decision by hand: read the body, check, run the handler on an allow, and pass its
    // answer through the core's response filter when the decision asks for it (every allow
    // under a policy: a JSON answer to anything but tools/list comes back unchanged).
    const { Runtime, writeDecision } = require(RUNTIME);
    const runtime = await authsecRuntime();
    return http.createServer(guarded(async (req, res) => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const body = Buffer.concat(chunks);
      let d = runtime.check({ method: req.method, path: req.url, headers: req.rawHeaders, body });
      if (d instanceof Promise) d = await d;
      if (d.kind === 'respond') return writeDecision(res, d);
      // A pass-through carries no caller (this server has no handshake), or a kind not known.
      if (d.kind !== 'allow') return writeDecision(res, Runtime.internalErrorResponse());
      if ((req.url || '/').split('?')[0] !== '/mcp' || req.method !== 'POST') {
        res.writeHead(404, CT).end('{"error":"not_found"}');
        return undefined;
      }
      let msg;
      try {
        msg = JSON.parse(body.toString('utf8'));
      } catch {
        msg = undefined;
      }
      const answer = msg === undefined ? PARSE_ERROR : mcpAnswer(msg);
      if (answer === null || !d.filterToolsList) return send(res, answer);
      const out = runtime.filterResponse(d, 'application/json', answer);
      if (out.kind === 'unchanged') return send(res, answer);
      if (out.kind === 'rewritten') return res.writeHead(200, CT).end(out.body);
      return writeDecision(res, out.kind === 'respond' ? out : Runtime.internalErrorResponse());
    }));
  }
  const { default: express } = await import('express');
  const app = express();
  const handle = (req, res) => {
    if (req.body === undefined) return send(res, PARSE_ERROR);
    send(res, mcpAnswer(req.body));
  };
  if (mode === 'express') {
    app.post('/mcp', express.json(), handle);
    return http.createServer(app);
  }
  // mode === 'sdk': the peer users pick today.
  const { requireBearerAuth } = await import('@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js');
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  const issuer = env('AUTHSEC_ISSUER');
  const resourceUri = env('AUTHSEC_RESOURCE_URI');
  const toolScopes = JSON.parse(env('AUTHSEC_TOOL_SCOPES_JSON'));
  const jwks = createRemoteJWKSet(new URL(env('AUTHSEC_JWKS_URL')));
  const verifier = {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer,
          audience: resourceUri,
          algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384'],
        }));
      } catch (e) {
        const { InvalidTokenError } = await import('@modelcontextprotocol/sdk/server/auth/errors.js');
        throw new InvalidTokenError(`invalid token: ${e.code ?? 'error'}`);
      }
      const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
      return {
        token,
        clientId: String(payload.client_id ?? payload.azp ?? payload.sub ?? ''),
        scopes,
        expiresAt: payload.exp,
        extra: { subject: payload.sub },
      };
    },
  };
  // The same per-tool rule as tool_scopes in the AuthSec config: a tools/call needs one of the
  // tool's scopes; a tool that is not listed is refused.
  const scopeCheck = (req, res, next) => {
    const msg = req.body;
    if (msg && typeof msg === 'object' && msg.method === 'tools/call') {
      const name = msg.params && typeof msg.params.name === 'string' ? msg.params.name : '';
      const required = Object.hasOwn(toolScopes, name) ? toolScopes[name] : null;
      if (required === null || (required.length > 0 && !required.some((s) => req.auth.scopes.includes(s)))) {
        res.status(403).json({ error: 'insufficient_scope', error_description: `tool ${name} needs ${JSON.stringify(required)}` });
        return;
      }
    }
    next();
  };
  app.post('/mcp', requireBearerAuth({ verifier }), express.json(), scopeCheck, handle);
  return http.createServer(app);
}

const server = await build();
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
