package main

import (
	"encoding/json"
	authsec "github.com/authsec/authsec/bindings/go"
	"testing"
)

// The protocol's error answers and the commands no vector sends (the runner compares the rest).
func TestProtocolErrors(t *testing.T) {
	d := &driver{allowed: map[int64]*authsec.Decision{}}
	ask := func(line string) map[string]any {
		t.Helper()
		b, _ := json.Marshal(d.answer([]byte(line)))
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	fail := func(line, code, msg string) {
		t.Helper()
		m := ask(line)
		e, _ := m["error"].(map[string]any)
		if m["ok"] != false || e["code"] != code || e["message"] != msg {
			t.Fatalf("%s: got %v", line, m)
		}
	}
	if m := ask(`{"op":"hello","protocol":1}`); m["ok"] != true || m["binding"] != "go" || m["protocol"] != float64(1) {
		t.Fatalf("hello: %v", m)
	}
	fail(`{"op":"hello","protocol":2}`, "protocol_error", "this driver speaks protocol 1, not 2")
	fail(`not json`, "protocol_error", "not JSON: invalid character 'o' in literal null (expecting 'u')")
	fail(`{"op":"bogus"}`, "protocol_error", `unknown op "bogus"`)
	fail(`{"op":"check","request":{}}`, "protocol_error", "no runtime: send create first")
	fail(`{"op":"close"}`, "protocol_error", "no runtime: send create first")
	fail(`{"op":"create"}`, "protocol_error", "config must be the JSON text of the config")
	fail(`{"op":"create","config":"{\"issuer\": 1}"}`, "config_invalid", ask(`{"op":"create","config":"{\"issuer\": 1}"}`)["error"].(map[string]any)["message"].(string))
	fail(`{"op":"create_from_env","prefix":"TESTGO_"}`, "config_invalid", "issuer is required")
	// A runtime from the environment: the variables apply to this build only.
	env := `{"TESTGO_ISSUER":"https://as.example","TESTGO_JWKS_URL":"https://as.example/jwks","TESTGO_RESOURCE_URI":"https://mcp.example.com/tools/mcp"}`
	if m := ask(`{"op":"create_from_env","prefix":"TESTGO_","env":` + env + `}`); m["ok"] != true {
		t.Fatalf("create_from_env: %v", m)
	}
	fail(`{"op":"create","config":"{}"}`, "protocol_error", "a runtime is open: send close first")
	m := ask(`{"op":"metadata"}`)
	if m["ok"] != true || m["response"].(map[string]any)["status"] != float64(200) {
		t.Fatalf("metadata: %v", m)
	}
	fail(`{"op":"filter","handle":999,"content_type":null,"body_base64":""}`, "protocol_error", "unknown handle 999")
	fail(`{"op":"check_many","count":0,"request":{}}`, "protocol_error", "count must be a positive integer")
	fail(`{"op":"advance_clock","seconds":1}`, "invalid_argument", "this runtime has the system clock; only runtimes built with authsec_runtime_new_with_manual_clock can be advanced")
	if m := ask(`{"op":"close"}`); m["ok"] != true {
		t.Fatalf("close: %v", m)
	}
	fail(`{"op":"create_from_env","prefix":"TESTGO_"}`, "config_invalid", "issuer is required")
}
