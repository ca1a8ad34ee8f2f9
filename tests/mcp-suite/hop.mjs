// A small forwarding hop on 127.0.0.1: every request goes to UPSTREAM unchanged (method, path,
// headers including Host, body), with `Authorization: Bearer $HOP_BEARER` set when HOP_BEARER is
// given, and the answer streams back unchanged (status, headers, SSE chunks as they come). The
// conformance suite has no option to send a bearer token; this is the client side's token.
// With HOP_RECORD=<file> every request's HTTP method, JSON-RPC method(s) and MCP headers are
// appended to <file> with the answer's status as one JSON line (no token, no body), for the
// client tests' header record.
// Usage: HOP_BEARER=... node hop.mjs UPSTREAM_ORIGIN [PORT]   prints `READY http://127.0.0.1:<port>`
// or in-process: startHop({ upstream, bearer, onRequest }) resolves to { url, close }.
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

function rpcMethods(body) {
  try {
    const v = JSON.parse(body.toString('utf8'));
    return (Array.isArray(v) ? v : [v]).map((m) => (m && typeof m.method === 'string' ? m.method : null));
  } catch {
    return [];
  }
}

/** One request's record: HTTP and JSON-RPC methods and the MCP headers (never the token); the
 * answer's status is added when it arrives (and, for tools/list, what it listed). */
function recordOf(req, body) {
  const h = (n) => req.headers[n] ?? null;
  return {
    http: req.method,
    rpc: rpcMethods(body),
    'mcp-protocol-version': h('mcp-protocol-version'),
    'mcp-method': h('mcp-method'),
    'mcp-name': h('mcp-name'),
    'mcp-session-id': req.headers['mcp-session-id'] ? 'present' : null,
  };
}

/** For a tools/list answer (JSON or SSE), note on the record, once the answer has ended, the
 * listed names and the result's `cacheScope` as they were on the wire (null when absent). */
function watchList(upRes, record) {
  const chunks = [];
  upRes.on('data', (c) => chunks.push(c));
  upRes.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const isSse = /^text\/event-stream/i.test(upRes.headers['content-type'] ?? '');
    const messages = isSse
      ? text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim())
      : [text];
    for (const m of messages) {
      try {
        const v = JSON.parse(m);
        if (v && v.result && Array.isArray(v.result.tools)) {
          record.listed = v.result.tools.map((t) => t.name);
          record.cacheScope = v.result.cacheScope ?? null;
        }
      } catch {
        // not JSON: nothing to note
      }
    }
  });
}

export function startHop({ upstream, bearer = '', onRequest = null, port = 0 }) {
  const up = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        if (bearer && name.toLowerCase() === 'authorization') continue;
        headers.push(name, req.rawHeaders[i + 1]);
      }
      if (bearer) headers.push('Authorization', `Bearer ${bearer}`);
      const record = onRequest ? recordOf(req, body) : null;
      let finished = false;
      const fwd = http.request(
        { host: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent },
        (upRes) => {
          if (record) {
            record.status = upRes.statusCode;
            if (record.rpc.length === 1 && record.rpc[0] === 'tools/list') watchList(upRes, record);
            onRequest(record);
          }
          res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
          res.flushHeaders(); // an idle SSE stream must open before its first event
          upRes.on('end', () => { finished = true; });
          upRes.on('error', () => res.destroy());
          upRes.pipe(res);
        },
      );
      fwd.on('error', (e) => {
        if (record && !res.headersSent) onRequest(Object.assign(record, { status: 502 }));
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`hop: upstream error ${e.code ?? e.message}\n`);
        } else {
          res.destroy();
        }
      });
      res.on('close', () => { if (!finished) fwd.destroy(); }); // the client went away mid-answer
      fwd.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((ok) => { server.close(() => ok()); server.closeAllConnections(); agent.destroy(); }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [upstreamArg, portArg] = process.argv.slice(2);
  const record = process.env.HOP_RECORD || '';
  const hop = await startHop({
    upstream: upstreamArg,
    bearer: process.env.HOP_BEARER || '',
    onRequest: record ? (r) => appendFileSync(record, `${JSON.stringify(r)}\n`) : null,
    port: Number(portArg ?? 0),
  });
  console.log(`READY ${hop.url}`);
  process.on('SIGTERM', () => hop.close().then(() => process.exit(0)));
}
