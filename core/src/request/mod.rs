//! What the request and the handler's answer say: the strict JSON-RPC envelope reader, the MCP
//! protocol revisions with their request-metadata headers, and the SSE framer (event-stream
//! rules: LF, CR and CRLF line ends).

pub(crate) mod jsonrpc;
pub(crate) mod revision;
pub(crate) mod sse;
