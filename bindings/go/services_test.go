package authsec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestServiceCredentialsThroughTheFixture(t *testing.T) {
	base := fixture(t)
	cfg := testConfig(base)
	cfg.ServicesURL = base + "/services"
	rt := startedRuntime(t, cfg)
	postJSON(t, base+"/_control/reset", map[string]any{"services": map[string]any{
		"sess-go github": map[string]any{
			"credentials": map[string]any{
				"service_id": "svc-1", "service_name": "github", "service_type": "github",
				"auth_type": "oauth2", "url": "https://api.github.com",
				"credentials": map[string]any{"access_token": "gho-go-secret-1"},
				"metadata":    map[string]any{"org": "acme"}, "retrieved_at": "2026-12-01T10:00:00Z",
			},
			"user_details": map[string]any{"login": "octo"},
		},
	}})

	c, err := rt.ServiceCredentials("sess-go", "github")
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceID != "svc-1" || c.AuthType != "oauth2" || c.URL != "https://api.github.com" ||
		c.Credentials["access_token"] != "gho-go-secret-1" || c.Metadata["org"] != "acme" ||
		c.RetrievedAt != "2026-12-01T10:00:00Z" {
		t.Fatalf("credentials %+v", *c)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v %#v", *c, *c)} {
		if strings.Contains(s, "gho-go-secret-1") {
			t.Fatalf("a credential printed: %s", s)
		}
	}
	tok, err := rt.ServiceToken("sess-go", "github")
	if err != nil || tok != "gho-go-secret-1" {
		t.Fatalf("token %q %v", tok, err)
	}
	d, err := rt.ServiceUserDetails("sess-go", "github")
	if err != nil || d["login"] != "octo" {
		t.Fatalf("details %v %v", d, err)
	}
	_, err = rt.ServiceToken("sess-go", "gitlab")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeServicesError || e.Message != "services API returned HTTP 404" {
		t.Fatalf("unknown service: %v", err)
	}
	if !errors.Is(err, ErrServicesError) {
		t.Fatalf("not the sentinel: %v", err)
	}
	_, err = rt.ServiceCredentials("", "github")
	if !errors.As(err, &e) || e.Code != CodeInvalidInput || e.Message != "session_id and service_name are required" {
		t.Fatalf("empty session: %v", err)
	}
}

func TestConfigStringHidesTheRedisSecrets(t *testing.T) {
	cfg := Config{RedisURL: "redis://:pw-go-1@127.0.0.1:6379", RedisKey: "key-go-1"}
	s := cfg.String() + cfg.GoString()
	if strings.Contains(s, "pw-go-1") || strings.Contains(s, "key-go-1") {
		t.Fatal(s)
	}
}
