package authsec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRBACConfigJSONAndRedaction(t *testing.T) {
	cfg := Config{
		Issuer:        "https://as.example",
		ToolRBAC:      map[string]RBACRequirement{"deploy": {Roles: []string{"admin"}, RequireAll: true}},
		RBACClaims:    &RBACClaims{Roles: "realm_roles"},
		RBACCatalogue: &RBACCatalogue{Postgres: "postgres://u:pw-s3cr3t@db/x", TTLSeconds: Ptr(5.0)},
	}
	b, err := cfg.json()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"issuer":"https://as.example","tool_rbac":{"deploy":{"roles":["admin"],"require_all":true}},"rbac_claims":{"roles":"realm_roles"},"rbac_catalogue":{"postgres":"postgres://u:pw-s3cr3t@db/x","ttl_seconds":5}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "pw-s3cr3t") {
			t.Errorf("catalogue URL shown: %s", s)
		}
	}
	if cfg.RBACCatalogue.Postgres == "[REDACTED]" {
		t.Fatal("String must not change the caller's Config")
	}
	_, err = New(Config{Issuer: "i", JWKSURL: "https://i/jwks", ResourceURI: testResource,
		ToolRBAC: map[string]RBACRequirement{"t": {Roles: []string{" "}}}})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeConfigInvalid || e.Message != "tool_rbac['t'].roles contains an empty value" {
		t.Fatalf("got %v", err)
	}
}

// The core decides RBAC and builds user_info; the Go API hands both through.
func TestRBACDecisionsAndUserInfo(t *testing.T) {
	base := fixture(t)
	cfg := Config{Issuer: base, JWKSURL: base + "/jwks", ResourceURI: testResource,
		ToolRBAC: map[string]RBACRequirement{"admin_dashboard": {Roles: []string{"admin"}}}}
	// deploy_production through the registration API: the same core table.
	cfg, err := cfg.WithToolRBAC("deploy_production",
		RBACRequirement{Roles: []string{"admin"}, Resources: []string{"production"}, RequireAll: true})
	if err != nil {
		t.Fatal(err)
	}
	rt := startedRuntime(t, cfg)
	claims := map[string]any{"iss": base, "sub": "user-1", "aud": testResource, "email": "dev@example.com",
		"tenant_id": "tenant-a", "roles": []string{"admin"}, "scope": "projects:write", "exp": time.Now().Unix() + 3600}
	var out struct{ Token string }
	if err := json.Unmarshal(postJSON(t, base+"/_control/mint", map[string]any{"kid": "rsa-1", "claims": claims}), &out); err != nil {
		t.Fatal(err)
	}
	check := func(tool string) *Decision {
		d, err := rt.Check(Request{Method: "POST", Path: "/mcp",
			Headers: [][2]string{{"authorization", "Bearer " + out.Token}},
			Body:    []byte(rpc("tools/call", fmt.Sprintf(`{"name":%q}`, tool)))})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	allow := check("admin_dashboard")
	defer allow.Close()
	if allow.Kind != Allow {
		t.Fatalf("admin_dashboard: %v", allow.Kind)
	}
	raw, err := rt.UserInfoJSON(allow)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := `{"sub":"user-1","email":"dev@example.com","tenant_id":"tenant-a","roles":["admin"],"groups":[],"scopes":["write"],"resources":["projects"],"permissions":["projects:write"]}`
	if string(raw) != wantInfo {
		t.Fatalf("user_info %s", raw)
	}
	info, err := rt.UserInfo(allow)
	if err != nil || info.Email != "dev@example.com" || info.Resources[0] != "projects" {
		t.Fatalf("%+v %v", info, err)
	}
	deny := check("deploy_production")
	defer deny.Close()
	if deny.Kind != Respond || deny.Response.Status != 200 || !strings.Contains(string(deny.Response.Body), `"error_description":"RBAC denied: missing required resources"`) {
		t.Fatalf("deploy_production: %v %s", deny.Kind, deny.Response.Body)
	}
	if _, err := rt.UserInfoJSON(deny); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("user_info of a respond decision: %v", err)
	}
	allow.Close()
	if _, err := rt.UserInfoJSON(allow); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("user_info of a closed decision: %v", err)
	}
}

// WithToolRBAC: the core's registration rules, a copy of the Config, errors as the core words them.
func TestWithToolRBAC(t *testing.T) {
	orig := Config{Issuer: "https://as.example", ToolRBAC: map[string]RBACRequirement{"a": {Roles: []string{"x"}}}}
	deploy := RBACRequirement{Roles: []string{"admin", "deployer"}, Scopes: []string{"write"},
		Resources: []string{"production"}, RequireAll: true}
	cfg, err := orig.WithToolRBAC(" deploy_production ", deploy)
	if err != nil {
		t.Fatal(err)
	}
	if len(orig.ToolRBAC) != 1 {
		t.Fatalf("the caller's map changed: %v", orig.ToolRBAC)
	}
	got := cfg.ToolRBAC["deploy_production"]
	if len(cfg.ToolRBAC) != 2 || !got.RequireAll || strings.Join(got.Roles, ",") != "admin,deployer" ||
		strings.Join(got.Resources, ",") != "production" || len(got.Groups) != 0 || cfg.Issuer != orig.Issuer {
		t.Fatalf("got %+v", cfg.ToolRBAC)
	}
	// The same requirement again is a no-op.
	if again, err := cfg.WithToolRBAC("deploy_production", deploy); err != nil || len(again.ToolRBAC) != 2 {
		t.Fatalf("%v %v", again.ToolRBAC, err)
	}
	for _, c := range []struct {
		tool string
		req  RBACRequirement
		want string
	}{
		{"deploy_production", RBACRequirement{Roles: []string{"admin"}},
			"tool_rbac['deploy_production'] is registered twice with different requirements"},
		{"t", RBACRequirement{Groups: []string{" "}}, "tool_rbac['t'].groups contains an empty value"},
		{"  ", RBACRequirement{}, "tool_rbac contains an empty tool name"},
	} {
		out, err := cfg.WithToolRBAC(c.tool, c.req)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeConfigInvalid || e.Message != c.want {
			t.Errorf("%q: got %v", c.tool, err)
		}
		if len(out.ToolRBAC) != 2 {
			t.Errorf("%q: the table changed on failure: %v", c.tool, out.ToolRBAC)
		}
	}
	// From no table at all.
	fresh, err := (Config{}).WithToolRBAC("calculator", RBACRequirement{})
	if err != nil || len(fresh.ToolRBAC) != 1 {
		t.Fatalf("%v %v", fresh.ToolRBAC, err)
	}
}
