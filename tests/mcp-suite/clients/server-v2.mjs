// An MCP server on the TypeScript SDK 2.x line (@modelcontextprotocol/server createMcpHandler,
// which serves 2026-07-28 per-request traffic and falls back to stateless 2025-era serving, wrapped
// for node by @modelcontextprotocol/node toNodeHandler) behind @authsec/runtime's mountMcp. The
// same three tools as examples/node/server.mjs. Configuration from the environment like that
// example (AUTHSEC_ISSUER, AUTHSEC_JWKS_URL, AUTHSEC_RESOURCE_URI, AUTHSEC_TOOL_SCOPES_JSON, ...).
// Usage: node server-v2.mjs PORT   prints `READY http://127.0.0.1:<port>` once listening.
import express from 'express';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';
import { Runtime, mountMcp } from '@authsec/runtime';

const issues = [{ id: 1, title: 'Login page is slow', state: 'open' }];

function mcpServer() {
  const server = new McpServer({ name: 'issues-v2', version: '1.0.0' });
  const caller = (ctx) => ctx?.http?.authInfo?.clientId ?? ctx?.authInfo?.clientId ?? 'anonymous';
  server.registerTool('list_issues', { description: 'List the issues', inputSchema: z.object({}) }, async (_args, ctx) => ({
    content: [{ type: 'text', text: JSON.stringify({ caller: caller(ctx), issues }) }],
  }));
  server.registerTool(
    'create_issue',
    { description: 'Create an issue', inputSchema: z.object({ title: z.string() }) },
    async ({ title }, ctx) => {
      const issue = { id: issues.length + 1, title, state: 'open' };
      issues.push(issue);
      return { content: [{ type: 'text', text: JSON.stringify({ caller: caller(ctx), created: issue }) }] };
    },
  );
  server.registerTool('delete_issue', { description: 'Delete an issue', inputSchema: z.object({ id: z.number() }) }, async ({ id }) => {
    const i = issues.findIndex((x) => x.id === id);
    if (i >= 0) issues.splice(i, 1);
    return { content: [{ type: 'text', text: JSON.stringify({ deleted: i >= 0 }) }] };
  });
  return server;
}

// authsec has read the body; the SDK's node adapter takes the parsed body and req.auth (the
// principal in the SDK's AuthInfo shape) as its pass-through authInfo.
const mcp = toNodeHandler(createMcpHandler(() => mcpServer()));
const runtime = Runtime.fromEnv('AUTHSEC_');
const app = express();
const { ready } = mountMcp(app, { path: '/mcp', runtime, handler: (req, res, body) => mcp(req, res, body) });
await runtime.startup().then((warnings) => warnings.forEach((w) => console.warn(w)));
await ready;

const listener = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${listener.address().port}`);
});
process.on('SIGTERM', () => {
  listener.close(() => process.exit(0));
  listener.closeAllConnections();
});
