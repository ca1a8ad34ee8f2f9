// Command conformance-driver is the conformance driver of the Go binding: it translates each
// command of the driver protocol (tests/conformance/README.md, "Driver protocol") into the
// public API of package authsec. It holds no vector logic: the shared Rust runner reads the
// vectors, runs the fixture and compares every answer. One JSON command per stdin line, one
// JSON answer per stdout line, in order; end of input ends the process (exit status 0).
//
//	go build -o /tmp/authsec-go-driver ./cmd/conformance-driver
//	cargo run --locked -p authsec-conformance -- /tmp/authsec-go-driver
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	authsec "github.com/authsec/authsec/bindings/go"
)

const protocol = 1

type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

func perr(format string, a ...any) error { return &protocolError{fmt.Sprintf(format, a...)} }

type driver struct {
	rt      *authsec.Runtime
	allowed map[int64]*authsec.Decision
	next    int64
	mu      sync.Mutex // guards allowed/next during check_many
	// audit collects the lines the open runtime's audit callback received.
	audit *auditLines
}

type auditLines struct {
	mu    sync.Mutex
	lines []string
}

type command struct {
	Op          string            `json:"op"`
	Protocol    *int              `json:"protocol"`
	Config      *string           `json:"config"`
	Prefix      *string           `json:"prefix"`
	Env         map[string]string `json:"env"`
	Request     *request          `json:"request"`
	Count       *int              `json:"count"`
	Handle      *int64            `json:"handle"`
	ContentType *string           `json:"content_type"`
	BodyBase64  string            `json:"body_base64"`
	Tools       json.RawMessage   `json:"tools"`
	Seconds     *float64          `json:"seconds"`
	Encoding    *string           `json:"content_encoding"`
	Chunks      []string          `json:"chunks_base64"`
	Which       string            `json:"which"`
}

type request struct {
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Headers    [][2]string `json:"headers"`
	BodyBase64 string      `json:"body_base64"`
	// Oversized: the host stopped reading the body; decide with CheckOversized (no body).
	Oversized bool `json:"oversized"`
}

type obj = map[string]any

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func response(r *authsec.Response) obj {
	hs := make([][2]string, 0, len(r.Headers))
	hs = append(hs, r.Headers...)
	return obj{"status": r.Status, "headers": hs, "body_base64": b64(r.Body)}
}

func (d *driver) runtime() (*authsec.Runtime, error) {
	if d.rt == nil {
		return nil, perr("no runtime: send create first")
	}
	return d.rt, nil
}

func (d *driver) decision(dec *authsec.Decision) (obj, error) {
	switch dec.Kind {
	case authsec.Allow:
		p, err := dec.Principal()
		if err != nil {
			return nil, err
		}
		d.mu.Lock()
		d.next++
		h := d.next
		d.allowed[h] = dec
		d.mu.Unlock()
		info, err := d.rt.UserInfoJSON(dec)
		if err != nil {
			return nil, err
		}
		return obj{"kind": "allow", "principal": p, "filter_tools_list": dec.FilterToolsList,
			"user_info_base64": base64.StdEncoding.EncodeToString(info), "handle": h}, nil
	case authsec.Respond:
		out := response(dec.Response)
		out["kind"] = "respond"
		return out, nil
	case authsec.PassThrough:
		return obj{"kind": "pass_through"}, nil
	}
	return nil, fmt.Errorf("unknown decision kind %d", dec.Kind)
}

func toRequest(r *request) (checked, error) {
	if r == nil {
		return checked{}, perr("request must be an object")
	}
	body, err := base64.StdEncoding.DecodeString(r.BodyBase64)
	if err != nil {
		return checked{}, perr("body_base64 is not base64")
	}
	return checked{authsec.Request{Method: r.Method, Path: r.Path, Headers: r.Headers, Body: body}, r.Oversized}, nil
}

// checked is a request to decide, and whether with CheckOversized.
type checked struct {
	req       authsec.Request
	oversized bool
}

// check is one check as its own answer (a refused check is an error answer).
func (d *driver) check(rt *authsec.Runtime, c checked) obj {
	var dec *authsec.Decision
	var err error
	if c.oversized {
		dec, err = rt.CheckOversized(c.req)
	} else {
		dec, err = rt.Check(c.req)
	}
	if err != nil {
		return failure(err)
	}
	out, err := d.decision(dec)
	if err != nil {
		return failure(err)
	}
	return obj{"ok": true, "decision": out}
}

func (d *driver) create(build func() (*authsec.Runtime, error)) (obj, error) {
	if d.rt != nil {
		return nil, perr("a runtime is open: send close first")
	}
	rt, err := build()
	if err != nil {
		return nil, err
	}
	lines := &auditLines{}
	if err := rt.AddAuditCallback(func(line []byte) {
		lines.mu.Lock()
		lines.lines = append(lines.lines, string(line))
		lines.mu.Unlock()
	}); err != nil {
		rt.Close()
		return nil, err
	}
	d.rt = rt
	d.audit = lines
	return obj{}, nil
}

// withEnv sets env for the duration of fn only, restoring the previous environment.
func withEnv(env map[string]string, fn func() (*authsec.Runtime, error)) (*authsec.Runtime, error) {
	type saved struct {
		v  string
		ok bool
	}
	old := map[string]saved{}
	for k, v := range env {
		ov, ok := os.LookupEnv(k)
		old[k] = saved{ov, ok}
		os.Setenv(k, v)
	}
	defer func() {
		for k, s := range old {
			if s.ok {
				os.Setenv(k, s.v)
			} else {
				os.Unsetenv(k)
			}
		}
	}()
	return fn()
}

func (d *driver) run(c *command) (obj, error) {
	switch c.Op {
	case "hello":
		if c.Protocol == nil || *c.Protocol != protocol {
			got := "null"
			if c.Protocol != nil {
				got = fmt.Sprint(*c.Protocol)
			}
			return nil, perr("this driver speaks protocol %d, not %s", protocol, got)
		}
		return obj{"protocol": protocol, "binding": "go"}, nil
	case "create":
		if c.Config == nil {
			return nil, perr("config must be the JSON text of the config")
		}
		return d.create(func() (*authsec.Runtime, error) {
			return authsec.NewFromJSON([]byte(*c.Config), authsec.WithManualClock())
		})
	case "create_from_env":
		prefix := "AUTHSEC_"
		if c.Prefix != nil {
			prefix = *c.Prefix
		}
		// The C ABI builds a from-environment runtime with the system clock only; no vector
		// uses create_from_env (the runner's protocol tests do).
		return d.create(func() (*authsec.Runtime, error) {
			return withEnv(c.Env, func() (*authsec.Runtime, error) {
				return authsec.FromEnv(authsec.WithEnvPrefix(prefix))
			})
		})
	case "canned":
		switch c.Which {
		case "startup_failed":
			return obj{"response": response(authsec.StartupFailedResponse())}, nil
		case "internal_error":
			return obj{"response": response(authsec.InternalErrorResponse())}, nil
		}
		return nil, perr("unknown canned answer %q", c.Which)
	}
	rt, err := d.runtime()
	if err != nil && c.Op != "close" {
		if !known(c.Op) {
			return nil, perr("unknown op %q", c.Op)
		}
		return nil, err
	}
	switch c.Op {
	case "startup":
		w, err := rt.Startup(contextBackground())
		if err != nil {
			return nil, err
		}
		return obj{"warnings": w}, nil
	case "check":
		req, err := toRequest(c.Request)
		if err != nil {
			return nil, err
		}
		return d.check(rt, req), nil
	case "check_many":
		if c.Count == nil || *c.Count < 1 {
			return nil, perr("count must be a positive integer")
		}
		req, err := toRequest(c.Request)
		if err != nil {
			return nil, err
		}
		answers := make([]obj, *c.Count)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[i] = d.check(rt, req)
			}()
		}
		close(start) // every check is started before any is awaited
		wg.Wait()
		return obj{"answers": answers}, nil
	case "filter":
		if c.Handle == nil {
			return nil, perr("handle must be a number")
		}
		d.mu.Lock()
		dec, ok := d.allowed[*c.Handle]
		d.mu.Unlock()
		if !ok {
			return nil, perr("unknown handle %d", *c.Handle)
		}
		body, err := base64.StdEncoding.DecodeString(c.BodyBase64)
		if err != nil {
			return nil, perr("body_base64 is not base64")
		}
		ct := ""
		if c.ContentType != nil {
			ct = *c.ContentType
		}
		out, err := rt.FilterResponse(dec, ct, body)
		if err != nil {
			return nil, err
		}
		switch out.Kind {
		case authsec.FilterUnchanged:
			return obj{"result": obj{"kind": "unchanged"}}, nil
		case authsec.FilterRewritten:
			return obj{"result": obj{"kind": "rewritten", "body_base64": b64(out.Body)}}, nil
		case authsec.FilterRespond:
			r := response(out.Response)
			r["kind"] = "respond"
			return obj{"result": r}, nil
		}
		return nil, fmt.Errorf("unknown filter result %d", out.Kind)
	case "filter_stream":
		return d.filterStream(rt, c)
	case "metadata":
		r, err := rt.Metadata()
		if err != nil {
			return nil, err
		}
		return obj{"response": response(r)}, nil
	case "publish_manifest":
		var tools []json.RawMessage
		if len(c.Tools) == 0 || json.Unmarshal(c.Tools, &tools) != nil {
			return nil, perr("tools must be a list of tool objects")
		}
		if tools == nil {
			tools = []json.RawMessage{}
		}
		rep, err := rt.PublishManifest(tools)
		if err != nil {
			return nil, err
		}
		return obj{"report": rep}, nil
	case "advance_clock":
		if c.Seconds == nil || *c.Seconds < 0 {
			return nil, perr("seconds must be a non-negative number")
		}
		if err := rt.AdvanceClock(time.Duration(*c.Seconds * float64(time.Second))); err != nil {
			return nil, err
		}
		return obj{}, nil
	case "wait_policy_refresh":
		if err := rt.WaitPolicyRefresh(); err != nil {
			return nil, err
		}
		return obj{}, nil
	case "events":
		done, err := rt.FlushAudit(30 * time.Second)
		if err != nil {
			return nil, err
		}
		if !done {
			return nil, fmt.Errorf("audit flush timed out")
		}
		d.audit.mu.Lock()
		events := d.audit.lines
		d.audit.lines = nil
		d.audit.mu.Unlock()
		if events == nil {
			events = []string{}
		}
		return obj{"events": events}, nil
	case "close":
		if d.rt == nil {
			return nil, perr("no runtime: send create first")
		}
		for _, dec := range d.allowed {
			dec.Close()
		}
		d.allowed = map[int64]*authsec.Decision{}
		err := d.rt.Close()
		d.rt = nil
		if err != nil {
			return nil, err
		}
		return obj{}, nil
	}
	return nil, perr("unknown op %q", c.Op)
}

// filterStream feeds the chunks through the binding's streaming filter, then finishes; it
// stops at the first refusal.
func (d *driver) filterStream(rt *authsec.Runtime, c *command) (obj, error) {
	if c.Handle == nil {
		return nil, perr("handle must be a number")
	}
	d.mu.Lock()
	dec, ok := d.allowed[*c.Handle]
	d.mu.Unlock()
	if !ok {
		return nil, perr("unknown handle %d", *c.Handle)
	}
	chunks := make([][]byte, len(c.Chunks))
	for i, s := range c.Chunks {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, perr("chunks_base64 holds something that is not base64")
		}
		chunks[i] = b
	}
	ct, ce := "", ""
	if c.ContentType != nil {
		ct = *c.ContentType
	}
	if c.Encoding != nil {
		ce = *c.Encoding
	}
	f, err := rt.NewResponseFilter(dec, ct, ce)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	drops := f.DropsContentEncoding()
	var forwarded []byte
	answer := func(resp *authsec.Response) obj {
		var r any
		if resp != nil {
			r = response(resp)
		}
		return obj{"forwarded_base64": b64(forwarded), "drops_content_encoding": drops, "respond": r}
	}
	for _, chunk := range chunks {
		out, resp, err := f.Feed(chunk)
		if err != nil {
			return nil, err
		}
		if resp != nil {
			return answer(resp), nil
		}
		forwarded = append(forwarded, out...)
	}
	out, resp, err := f.Finish()
	if err != nil {
		return nil, err
	}
	forwarded = append(forwarded, out...)
	return answer(resp), nil
}

func known(op string) bool {
	switch op {
	case "startup", "check", "check_many", "filter", "filter_stream", "metadata", "publish_manifest",
		"advance_clock", "wait_policy_refresh", "events", "close":
		return true
	}
	return false
}

func failure(err error) obj {
	code := "driver_failed"
	var pe *protocolError
	var ae *authsec.Error
	switch {
	case errors.As(err, &pe):
		code = "protocol_error"
	case errors.As(err, &ae):
		code = ae.Code.Name()
		return obj{"ok": false, "error": obj{"code": code, "message": ae.Message}}
	}
	return obj{"ok": false, "error": obj{"code": code, "message": err.Error()}}
}

func (d *driver) answer(line []byte) obj {
	var c command
	if err := json.Unmarshal(line, &c); err != nil {
		return failure(perr("not JSON: %v", err))
	}
	out, err := d.run(&c)
	if err != nil {
		return failure(err)
	}
	if _, ok := out["ok"]; ok {
		return out
	}
	out["ok"] = true
	return out
}

func main() {
	d := &driver{allowed: map[int64]*authsec.Decision{}}
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if len(trim(line)) > 0 {
			if e := enc.Encode(d.answer(line)); e != nil {
				fmt.Fprintln(os.Stderr, "write:", e)
				os.Exit(1)
			}
			if e := out.Flush(); e != nil {
				os.Exit(1)
			}
		}
		if err != nil {
			break
		}
	}
	if d.rt != nil {
		d.rt.Close()
	}
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func contextBackground() context.Context { return context.Background() }
