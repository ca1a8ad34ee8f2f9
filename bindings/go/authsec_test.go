package authsec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/authsec/authsec/bindings/go/internal/codegen"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

// codes.go is what the generator makes of include/authsec_codes.json, and every code's name is
// the C library's authsec_status_name for its number.
func TestCodesMatchRegistry(t *testing.T) {
	reg, err := os.ReadFile("../../include/authsec_codes.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := codegen.Generate(reg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("codes.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("codes.go drifted from include/authsec_codes.json: run `go generate` in bindings/go")
	}
	if len(codeTable) < 10 {
		t.Fatalf("only %d codes", len(codeTable))
	}
	for _, c := range codeTable {
		if n := statusName(uint32(c.code)); n != c.name {
			t.Errorf("code %d: registry %q, C library %q", c.code, c.name, n)
		}
	}
	if Code(7777).Name() != "unknown" || statusName(7777) != "unknown" {
		t.Error("an unknown number must read as unknown")
	}
}

func TestConfigErrorsAreTypedAndErrorsIsFriendly(t *testing.T) {
	_, err := New(Config{})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != CodeConfigInvalid || ae.Message != "issuer is required" {
		t.Fatalf("got %#v", err)
	}
	if !errors.Is(err, ErrConfigInvalid) || errors.Is(err, ErrStartupFailed) {
		t.Fatalf("errors.Is: %v", err)
	}
	if err.Error() != "authsec: config_invalid: issuer is required" {
		t.Fatalf("message %q", err.Error())
	}
	wrapped := fmt.Errorf("boot: %w", err)
	if !errors.Is(wrapped, ErrConfigInvalid) {
		t.Fatal("a wrapped error keeps its code")
	}
	// Unknown fields are refused by the JSON entry point; the message names no secret value.
	_, err = NewFromJSON([]byte(`{"issuer":"https://as.example","bogus":1,"introspection_client_secret":"s3cr3t-value"}`))
	if !errors.Is(err, ErrConfigInvalid) || strings.Contains(err.Error(), "s3cr3t-value") {
		t.Fatalf("got %v", err)
	}
	_, err = NewFromJSON([]byte(`{"issuer": 1}`))
	if !errors.Is(err, ErrConfigInvalid) {
		t.Fatalf("got %v", err)
	}
}

func TestConfigJSONAndRedaction(t *testing.T) {
	cfg := Config{
		Issuer:                    "https://as.example",
		IntrospectionClientSecret: "s3cr3t-value",
		ToolScopes:                map[string][]string{},
		RequireExp:                Ptr(false),
		MaxBodyBytes:              Ptr(uint64(0)),
	}
	b, err := cfg.json()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"issuer":"https://as.example","introspection_client_secret":"s3cr3t-value","tool_scopes":{},"require_exp":false,"max_body_bytes":0}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(&cfg)} {
		if strings.Contains(s, "s3cr3t-value") || !strings.Contains(s, "REDACTED") {
			t.Errorf("secret shown: %s", s)
		}
	}
}

func TestCloseIsIdempotentAndUseAfterCloseFails(t *testing.T) {
	base := fixture(t)
	rt, err := New(testConfig(base))
	if err != nil {
		t.Fatal(err)
	}
	if rt.MetadataPath() != "/.well-known/oauth-protected-resource/mcp" || rt.MaxBodyBytes() == 0 {
		t.Fatalf("path %q max %d", rt.MetadataPath(), rt.MaxBodyBytes())
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	_, err = rt.Check(Request{Method: "POST", Path: "/mcp"})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("got %v", err)
	}
	if _, err := rt.Metadata(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("got %v", err)
	}
	// The middleware over a closed runtime fails closed: 500, the handler never runs.
	h := rt.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Fatal("handler ran") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/mcp", strings.NewReader(`{}`)))
	if rec.Code != 500 || rec.Body.String() != string(InternalErrorResponse().Body) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var d *Decision
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestManualClockOnlyForManualRuntimes(t *testing.T) {
	base := fixture(t)
	rt, err := New(testConfig(base))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.AdvanceClock(1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("got %v", err)
	}
	if err := rt.AdvanceClock(-1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("got %v", err)
	}
}

func rpc(method string, params string) string {
	if params == "" {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q}`, method)
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, method, params)
}

func serve(h http.Handler, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// assertCoreResponse: the recorder holds exactly the core's response (status, headers, body).
func assertCoreResponse(t *testing.T, rec *httptest.ResponseRecorder, want *Response) {
	t.Helper()
	if rec.Code != want.Status || !bytes.Equal(rec.Body.Bytes(), want.Body) {
		t.Fatalf("got %d %q, core said %d %q", rec.Code, rec.Body, want.Status, want.Body)
	}
	got := rec.Header()
	n := 0
	for _, vs := range got {
		n += len(vs)
	}
	if n != len(want.Headers) {
		t.Fatalf("headers %v, core said %v", got, want.Headers)
	}
	for _, kv := range want.Headers {
		found := false
		for _, v := range got.Values(kv[0]) {
			found = found || v == kv[1]
		}
		if !found {
			t.Fatalf("header %s: %q missing in %v", kv[0], kv[1], got)
		}
	}
}

const toolsAnswer = `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"list_issues","inputSchema":{"type":"object"}},{"name":"create_issue","inputSchema":{"type":"object"}}]}}`

func TestMiddlewareDecisions(t *testing.T) {
	base := fixture(t)
	rt := startedRuntime(t, testConfig(base))
	reader := mint(t, base, "user-1", "issues:read")
	var calls int
	var seen *Principal
	var ti *auth.TokenInfo
	h := rt.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		seen, _ = PrincipalFromContext(r.Context())
		ti = auth.TokenInfoFromContext(r.Context())
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(body), `"tools/list"`) {
			io.WriteString(w, toolsAnswer)
			return
		}
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`)
	}))

	t.Run("no token: the core's 401 with its challenge, byte for byte", func(t *testing.T) {
		calls = 0
		body := rpc("tools/call", `{"name":"list_issues"}`)
		rec := serve(h, "", body)
		d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"content-type", "application/json"}}, Body: []byte(body)})
		if err != nil || d.Kind != Respond {
			t.Fatalf("%v %v", d, err)
		}
		assertCoreResponse(t, rec, d.Response)
		if rec.Code != 401 || !strings.Contains(rec.Header().Get("Www-Authenticate"), `resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`) || calls != 0 {
			t.Fatalf("%d %v calls=%d", rec.Code, rec.Header(), calls)
		}
	})

	t.Run("allowed call: principal and go-sdk TokenInfo in the context", func(t *testing.T) {
		calls = 0
		rec := serve(h, reader, rpc("tools/call", `{"name":"list_issues","arguments":{}}`))
		if rec.Code != 200 || calls != 1 || seen == nil || seen.Subject != "user-1" || !seen.HasScope("issues:read") || seen.Issuer != base {
			t.Fatalf("%d calls=%d %+v", rec.Code, calls, seen)
		}
		if ti == nil || ti.UserID != "user-1" || len(ti.Scopes) != 1 || ti.Scopes[0] != "issues:read" || ti.Expiration.IsZero() || ti.Extra["sub"] != "user-1" {
			t.Fatalf("token info %+v", ti)
		}
		if seen.ClientID() != "user-1" {
			t.Fatalf("client id %q", seen.ClientID())
		}
	})

	t.Run("in-band denial: the handler does not run", func(t *testing.T) {
		calls = 0
		body := rpc("tools/call", `{"name":"create_issue","arguments":{}}`)
		rec := serve(h, reader, body)
		if calls != 0 || rec.Code != 200 {
			t.Fatalf("%d calls=%d", rec.Code, calls)
		}
		var msg struct {
			Result struct {
				IsError bool `json:"isError"`
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &msg); err != nil || !msg.Result.IsError {
			t.Fatalf("%s", rec.Body)
		}
	})

	t.Run("tools/list JSON answer filtered, Content-Length recomputed", func(t *testing.T) {
		rec := serve(h, reader, rpc("tools/list", ""))
		if rec.Code != 200 || strings.Contains(rec.Body.String(), "create_issue") || !strings.Contains(rec.Body.String(), "list_issues") {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Length") != fmt.Sprint(rec.Body.Len()) {
			t.Fatalf("content-length %q for %d bytes", rec.Header().Get("Content-Length"), rec.Body.Len())
		}
	})

	t.Run("oversized body: the core's 413 without reading it", func(t *testing.T) {
		calls = 0
		big := strings.Repeat(" ", int(rt.MaxBodyBytes())+1)
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(big))
		req.Header.Set("Authorization", "Bearer "+reader)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		d, err := rt.CheckOversized(Request{Method: "POST", Path: "/mcp"})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Code != 413 || d.Response.Status != 413 || !bytes.Equal(rec.Body.Bytes(), d.Response.Body) || calls != 0 {
			t.Fatalf("%d %s calls=%d", rec.Code, rec.Body, calls)
		}
		if rec.Header().Get("Connection") != "close" {
			t.Fatalf("connection %q", rec.Header().Get("Connection"))
		}
		// Counted, not declared: a body without Content-Length over the limit.
		req = httptest.NewRequest("POST", "/mcp", io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 413 || calls != 0 {
			t.Fatalf("%d calls=%d", rec.Code, calls)
		}
	})
}

func TestMountMCPServesMetadata(t *testing.T) {
	base := fixture(t)
	rt := startedRuntime(t, testConfig(base))
	mux := http.NewServeMux()
	MountMCP(mux, "/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), rt)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", rt.MetadataPath(), nil))
	want, err := rt.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	assertCoreResponse(t, rec, want)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["resource"] != testResource {
		t.Fatalf("%s", rec.Body)
	}
}

// flushRecorder records the writes between flushes.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushedAt []int
}

func (f *flushRecorder) Flush() {
	f.flushedAt = append(f.flushedAt, f.Body.Len())
	f.ResponseRecorder.Flush()
}

func TestToolsListSSEFilteredEventByEventWithFlush(t *testing.T) {
	base := fixture(t)
	rt := startedRuntime(t, testConfig(base))
	reader := mint(t, base, "user-1", "issues:read")
	h := rt.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "999") // wrong on purpose: filtering drops it
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		io.WriteString(w, ": keepalive\n\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "event: message\ndata: "+toolsAnswer[:40]) // half an event
		io.WriteString(w, toolsAnswer[40:]+"\n\n")
		w.(http.Flusher).Flush()
	}))
	req := httptest.NewRequest("POST", "/mcp", strings.NewReader(rpc("tools/list", "")))
	req.Header.Set("Authorization", "Bearer "+reader)
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, req)
	out := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(out, ": keepalive\n\n") || strings.Contains(out, "create_issue") || !strings.Contains(out, "list_issues") {
		t.Fatalf("%d %q", rec.Code, out)
	}
	if rec.Header().Get("Content-Length") != "" {
		t.Fatal("a stale Content-Length was forwarded")
	}
	// Flushes after the head was sent: after the keepalive and after the filtered event.
	if len(rec.flushedAt) != 2 || rec.flushedAt[0] != len(": keepalive\n\n") || rec.flushedAt[1] != len(out) {
		t.Fatalf("flushed at %v (body %d)", rec.flushedAt, len(out))
	}
}

func TestToolsListUnderUnavailablePolicyIsReplacedByCore503(t *testing.T) {
	base := fixture(t)
	cfg := testConfig(base)
	cfg.ToolScopes = nil
	cfg.ResourceServerID = "rs-1"
	cfg.IntrospectionClientID = "rs-1"
	cfg.IntrospectionClientSecret = "secret-1"
	cfg.PolicyMode = "remote_required"
	postJSON(t, base+"/_control/reset", map[string]any{})
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	// The backend has no policy (404): remote_required startup fails, requests get 503.
	_, err = rt.Startup(t.Context())
	reader := mint(t, base, "user-1", "issues:read")
	ran := false
	h := rt.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Handler", "1")
		io.WriteString(w, toolsAnswer)
	}))
	body := rpc("tools/list", "")
	// Startup failed: every request gets the core's fixed 503, the handler never runs.
	if !errors.Is(err, ErrStartupFailed) {
		t.Fatalf("startup: %v", err)
	}
	rec := serve(h, reader, body)
	assertCoreResponse(t, rec, StartupFailedResponse())
	if rec.Code != 503 || ran || !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Fatalf("%d %s ran=%v", rec.Code, rec.Body, ran)
	}
	// A host serving anyway (white-box: the gate lifted) still gets no tool list: the core's
	// filter replaces the handler's answer with its own 503.
	rt.startupFailed.Store(false)
	rec = serve(h, reader, body)
	if !ran {
		t.Fatal("the handler did not run")
	}
	d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"authorization", "Bearer " + reader}}, Body: []byte(body)})
	if err != nil || d.Kind != Allow || !d.FilterToolsList {
		t.Fatalf("%v %v", d, err)
	}
	out, err := rt.FilterResponse(d, "application/json", []byte(toolsAnswer))
	if err != nil || out.Kind != FilterRespond || out.Response.Status != 503 {
		t.Fatalf("%+v %v", out, err)
	}
	// The handler's answer (and its headers) are replaced by the core's 503, byte for byte.
	assertCoreResponse(t, rec, out.Response)
}

// One runtime shared by 64 goroutines (go test -race): allow, deny and filter concurrently,
// every answer what the core gives a single caller.
func TestSixtyFourGoroutinesShareOneRuntime(t *testing.T) {
	base := fixture(t)
	rt := startedRuntime(t, testConfig(base))
	reader := mint(t, base, "user-1", "issues:read")
	call := []byte(rpc("tools/call", `{"name":"list_issues","arguments":{}}`))
	list := []byte(rpc("tools/list", ""))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				switch (g + i) % 3 {
				case 0:
					d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"authorization", "Bearer " + reader}}, Body: call})
					if err != nil || d.Kind != Allow || d.Subject() != "user-1" {
						errs <- fmt.Errorf("allow: %v %v", d, err)
						return
					}
					d.Close()
				case 1:
					d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Body: call})
					if err != nil || d.Kind != Respond || d.Response.Status != 401 {
						errs <- fmt.Errorf("deny: %v %v", d, err)
						return
					}
				case 2:
					d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"Authorization", "Bearer " + reader}}, Body: list})
					if err != nil || d.Kind != Allow || !d.FilterToolsList {
						errs <- fmt.Errorf("list: %v %v", d, err)
						return
					}
					out, err := rt.FilterResponse(d, "application/json", []byte(toolsAnswer))
					if err != nil || out.Kind != FilterRewritten || bytes.Contains(out.Body, []byte("create_issue")) {
						errs <- fmt.Errorf("filter: %v %v", out, err)
						return
					}
					if _, err := d.Principal(); err != nil {
						errs <- err
						return
					}
					d.Close()
					if _, err := rt.FilterResponse(d, "application/json", []byte(toolsAnswer)); !errors.Is(err, ErrInvalidArgument) {
						errs <- fmt.Errorf("filter after close: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A refusal after bytes were sent ends the stream: the first SSE event is forwarded
// (filtered), the next cannot be read (502 by the core): the handler's next Write fails and
// nothing unfiltered reaches the client.
func TestSSERefusedMidStreamEndsTheStream(t *testing.T) {
	base := fixture(t)
	rt := startedRuntime(t, testConfig(base))
	reader := mint(t, base, "user-1", "issues:read")
	var writeErr error
	h := rt.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, "event: message\ndata: "+toolsAnswer+"\n\n")
		w.(http.Flusher).Flush()
		_, writeErr = io.WriteString(w, "data: {unreadable create_issue\n\n")
	}))
	req := httptest.NewRequest("POST", "/mcp", strings.NewReader(rpc("tools/list", "")))
	req.Header.Set("Authorization", "Bearer "+reader)
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, req)
	out := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(out, "list_issues") || strings.Contains(out, "create_issue") || strings.Contains(out, "unreadable") {
		t.Fatalf("%d %q", rec.Code, out)
	}
	if !errors.Is(writeErr, errStreamClosed) {
		t.Fatalf("the handler's write after the refusal: %v", writeErr)
	}
}

// A refusal before any byte was sent replaces the handler's answer with the core's: a gzip SSE
// answer that does not decode gets the core's 502, byte for byte.
func TestUndecodableAnswerReplacedByCore502(t *testing.T) {
	base := fixture(t)
	rt := startedRuntime(t, testConfig(base))
	reader := mint(t, base, "user-1", "issues:read")
	garbage := []byte("\xff\xff\xff\xff not gzip at all")
	h := rt.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("X-Handler", "1")
		w.Write(garbage)
	}))
	body := rpc("tools/list", "")
	rec := serve(h, reader, body)
	d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"authorization", "Bearer " + reader}}, Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := rt.NewResponseFilter(d, "text/event-stream", "gzip")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, want, err := f.Feed(garbage)
	if err == nil && want == nil {
		_, want, err = f.Finish()
	}
	if err != nil || want == nil || want.Status != 502 {
		t.Fatalf("%+v %v", want, err)
	}
	assertCoreResponse(t, rec, want)
	// Closed filters and decisions refuse, never forward.
	f.Close()
	if _, _, err := f.Feed([]byte("x")); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("feed after close: %v", err)
	}
	if !f.DropsContentEncoding() || !f.HoldsBody() || f.Passthrough() {
		t.Fatal("a closed filter must read as the safe values")
	}
	d.Close()
	if _, err := rt.NewResponseFilter(d, "", ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("filter on a closed decision: %v", err)
	}
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
func (failingBody) Close() error             { return nil }

// The middleware's other failure paths: each answers the core's fixed 500 and never forwards.
func TestMiddlewareFailuresAnswerTheCore500(t *testing.T) {
	base := fixture(t)
	rt := startedRuntime(t, testConfig(base))
	reader := mint(t, base, "user-1", "issues:read")
	want := InternalErrorResponse()
	if want.Status != 500 || !strings.Contains(string(want.Body), "server_error") {
		t.Fatalf("canned %+v", want)
	}

	t.Run("the request body cannot be read", func(t *testing.T) {
		h := rt.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Fatal("handler ran") }))
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Body = failingBody{}
		req.ContentLength = -1
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assertCoreResponse(t, rec, want)
	})

	t.Run("the runtime is closed under a running handler: its answer is not forwarded", func(t *testing.T) {
		rt2 := startedRuntime(t, testConfig(base))
		h := rt2.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rt2.Close()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, toolsAnswer)
		}))
		rec := serve(h, reader, rpc("tools/list", ""))
		assertCoreResponse(t, rec, want)
		if strings.Contains(rec.Body.String(), "create_issue") {
			t.Fatal("unfiltered answer forwarded")
		}
	})
}

func TestStartupHonoursACancelledContext(t *testing.T) {
	rt, err := New(testConfig(fixture(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := rt.Startup(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestPublishManifest(t *testing.T) {
	base := fixture(t)
	cfg := testConfig(base)
	cfg.ResourceServerID = "rs-1"
	cfg.IntrospectionClientID = "rs-1"
	cfg.IntrospectionClientSecret = "secret-1"
	cfg.PolicyMode = "local_only"
	rt := startedRuntime(t, cfg)
	rep, err := rt.PublishManifest([]map[string]any{{"name": "list_issues", "description": "List issues"}})
	if err != nil || rep.ToolsSent != 1 || rep.ToolsSeen == nil || *rep.ToolsSeen != 1 || rep.Generation == nil {
		t.Fatalf("%+v %v", rep, err)
	}
	_, err = rt.PublishManifest([]any{})
	if !errors.Is(err, ErrInvalidInput) || !strings.HasPrefix(err.(*Error).Message, "manifest not sent: the tool list is empty") {
		t.Fatalf("got %v", err)
	}
	if _, err := rt.PublishManifest(func() {}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("got %v", err)
	}
}
