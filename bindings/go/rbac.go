package authsec

// #include "authsec.h"
import "C"

import (
	"encoding/json"
	"runtime"
)

// RBACRequirement is one tool's RBAC requirement (docs/rbac.md, the seed's
// protected_by_AuthSec): any-of within a category; across the non-empty categories OR, or AND
// with RequireAll; no category means any authenticated caller. Config.ToolRBAC maps tool names
// to requirements; the core decides.
type RBACRequirement struct {
	Roles       []string `json:"roles,omitzero"`
	Groups      []string `json:"groups,omitzero"`
	Resources   []string `json:"resources,omitzero"`
	Scopes      []string `json:"scopes,omitzero"`
	Permissions []string `json:"permissions,omitzero"`
	RequireAll  bool     `json:"require_all,omitempty"`
}

// RBACClaims names the claims the user's RBAC sets are read from; empty fields keep the core's
// defaults (roles, groups, resources, permissions, scope/scopes/scp, tenant_id, email).
type RBACClaims struct {
	Roles       string   `json:"roles,omitempty"`
	Groups      string   `json:"groups,omitempty"`
	Resources   string   `json:"resources,omitempty"`
	Permissions string   `json:"permissions,omitempty"`
	Scopes      []string `json:"scopes,omitzero"`
	TenantID    string   `json:"tenant_id,omitempty"`
	Email       string   `json:"email,omitempty"`
}

// TenantCatalogue is what one tenant defines: only these count in its users' tokens.
type TenantCatalogue struct {
	Roles       []string `json:"roles,omitzero"`
	Groups      []string `json:"groups,omitzero"`
	Scopes      []string `json:"scopes,omitzero"`
	Resources   []string `json:"resources,omitzero"`
	Permissions []string `json:"permissions,omitzero"`
}

// RBACCatalogue is the tenant catalogue, one source: Tenants (inline), Sqlite (a database file
// path) or Postgres (a postgres:// URL, hidden by Config.String); TTLSeconds and StaleSeconds
// default to 30 and 120 (docs/rbac.md).
type RBACCatalogue struct {
	Tenants      map[string]TenantCatalogue `json:"tenants,omitzero"`
	Sqlite       string                     `json:"sqlite,omitempty"`
	Postgres     string                     `json:"postgres,omitempty"`
	TTLSeconds   *float64                   `json:"ttl_seconds,omitzero"`
	StaleSeconds *float64                   `json:"stale_seconds,omitzero"`
}

// UserInfo is the core's user_info document of an allowed caller: identity and the effective
// RBAC sets (claims as configured, res:act scopes derived, restricted to the tenant catalogue).
// Email and TenantID are empty when the token has none.
type UserInfo struct {
	Sub         string   `json:"sub"`
	Email       string   `json:"email"`
	TenantID    string   `json:"tenant_id"`
	Roles       []string `json:"roles"`
	Groups      []string `json:"groups"`
	Scopes      []string `json:"scopes"`
	Resources   []string `json:"resources"`
	Permissions []string `json:"permissions"`
}

// UserInfoJSON is the core's user_info document of an allow decision as the core wrote it
// (what a tool receives as _user_info). CodeInvalidArgument for other decisions or a closed one.
func (rt *Runtime) UserInfoJSON(d *Decision) ([]byte, error) {
	if d == nil || d.Kind != Allow {
		return nil, newError(CodeInvalidArgument, "user_info needs an allow decision")
	}
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.h == nil {
		return nil, newError(CodeInvalidArgument, "the decision is closed")
	}
	var t *C.authsec_text
	var e *C.authsec_error
	st := C.authsec_runtime_user_info(h, d.h, &t, &e)
	runtime.KeepAlive(rt)
	runtime.KeepAlive(d)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	return []byte(takeText(t)), nil
}

// UserInfo is UserInfoJSON parsed.
func (rt *Runtime) UserInfo(d *Decision) (*UserInfo, error) {
	raw, err := rt.UserInfoJSON(d)
	if err != nil {
		return nil, err
	}
	var u UserInfo
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, newError(CodeInternal, "the user_info document could not be read")
	}
	return &u, nil
}

// WithToolRBAC registers one tool's RBAC requirement: a copy of c whose ToolRBAC has the tool
// added (c itself and its map are not changed), the Go counterpart of the Python and Node
// decorators, filling the same core table. The core decides (authsec_config_add_tool_rbac):
// the tool name is trimmed, a blank name or value is refused, the same tool again with the same
// requirement is a no-op and with a different one CodeConfigInvalid.
//
//	cfg, err := cfg.WithToolRBAC("deploy_production", authsec.RBACRequirement{
//		Roles: []string{"admin", "deployer"}, Scopes: []string{"write"},
//		Resources: []string{"production"}, RequireAll: true})
func (c Config) WithToolRBAC(tool string, req RBACRequirement) (Config, error) {
	table, err := json.Marshal(struct {
		ToolRBAC map[string]RBACRequirement `json:"tool_rbac,omitzero"`
	}{c.ToolRBAC})
	if err != nil {
		return c, newError(CodeConfigInvalid, "the tool_rbac table cannot be encoded as JSON")
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return c, newError(CodeConfigInvalid, "the requirement cannot be encoded as JSON")
	}
	cp, cn := cstr(string(table))
	tp, tn := cstr(tool)
	rp, rn := cstr(string(reqJSON))
	var t *C.authsec_text
	var e *C.authsec_error
	st := C.authsec_config_add_tool_rbac(cp, cn, tp, tn, rp, rn, &t, &e)
	runtime.KeepAlive(table)
	runtime.KeepAlive(tool)
	runtime.KeepAlive(reqJSON)
	if st != C.AUTHSEC_STATUS_OK {
		return c, takeError(st, e)
	}
	var out struct {
		ToolRBAC map[string]RBACRequirement `json:"tool_rbac"`
	}
	if err := json.Unmarshal([]byte(takeText(t)), &out); err != nil {
		return c, newError(CodeInternal, "the registered tool_rbac table could not be read")
	}
	c.ToolRBAC = out.ToolRBAC
	return c, nil
}

// SessionUserInfoJSON is the core's user_info document of the user signed in to a sign-in
// session (the session_id oauth_start returned; docs/sign-in.md), or nil when there is no such
// signed-in session (sign-in off; the id malformed, unknown, expired or not signed in; its token
// refused). Blocks while the session's token is validated or refreshed.
// CodeSessionStoreUnavailable when the session store cannot be read.
func (rt *Runtime) SessionUserInfoJSON(sessionID string) ([]byte, error) {
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	p, n := cstr(sessionID)
	var t *C.authsec_text
	var e *C.authsec_error
	st := C.authsec_runtime_session_user_info(h, p, n, &t, &e)
	runtime.KeepAlive(rt)
	runtime.KeepAlive(sessionID)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	raw := takeText(t)
	if raw == "null" {
		return nil, nil
	}
	return []byte(raw), nil
}

// SessionUserInfo is SessionUserInfoJSON parsed (nil, nil when there is no signed-in session).
func (rt *Runtime) SessionUserInfo(sessionID string) (*UserInfo, error) {
	raw, err := rt.SessionUserInfoJSON(sessionID)
	if err != nil || raw == nil {
		return nil, err
	}
	var u UserInfo
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, newError(CodeInternal, "the user_info document could not be read")
	}
	return &u, nil
}
