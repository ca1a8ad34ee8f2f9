// The example's MCP server (official TypeScript SDK: McpServer + StreamableHTTPServerTransport,
// Express) with no protection of its own, for `authsec proxy` to stand in front of
// (test/proxy.test.mjs). Tools report the caller from the proxy's identity headers.
// PORT (0 = a free port); prints `READY http://127.0.0.1:<port>`.
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const issues = [{ id: 1, title: 'Login page is slow', state: 'open' }];

function mcpServer() {
  const server = new McpServer({ name: 'issues-unprotected', version: '1.0.0' });
  const caller = (extra) => ({
    subject: extra.requestInfo?.headers?.['x-authsec-subject'] ?? null,
    client: extra.requestInfo?.headers?.['x-authsec-client-id'] ?? null,
    authorization: extra.requestInfo?.headers?.authorization ?? null,
  });
  server.registerTool('list_issues', { description: 'List the issues', inputSchema: {} }, async (_args, extra) => ({
    content: [{ type: 'text', text: JSON.stringify({ caller: caller(extra), issues }) }],
  }));
  server.registerTool('create_issue', { description: 'Create an issue', inputSchema: { title: z.string() } }, async ({ title }) => {
    const issue = { id: issues.length + 1, title, state: 'open' };
    issues.push(issue);
    return { content: [{ type: 'text', text: JSON.stringify({ created: issue }) }] };
  });
  server.registerTool('delete_issue', { description: 'Delete an issue', inputSchema: { id: z.number() } }, async () => ({
    content: [{ type: 'text', text: JSON.stringify({ deleted: true }) }],
  }));
  return server;
}

const app = express();
app.use(express.json());
app.post('/mcp', async (req, res) => {
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
const listener = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${listener.address().port}`);
});
process.on('SIGTERM', () => {
  listener.close(() => process.exit(0));
  listener.closeAllConnections();
});
