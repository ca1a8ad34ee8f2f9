//! The JWKS key cache: fetched lazily, kept one hour, refreshed on an unknown `kid` at most once
//! per 30 s cooldown, single-flight (concurrent misses share one fetch), and known keys keep
//! serving when a refresh fails. Lookups that need no fetch are synchronous.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;

use crate::audit::event::LifecycleEvent;
use crate::audit::metrics::Endpoint;
use crate::backend::http::HttpClient;
use crate::clock::Clock;
use crate::token::error::AuthError;
use crate::token::jwt::algorithm;
use crate::token::keys::VerifyKey;

/// How long a fetched key set is used before it is refreshed.
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// Minimum time between two refreshes caused by unknown `kid`s or age.
pub const REFRESH_COOLDOWN: Duration = Duration::from_secs(30);
/// Minimum time between two attempts while no key set was ever fetched.
pub const INITIAL_RETRY: Duration = Duration::from_secs(1);

/// The kind of a usable verification key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA (RS*/PS*).
    Rsa,
    /// EC P-256 (ES256).
    P256,
    /// EC P-384 (ES384).
    P384,
    /// OKP Ed25519 (EdDSA).
    Ed25519,
}

/// One usable public key from the set.
pub struct Jwk {
    /// `kid`, if the key has one.
    pub kid: Option<String>,
    /// Type and curve.
    pub kty: KeyType,
    /// `alg`, if the key names one.
    pub alg: Option<String>,
    /// The key material, parsed for verification (once per algorithm).
    pub(crate) key: VerifyKey,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<Value>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Which `use` values a key set accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUse {
    /// An OAuth JWKS: `use` absent or `sig`.
    Sig,
    /// A SPIFFE bundle document (SPIFFE Trust Domain and Bundle §4.2.2): `use` must be
    /// `jwt-svid`; `x509-svid` authorities and everything else are skipped.
    JwtSvid,
    /// A JWT bundle from the Workload API (every key is a JWT authority): `use` absent or
    /// `jwt-svid`.
    WorkloadJwtBundle,
}

impl KeyUse {
    fn accepts(self, u: Option<&str>) -> bool {
        match self {
            KeyUse::Sig => u.is_none_or(|u| u == "sig"),
            KeyUse::JwtSvid => u == Some("jwt-svid"),
            KeyUse::WorkloadJwtBundle => u.is_none_or(|u| u == "jwt-svid"),
        }
    }
}

/// Parse one JWK; keys we cannot or must not use (symmetric, encryption-only, malformed, or of
/// another `use` than the set accepts) are skipped rather than failing the whole set.
pub(crate) fn parse_key(v: &Value, uses: KeyUse) -> Option<Jwk> {
    let raw: RawJwk = serde_json::from_value(v.clone()).ok()?;
    if !uses.accepts(raw.use_.as_deref()) {
        return None;
    }
    if raw
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return None;
    }
    let kid = match raw.kid {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return None,
    };
    let b64 = |s: Option<&str>| URL_SAFE_NO_PAD.decode(s?).ok();
    let (kty, key, default_alg) = match (raw.kty.as_deref()?, raw.crv.as_deref()) {
        ("RSA", _) => {
            let (n, e) = (b64(raw.n.as_deref())?, b64(raw.e.as_deref())?);
            (KeyType::Rsa, VerifyKey::rsa(&n, &e)?, Algorithm::RS256)
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (x, y) = (b64(raw.x.as_deref())?, b64(raw.y.as_deref())?);
            let (kty, want, alg) = if crv == "P-256" {
                (KeyType::P256, 32, Algorithm::ES256)
            } else {
                (KeyType::P384, 48, Algorithm::ES384)
            };
            if x.len() != want || y.len() != want {
                return None;
            }
            (kty, VerifyKey::ec(&x, &y), alg)
        }
        ("OKP", Some("Ed25519")) => {
            let x = b64(raw.x.as_deref())?;
            if x.len() != 32 {
                return None;
            }
            (KeyType::Ed25519, VerifyKey::ed25519(&x), Algorithm::EdDSA)
        }
        _ => return None,
    };
    // Parse the key now for the algorithm it names (or its family's default): a key whose
    // material is not a valid key is skipped like any other unusable key.
    let alg = raw
        .alg
        .as_deref()
        .and_then(algorithm)
        .unwrap_or(default_alg);
    if !key.prepare(alg) {
        return None;
    }
    Some(Jwk {
        kid,
        kty,
        alg: raw.alg,
        key,
    })
}

/// A fetched key set.
pub(crate) struct KeySet {
    keys: Vec<Arc<Jwk>>,
    fetched_at: Duration,
}

/// What a synchronous lookup found.
pub(crate) enum Lookup {
    /// A key for the token.
    Found(Arc<Jwk>),
    /// No key, and no fetch may happen now.
    Missing(AuthError),
    /// A fetch is needed (first use, unknown kid after the cooldown, or an old set).
    NeedsFetch,
}

#[derive(Default)]
struct Attempts {
    /// When the last fetch started.
    last: Option<Duration>,
    /// Number of fetches started (identifies a completed refresh for waiters).
    count: u64,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
    /// A fetch is running now; callers that miss join it instead of failing.
    in_flight: bool,
}

/// Clears `Attempts::in_flight` when the fetch ends or is cancelled.
struct InFlight<'a>(&'a Mutex<Attempts>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).in_flight = false;
    }
}

/// The JWKS cache of one runtime (and, for JWT-SVIDs, of the trust domain's JWT bundle).
pub(crate) struct JwksCache {
    /// Empty for a pushed set (the Workload API's JWT bundle): never fetched.
    url: String,
    uses: KeyUse,
    /// What the key set is called in error descriptions.
    what: &'static str,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    set: RwLock<Option<Arc<KeySet>>>,
    attempts: Mutex<Attempts>,
    refresh: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub(crate) fn new(url: String, http: HttpClient, clock: Arc<dyn Clock>) -> Self {
        Self::with_use(url, KeyUse::Sig, "JWKS", http, clock)
    }

    /// A cache of another kind of key set: a SPIFFE bundle endpoint (`KeyUse::JwtSvid`) or, with
    /// an empty `url`, a set that [`JwksCache::push`] fills.
    pub(crate) fn with_use(
        url: String,
        uses: KeyUse,
        what: &'static str,
        http: HttpClient,
        clock: Arc<dyn Clock>,
    ) -> Self {
        JwksCache {
            url,
            uses,
            what,
            http,
            clock,
            set: RwLock::new(None),
            attempts: Mutex::new(Attempts::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    #[cfg_attr(not(feature = "spiffe"), allow(dead_code))]
    /// True when the set is fetched from a URL (false: filled by [`JwksCache::push`]).
    pub(crate) fn fetches(&self) -> bool {
        !self.url.is_empty()
    }

    #[cfg_attr(not(feature = "spiffe"), allow(dead_code))]
    /// Replace the key set with `keys` (JWK objects), as received from a push source.
    /// Returns the number of usable keys.
    pub(crate) fn push(&self, keys: &[Value]) -> usize {
        let keys: Vec<Arc<Jwk>> = keys
            .iter()
            .filter_map(|k| parse_key(k, self.uses))
            .map(Arc::new)
            .collect();
        let n = keys.len();
        let mut a = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        a.last_error = None;
        *self.set.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(KeySet {
            keys,
            fetched_at: self.clock.now(),
        }));
        n
    }

    #[cfg_attr(not(feature = "spiffe"), allow(dead_code))]
    /// Record why the push source has no set (shown while no set was ever received).
    pub(crate) fn push_failed(&self, why: String) {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_error = Some(why);
    }

    fn may_fetch(&self, has_set: bool, now: Duration) -> bool {
        if self.url.is_empty() {
            return false;
        }
        let a = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if a.in_flight {
            return true;
        }
        let wait = if has_set {
            REFRESH_COOLDOWN
        } else {
            INITIAL_RETRY
        };
        a.last.is_none_or(|last| now.saturating_sub(last) >= wait)
    }

    /// Find the key for `kid` without I/O, or say that a fetch is needed.
    pub(crate) fn lookup_sync(&self, kid: Option<&str>, allow_fetch: bool) -> Lookup {
        let now = self.clock.now();
        let set = self.set.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(set) = set else {
            if allow_fetch && self.may_fetch(false, now) {
                return Lookup::NeedsFetch;
            }
            let why = self
                .attempts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last_error
                .clone()
                .unwrap_or_else(|| "no keys".into());
            return Lookup::Missing(AuthError::invalid_token(format!(
                "could not resolve signing key: {} unavailable ({why})",
                self.what
            )));
        };
        // A pushed set is as current as its source makes it: it does not age.
        let old = !self.url.is_empty() && now.saturating_sub(set.fetched_at) > MAX_AGE;
        let found = match kid {
            Some(kid) => set
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => {
                return Lookup::Missing(AuthError::invalid_token(format!(
                    "could not resolve signing key: token has no kid and the {} has {} keys",
                    self.what,
                    set.keys.len()
                )))
            }
        };
        if (found.is_none() || old) && allow_fetch && self.may_fetch(true, now) {
            return Lookup::NeedsFetch;
        }
        match found {
            Some(k) => Lookup::Found(k),
            None => Lookup::Missing(AuthError::invalid_token(format!(
                "could not resolve signing key: unknown kid {}",
                crate::text::sanitize(kid.unwrap_or(""))
            ))),
        }
    }

    /// Find the key for `kid`, fetching the set first when needed.
    pub(crate) async fn lookup(&self, kid: Option<&str>) -> Result<Arc<Jwk>, AuthError> {
        match self.lookup_sync(kid, true) {
            Lookup::Found(k) => return Ok(k),
            Lookup::Missing(e) => return Err(e),
            Lookup::NeedsFetch => {}
        }
        self.refresh().await;
        match self.lookup_sync(kid, false) {
            Lookup::Found(k) => Ok(k),
            Lookup::Missing(e) => Err(e),
            Lookup::NeedsFetch => Err(AuthError::invalid_token(format!(
                "could not resolve signing key: {} unavailable",
                self.what
            ))),
        }
    }

    /// Fetch the key set once for every concurrent caller: a caller that arrives while a fetch
    /// runs, or that queued while another one started, reuses its result.
    async fn refresh(&self) {
        let (seen, joined) = {
            let a = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            (a.count, a.in_flight)
        };
        // The guard is held for the whole fetch, so once we hold it every fetch that started
        // before has finished.
        let _guard = self.refresh.lock().await;
        {
            let mut a = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            if joined || a.count != seen {
                return;
            }
            a.count += 1;
            a.in_flight = true;
            a.last = Some(self.clock.now());
        }
        // Cleared on return (after the new set is visible, since `a` below drops first) or
        // when this future is dropped mid-fetch.
        let _in_flight = InFlight(&self.attempts);
        let result = self.fetch().await;
        let mut a = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let observer = self.http.observer();
        match result {
            Ok(keys) => {
                a.last_error = None;
                let mut set = self.set.write().unwrap_or_else(|e| e.into_inner());
                if observer.events.enabled() {
                    observer.lifecycle(rotation_event(set.as_deref(), &keys));
                }
                *set = Some(Arc::new(KeySet {
                    keys,
                    fetched_at: self.clock.now(),
                }));
            }
            Err(e) => {
                observer.lifecycle(LifecycleEvent::new("jwks_refresh", "failed").detail(&e));
                a.last_error = Some(e);
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<Arc<Jwk>>, String> {
        let (status, body) = self
            .http
            .get_json(Endpoint::Jwks, &self.url, None)
            .await
            .map_err(|e| format!("{} fetch failed: {e}", self.what))?;
        if status != 200 {
            return Err(format!("{} fetch returned HTTP {status}", self.what));
        }
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|_| format!("{} response is not JSON", self.what))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{} response has no keys array", self.what))?;
        Ok(keys
            .iter()
            .filter_map(|k| parse_key(k, self.uses))
            .map(Arc::new)
            .collect())
    }
}

/// The `jwks_refresh` event of a successful fetch: how many usable keys, and which key ids
/// arrived or went away since the previous set (a rotation shows as added and removed).
fn rotation_event(old: Option<&KeySet>, new: &[Arc<Jwk>]) -> LifecycleEvent {
    let kids =
        |keys: &[Arc<Jwk>]| -> Vec<String> { keys.iter().filter_map(|k| k.kid.clone()).collect() };
    let before = old.map(|s| kids(&s.keys)).unwrap_or_default();
    let after = kids(new);
    let added = after.iter().filter(|k| !before.contains(k)).count();
    let removed = before.iter().filter(|k| !after.contains(k)).count();
    LifecycleEvent::new("jwks_refresh", "ok")
        .count("keys", new.len() as u64)
        .count("keys_added", added as u64)
        .count("keys_removed", removed as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_key_sig(v: &Value) -> Option<Jwk> {
        parse_key(v, KeyUse::Sig)
    }

    #[test]
    fn key_use_per_set() {
        let mut n = vec![0xc5u8; 256];
        n[255] = 0x01;
        let n = URL_SAFE_NO_PAD.encode(n);
        let key = |u: Option<&str>| {
            let mut k = json!({"kty":"RSA","kid":"r","n":n,"e":"AQAB"});
            if let Some(u) = u {
                k["use"] = json!(u);
            }
            k
        };
        for (uses, accepted) in [
            (KeyUse::Sig, [true, true, false, false]),
            (KeyUse::JwtSvid, [false, false, true, false]),
            (KeyUse::WorkloadJwtBundle, [true, false, true, false]),
        ] {
            for (u, want) in [None, Some("sig"), Some("jwt-svid"), Some("x509-svid")]
                .into_iter()
                .zip(accepted)
            {
                assert_eq!(parse_key(&key(u), uses).is_some(), want, "{uses:?} {u:?}");
            }
        }
    }

    #[test]
    fn skips_unusable_keys() {
        assert!(parse_key_sig(&json!({"kty":"oct","k":"c2VjcmV0","kid":"h"})).is_none());
        assert!(parse_key_sig(&json!({"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"})).is_none());
        assert!(parse_key_sig(&json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA"})).is_none());
        assert!(parse_key_sig(&json!({"kty":"OKP","crv":"X25519","x":"AA"})).is_none());
        assert!(parse_key_sig(&json!({"kty":"RSA","kid":5,"n":"AQAB","e":"AQAB"})).is_none());
        assert!(
            parse_key_sig(&json!({"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"})).is_none(),
            "a modulus under 2048 bits is unusable"
        );
        let mut n = vec![0xc5u8; 256];
        n[255] = 0x01;
        let n = URL_SAFE_NO_PAD.encode(n);
        let k =
            parse_key_sig(&json!({"kty":"RSA","kid":"r","n":n,"e":"AQAB","alg":"RS256"})).unwrap();
        assert_eq!(k.kty, KeyType::Rsa);
        assert_eq!(k.alg.as_deref(), Some("RS256"));
    }
}
