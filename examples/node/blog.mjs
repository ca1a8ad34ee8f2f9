// The AuthSec blog's decorator example on Node (issue 16, docs/rbac.md): McpServer tools wrapped
// with protectedByAuthSec, their requirements in the runtime's toolRbac, behind mountMcp. The
// core hides and denies what the caller fails; an allowed tool gets args._user_info. Every
// requirement is the blog post's (authsec-ai/sdk-authsec README.md, docs/rbac.md).
//   AUTHSEC_ISSUER=... AUTHSEC_JWKS_URL=... AUTHSEC_RESOURCE_URI=... PORT=8080 node blog.mjs
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Runtime, mountMcp, protectedByAuthSec, toolRbac } from '@authsec/runtime';

const text = (v) => ({ content: [{ type: 'text', text: JSON.stringify(v) }] });

export const TOOLS = [
  protectedByAuthSec({ toolName: 'calculator', description: 'Add (any signed-in user)' }, async (a) => text({ user: a._user_info.email })),
  protectedByAuthSec({ toolName: 'admin_dashboard', roles: ['admin'] }, async (a) => text({ user: a._user_info.email })),
  protectedByAuthSec({ toolName: 'view_analytics', resources: ['analytics'], scopes: ['read'], requireAll: true }, async (a) => text({ user: a._user_info.email })),
  protectedByAuthSec({ toolName: 'view_reports', roles: ['admin', 'manager', 'analyst'], requireAll: false }, async () => text({ reports: 'ok' })),
  protectedByAuthSec(
    { toolName: 'deploy_production', roles: ['admin', 'deployer'], scopes: ['write'], resources: ['production'], requireAll: true },
    async (a) => text({ deployed: true, by: a._user_info.email }),
  ),
  protectedByAuthSec({ toolName: 'engineering_tools', groups: ['engineering', 'devops'] }, async (a, extra) => text({ tenant: a._user_info.tenant_id, client: extra.authInfo.clientId })),
  protectedByAuthSec(
    { toolName: 'sensitive_operations', roles: ['admin', 'superuser'], groups: ['security-team'], scopes: ['write', 'admin'], resources: ['production', 'sensitive-data'], requireAll: true },
    async () => text({ done: true }),
  ),
];

function mcpServer() {
  const server = new McpServer({ name: 'authsec-blog', version: '1.0.0' });
  for (const t of TOOLS) server.registerTool(t.authsec.toolName, { description: t.authsec.description ?? t.authsec.toolName }, t);
  return server;
}

async function handleMcp(req, res, parsedBody) {
  const server = mcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, parsedBody);
}

const env = process.env;
const runtime = Runtime.create({ issuer: env.AUTHSEC_ISSUER, jwksUrl: env.AUTHSEC_JWKS_URL, resourceUri: env.AUTHSEC_RESOURCE_URI, toolRbac: toolRbac(TOOLS) });
const app = express();
const { ready } = mountMcp(app, { path: '/mcp', runtime, handler: handleMcp });
await runtime.startup();
await ready;
const listener = app.listen(Number(env.PORT ?? 8080), '127.0.0.1', () => console.log(`READY http://127.0.0.1:${listener.address().port}`));
process.on('SIGTERM', () => {
  listener.close(() => process.exit(0));
  listener.closeAllConnections();
});
