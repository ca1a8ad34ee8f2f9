//! What the request and the handler's answer say: the strict JSON-RPC envelope reader and the
//! SSE framer (event-stream rules: LF, CR and CRLF line ends).

pub(crate) mod jsonrpc;
pub(crate) mod sse;
