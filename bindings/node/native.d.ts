
export declare class ExternalObject<T> {
  readonly '': {
    readonly '': unique symbol
    [K: symbol]: T
  }
}

/** The core's streaming response filter. Internal: use `Runtime.responseFilter`. */
export declare class NativeResponseFilter {
  /**
   * Feed the next chunk: `forward` with the bytes to send now, or `respond` with the answer
   * to write instead (send nothing more of the handler's).
   */
  feed(chunk: Buffer): NativeDecision
  /**
   * The end of the body: `forward` with the last bytes (a held JSON answer: all of it), or
   * `respond`.
   */
  finish(): NativeDecision
  /** The answer is not filtered at all: forward the handler's bytes and headers as they are. */
  get passthrough(): boolean
  /** The forwarded bytes are decoded: drop Content-Encoding. */
  get dropsContentEncoding(): boolean
  /** Nothing is forwarded before `finish` (a JSON tools/list answer; set Content-Length then). */
  get holdsBody(): boolean
}

export declare class NativeRuntime {
  /** Build from the core's snake_case JSON configuration (`Config::from_json`). */
  static fromJson(json: string, manualClock: boolean): NativeRuntime
  /** Build from a camelCase configuration object serialized as JSON (the TypeScript API). */
  static fromCamelJson(json: string, manualClock: boolean): NativeRuntime
  /** Build from the environment (`Config::from_env(prefix)`). */
  static fromEnv(prefix: string, manualClock: boolean): NativeRuntime
  /** Startup work (the remote policy's first fetch); resolves to the warnings. */
  startup(): Promise<string[]>
  /**
   * Decide one request. Returns the decision when the core decided from memory (an allow as
   * a number: the principal's address, bit 0 `filterToolsList`, bit 1 `toolsListRequest`;
   * `principalHandle` gives its handle), a Promise of it only when I/O is needed.
   * `headers` is `name\0value\0...` joined from a flat list of `fields` strings; `null` when
   * it does not split into `fields` fields (a name or value contains NUL: call `checkList`).
   * The strings are read into a reused buffer (`request_text.rs`), not into new `String`s.
   */
  check(method: string, path: string, headers: string, fields: number, body: Buffer): number | NativeDecision | Promise<NativeDecision> | null
  /** `check` with headers as a flat list `[name, value, name, value, ...]` (any characters). */
  checkList(method: string, path: string, headers: Array<string>, body: Buffer): number | NativeDecision | Promise<NativeDecision>
  /**
   * The handle of the principal the last `check` allowed with the number `key` (call it right
   * after that `check`, once: the JS layer keeps the handle for the next request with the same
   * principal). Throws `invalid_input` when `key` is not that allow's.
   */
  principalHandle(key: number): ExternalObject<unknown>
  /**
   * Decide a request whose body is over `max_body_bytes` without passing the body (the
   * host stopped reading it): `Runtime::check_oversized`. Headers as in `checkList`.
   */
  checkOversized(method: string, path: string, headers: Array<string>): NativeDecision
  /**
   * Filter a handler's whole answer for an allowed principal: an SSE answer always, a JSON
   * one when `tools_list_request` (the request contained `tools/list`).
   */
  filter(principal: ExternalObject<unknown>, toolsListRequest: boolean, contentType: string | undefined | null, body: Buffer): NativeDecision
  /**
   * The core's `user_info` document (JSON text) of an allowed principal: `sub`, `email`,
   * `tenant_id` and the effective RBAC sets, what a protected tool receives as `_user_info`.
   */
  userInfo(principal: ExternalObject<unknown>): string
  /**
   * A streaming filter for the handler's answer to an allowed request (the core's
   * `ResponseFilter`): feed chunks, forward what comes back, finish.
   */
  responseFilter(principal: ExternalObject<unknown>, toolsListRequest: boolean, contentType?: string | undefined | null, contentEncoding?: string | undefined | null): NativeResponseFilter
  /** The RFC 9728 document response. */
  metadata(): NativeDecision
  /** The path the RFC 9728 document is served at. */
  get metadataPath(): string
  /** `max_body_bytes` of the configuration (hosts stop reading a body above it). */
  get maxBodyBytes(): number
  /** `resource_uri` of the configuration. */
  get resourceUri(): string
  /** `publish_manifest` of the configuration (whether hosts publish at startup). */
  get publishManifestAtStartup(): boolean
  /** The remote policy cache status, `null` unless the policy mode is remote. */
  policyStatus(): PolicyStatus | null
  /**
   * The AuthSec services API (`services_url`) through the core: `what` is `credentials`
   * (resolves to the answer's JSON text), `token` (the access token) or `user_details`
   * (JSON text). Rejects with `services_error` / `invalid_input`, never a credential.
   */
  service(what: string, sessionId: string, serviceName: string): Promise<string>
  /** Publish the manifest from a list of MCP tool objects (JSON text of the array). */
  publishManifestTools(toolsJson: string): Promise<ManifestResult>
  /**
   * Publish the manifest through a synthetic MCP handshake answered by `handler`, which
   * receives a JSON-RPC request as JSON text and resolves to the JSON text of the JSON-RPC
   * response (`null` for a notification).
   */
  publishManifestHandshake(handler: (request: string) => Promise<string>): Promise<ManifestResult>
  /** Whether this runtime runs on a manual clock (test hook). */
  get hasManualClock(): boolean
  /** Move the manual clock forward (test hook). */
  advanceClock(seconds: number): void
  /**
   * Deliver every later audit line (one JSON object and its newline) to `callback`, on the
   * JS thread. Internal: use `Runtime.onAudit` (it also handles the flush markers, the empty
   * string).
   */
  addAuditCallback(callback: (line: string) => void): void
  /**
   * Queue a flush marker (the empty string) behind every line already handed to each audit
   * callback; `true` for each callback whose marker was queued. Internal: `Runtime.flushAudit`.
   */
  auditMarkers(): Array<boolean>
  /**
   * Wait (off the JS thread) until every audit line queued before the call has reached the
   * sinks, at most `timeout_ms`; resolves to whether it completed.
   */
  flushAudit(timeoutMs: number): Promise<boolean>
  /** The runtime's metrics in the Prometheus text format 0.0.4. */
  metrics(): string
  /** Wait until a background policy refresh, if one is running, has finished (test hook). */
  waitPolicyRefresh(): Promise<void>
}

/**
 * The workload's X.509-SVID from the SPIFFE Workload API, kept current (the core
 * `WorkloadIdentity`). Internal: use `QuickStartSVID` from `@authsec/runtime`.
 */
export declare class NativeWorkload {
  /** The current SVID; throws `svid_expired` once it expired without a replacement. */
  current(): SvidFields
  /** The update counter (1 after the first SVID, +1 per new SVID or bundle). */
  get version(): number
  /** Whether the update stream is connected to the agent now. */
  get connected(): boolean
  get dir(): string
  get certFile(): string
  get keyFile(): string
  get bundleFile(): string
  /** Resolve with the counter once it exceeds `after` (or after `timeout_ms`). */
  waitUpdate(after: number, timeoutMs: number): Promise<number>
  /** A JWT-SVID for `audience` from the Workload API. */
  fetchJwtSvid(audience: string): Promise<string>
  /** Stop following updates and remove the files (idempotent). */
  shutdown(): Promise<void>
}

/**
 * The bearer token of a request's headers (flat `[name, value, ...]` list) as the core reads
 * it: `Request::bearer_token` (one `Authorization` header, `Bearer <token>`), else "".
 */
export declare function bearerToken(headers: Array<string>): string

/** The core's configuration field names, camelCase (the TypeScript API's keys). */
export declare function configKeys(): Array<string>

/**
 * Whether the core's response filter reads an answer with this Content-Type to an allowed
 * request with (or without) tools/list (`ResponseFilter::reads`); when false the host forwards
 * the answer untouched without creating a filter.
 */
export declare function filterReads(toolsListRequest: boolean, contentType?: string | undefined | null): boolean

/** The answer to write when a call failed (500 `server_error`, a fixed description). */
export declare function internalErrorResponse(): NativeDecision

/** What a manifest publish did. */
export interface ManifestResult {
  toolsSent: number
  toolsSeen?: number
  generation?: number
}

/**
 * A decision or filter answer, as the JS layer receives it. `kind` is `allow`, `respond`,
 * `pass_through`, `unchanged`, `rewritten` or (a stream filter step) `forward`.
 */
export interface NativeDecision {
  kind: string
  status?: number
  /** `[name, value]` pairs, lower-case names. */
  headers?: Array<Array<string>>
  body?: Buffer
  /** The validated principal (an opaque handle; read it with `principalFields` and `principalClaims`). */
  principal?: ExternalObject<unknown>
  filterToolsList?: boolean
  /** For an allow: the request contained `tools/list` (a JSON answer is filtered too). */
  toolsListRequest?: boolean
}

/** The remote policy cache status. */
export interface PolicyStatus {
  hasData: boolean
  ageSeconds?: number
  lastError?: string
  state: string
  policyComplete: boolean
  generation: number
  fetches: number
}

/**
 * Every claim of the principal behind a handle (the JWT payload, overlaid with the
 * introspection answer when both ran), as `JSON.parse` would give it: integers beyond 2^53
 * become the nearest double. napi would turn them into `BigInt`s, which `JSON.stringify`
 * refuses, so a token with `exp: 2^63-1` would make `JSON.stringify(principal)` throw.
 */
export declare function principalClaims(principal: ExternalObject<unknown>): Record<string, unknown>

/**
 * The typed fields of a principal, read with the core's accessors; the claims are not
 * converted (read them with `principalClaims` when needed).
 */
export interface PrincipalFields {
  subject: string
  issuer: string
  audience: Array<string>
  scopes: Array<string>
  active: boolean
  /** The OAuth client (`client_id`, else `azp`, else the subject). */
  clientId: string
  /** `exp` in Unix seconds, when the token has a numeric one. */
  expiresAt?: number
  /** The SPIFFE ID of a workload caller (authenticated with a JWT-SVID). */
  spiffeId?: string
}

/** The typed fields of the principal behind a handle (no claims conversion). */
export declare function principalFields(principal: ExternalObject<unknown>): PrincipalFields

/** The answer to write while startup has failed (503 `temporarily_unavailable`, no challenge). */
export declare function startupFailedResponse(): NativeDecision

/**
 * Start following the Workload API at `endpoint` (blank: `SPIFFE_ENDPOINT_SOCKET`), writing to
 * `cert_dir` (blank: a new private directory); resolves once the first SVID is on disk.
 */
export declare function startWorkload(endpoint: string, certDir: string, timeoutMs: number): Promise<NativeWorkload>

/** One X.509-SVID as PEM text. */
export interface SvidFields {
  spiffeId: string
  /** The certificate chain, leaf first. */
  certificate: string
  /** The PKCS#8 private key (secret). */
  privateKey: string
  /** The trust domain's X.509 authorities. */
  trustBundle: string
  /** The leaf's `notAfter`, Unix seconds. */
  expiresAt: number
  /** The update counter value of this SVID. */
  version: number
}
