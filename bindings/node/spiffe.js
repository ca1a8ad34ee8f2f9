'use strict';
// Workload identity (SPIFFE/SPIRE): the AuthSec SDK's QuickStartSVID in JavaScript, over the
// core's Workload API client (native.startWorkload). The core follows the agent's update stream,
// writes svid.crt, svid.key (0600) and ca.crt atomically into a private directory, counts
// updates, keeps the last SVID while the agent is down until it expires ("svid_expired"), and
// stops cleanly. This file only translates, and builds node:tls options from the PEMs.

const tls = require('node:tls');
const { X509Certificate } = require('node:crypto');
const native = require('./authsec.node');

const ENDPOINT_ENV = 'SPIFFE_ENDPOINT_SOCKET';

function authsecError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

/** The SPIFFE ID (URI SAN) of a peer certificate as node:tls gives it (`getPeerCertificate()`
 * or `checkServerIdentity`'s second argument), or null. */
function peerSpiffeId(cert) {
  const san = cert && cert.subjectaltname;
  if (typeof san !== 'string') return null;
  for (const part of san.split(', ')) {
    if (part.startsWith('URI:spiffe://')) return part.slice(4);
  }
  return null;
}

class QuickStartSVID {
  static #instance = null;
  static #starting = null;
  #native;
  #listeners = [];
  #watching = false;
  #stopped = false;

  constructor(nativeWorkload) {
    this.#native = nativeWorkload;
  }

  /**
   * Fetch the SVID, write the files and keep them current; the same instance on later calls.
   * `socketPath`: `unix:///path`, an absolute path or `tcp://ip:port`; absent: SPIFFE_ENDPOINT_SOCKET.
   * Resolves to null when SPIRE is disabled (no socket at all) unless `raiseOnDisabled`;
   * rejects with code `workload_api_unavailable` when no SVID arrives within `timeoutMs`.
   */
  static async initialize({ socketPath, certDir, timeoutMs = 10000, raiseOnDisabled = false } = {}) {
    if (QuickStartSVID.#instance) return QuickStartSVID.#instance;
    const given = (socketPath || '').trim();
    if (!given && !(process.env[ENDPOINT_ENV] || '').trim()) {
      if (raiseOnDisabled) {
        throw authsecError('workload_not_configured', `no Workload API socket given and ${ENDPOINT_ENV} is not set`);
      }
      return null;
    }
    if (!QuickStartSVID.#starting) {
      QuickStartSVID.#starting = native
        .startWorkload(given, certDir || '', Math.max(1, Math.floor(timeoutMs)))
        .then((w) => {
          QuickStartSVID.#instance = new QuickStartSVID(w);
          return QuickStartSVID.#instance;
        })
        .finally(() => { QuickStartSVID.#starting = null; });
    }
    return QuickStartSVID.#starting;
  }

  /** The instance (throws before `initialize`). */
  static get() {
    if (!QuickStartSVID.#instance) throw new Error('Call QuickStartSVID.initialize() first');
    return QuickStartSVID.#instance;
  }

  /** Stop following updates, remove the files, clear the singleton. Idempotent. */
  static async shutdown() {
    const i = QuickStartSVID.#instance;
    QuickStartSVID.#instance = null;
    if (i) {
      i.#stopped = true;
      await i.#native.shutdown();
    }
  }

  /** One consistent snapshot: { spiffeId, certificate, privateKey, trustBundle, expiresAt, version }. */
  current() { return this.#native.current(); }
  get spiffeId() { return this.current().spiffeId; }
  get certificate() { return this.current().certificate; }
  get privateKey() { return this.current().privateKey; }
  get trustBundle() { return this.current().trustBundle; }
  get certFilePath() { return this.#native.certFile; }
  get keyFilePath() { return this.#native.keyFile; }
  get caFilePath() { return this.#native.bundleFile; }
  /** The update counter: reload TLS when it changes. */
  get version() { return this.#native.version; }
  /** Whether the agent's update stream is connected now. */
  get connected() { return this.#native.connected; }

  /** Resolve with the version once it exceeds `after` (or after `timeoutMs`). */
  waitForUpdate(after, timeoutMs) { return this.#native.waitUpdate(after, Math.max(0, Math.floor(timeoutMs))); }

  /** Call `cb(this)` after each update (e.g. to rebuild a SecureContext). */
  onUpdate(cb) {
    this.#listeners.push(cb);
    if (this.#watching) return;
    this.#watching = true;
    const loop = async () => {
      let seen = this.version;
      while (!this.#stopped) {
        const v = await this.#native.waitUpdate(seen, 500);
        if (v > seen) {
          seen = v;
          for (const l of this.#listeners) {
            try { l(this); } catch (e) { process.emitWarning(`SVID update listener failed: ${e && e.message}`); }
          }
        }
      }
    };
    loop().catch(() => {});
  }

  /** A JWT-SVID for `audience` (an MCP server's resource URI), to send as a bearer token. */
  fetchJwtSvid(audience) { return this.#native.fetchJwtSvid(audience); }

  /** node:tls options for a client: present the SVID, verify the server's chain against the
   * bundle, and (when `expectedServerId` is given) its SPIFFE ID instead of a host name. */
  createSecureContextOptionsForClient({ expectedServerId } = {}) {
    const s = this.current();
    return {
      cert: s.certificate,
      key: s.privateKey,
      ca: s.trustBundle,
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => {
        const id = peerSpiffeId(cert);
        if (!id) return new Error('server certificate has no SPIFFE ID');
        if (expectedServerId && id !== expectedServerId) {
          return new Error(`server SPIFFE ID ${id} is not ${expectedServerId}`);
        }
        return undefined;
      },
    };
  }

  /** node:tls options for a server that requires client certificates from the trust domain. */
  createSecureContextOptionsForServer() {
    const s = this.current();
    return { cert: s.certificate, key: s.privateKey, ca: s.trustBundle, requestCert: true, rejectUnauthorized: true };
  }

  /** A `tls.SecureContext` with the current SVID and bundle (client or server side alike). */
  createSecureContext() {
    const s = this.current();
    return tls.createSecureContext({ cert: s.certificate, key: s.privateKey, ca: s.trustBundle });
  }

  /** The leaf certificate as a node:crypto X509Certificate. */
  leafCertificate() { return new X509Certificate(this.current().certificate); }
}

module.exports = { QuickStartSVID, peerSpiffeId, ENDPOINT_ENV };
