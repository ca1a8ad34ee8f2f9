
export declare class ExternalObject<T> {
  readonly '': {
    readonly '': unique symbol
    [K: symbol]: T
  }
}

/**
 * One configured authsec runtime (the core `Runtime`). Internal: use `Runtime` from
 * `@authsec/runtime`.
 */
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
   * Decide one request. Returns the decision when the core decided from memory (an allow
   * without filtering as the bare principal handle), a Promise of it only when I/O is needed.
   * `headers` is `name\0value\0...`.
   */
  check(method: string, path: string, headers: string, body: Buffer): ExternalObject<unknown> | NativeDecision | Promise<NativeDecision>
  /** `check` with headers as a flat list `[name, value, name, value, ...]` (any characters). */
  checkList(method: string, path: string, headers: Array<string>, body: Buffer): ExternalObject<unknown> | NativeDecision | Promise<NativeDecision>
  /**
   * Decide a request whose body is over `max_body_bytes` without passing the body (the
   * host stopped reading it): `Runtime::check_oversized`. Headers as in `checkList`.
   */
  checkOversized(method: string, path: string, headers: Array<string>): NativeDecision
  /** Filter a handler's `tools/list` answer for an allowed principal. */
  filter(principal: ExternalObject<unknown>, contentType: string | undefined | null, body: Buffer): NativeDecision
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
  /** Wait until a background policy refresh, if one is running, has finished (test hook). */
  waitPolicyRefresh(): Promise<void>
}

/**
 * The bearer token of a request's headers (flat `[name, value, ...]` list) as the core reads
 * it: `Request::bearer_token` (one `Authorization` header, `Bearer <token>`), else "".
 */
export declare function bearerToken(headers: Array<string>): string

/** The core's configuration field names, camelCase (the TypeScript API's keys). */
export declare function configKeys(): Array<string>

/** What a manifest publish did. */
export interface ManifestResult {
  toolsSent: number
  toolsSeen?: number
  generation?: number
}

/**
 * A decision or filter answer, as the JS layer receives it. `kind` is `allow`, `respond`,
 * `pass_through`, `unchanged` or `rewritten`.
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
}

/** The typed fields of the principal behind a handle (no claims conversion). */
export declare function principalFields(principal: ExternalObject<unknown>): PrincipalFields
