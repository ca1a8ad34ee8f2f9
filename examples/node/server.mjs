// A real MCP server (official TypeScript SDK: McpServer + StreamableHTTPServerTransport, Express)
// protected by @authsec/runtime. Configuration comes from the environment (AUTHSEC_ISSUER,
// AUTHSEC_JWKS_URL, AUTHSEC_RESOURCE_URI, AUTHSEC_TOOL_SCOPES_JSON, ... : the AuthSec SDK's
// variables, see the core's env loader). PORT (default 8080; 0 = a free port).
// Prints `READY http://127.0.0.1:<port>` once listening.
//
//   AUTHSEC_ISSUER=https://as.example AUTHSEC_JWKS_URL=https://as.example/jwks \
//   AUTHSEC_RESOURCE_URI=http://127.0.0.1:8080/mcp \
//   AUTHSEC_TOOL_SCOPES_JSON='{"list_issues":["mcp:read"],"create_issue":["mcp:write"],"delete_issue":["mcp:admin"]}' \
//   node server.mjs
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { METRICS_CONTENT_TYPE, Runtime, mountMcp } from '@authsec/runtime';

const issues = [{ id: 1, title: 'Login page is slow', state: 'open' }];

// The tool inventory, also published to the AuthSec backend when AUTHSEC_PUBLISH_MANIFEST=true.
const TOOLS = [
  { name: 'list_issues', description: 'List the issues', suggested_scopes: ['mcp:read'] },
  { name: 'create_issue', description: 'Create an issue', suggested_scopes: ['mcp:write'] },
  { name: 'delete_issue', description: 'Delete an issue', suggested_scopes: ['mcp:admin'] },
];

function mcpServer() {
  const server = new McpServer({ name: 'issues', version: '1.0.0' });
  const caller = (extra) => extra.authInfo?.clientId ?? 'anonymous';
  server.registerTool('list_issues', { description: TOOLS[0].description, inputSchema: {} }, async (_args, extra) => ({
    content: [{ type: 'text', text: JSON.stringify({ caller: caller(extra), issues }) }],
  }));
  server.registerTool(
    'create_issue',
    { description: TOOLS[1].description, inputSchema: { title: z.string() } },
    async ({ title }, extra) => {
      const issue = { id: issues.length + 1, title, state: 'open' };
      issues.push(issue);
      return { content: [{ type: 'text', text: JSON.stringify({ caller: caller(extra), created: issue }) }] };
    },
  );
  server.registerTool(
    'delete_issue',
    { description: TOOLS[2].description, inputSchema: { id: z.number() } },
    async ({ id }) => {
      const i = issues.findIndex((x) => x.id === id);
      if (i >= 0) issues.splice(i, 1);
      return { content: [{ type: 'text', text: JSON.stringify({ deleted: i >= 0 }) }] };
    },
  );
  return server;
}

// Stateless Streamable HTTP: one McpServer and transport per request (the SDK's stateless pattern).
async function handleMcp(req, res, parsedBody) {
  if (req.method !== 'POST') {
    res.status(405).set('allow', 'POST').json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null });
    return;
  }
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, parsedBody);
}

// Every decision as one JSON line on stderr unless the environment says otherwise (docs/audit.md).
process.env.AUTHSEC_AUDIT_LOG ??= 'stderr';
const runtime = Runtime.fromEnv('AUTHSEC_');
const app = express();
// Prometheus scrape target: the core's metrics.
app.get('/metrics', (_req, res) => res.type(METRICS_CONTENT_TYPE).send(runtime.metrics()));
const { ready } = mountMcp(app, { path: '/mcp', runtime, handler: handleMcp, tools: TOOLS });
await runtime.startup().then((warnings) => warnings.forEach((w) => console.warn(w)));
await ready;

const port = Number(process.env.PORT ?? 8080);
const listener = app.listen(port, '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${listener.address().port}`);
});
process.on('SIGTERM', () => {
  listener.close(() => process.exit(0));
  listener.closeAllConnections();
});
