package authsec

// Workload identity against a real SPIRE server and agent on loopback (tests/spire/harness.py
// up: SPIRE v1.13.3 built from the Go module proxy, join token, unix workload attestor, one
// entry for this uid with a 20 s X.509-SVID TTL): the SVID's SPIFFE ID, the files and modes, an
// mTLS round trip with ClientTLSConfig/ServerTLSConfig, the counter on rotation, a JWT-SVID from
// the agent accepted by the runtime and one for another audience refused, the disabled and
// agent-down errors.

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const workloadID = "spiffe://example.org/ns/test/sa/mcp-server"

func startSpire(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	harness := filepath.Join("..", "..", "tests", "spire", "harness.py")
	out, err := exec.Command("python3", harness, "up", dir).Output()
	if err != nil {
		t.Fatalf("SPIRE harness: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("python3", harness, "down", dir).Run() })
	var info struct {
		Endpoint string `json:"endpoint"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("SPIRE harness output %q: %v", out, err)
	}
	return info.Endpoint
}

func TestWorkloadDisabledAndAgentDown(t *testing.T) {
	t.Setenv("SPIFFE_ENDPOINT_SOCKET", "")
	_, err := StartWorkload(WorkloadOptions{})
	if !errors.Is(err, ErrWorkloadNotConfigured) {
		t.Fatalf("no socket: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.sock")
	_, err = StartWorkload(WorkloadOptions{Endpoint: missing, Timeout: time.Second})
	if !errors.Is(err, ErrWorkloadApiUnavailable) {
		t.Fatalf("agent down: %v", err)
	}
	want := "no X.509-SVID from the Workload API at unix://" + missing + " within 1000 ms: connect failed"
	var ae *Error
	if !errors.As(err, &ae) || !strings.HasPrefix(ae.Message, want) {
		t.Fatalf("message %q, want prefix %q", err, want)
	}
}

func TestWorkloadAgainstSpire(t *testing.T) {
	endpoint := startSpire(t)
	certDir := filepath.Join(t.TempDir(), "certs")
	w, err := StartWorkload(WorkloadOptions{Endpoint: endpoint, CertDir: certDir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	s, err := w.Current()
	if err != nil {
		t.Fatal(err)
	}
	if s.SPIFFEID != workloadID || w.Version() < 1 || !w.Connected() {
		t.Fatalf("svid %s version %d connected %v", s.SPIFFEID, w.Version(), w.Connected())
	}
	for path, mode := range map[string]os.FileMode{certDir: 0o700, w.KeyFile: 0o600, w.CertFile: 0o644, w.BundleFile: 0o644} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != mode {
			t.Fatalf("%s: mode %v (%v), want %v", path, st.Mode().Perm(), err, mode)
		}
	}
	if b, _ := os.ReadFile(w.CertFile); string(b) != s.CertificatePEM {
		t.Fatal("svid.crt differs from the current certificate")
	}

	// mTLS round trip: a server with ServerTLSConfig, a client with ClientTLSConfig.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: w.ServerTLSConfig(workloadID), Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, PeerSPIFFEID(r.TLS.PeerCertificates[0]))
	})}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: w.ClientTLSConfig(workloadID)}, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != workloadID {
		t.Fatalf("server saw client %q", body)
	}
	wrong := &http.Client{Transport: &http.Transport{TLSClientConfig: w.ClientTLSConfig("spiffe://example.org/other")}, Timeout: 10 * time.Second}
	if _, err := wrong.Get("https://" + ln.Addr().String() + "/"); err == nil || !strings.Contains(err.Error(), "is not spiffe://example.org/other") {
		t.Fatalf("a server with another SPIFFE ID: %v", err)
	}

	// Rotation: the counter moves and the file changes.
	v0 := w.Version()
	if v1 := w.WaitUpdate(v0, 40*time.Second); v1 <= v0 {
		t.Fatalf("no rotation within two SVID lifetimes (version %d)", v1)
	}
	if b, _ := os.ReadFile(w.CertFile); string(b) == s.CertificatePEM {
		t.Fatal("svid.crt did not change on rotation")
	}

	// A JWT-SVID from the agent as a bearer token; another audience refused.
	rt, err := New(Config{
		Issuer: "https://as.example.com", JWKSURL: "https://as.example.com/jwks", ResourceURI: "https://mcp.example.com/mcp",
		ToolScopes:        map[string][]string{"list_issues": {"issues:read"}},
		SpiffeTrustDomain: "example.org", SpiffeEndpointSocket: endpoint,
		ToolWorkloads: map[string][]string{"list_issues": {workloadID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if warnings, err := rt.startup(); err != nil || len(warnings) != 0 {
		t.Fatalf("startup: %v %v", warnings, err)
	}
	check := func(token string) *Decision {
		d, err := rt.Check(Request{Method: "POST", Path: "/mcp", Headers: [][2]string{{"authorization", "Bearer " + token}},
			Body: []byte(`{"method":"tools/call","params":{"name":"list_issues"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	token, err := w.FetchJWTSVID("https://mcp.example.com/mcp")
	if err != nil {
		t.Fatal(err)
	}
	d := check(token)
	p, _ := d.Principal()
	if d.Kind != Allow || p.SPIFFEID() != workloadID || p.Subject != workloadID {
		t.Fatalf("JWT-SVID: %v %+v", d.Kind, p)
	}
	other, err := w.FetchJWTSVID("https://other.example.com/mcp")
	if err != nil {
		t.Fatal(err)
	}
	d = check(other)
	if d.Kind != Respond || d.Response.Status != 401 || !strings.Contains(string(d.Response.Body), `"error":"invalid_audience"`) {
		t.Fatalf("foreign audience: %v %+v", d.Kind, d.Response)
	}
}
