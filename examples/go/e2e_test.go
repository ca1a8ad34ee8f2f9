package main

// End to end: oidc-provider (tests/interop/oidc/as.mjs, installed by
// `bash scripts/npm-ci.sh tests/interop/oidc`) issues real tokens; this example (the go-sdk
// StreamableHTTPHandler behind authsec.MountMCP) checks them; the go-sdk client drives it over
// StreamableClientTransport with bearer tokens. Two servers: JWT mode and introspection mode.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const toolScopes = `{"list_issues":["mcp:read"],"create_issue":["mcp:write"],"delete_issue":["mcp:admin"]}`

type env struct {
	issuer             string
	jwtURL, jwtRes     string // JWT mode server and its resource
	introURL, introRes string // introspection mode server and its resource
}

// startAS runs oidc-provider with the given resource indicators and returns its issuer.
func startAS(t *testing.T, resources ...string) string {
	t.Helper()
	cmd := exec.Command("node", "as.mjs")
	cmd.Dir = filepath.Join("..", "..", "tests", "interop", "oidc")
	cmd.Env = append(os.Environ(), "MCP_RESOURCES="+strings.Join(resources, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oidc-provider (node, tests/interop/oidc installed?): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "READY" {
				ready <- f[1]
			}
		}
	}()
	select {
	case issuer := <-ready:
		return issuer
	case <-time.After(60 * time.Second):
		t.Fatal("oidc-provider: no READY in 60 s")
	}
	return ""
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveExample starts the example over ln with the given AUTHSEC_* environment.
func serveExample(t *testing.T, ln net.Listener, vars map[string]string) string {
	t.Helper()
	for k, v := range vars {
		t.Setenv(k, v)
	}
	rt, err := start(t.Context())
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	srv := httptest.NewUnstartedServer(newMux(rt))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); rt.Close() })
	return srv.URL
}

func setup(t *testing.T) *env {
	ln1, ln2 := listen(t), listen(t)
	e := &env{}
	e.jwtRes = "http://" + ln1.Addr().String() + "/mcp"
	e.introRes = "http://" + ln2.Addr().String() + "/mcp"
	e.issuer = startAS(t, e.jwtRes, e.introRes)
	common := map[string]string{
		"AUTHSEC_ISSUER":           e.issuer,
		"AUTHSEC_TOOL_SCOPES_JSON": toolScopes,
		"AUTHSEC_POLICY_MODE":      "local_only",
		"AUTHSEC_SUPPORTED_SCOPES": "mcp:read mcp:write mcp:admin",
	}
	jwt := map[string]string{"AUTHSEC_RESOURCE_URI": e.jwtRes, "AUTHSEC_JWKS_URL": e.issuer + "/jwks"}
	intro := map[string]string{
		"AUTHSEC_RESOURCE_URI":                e.introRes,
		"AUTHSEC_INTROSPECTION_URL":           e.issuer + "/token/introspection",
		"AUTHSEC_INTROSPECTION_CLIENT_ID":     "mcp-rs",
		"AUTHSEC_INTROSPECTION_CLIENT_SECRET": "mcp-rs-secret",
		"AUTHSEC_VALIDATION_MODE":             "introspection_only",
	}
	for k, v := range common {
		jwt[k], intro[k] = v, v
	}
	e.jwtURL = serveExample(t, ln1, jwt)
	// The first runtime is built; the second gets its own environment (t.Setenv restores at the end).
	os.Unsetenv("AUTHSEC_JWKS_URL")
	e.introURL = serveExample(t, ln2, intro)
	return e
}

func basic(client string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(client+":"+client+"-secret"))
}

func (e *env) token(t *testing.T, client, scope, resource string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {resource}}
	req, _ := http.NewRequest("POST", e.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", basic(client))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &body) != nil || body.AccessToken == "" {
		t.Fatalf("no token for %s: %s", client, b)
	}
	return body.AccessToken
}

type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.base.RoundTrip(r)
}

func connect(t *testing.T, serverURL, token string) (*mcp.ClientSession, error) {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "authsec-e2e", Version: "1.0.0"}, nil)
	tr := &mcp.StreamableClientTransport{
		Endpoint:   serverURL + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}},
		MaxRetries: -1,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return client.Connect(ctx, tr, nil)
}

func mustConnect(t *testing.T, serverURL, token string) *mcp.ClientSession {
	t.Helper()
	s, err := connect(t, serverURL, token)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func toolNames(t *testing.T, s *mcp.ClientSession) []string {
	t.Helper()
	res, err := s.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func call(t *testing.T, s *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := s.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	return res
}

func structured(t *testing.T, r *mcp.CallToolResult) map[string]any {
	t.Helper()
	b, _ := json.Marshal(r.StructuredContent)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("structured content %s", b)
	}
	return m
}

func authsecMeta(t *testing.T, r *mcp.CallToolResult) map[string]any {
	t.Helper()
	m, ok := r.Meta["authsec"].(map[string]any)
	if !r.IsError || !ok {
		t.Fatalf("not an authsec in-band denial: %+v", r)
	}
	return m
}

func post(t *testing.T, u, token, sessionID, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if sessionID != "" {
		req.Header.Set("Mcp-Session-Id", sessionID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestEndToEnd(t *testing.T) {
	e := setup(t)

	t.Run("filtered list, allowed call with the go-sdk TokenInfo", func(t *testing.T) {
		reader := mustConnect(t, e.jwtURL, e.token(t, "mcp-rs256", "mcp:read", e.jwtRes))
		if got := toolNames(t, reader); !slices.Equal(got, []string{"list_issues"}) {
			t.Fatalf("reader sees %v", got)
		}
		r := call(t, reader, "list_issues", map[string]any{})
		if r.IsError {
			t.Fatalf("%+v", r)
		}
		v := structured(t, r)
		if v["caller"] != "mcp-rs256" {
			t.Fatalf("the tool handler sees %v", v["caller"])
		}
		writer := mustConnect(t, e.jwtURL, e.token(t, "mcp-es256", "mcp:read mcp:write", e.jwtRes))
		if got := toolNames(t, writer); !slices.Equal(got, []string{"create_issue", "list_issues"}) {
			t.Fatalf("writer sees %v", got)
		}
		r = call(t, writer, "create_issue", map[string]any{"title": "from e2e"})
		if r.IsError || structured(t, r)["created"].(map[string]any)["title"] != "from e2e" {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("the SSE answer to tools/list is filtered", func(t *testing.T) {
		tok := e.token(t, "mcp-eddsa", "mcp:read", e.jwtRes)
		init := post(t, e.jwtURL+"/mcp", tok, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
		sid := init.Header.Get("Mcp-Session-Id")
		io.Copy(io.Discard, init.Body)
		if init.StatusCode != 200 || sid == "" {
			t.Fatalf("initialize: %d session %q", init.StatusCode, sid)
		}
		post(t, e.jwtURL+"/mcp", tok, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		resp := post(t, e.jwtURL+"/mcp", tok, sid, `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("content-type %q", resp.Header.Get("Content-Type"))
		}
		raw, _ := io.ReadAll(resp.Body)
		var lists [][]string
		for _, line := range strings.Split(string(raw), "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var m struct {
					Result struct{ Tools []struct{ Name string } }
				}
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					t.Fatalf("event %q", data)
				}
				var names []string
				for _, tool := range m.Result.Tools {
					names = append(names, tool.Name)
				}
				lists = append(lists, names)
			}
		}
		if len(lists) != 1 || !slices.Equal(lists[0], []string{"list_issues"}) {
			t.Fatalf("events %v (%q)", lists, raw)
		}
	})

	t.Run("in-band denial", func(t *testing.T) {
		s := mustConnect(t, e.jwtURL, e.token(t, "mcp-rs256", "mcp:read", e.jwtRes))
		m := authsecMeta(t, call(t, s, "create_issue", map[string]any{"title": "nope"}))
		if m["error"] != "insufficient_scope" || !slices.Equal(toStrings(m["required_scopes"]), []string{"mcp:write"}) {
			t.Fatalf("%v", m)
		}
		m = authsecMeta(t, call(t, s, "delete_issue", map[string]any{"id": 1}))
		if !slices.Equal(toStrings(m["required_scopes"]), []string{"mcp:admin"}) {
			t.Fatalf("%v", m)
		}
	})

	t.Run("no token: 401, the challenge and its metadata URL", func(t *testing.T) {
		if _, err := connect(t, e.jwtURL, ""); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
			t.Fatalf("connect without a token: %v", err)
		}
		resp := post(t, e.jwtURL+"/mcp", "", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		www := resp.Header.Get("Www-Authenticate")
		re := regexp.MustCompile(`^Bearer realm="[^"]+", resource_metadata="([^"]+)", error="invalid_token", error_description="missing bearer token"$`)
		m := re.FindStringSubmatch(www)
		if m == nil || m[1] != e.jwtURL+"/.well-known/oauth-protected-resource/mcp" {
			t.Fatalf("challenge %q", www)
		}
		doc, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer doc.Body.Close()
		var body struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
		}
		if doc.StatusCode != 200 || !strings.HasPrefix(doc.Header.Get("Content-Type"), "application/json") || json.NewDecoder(doc.Body).Decode(&body) != nil {
			t.Fatalf("metadata %d %q", doc.StatusCode, doc.Header.Get("Content-Type"))
		}
		slices.Sort(body.ScopesSupported)
		if body.Resource != e.jwtRes || !slices.Equal(body.AuthorizationServers, []string{e.issuer}) || !slices.Equal(body.ScopesSupported, []string{"mcp:admin", "mcp:read", "mcp:write"}) {
			t.Fatalf("%+v", body)
		}
	})

	t.Run("introspection mode: an opaque token works, and is refused once revoked", func(t *testing.T) {
		opaque := e.token(t, "mcp-opaque", "mcp:read", e.introRes)
		if strings.Contains(opaque, ".") {
			t.Fatal("not an opaque token")
		}
		s := mustConnect(t, e.introURL, opaque)
		if got := toolNames(t, s); !slices.Equal(got, []string{"list_issues"}) {
			t.Fatalf("sees %v", got)
		}
		if v := structured(t, call(t, s, "list_issues", map[string]any{})); v["caller"] != "mcp-opaque" {
			t.Fatalf("caller %v", v["caller"])
		}
		form := url.Values{"token": {opaque}}
		req, _ := http.NewRequest("POST", e.issuer+"/token/revocation", strings.NewReader(form.Encode()))
		req.Header.Set("Authorization", basic("mcp-opaque"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rv, err := http.DefaultClient.Do(req)
		if err != nil || rv.StatusCode/100 != 2 {
			t.Fatalf("revocation: %v %v", rv, err)
		}
		rv.Body.Close()
		m := authsecMeta(t, call(t, s, "list_issues", map[string]any{}))
		if m["error"] != "invalid_token" || m["reason"] != "token_revoked" {
			t.Fatalf("%v", m)
		}
		// A JSON-RPC request other than tools/call is refused in-band (a JSON-RPC error).
		if _, err := s.ListTools(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("tools/list with a revoked token: %v", err)
		}
		// A body that is not JSON-RPC gets the HTTP challenge.
		resp := post(t, e.introURL+"/mcp", opaque, "", `{"method":"tools/list"}`)
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("Www-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Www-Authenticate"))
		}
	})
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
