// Serves the conformance suite's everything-server (./everything-server.ts, the official
// TypeScript SDK) on 127.0.0.1, in one of two modes:
//   bare       the server's Express app alone
//   protected  the same app behind @authsec/runtime's mountMcp: every /mcp request (POST, GET
//              SSE streams, DELETE) is checked by the core first, and every SSE stream and JSON
//              tools/list answer goes through the core's response filter
// Usage: node --import tsx serve.mjs bare|protected PORT
// Protected mode reads AUTHSEC_ISSUER, AUTHSEC_JWKS_URL and AUTHSEC_RESOURCE_URI; every tool the
// server can list is mapped to the scope `mcp:read` (local_only policy, deny-by-default), so a tool
// missing from TOOL_NAMES would vanish from tools/list and fail run.sh's inventory check.
// Prints `READY http://127.0.0.1:<port>` once listening.
import express from 'express';
import { app } from './everything-server.ts';

/** Every tool the everything-server registers (both lifecycles), including the dynamic ones. */
export const TOOL_NAMES = [
  'test_simple_text', 'test_image_content', 'test_audio_content', 'test_embedded_resource',
  'test_multiple_content_types', 'test_tool_with_logging', 'test_tool_with_progress',
  'test_error_handling', 'test_reconnection', 'test_sampling', 'test_elicitation',
  'test_elicitation_sep1034_defaults', 'test_elicitation_sep1330_enums',
  'json_schema_2020_12_tool', 'test_missing_capability', 'test_input_required_result_elicitation',
  'test_input_required_result_sampling', 'test_input_required_result_list_roots',
  'test_input_required_result_request_state', 'test_input_required_result_multiple_inputs',
  'test_input_required_result_multi_round', 'test_input_required_result_tampered_state',
  'test_input_required_result_capabilities', 'test_input_required_result_prompt',
  'test_streaming_elicitation', 'test_logging_tool', 'test_trigger_tool_change',
  'test_trigger_prompt_change',
];

const [mode, portArg] = process.argv.slice(2);
if (mode !== 'bare' && mode !== 'protected') {
  console.error('usage: serve.mjs bare|protected PORT');
  process.exit(2);
}

let server = app;
if (mode === 'protected') {
  const { mountMcp } = await import('@authsec/runtime');
  const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is required in protected mode`);
    return v;
  };
  const outer = express();
  const { ready } = mountMcp(outer, {
    path: '/mcp',
    config: {
      issuer: env('AUTHSEC_ISSUER'),
      jwksUrl: env('AUTHSEC_JWKS_URL'),
      resourceUri: env('AUTHSEC_RESOURCE_URI'),
      policyMode: 'local_only',
      toolScopes: Object.fromEntries(TOOL_NAMES.map((t) => [t, ['mcp:read']])),
      supportedScopes: ['mcp:read', 'mcp:write'],
    },
    // The everything-server's own app, routes and body parser included (its express.json()
    // sees the body already read by authsec and keeps the parsed body authsec set).
    handler: (req, res) => app(req, res),
  });
  await ready;
  server = outer;
}

const listener = server.listen(Number(portArg ?? 0), '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${listener.address().port}`);
});
process.on('SIGTERM', () => {
  listener.close(() => process.exit(0));
  listener.closeAllConnections();
});
