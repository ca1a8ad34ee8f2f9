package authsec

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Sign-in through the Go API (docs/sign-in.md): the runtime serves the oauth_* tools and the
// callback route; SessionUserInfo names the signed-in user of a session id.
func TestSignInSessionUserInfo(t *testing.T) {
	base := fixture(t)
	cfg := testConfig(base)
	cfg.SignIn = &SignInConfig{ClientID: "mcp-client", RedirectURI: "http://127.0.0.1:3005/oauth/callback", AppName: "Go"}
	rt := startedRuntime(t, cfg)

	if u, err := rt.SessionUserInfo(strings.Repeat("A", 43)); err != nil || u != nil {
		t.Fatalf("unknown session: %v %v", u, err)
	}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"oauth_start","arguments":{}}}`)
	d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"content-type", "application/json"}}, Body: body})
	if err != nil || d.Kind != Respond {
		t.Fatalf("oauth_start: %v %v", d, err)
	}
	var rpc struct {
		Result struct {
			Content []struct{ Text string } `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal(d.Response.Body, &rpc); err != nil || len(rpc.Result.Content) != 1 {
		t.Fatalf("oauth_start answer %s: %v", d.Response.Body, err)
	}
	var started struct {
		SessionID        string `json:"session_id"`
		AuthorizationURL string `json:"authorization_url"`
	}
	if err := json.Unmarshal([]byte(rpc.Result.Content[0].Text), &started); err != nil {
		t.Fatal(err)
	}
	// Signed in but not yet: no user.
	if u, err := rt.SessionUserInfo(started.SessionID); err != nil || u != nil {
		t.Fatalf("pending session: %v %v", u, err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(started.AuthorizationURL)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %v %v", resp, err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	d, err = rt.Check(Request{Method: "GET", Path: loc.RequestURI()})
	if err != nil || d.Kind != Respond || d.Response.Status != 200 {
		t.Fatalf("callback: %v %v", d, err)
	}
	u, err := rt.SessionUserInfo(started.SessionID)
	if err != nil || u == nil || u.Sub != "signin-user" || u.Email != "signin-user@example.com" {
		t.Fatalf("signed-in session: %+v %v", u, err)
	}
	// The same callback again: the failure page.
	d, err = rt.Check(Request{Method: "GET", Path: loc.RequestURI()})
	if err != nil || d.Kind != Respond || d.Response.Status != 400 {
		t.Fatalf("replayed callback: %v %v", d, err)
	}
}
