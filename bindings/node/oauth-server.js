'use strict';
// The seed's runMcpServerWithOAuth (docs/sign-in.md): a complete MCP server over HTTP whose users
// sign in through the oauth_* tools. The core decides and writes every byte of the sign-in (the
// oauth_* answers, the signed-out tools/list, the callback page, the GET / info route); a
// signed-in session's tools/call reaches the tool with the session's principal (so
// protectedByAuthSec hands it args._user_info) and its tools/list is filtered by the core. This
// file only serves the seed's JSON-RPC (initialize, tools/list, tools/call) for `tools`.

const http = require('node:http');
const crypto = require('node:crypto');
const { protect, toolRbac } = require('./index.js');

const PROTOCOLS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

function definitions(tools) {
  const out = new Map();
  for (const t of tools) {
    if (typeof t === 'function' && t.authsec) {
      const a = t.authsec;
      out.set(a.toolName, {
        def: { name: a.toolName, description: a.description || `Tool: ${a.toolName}`, inputSchema: a.inputSchema || { type: 'object', properties: {} } },
        run: (args, extra) => t(args, extra),
      });
    } else if (t && typeof t.name === 'string' && typeof t.handler === 'function') {
      out.set(t.name, {
        def: { name: t.name, description: t.description || `Tool: ${t.name}`, inputSchema: t.inputSchema || { type: 'object', properties: {} } },
        run: (args, extra) => t.handler(args, extra),
      });
    } else {
      throw new TypeError('tools are protectedByAuthSec tools or {name, description?, inputSchema?, handler}');
    }
  }
  return out;
}

function content(result) {
  if (result && Array.isArray(result.content)) return result;
  if (Array.isArray(result) && result.every((c) => c && typeof c === 'object' && 'type' in c)) return { content: result };
  return { content: [{ type: 'text', text: typeof result === 'string' ? result : JSON.stringify(result) }] };
}

function send(res, status, doc, extra = {}) {
  const body = doc === undefined ? '' : JSON.stringify(doc);
  const headers = { 'content-length': Buffer.byteLength(body), ...extra };
  if (doc !== undefined) headers['content-type'] = 'application/json';
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Serve `tools` with sign-in for MCP clients without OAuth. `config` is the camelCase runtime
 * configuration (issuer, jwksUrl, resourceUri, ...; `signIn` optional); `clientId` and
 * `appName` are the seed's arguments and fill `signIn.client_id` / `signIn.app_name`. Resolves
 * to `{ server, runtime, url, close() }` once listening on `host:port` (port 0: a free one).
 */
async function runMcpServerWithOAuth({ tools = [], clientId, appName, config = {}, host = '127.0.0.1', port = 3005, logger } = {}) {
  const defs = definitions(tools);
  const server = http.createServer();
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  const bound = server.address().port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const signIn = { ...(config.signIn || {}), client_id: String(clientId).trim() };
  if (signIn.app_name === undefined) signIn.app_name = appName;
  if (!signIn.redirect_uri) signIn.redirect_uri = `http://${shown}:${bound}/oauth/callback`;
  const cfg = { ...config, signIn, toolRbac: { ...(config.toolRbac || {}), ...toolRbac(tools.filter((t) => typeof t === 'function' && t.authsec)) } };
  if (cfg.toolScopes === undefined && cfg.resourceServerId === undefined && cfg.policyMode === undefined) {
    cfg.toolScopes = Object.fromEntries([...defs.keys()].map((n) => [n, []]));
  }
  let guarded;
  try {
    guarded = protect(async (req, res, parsed) => {
      if ((req.method || 'GET').toUpperCase() !== 'POST') return send(res, 405, undefined, { allow: 'POST' });
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return send(res, 200, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'batches are not served' } });
      }
      const { id = null, method } = parsed;
      const params = parsed.params && typeof parsed.params === 'object' ? parsed.params : {};
      if (typeof method === 'string' && method.startsWith('notifications/')) return send(res, 202);
      if (method === 'initialize') {
        const asked = params.protocolVersion;
        return send(res, 200, {
          jsonrpc: '2.0', id,
          result: { protocolVersion: PROTOCOLS.includes(asked) ? asked : '2024-11-05', capabilities: { tools: { listChanged: false } }, serverInfo: { name: appName, version: '1.0.0' } },
        }, { 'mcp-session-id': crypto.randomBytes(32).toString('base64url') });
      }
      if (method === 'ping') return send(res, 200, { jsonrpc: '2.0', id, result: {} });
      if (method === 'tools/list') return send(res, 200, { jsonrpc: '2.0', id, result: { tools: [...defs.values()].map((d) => d.def) } });
      if (method === 'tools/call') {
        const tool = defs.get(params.name);
        const args = params.arguments && typeof params.arguments === 'object' ? params.arguments : {};
        if (!tool) return send(res, 200, { jsonrpc: '2.0', id, result: content({ error: `Unknown tool: ${params.name}` }) });
        try {
          const out = await tool.run({ ...args }, { authInfo: req.auth });
          return send(res, 200, { jsonrpc: '2.0', id, result: content(out) });
        } catch (e) {
          return send(res, 200, { jsonrpc: '2.0', id, result: content({ error: 'Tool execution failed', message: `Internal error in ${params.name}: ${e && e.name}`, tool: params.name }) });
        }
      }
      return send(res, 200, { jsonrpc: '2.0', id, error: { code: -32601, message: `Method not found: ${method}` } });
    }, { config: cfg, logger });
  } catch (e) {
    server.close();
    throw e;
  }
  server.on('request', (req, res) => guarded(req, res));
  await guarded.ready;
  return {
    server,
    runtime: guarded.runtime,
    url: `http://${shown}:${bound}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

module.exports = { runMcpServerWithOAuth };
