package authsec

import (
	"encoding/json"
	"fmt"
)

// Config is the AuthSec SDK configuration, the same snake_case fields the core and every other
// binding take (see the seed SDK's documentation for each field). Zero-valued fields are left
// out of the JSON, so the core applies its defaults; pointer fields exist where the zero value
// is a meaningful setting (false, 0). ToolScopes distinguishes nil (absent) from an empty map.
type Config struct {
	Issuer                    string              `json:"issuer,omitempty"`
	AuthorizationServer       string              `json:"authorization_server,omitempty"`
	JWKSURL                   string              `json:"jwks_url,omitempty"`
	IntrospectionURL          string              `json:"introspection_url,omitempty"`
	IntrospectionClientID     string              `json:"introspection_client_id,omitempty"`
	IntrospectionClientSecret string              `json:"introspection_client_secret,omitempty"`
	ResourceURI               string              `json:"resource_uri,omitempty"`
	ResourceName              string              `json:"resource_name,omitempty"`
	ResourceServerID          string              `json:"resource_server_id,omitempty"`
	SupportedScopes           []string            `json:"supported_scopes,omitzero"`
	ToolScopes                map[string][]string `json:"tool_scopes,omitzero"`
	ScopeMatrixTTLSeconds     *float64            `json:"scope_matrix_ttl_seconds,omitzero"`
	ScopeMatrixStaleSeconds   *float64            `json:"scope_matrix_stale_seconds,omitzero"`
	ScopeMatrixBackoffSeconds *float64            `json:"scope_matrix_backoff_seconds,omitzero"`
	PolicyMode                string              `json:"policy_mode,omitempty"`
	ValidationMode            string              `json:"validation_mode,omitempty"`
	PublishManifest           *bool               `json:"publish_manifest,omitzero"`
	ToolScopeSuggestions      map[string][]string `json:"tool_scope_suggestions,omitzero"`
	BearerMethodsSupported    []string            `json:"bearer_methods_supported,omitzero"`
	RequestTimeoutSeconds     *float64            `json:"request_timeout_seconds,omitzero"`
	AllowMissingAudience      *bool               `json:"allow_missing_audience,omitzero"`
	RequireExp                *bool               `json:"require_exp,omitzero"`
	ClockSkewSeconds          *uint64             `json:"clock_skew_seconds,omitzero"`
	MaxBodyBytes              *uint64             `json:"max_body_bytes,omitzero"`
	IntrospectionCacheTTLSecs *uint64             `json:"introspection_cache_ttl_seconds,omitzero"`
	TokenCacheCapacity        *uint64             `json:"token_cache_capacity,omitzero"`
	RequireTyp                string              `json:"require_typ,omitempty"`
	RequireTokenType          string              `json:"require_token_type,omitempty"`
	// SpiffeTrustDomain accepts JWT-SVIDs of this SPIFFE trust domain as bearer tokens.
	SpiffeTrustDomain string `json:"spiffe_trust_domain,omitempty"`
	// SpiffeBundleURL is the trust domain's SPIFFE bundle endpoint (JWT authorities).
	SpiffeBundleURL string `json:"spiffe_bundle_url,omitempty"`
	// SpiffeEndpointSocket is the Workload API socket the JWT bundle is streamed from instead.
	SpiffeEndpointSocket string `json:"spiffe_endpoint_socket,omitempty"`
	// ToolWorkloads maps a tool to the SPIFFE IDs of the workloads that may call it.
	ToolWorkloads map[string][]string `json:"tool_workloads,omitzero"`
	// RBAC (docs/rbac.md): tool -> requirement; nil means no RBAC.
	ToolRBAC      map[string]RBACRequirement `json:"tool_rbac,omitzero"`
	RBACClaims    *RBACClaims                `json:"rbac_claims,omitzero"`
	RBACCatalogue *RBACCatalogue             `json:"rbac_catalogue,omitzero"`
	// MCP 2026-07-28, scopes, IdP token shapes, resources and prompts, CORS
	// (docs/protocol-revisions.md).
	ScopeClaims                     []string            `json:"scope_claims,omitzero"`
	ScopeHierarchy                  map[string][]string `json:"scope_hierarchy,omitzero"`
	AcceptedAudiences               []string            `json:"accepted_audiences,omitzero"`
	AudienceMatch                   string              `json:"audience_match,omitempty"`
	AdditionalIssuers               []TrustedIssuer     `json:"additional_issuers,omitzero"`
	ResourceScopes                  map[string][]string `json:"resource_scopes,omitzero"`
	PromptScopes                    map[string][]string `json:"prompt_scopes,omitzero"`
	DenyUnlistedResourcesAndPrompts *bool               `json:"deny_unlisted_resources_and_prompts,omitzero"`
	CORSAllowedOrigins              []string            `json:"cors_allowed_origins,omitzero"`

	// Fleets and service credentials (docs/fleet.md). RedisURL and RedisKey are secrets.
	RedisURL              string   `json:"redis_url,omitempty"`
	RedisKey              string   `json:"redis_key,omitempty"`
	RedisPrefix           string   `json:"redis_prefix,omitempty"`
	RedisTimeoutSeconds   *float64 `json:"redis_timeout_seconds,omitzero"`
	RedisLeaseWaitSeconds *float64 `json:"redis_lease_wait_seconds,omitzero"`
	ServicesURL           string   `json:"services_url,omitempty"`
	// SignIn turns on sign-in for MCP clients without OAuth: the runtime serves the oauth_*
	// tools and the callback route (docs/sign-in.md). Nil: off.
	SignIn *SignInConfig `json:"sign_in,omitempty"`
}

// SignInConfig is the sign_in object (docs/sign-in.md, the README's configuration table).
type SignInConfig struct {
	ClientID            string   `json:"client_id"`
	ClientSecret        string   `json:"client_secret,omitzero"`
	RedirectURI         string   `json:"redirect_uri"`
	Issuer              string   `json:"issuer,omitzero"`
	Scopes              []string `json:"scopes,omitzero"`
	SignInWindowSeconds uint64   `json:"sign_in_window_seconds,omitzero"`
	MaxSessionSeconds   uint64   `json:"max_session_seconds,omitzero"`
	MaxSessions         uint64   `json:"max_sessions,omitzero"`
	AppName             string   `json:"app_name,omitzero"`
}

// TrustedIssuer is one more issuer the runtime trusts, with the JWKS its tokens are verified
// with (Config.AdditionalIssuers).
type TrustedIssuer struct {
	Issuer  string `json:"issuer"`
	JWKSURL string `json:"jwks_url"`
}

// Ptr returns a pointer to v, for the optional fields of Config.
func Ptr[T any](v T) *T { return &v }

// MarshalJSON-free by design: json.Marshal(cfg) is the text the C ABI takes.
func (c Config) json() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, newError(CodeConfigInvalid, "the configuration cannot be encoded as JSON")
	}
	return b, nil
}

// String hides the client secret, the Redis URL and key, so a logged Config never leaks them.
func (c Config) String() string {
	if c.IntrospectionClientSecret != "" {
		c.IntrospectionClientSecret = "[REDACTED]"
	}
	if c.RedisURL != "" {
		c.RedisURL = "[REDACTED]"
	}
	if c.RedisKey != "" {
		c.RedisKey = "[REDACTED]"
	}
	if c.RBACCatalogue != nil && c.RBACCatalogue.Postgres != "" {
		cat := *c.RBACCatalogue
		cat.Postgres = "[REDACTED]"
		c.RBACCatalogue = &cat
	}
	type plain Config // no methods: no recursion
	return fmt.Sprintf("%+v", plain(c))
}

// GoString hides the client secret for %#v too.
func (c Config) GoString() string { return "authsec.Config" + c.String() }
