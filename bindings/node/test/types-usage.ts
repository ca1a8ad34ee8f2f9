// Compiled with `tsc --noEmit` by scripts/check-types.sh: the committed types describe the API
// the tests and the example use (a wrong shape here fails the type check).
import { createServer } from 'node:http';

import { ErrorCode, Runtime, mountMcp, protect, type AuthsecError, type Decision, type FilterOutcome, type ManifestResult } from '../index';

function codeOf(e: AuthsecError): ErrorCode {
  const known: ErrorCode = ErrorCode.CONFIG_INVALID;
  return e.code === known ? known : e.code;
}

async function usage(): Promise<void> {
  const rt = Runtime.create(
    {
      issuer: 'https://as.example',
      jwksUrl: 'https://as.example/jwks',
      resourceUri: 'https://mcp.example.com/mcp',
      toolScopes: { list_issues: ['issues:read'] },
      policyMode: 'local_only',
    },
    { manualClock: true },
  );
  const warnings: string[] = await rt.startup();
  const d: Decision = await rt.check({ method: 'POST', path: '/mcp', headers: [['authorization', 'Bearer x']], body: '{}' });
  const over: Decision = rt.checkOversized({ method: 'POST', path: '/mcp', headers: [['origin', 'https://app.example.com']] });
  void over;
  if (d.kind === 'allow') {
    const s: string = d.principal.subject;
    const f: FilterOutcome = rt.filterResponse(d, 'application/json', Buffer.from('{}'));
    if (f.kind === 'rewritten') f.body.length;
    void s;
  } else if (d.kind === 'respond') {
    const status: number = d.status;
    const h: [string, string][] = d.headers;
    void status;
    void h;
  }
  rt.advanceClock(1);
  await rt.waitPolicyRefresh();
  const m: ManifestResult = await rt.publishManifest([{ name: 'list_issues' }]);
  await rt.publishManifest(async (req) => (req.method === 'tools/list' ? { jsonrpc: '2.0', id: req.id, result: { tools: [] } } : undefined));
  const path: string = rt.metadataPath;
  const status = rt.policyStatus();
  if (status) status.hasData;
  void warnings;
  void m;
  void path;
  const handler = protect((req, res, body) => {
    void req.auth?.clientId;
    void body;
    res.end();
  }, { runtime: rt });
  createServer(handler);
  const app = { get: () => undefined, all: () => undefined };
  const { ready } = mountMcp(app, { path: '/mcp', config: { issuer: 'i', resourceUri: 'https://x/mcp', jwksUrl: 'https://i/jwks' }, handler: () => undefined });
  await ready;
  rt.close();
  Runtime.fromEnv();
  Runtime.fromJson('{}');
}
void usage;
