package authsec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fixture backend of the conformance suite (tests/fixture, binary authsec-fixture): the
// authorization server (JWKS, introspection, token minting with the committed test keys) and
// the AuthSec backend. Built by `cargo build --locked -p authsec-fixture` (bindings/go/test.sh
// does it); a missing binary fails the tests.
var (
	fixtureOnce sync.Once
	fixtureBase string
	fixtureErr  error
	// fixtureStdin is held for the life of the test process: the fixture exits when it closes.
	fixtureStdin io.WriteCloser
)

func fixture(t testing.TB) string {
	t.Helper()
	fixtureOnce.Do(func() {
		bin := os.Getenv("AUTHSEC_FIXTURE")
		if bin == "" {
			bin = filepath.Join("..", "..", "target", "debug", "authsec-fixture")
		}
		cmd := exec.Command(bin, "--port", "0")
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe() // the fixture exits when the test process (and this pipe) ends
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureStdin = stdin
		out, err := cmd.StdoutPipe()
		if err != nil {
			fixtureErr = err
			return
		}
		if err := cmd.Start(); err != nil {
			fixtureErr = err
			return
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "READY ") {
			fixtureErr = err
			if err == nil {
				fixtureErr = &Error{Code: CodeInternal, Message: "fixture said " + line}
			}
			return
		}
		fixtureBase = strings.TrimSpace(strings.TrimPrefix(line, "READY "))
	})
	if fixtureErr != nil {
		t.Fatalf("start the fixture (cargo build --locked -p authsec-fixture): %v", fixtureErr)
	}
	return fixtureBase
}

func postJSON(t testing.TB, url string, v any) []byte {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, out)
	}
	return out
}

const testResource = "https://mcp.example.com/mcp"

// mint returns an RS256 token for sub with the given scope, valid for an hour.
func mint(t testing.TB, base, sub, scope string) string {
	t.Helper()
	claims := map[string]any{
		"iss": base, "sub": sub, "aud": testResource, "scope": scope,
		"exp": time.Now().Unix() + 3600,
	}
	var out struct{ Token string }
	if err := json.Unmarshal(postJSON(t, base+"/_control/mint", map[string]any{"kid": "rsa-1", "claims": claims}), &out); err != nil || out.Token == "" {
		t.Fatalf("mint: %v", err)
	}
	return out.Token
}

func testConfig(base string) Config {
	return Config{
		Issuer:      base,
		JWKSURL:     base + "/jwks",
		ResourceURI: testResource,
		ToolScopes: map[string][]string{
			"list_issues":  {"issues:read"},
			"create_issue": {"issues:write"},
		},
	}
}

// startedRuntime is a runtime over the fixture, started, closed at the end of the test.
func startedRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	postJSON(t, fixture(t)+"/_control/reset", map[string]any{})
	rt, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	if _, err := rt.Startup(t.Context()); err != nil {
		t.Fatalf("Startup: %v", err)
	}
	return rt
}
