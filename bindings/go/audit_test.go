package authsec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func auditRuntime(t *testing.T) *Runtime {
	t.Helper()
	rt, err := NewFromJSON([]byte(`{"issuer": "https://as.example.com", "jwks_url": "https://as.example.com/jwks",
		"resource_uri": "https://mcp.example.com/mcp", "tool_scopes": {"list_issues": ["issues:read"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func denyOnce(t *testing.T, rt *Runtime, id int) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"list_issues"}}`, id))
	d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"x-request-id", "go-1"}}, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Kind != Respond || d.Response.Status != 401 {
		t.Fatalf("decision %v %+v", d.Kind, d.Response)
	}
}

// The callback and the slog.Handler get the core's lines in order; FlushAudit waits for them;
// MetricsHandler serves the core's Prometheus text.
func TestAuditCallbackSlogHandlerAndMetrics(t *testing.T) {
	rt := auditRuntime(t)
	defer rt.Close()
	var mu sync.Mutex
	var lines []string
	if err := rt.AddAuditCallback(func(l []byte) { mu.Lock(); lines = append(lines, string(l)); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	if err := rt.AddAuditCallback(func([]byte) { panic("a broken callback loses its line only") }); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	var logMu sync.Mutex
	h := slog.NewJSONHandler(&lockedWriter{w: &logged, mu: &logMu}, nil)
	if err := rt.AddAuditHandler(h); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 3; id++ {
		denyOnce(t, rt, id)
	}
	done, err := rt.FlushAudit(30 * time.Second)
	if err != nil || !done {
		t.Fatalf("flush: %v %v", done, err)
	}
	mu.Lock()
	got := append([]string(nil), lines...)
	mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d lines: %q", len(got), got)
	}
	for i, l := range got {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil || !strings.HasSuffix(l, "\n") {
			t.Fatalf("line %q: %v", l, err)
		}
		if e["rpc_id"] != float64(i+1) || e["reason"] != "no_token" || e["http_request_id"] != "go-1" {
			t.Fatalf("event %v", e)
		}
	}
	logMu.Lock()
	records := strings.Split(strings.TrimSpace(logged.String()), "\n")
	logMu.Unlock()
	if len(records) != 3 {
		t.Fatalf("slog records: %q", records)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(records[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["level"] != "WARN" || rec["msg"] != "authsec audit" || rec["decision"] != "deny" || rec["rpc_id"] != float64(1) {
		t.Fatalf("slog record %v", rec)
	}
	w := httptest.NewRecorder()
	rt.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != MetricsContentType ||
		!strings.Contains(w.Body.String(), "authsec_decisions_total{outcome=\"deny\",reason=\"no_token\"} 3\n") {
		t.Fatalf("metrics %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestAuditMisuseIsTyped(t *testing.T) {
	rt := auditRuntime(t)
	if err := rt.AddAuditCallback(nil); !errors.Is(err, ErrNullParameter) {
		t.Fatalf("nil callback: %v", err)
	}
	if err := rt.AddAuditHandler(nil); !errors.Is(err, ErrNullParameter) {
		t.Fatalf("nil handler: %v", err)
	}
	if _, err := rt.FlushAudit(-time.Second); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative timeout: %v", err)
	}
	if done, err := rt.FlushAudit(time.Millisecond); err != nil || !done {
		t.Fatalf("no sink: %v %v", done, err)
	}
	rt.Close()
	if _, err := rt.Metrics(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("closed: %v", err)
	}
	if err := rt.AddAuditCallback(func([]byte) {}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("closed: %v", err)
	}
	w := httptest.NewRecorder()
	rt.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 503 {
		t.Fatalf("closed metrics: %d", w.Code)
	}
	if _, err := AuditRecord([]byte("not json")); err == nil {
		t.Fatal("AuditRecord accepted garbage")
	}
}
