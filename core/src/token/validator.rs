//! Token validation in the four modes of reference §2.3, the verified-JWT cache, the merge of JWT
//! and introspection principals, and the audience binding to `resource_uri` (DESIGN §4: a token
//! without `aud` is refused unless `allow_missing_audience`).
//!
//! [`Validator::validate_sync`] decides without I/O whenever it can (warm keys, cached token);
//! [`Validator::validate`] does the rest.

use std::sync::Arc;
use std::time::Duration;

use crate::audit::event::ValidationPath;
use crate::audit::metrics::CacheName;
use crate::audit::Observer;
use crate::backend::http::HttpClient;
use crate::clock::Clock;
use crate::config::{AudienceMatch, Config, ValidationMode};
use crate::token::cache::{token_key, TokenCache, TokenKey};
use crate::token::error::{AuthError, Reason};
use crate::token::introspection::Introspector;
use crate::token::jwks::{JwksCache, KeyUse, Lookup};
use crate::token::jwt;
use crate::token::principal::Principal;
use crate::token::scopes::ScopeRules;
use crate::token::svid;

/// The inactive-token message of the reference (its reason classifies as `token_revoked`).
pub const INACTIVE_MESSAGE: &str = "introspection returned active=false \u{2014} token revoked, suspended, expired, or principal membership inactive";

/// Longest life of a verified-JWT cache entry for a token without `exp`.
const NO_EXP_CACHE: Duration = Duration::from_secs(300);

type Validated = Result<Arc<Principal>, AuthError>;

enum JwtStep {
    Done(Validated),
    NeedsKeys,
}

/// Token validator of one runtime.
pub(crate) struct Validator {
    mode: ValidationMode,
    /// The configured `issuer` (also in `issuers` unless `introspection_only`).
    issuer: String,
    resource_uri: String,
    accepted_audiences: Vec<String>,
    audience_match: AudienceMatch,
    scope_rules: Arc<ScopeRules>,
    allow_missing_audience: bool,
    require_exp: bool,
    require_typ: String,
    require_token_type: String,
    skew: u64,
    clock: Arc<dyn Clock>,
    /// `(issuer, its JWKS)`: the configured issuer first, then `additional_issuers`. Empty in
    /// `introspection_only`.
    issuers: Vec<(String, JwksCache)>,
    introspector: Option<Introspector>,
    verified: TokenCache<(Arc<Principal>, Option<u64>)>,
    /// JWT-SVID acceptance: the trust domain and its JWT bundle.
    spiffe: Option<Spiffe>,
    observer: Arc<Observer>,
}

/// The trust domain whose JWT-SVIDs are accepted, and its JWT authorities (fetched from the
/// bundle endpoint, or pushed from the Workload API when `spiffe_endpoint_socket` is set).
struct Spiffe {
    trust_domain: String,
    bundle: Arc<JwksCache>,
}

impl Validator {
    pub(crate) fn new(
        cfg: &Config,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        store: Option<Arc<crate::backend::redis::RedisStore>>,
    ) -> Self {
        let capacity = usize::try_from(cfg.token_cache_capacity).unwrap_or(usize::MAX);
        let mode = cfg.effective_validation_mode();
        let observer = http.observer().clone();
        let mut issuers = Vec::new();
        if mode != ValidationMode::IntrospectionOnly {
            issuers.push((
                cfg.issuer.clone(),
                JwksCache::new(cfg.jwks_url.trim().to_string(), http.clone(), clock.clone()),
            ));
            for extra in &cfg.additional_issuers {
                issuers.push((
                    extra.issuer.trim().to_string(),
                    JwksCache::new(
                        extra.jwks_url.trim().to_string(),
                        http.clone(),
                        clock.clone(),
                    ),
                ));
            }
        }
        let scope_rules = Arc::new(ScopeRules::new(&cfg.scope_claims, &cfg.scope_hierarchy));
        let introspector = (mode != ValidationMode::JwtOnly).then(|| {
            let i = Introspector::new(
                cfg.introspection_url.trim().to_string(),
                cfg.introspection_client_id.clone(),
                cfg.introspection_client_secret.expose().to_string(),
                http.clone(),
                clock.clone(),
                Duration::from_secs(cfg.introspection_cache_ttl_seconds),
                capacity,
                scope_rules.clone(),
            );
            match store {
                Some(store) => i.with_fleet(
                    crate::token::introspection::Fleet {
                        store,
                        lease_wait: crate::clock::secs_f64(cfg.redis_lease_wait_seconds),
                        lease_ttl: crate::clock::secs_f64(cfg.request_timeout_seconds),
                    },
                    capacity,
                ),
                None => i,
            }
        });
        let td = cfg.spiffe_trust_domain.trim();
        let spiffe = (!td.is_empty()).then(|| {
            let url = cfg.spiffe_bundle_url.trim().to_string();
            let (uses, what) = if url.is_empty() {
                (KeyUse::WorkloadJwtBundle, "JWT bundle")
            } else {
                (KeyUse::JwtSvid, "SPIFFE bundle")
            };
            Spiffe {
                trust_domain: td.to_string(),
                bundle: Arc::new(JwksCache::with_use(
                    url,
                    uses,
                    what,
                    http.clone(),
                    clock.clone(),
                )),
            }
        });
        Validator {
            spiffe,
            mode,
            issuer: cfg.issuer.clone(),
            resource_uri: cfg.resource_uri.clone(),
            accepted_audiences: cfg.accepted_audiences.clone(),
            audience_match: cfg.audience_match,
            scope_rules,
            allow_missing_audience: cfg.allow_missing_audience,
            require_exp: cfg.require_exp,
            require_typ: cfg.require_typ.trim().to_string(),
            require_token_type: cfg.require_token_type.trim().to_string(),
            skew: cfg.clock_skew_seconds,
            clock,
            issuers,
            introspector,
            verified: TokenCache::new(capacity),
            observer,
        }
    }

    #[cfg_attr(not(feature = "spiffe"), allow(dead_code))]
    /// The JWT bundle a Workload API watcher pushes into, when JWT-SVIDs are accepted and no
    /// bundle endpoint is configured.
    pub(crate) fn pushed_jwt_bundle(&self) -> Option<Arc<JwksCache>> {
        self.spiffe
            .as_ref()
            .filter(|s| !s.bundle.fetches())
            .map(|s| s.bundle.clone())
    }

    /// Validate without I/O; `None` means a fetch is needed (call [`Validator::validate`]).
    /// `path` says how the answer was reached (for the audit event).
    pub(crate) fn validate_sync(
        &self,
        token: &str,
        path: &mut ValidationPath,
    ) -> Option<Validated> {
        if self.spiffe.is_some() {
            let key = token_key(token);
            match self.svid_step(token, &key, true) {
                None => {}
                Some(JwtStep::Done(r)) => return Some(self.svid_result(r)),
                Some(JwtStep::NeedsKeys) => return None,
            }
        }
        let result = match self.mode {
            ValidationMode::JwtOnly => match self.jwt_step(token, &token_key(token), true, path) {
                JwtStep::Done(r) => r,
                JwtStep::NeedsKeys => return None,
            },
            ValidationMode::IntrospectionOnly => self
                .check_token_type(self.cached_introspection(&token_key(token), path)?)
                .and_then(require_active),
            ValidationMode::JwtAndIntrospect => {
                let key = token_key(token);
                let jwt = if jwt::is_jwt_shaped(token) {
                    match self.jwt_step(token, &key, true, path) {
                        JwtStep::Done(Ok(p)) => Some(p),
                        JwtStep::Done(Err(e)) => return Some(Err(e)),
                        JwtStep::NeedsKeys => return None,
                    }
                } else {
                    None
                };
                let introspected = self.cached_introspection(&key, path)?;
                self.check_token_type(introspected)
                    .and_then(|i| combine(jwt, i, &self.scope_rules))
            }
            ValidationMode::JwtOrIntrospect | ValidationMode::Unset => {
                match self.jwt_step(token, &token_key(token), true, path) {
                    JwtStep::Done(Ok(p)) => Ok(p),
                    _ => return None,
                }
            }
        };
        Some(
            result
                .and_then(|p| self.check_audience(p))
                .and_then(check_binding),
        )
    }

    /// Validate, fetching keys or introspecting as the mode requires; `path` as in
    /// [`Validator::validate_sync`].
    pub(crate) async fn validate(&self, token: &str, path: &mut ValidationPath) -> Validated {
        let key = token_key(token);
        if let Some(s) = &self.spiffe {
            match self.svid_step(token, &key, true) {
                None => {}
                Some(JwtStep::Done(r)) => return self.svid_result(r),
                Some(JwtStep::NeedsKeys) => {
                    let r = async {
                        let parsed = jwt::parse(token)?;
                        let k = s.bundle.lookup(parsed.kid.as_deref()).await?;
                        self.finish_svid(parsed, &k, &key)
                    }
                    .await;
                    return self.svid_result(r);
                }
            }
        }
        let result = match self.mode {
            ValidationMode::JwtOnly => self.jwt(token, &key, path).await,
            ValidationMode::IntrospectionOnly => {
                require_active(self.introspect(token, path).await?)
            }
            ValidationMode::JwtAndIntrospect => {
                let jwt = if jwt::is_jwt_shaped(token) {
                    Some(self.jwt(token, &key, path).await?)
                } else {
                    None
                };
                combine(jwt, self.introspect(token, path).await?, &self.scope_rules)
            }
            ValidationMode::JwtOrIntrospect | ValidationMode::Unset => {
                match self.jwt(token, &key, path).await {
                    Ok(p) => Ok(p),
                    Err(jwt_err) => {
                        match self.introspect(token, path).await.and_then(require_active) {
                            Ok(p) => Ok(p),
                            Err(i_err) => Err(AuthError::with_reason(
                                jwt_err.reason.most_specific(i_err.reason),
                                format!(
                                    "JWT verify failed ({}); introspection failed ({})",
                                    jwt_err.description, i_err.description
                                ),
                            )),
                        }
                    }
                }
            }
        };
        result
            .and_then(|p| self.check_audience(p))
            .and_then(check_binding)
    }

    /// Start listening for the fleet's revocation notices (inside a tokio runtime; also done
    /// by the first introspection).
    pub(crate) fn join_fleet(&self) {
        if let Some(i) = &self.introspector {
            i.join_fleet();
        }
    }

    /// A cached introspection answer, counted as a hit or a miss.
    fn cached_introspection(
        &self,
        key: &TokenKey,
        path: &mut ValidationPath,
    ) -> Option<Arc<Principal>> {
        let hit = self.introspector.as_ref()?.cached(key);
        self.observer
            .metrics
            .cache(CacheName::Introspection, hit.is_some());
        if hit.is_some() {
            *path = path.and(ValidationPath::Cache);
        }
        hit
    }

    async fn introspect(&self, token: &str, path: &mut ValidationPath) -> Validated {
        match &self.introspector {
            Some(i) => {
                *path = path.and(ValidationPath::Introspection);
                self.check_token_type(i.introspect(token).await?)
            }
            None => Err(AuthError::invalid_token("introspection is not configured")),
        }
    }

    /// With `require_token_type` set, an active introspection answer must carry that
    /// `token_type` (ASCII case-insensitive). Inactive answers stay inactive (that message wins).
    fn check_token_type(&self, p: Arc<Principal>) -> Validated {
        if self.require_token_type.is_empty() || !p.active {
            return Ok(p);
        }
        match p.claims.get("token_type") {
            Some(serde_json::Value::String(t))
                if t.eq_ignore_ascii_case(&self.require_token_type) =>
            {
                Ok(p)
            }
            _ => Err(AuthError::invalid_token(format!(
                "introspection token_type must be {}",
                crate::text::sanitize(&self.require_token_type)
            ))),
        }
    }

    async fn jwt(&self, token: &str, key: &TokenKey, path: &mut ValidationPath) -> Validated {
        match self.jwt_step(token, key, true, path) {
            JwtStep::Done(r) => return r,
            JwtStep::NeedsKeys => {}
        }
        let parsed = jwt::parse(token)?;
        let (issuer, jwks) = self.key_set(&parsed)?;
        let k = jwks.lookup(parsed.kid.as_deref()).await?;
        *path = path.and(ValidationPath::Jwt);
        self.finish_jwt(parsed, &k, key, issuer)
    }

    /// The local JWT step from memory: the verified-token cache, then a verification with keys
    /// already held.
    fn jwt_step(
        &self,
        token: &str,
        key: &TokenKey,
        allow_fetch: bool,
        path: &mut ValidationPath,
    ) -> JwtStep {
        let now = self.clock.now();
        let cached = self.verified.get(key, now);
        self.observer
            .metrics
            .cache(CacheName::Token, cached.is_some());
        if let Some((p, _)) = cached {
            *path = path.and(ValidationPath::Cache);
            return JwtStep::Done(Ok(p));
        }
        let parsed = match jwt::parse(token) {
            Ok(p) => p,
            Err(e) => return JwtStep::Done(Err(e)),
        };
        let (issuer, jwks) = match self.key_set(&parsed) {
            Ok(s) => s,
            Err(e) => return JwtStep::Done(Err(e)),
        };
        match jwks.lookup_sync(parsed.kid.as_deref(), allow_fetch) {
            Lookup::Found(k) => {
                *path = path.and(ValidationPath::Jwt);
                JwtStep::Done(self.finish_jwt(parsed, &k, key, issuer))
            }
            Lookup::Missing(e) => JwtStep::Done(Err(e)),
            Lookup::NeedsFetch => JwtStep::NeedsKeys,
        }
    }

    /// The issuer and key set a JWT is verified with. With one issuer configured, that one
    /// (its `iss` is checked after the signature, with the reference's message); with several,
    /// the one whose issuer equals the token's (unverified) `iss` exactly, so a key of one
    /// issuer is never tried on another issuer's token. A token naming no configured issuer is
    /// refused before any key is looked up.
    fn key_set(&self, parsed: &jwt::ParsedJwt<'_>) -> Result<(&str, &JwksCache), AuthError> {
        match self.issuers.as_slice() {
            [] => Err(AuthError::invalid_token(
                "could not resolve signing key: no jwks_url",
            )),
            [(issuer, jwks)] => Ok((issuer.as_str(), jwks)),
            all => {
                let iss = match parsed.claims.get("iss") {
                    Some(serde_json::Value::String(s)) => s.as_str(),
                    _ => {
                        return Err(AuthError::invalid_token(
                            "invalid issuer: token has no iss claim",
                        ))
                    }
                };
                all.iter()
                    .find(|(i, _)| i == iss)
                    .map(|(i, j)| (i.as_str(), j))
                    .ok_or_else(|| {
                        AuthError::invalid_token(format!(
                            "invalid issuer: {} is not a configured issuer",
                            crate::text::sanitize(iss)
                        ))
                    })
            }
        }
    }

    fn finish_jwt(
        &self,
        parsed: jwt::ParsedJwt<'_>,
        k: &crate::token::jwks::Jwk,
        key: &TokenKey,
        issuer: &str,
    ) -> Validated {
        jwt::verify_signature(&parsed, k)?;
        jwt::check_typ(&parsed, &self.require_typ)?;
        let now = self.clock.now();
        let exp = jwt::check_claims(&parsed.claims, issuer, self.require_exp, self.skew, now)?;
        let principal = Arc::new(Principal::from_claims_with(
            parsed.claims,
            false,
            &self.scope_rules,
        ));
        let until = match exp {
            // `exp` is token-supplied (up to u64::MAX after saturation): saturate.
            Some(e) => Duration::from_secs(e.saturating_add(self.skew)),
            None => now.saturating_add(NO_EXP_CACHE),
        };
        self.verified
            .insert(*key, (principal.clone(), exp), until, now);
        Ok(principal)
    }

    /// The JWT-SVID path (in every validation mode: the authorization server does not know
    /// JWT-SVIDs, so they are never introspected). `None` when the token is not routed here (see
    /// [`svid::routes_here`]); a token that does not parse takes the ordinary path, which
    /// reports the parse error.
    fn svid_step(&self, token: &str, key: &TokenKey, allow_fetch: bool) -> Option<JwtStep> {
        let s = self.spiffe.as_ref()?;
        if !jwt::is_jwt_shaped(token) {
            return None;
        }
        let now = self.clock.now();
        if let Some((p, _)) = self.verified.get(key, now) {
            return p.spiffe_id.is_some().then_some(JwtStep::Done(Ok(p)));
        }
        let parsed = jwt::parse(token).ok()?;
        // A token of any configured OAuth issuer is never a JWT-SVID here.
        if !svid::routes_here(&parsed.claims, &self.issuer)
            || !self
                .issuers
                .iter()
                .all(|(i, _)| svid::routes_here(&parsed.claims, i))
        {
            return None;
        }
        if let Err(e) = svid::check_header(&parsed) {
            return Some(JwtStep::Done(Err(e)));
        }
        Some(
            match s.bundle.lookup_sync(parsed.kid.as_deref(), allow_fetch) {
                Lookup::Found(k) => JwtStep::Done(self.finish_svid(parsed, &k, key)),
                Lookup::Missing(e) => JwtStep::Done(Err(e)),
                Lookup::NeedsFetch => JwtStep::NeedsKeys,
            },
        )
    }

    fn finish_svid(
        &self,
        parsed: jwt::ParsedJwt<'_>,
        k: &crate::token::jwks::Jwk,
        key: &TokenKey,
    ) -> Validated {
        let Some(s) = &self.spiffe else {
            return Err(AuthError::invalid_token("JWT-SVIDs are not accepted"));
        };
        svid::check_header(&parsed)?;
        jwt::verify_signature(&parsed, k)?;
        let now = self.clock.now();
        let (spiffe_id, exp) = svid::check_claims(&parsed.claims, &s.trust_domain, self.skew, now)?;
        let mut principal = Principal::from_claims_with(parsed.claims, false, &self.scope_rules);
        principal.scopes.clear();
        principal.spiffe_id = Some(spiffe_id);
        let principal = Arc::new(principal);
        let until = Duration::from_secs(exp.saturating_add(self.skew));
        self.verified
            .insert(*key, (principal.clone(), Some(exp)), until, now);
        Ok(principal)
    }

    /// A JWT-SVID's audience must be present and contain `resource_uri` (the specification
    /// requires `aud`, so `allow_missing_audience` does not apply), then the `cnf` rule.
    fn svid_result(&self, r: Validated) -> Validated {
        let p = r?;
        if p.audience.is_empty() {
            return Err(AuthError::invalid_audience(format!(
                "audience mismatch: JWT-SVID has no aud claim; resource_uri={}",
                self.resource_uri
            )));
        }
        self.check_audience(p).and_then(check_binding)
    }

    /// The audience must contain `resource_uri` exactly; an empty audience is refused unless
    /// configured otherwise.
    fn check_audience(&self, p: Arc<Principal>) -> Validated {
        if p.audience.is_empty() {
            if self.allow_missing_audience {
                return Ok(p);
            }
            return Err(AuthError::invalid_audience(format!(
                "audience mismatch: token has no aud claim; resource_uri={}",
                self.resource_uri
            )));
        }
        let matches = |a: &String| {
            self.accepted_audiences.iter().any(|x| x == a)
                || match self.audience_match {
                    AudienceMatch::Exact => a == &self.resource_uri,
                    AudienceMatch::Canonical => same_resource(a, &self.resource_uri),
                }
        };
        if p.audience.iter().any(matches) {
            return Ok(p);
        }
        Err(AuthError::invalid_audience(format!(
            "audience mismatch: token aud={} does not include resource_uri={}",
            serde_json::to_string(&p.audience).unwrap_or_default(),
            self.resource_uri
        )))
    }
}

/// MCP's resource URI comparison (authorization spec, canonical URI): scheme and host compared
/// case-insensitively, one trailing `/` of the path ignored; everything else (port, path, query)
/// exactly. A value that is not an absolute URI only equals itself.
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    fn canonical(s: &str) -> Option<String> {
        let (scheme, rest) = s.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if scheme.is_empty() || authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (path, after) = tail.split_at(tail.find(['?', '#']).unwrap_or(tail.len()));
        let path = path.strip_suffix('/').unwrap_or(path);
        Some(format!(
            "{}://{}{path}{after}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        ))
    }
    a == b || matches!((canonical(a), canonical(b)), (Some(x), Some(y)) if x == y)
}

/// The description of a refused sender-constrained token.
pub const CNF_MESSAGE: &str = "token is sender-constrained (cnf claim) and no proof-of-possession method (DPoP, mTLS) is configured";

/// A token bound to a key (`cnf`, RFC 7800; DPoP RFC 9449, mTLS RFC 8705) is only as good as the
/// proof that the caller holds that key. No binding mechanism is implemented yet, so such tokens
/// are refused: accepting them as plain bearer tokens would drop the protection they carry.
fn check_binding(p: Arc<Principal>) -> Validated {
    if p.claims.contains_key("cnf") {
        return Err(AuthError::invalid_token(CNF_MESSAGE));
    }
    Ok(p)
}

fn require_active(p: Arc<Principal>) -> Validated {
    if p.active {
        Ok(p)
    } else {
        Err(AuthError::with_reason(
            Reason::TokenRevoked,
            INACTIVE_MESSAGE,
        ))
    }
}

/// Merge a verified JWT principal with the introspection answer: introspection is authoritative
/// for `active`, its non-empty subject, issuer and audience win, and its scopes win whenever the
/// answer carries `scope` or `scopes` at all, even empty (a permission revoked at the
/// authorization server stops working now, not when the JWT expires); claims are the JWT's
/// overlaid with introspection's. Two different non-empty subjects are refused.
fn combine(
    jwt: Option<Arc<Principal>>,
    introspected: Arc<Principal>,
    rules: &ScopeRules,
) -> Validated {
    let introspected = require_active(introspected)?;
    let Some(jwt) = jwt else {
        return Ok(introspected);
    };
    if !jwt.subject.is_empty()
        && !introspected.subject.is_empty()
        && jwt.subject != introspected.subject
    {
        return Err(AuthError::invalid_token(
            "jwt subject and introspection subject mismatch",
        ));
    }
    let pick = |a: &Vec<String>, b: &Vec<String>| if a.is_empty() { b.clone() } else { a.clone() };
    let pick_s = |a: &String, b: &String| if a.is_empty() { b.clone() } else { a.clone() };
    let mut claims = jwt.claims.clone();
    for (k, v) in &introspected.claims {
        claims.insert(k.clone(), v.clone());
    }
    Ok(Arc::new(Principal {
        subject: pick_s(&introspected.subject, &jwt.subject),
        issuer: pick_s(&introspected.issuer, &jwt.issuer),
        audience: pick(&introspected.audience, &jwt.audience),
        scopes: if introspected.claims.keys().any(|k| rules.is_scope_claim(k)) {
            introspected.scopes.clone()
        } else {
            jwt.scopes.clone()
        },
        claims,
        active: true,
        spiffe_id: None,
        hierarchy: introspected.hierarchy.clone(),
    }))
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    /// The reference's text classification (§3.4), first match wins: the typed reasons must
    /// agree with it on the fixed messages they are attached to.
    fn reference_classify(description: &str) -> &'static str {
        let m = description.to_lowercase();
        if m.contains("revoked") && (m.contains("registration") || m.contains("client")) {
            "client_registration_revoked"
        } else if m.contains("revoked") {
            "token_revoked"
        } else if m.contains("expir") {
            "token_expired"
        } else if m.contains("audience") {
            "audience_mismatch"
        } else if m.contains("missing") || m.contains("bearer") {
            "no_token"
        } else {
            "invalid_token"
        }
    }

    #[test]
    fn typed_reasons_match_the_reference_on_the_fixed_messages() {
        for (reason, message) in [
            (Reason::TokenRevoked, INACTIVE_MESSAGE),
            (Reason::TokenExpired, "token expired"),
            (Reason::NoToken, "missing bearer token"),
            (
                Reason::NoToken,
                "malformed bearer token: unexpected whitespace",
            ),
            (Reason::InvalidToken, "token not yet valid"),
            (Reason::InvalidToken, "token has no exp claim"),
        ] {
            assert_eq!(reason.as_str(), reference_classify(message), "{message}");
        }
    }

    #[test]
    fn combined_failures_report_the_most_specific_part() {
        use Reason::*;
        assert_eq!(TokenExpired.most_specific(TokenRevoked), TokenRevoked);
        assert_eq!(InvalidToken.most_specific(TokenExpired), TokenExpired);
        assert_eq!(NoToken.most_specific(InvalidToken), NoToken);
        assert_eq!(
            ClientRegistrationRevoked.most_specific(TokenRevoked),
            ClientRegistrationRevoked
        );
    }
}
