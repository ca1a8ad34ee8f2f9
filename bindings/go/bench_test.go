package authsec

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

// The benchmarks (one run: `go test -run '^$' -bench . -benchtime 2s`, with -tags authsec_release
// after `cargo build --locked -p authsec-ffi --release`). Every case is an allowed tools/call
// with a valid RS256 token seen before (the steady state of a server).

func benchSetup(b *testing.B) (*Runtime, string, []byte) {
	base := fixture(b)
	rt := startedRuntime(b, testConfig(base))
	token := mint(b, base, "user-1", "issues:read")
	return rt, token, []byte(rpc("tools/call", `{"name":"list_issues","arguments":{}}`))
}

func newPost(body []byte, token string) *http.Request {
	req := httptest.NewRequest("POST", "/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })

// The binding's overhead over the core: Runtime.Check (Go request -> C, decision -> Go) minus
// the bare C call.
func BenchmarkBindingOverhead(b *testing.B) {
	rt, token, body := benchSetup(b)
	headers := [][2]string{{"content-type", "application/json"}, {"accept", "application/json, text/event-stream"}, {"authorization", "Bearer " + token}}
	req := Request{Method: "POST", Path: "/mcp", Headers: headers, Body: body}
	b.Run("core_c_call", func(b *testing.B) {
		hb := newHeaderBlock(headers)
		defer hb.release()
		for b.Loop() {
			if !rawCheck(rt, "POST", "/mcp", hb, body) {
				b.Fatal("not allowed")
			}
		}
	})
	b.Run("runtime_check", func(b *testing.B) {
		for b.Loop() {
			d, err := rt.Check(req)
			if err != nil || d.Kind != Allow {
				b.Fatal(d, err)
			}
			d.Close()
		}
	})
}

// Per request through net/http handlers: our Middleware (body read, Check, principal, go-sdk
// TokenInfo in the context) against go-sdk's auth.RequireBearerToken with a golang-jwt/jwt/v5
// RS256 verifier plus the same per-tool scope check, written as Go users write it today.
func BenchmarkMiddleware(b *testing.B) {
	rt, token, body := benchSetup(b)
	b.Run("authsec_middleware", func(b *testing.B) {
		h := rt.Middleware(okHandler)
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newPost(body, token))
			if rec.Code != 200 {
				b.Fatal(rec.Code, rec.Body)
			}
		}
	})
	b.Run("gosdk_requirebearertoken_golangjwt", func(b *testing.B) {
		h := goSDKBaseline(b, fixture(b))
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newPost(body, token))
			if rec.Code != 200 {
				b.Fatal(rec.Code, rec.Body)
			}
		}
	})
}

// goSDKBaseline: RequireBearerToken + a golang-jwt verifier (RS256 only, iss, aud, exp) + a
// handler that reads the JSON-RPC body and checks the tool's scope.
func goSDKBaseline(b *testing.B, base string) http.Handler {
	key := fixtureRSAKey(b, base, "rsa-1")
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(base),
		jwt.WithAudience(testResource), jwt.WithExpirationRequired())
	verifier := func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		claims := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
			return nil, errors.Join(auth.ErrInvalidToken, err)
		}
		exp, _ := claims.GetExpirationTime()
		scope, _ := claims["scope"].(string)
		sub, _ := claims.GetSubject()
		return &auth.TokenInfo{Scopes: strings.Fields(scope), Expiration: exp.Time, UserID: sub}, nil
	}
	scopes := testConfig(base).ToolScopes
	scopeCheck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", 400)
			return
		}
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		if json.Unmarshal(body, &msg) != nil {
			http.Error(w, "bad json", 400)
			return
		}
		if msg.Method == "tools/call" {
			ti := auth.TokenInfoFromContext(r.Context())
			need, ok := scopes[msg.Params.Name]
			if !ok || ti == nil || !slices.ContainsFunc(need, func(s string) bool { return slices.Contains(ti.Scopes, s) }) {
				http.Error(w, "insufficient scope", 403)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		okHandler.ServeHTTP(w, r)
	})
	return auth.RequireBearerToken(verifier, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
	})(scopeCheck)
}

func fixtureRSAKey(b *testing.B, base, kid string) *rsa.PublicKey {
	resp, err := http.Get(base + "/jwks")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		b.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid != kid {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			b.Fatal("bad jwk")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	b.Fatalf("no key %s", kid)
	return nil
}
