package authsec

/*
#include <stdlib.h>
#include "authsec.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Runtime is a configured authsec runtime: one per process, shared by every goroutine (the
// C runtime is thread-safe). Close releases it; a finalizer releases it if Close is never
// called. Every method is safe for concurrent use, Close included: a call that races Close
// either completes on the live runtime or fails with ErrInvalidArgument ("runtime is closed").
type Runtime struct {
	mu           sync.RWMutex // read-held during every C call; write-held by Close
	h            *C.authsec_runtime
	maxBody      uint64
	metadataPath string
}

// Option changes how a Runtime is built.
type Option func(*options)

type options struct {
	manualClock bool
	envPrefix   string
}

// WithManualClock builds the runtime with a clock that stands still until AdvanceClock moves
// it. For tests only (the conformance driver); it has no use in production. Ignored by FromEnv.
func WithManualClock() Option { return func(o *options) { o.manualClock = true } }

// WithEnvPrefix makes FromEnv read <prefix>ISSUER, <prefix>JWKS_URL, ... instead of AUTHSEC_*.
func WithEnvPrefix(prefix string) Option { return func(o *options) { o.envPrefix = prefix } }

func collect(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// New builds a runtime from cfg. A configuration the core refuses gives an *Error with
// CodeConfigInvalid and the reference SDK's message.
func New(cfg Config, opts ...Option) (*Runtime, error) {
	b, err := cfg.json()
	if err != nil {
		return nil, err
	}
	return NewFromJSON(b, opts...)
}

// NewFromJSON builds a runtime from the snake_case configuration JSON text (unknown fields are
// refused). The library copies the text.
func NewFromJSON(configJSON []byte, opts ...Option) (*Runtime, error) {
	o := collect(opts)
	p, n := cbytes(configJSON)
	var h *C.authsec_runtime
	var e *C.authsec_error
	var st C.authsec_status
	if o.manualClock {
		st = C.authsec_runtime_new_with_manual_clock((*C.char)(unsafe.Pointer(p)), n, &h, &e)
	} else {
		st = C.authsec_runtime_new((*C.char)(unsafe.Pointer(p)), n, &h, &e)
	}
	runtime.KeepAlive(configJSON)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	return wrapRuntime(h), nil
}

// FromEnv builds a runtime from the reference SDK's environment variables (AUTHSEC_ISSUER,
// AUTHSEC_JWKS_URL, ...; see WithEnvPrefix).
func FromEnv(opts ...Option) (*Runtime, error) {
	o := collect(opts)
	p, n := cstr(o.envPrefix)
	var h *C.authsec_runtime
	var e *C.authsec_error
	st := C.authsec_runtime_from_env(p, n, &h, &e)
	runtime.KeepAlive(o.envPrefix)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	return wrapRuntime(h), nil
}

func wrapRuntime(h *C.authsec_runtime) *Runtime {
	rt := &Runtime{
		h:            h,
		maxBody:      uint64(C.authsec_runtime_max_body_bytes(h)),
		metadataPath: goString(C.authsec_runtime_metadata_path(h)),
	}
	runtime.SetFinalizer(rt, (*Runtime).Close)
	return rt
}

var errClosed = &Error{Code: CodeInvalidArgument, Message: "the runtime is closed"}

// acquire read-locks the runtime for one C call; release with rt.mu.RUnlock.
func (rt *Runtime) acquire() (*C.authsec_runtime, error) {
	if rt == nil {
		return nil, errClosed
	}
	rt.mu.RLock()
	if rt.h == nil {
		rt.mu.RUnlock()
		return nil, errClosed
	}
	return rt.h, nil
}

// Close releases the runtime. Idempotent; decisions already returned stay readable (they own
// their data), but FilterResponse needs a live runtime. Optional at process exit (see Shutdown).
func (rt *Runtime) Close() error {
	if rt == nil {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.h != nil {
		C.authsec_runtime_free(rt.h)
		rt.h = nil
		runtime.SetFinalizer(rt, nil)
	}
	return nil
}

// MaxBodyBytes is max_body_bytes of the configuration: the middleware stops reading a request
// body above it and asks CheckOversized.
func (rt *Runtime) MaxBodyBytes() uint64 { return rt.maxBody }

// MetadataPath is the path the RFC 9728 document is served at
// (e.g. /.well-known/oauth-protected-resource/mcp).
func (rt *Runtime) MetadataPath() string { return rt.metadataPath }

// Startup runs the initial remote policy fetch and its mode rules, and returns the warnings
// the host should log. It may block on the network; when ctx ends first, Startup returns
// ctx.Err() and the fetch finishes in the background (it cannot be interrupted).
func (rt *Runtime) Startup(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		w   []string
		err error
	}
	done := make(chan result, 1)
	go func() {
		w, err := rt.startup()
		done <- result{w, err}
	}()
	select {
	case r := <-done:
		return r.w, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (rt *Runtime) startup() ([]string, error) {
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	var t *C.authsec_text
	var e *C.authsec_error
	st := C.authsec_runtime_startup(h, &t, &e)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	warnings := []string{}
	if text := takeText(t); text != "" {
		if err := json.Unmarshal([]byte(text), &warnings); err != nil {
			return nil, newError(CodeInternal, "startup warnings are not a JSON list of strings")
		}
	}
	return warnings, nil
}

// Request is one HTTP request reaching the protected MCP endpoint, as the core sees it.
type Request struct {
	Method string
	// Path is the request target (path and query), e.g. "/mcp".
	Path string
	// Headers in any case; repeats allowed (the core refuses a repeated Authorization).
	Headers [][2]string
	// Body is the complete request body (nil for none).
	Body []byte
}

// Check decides one request: allow (call the handler; see Decision.FilterToolsList), respond
// (write Decision.Response and do not call the handler) or pass-through. A denial is a
// successful call; an error means the host must refuse the request (fail closed). Check does
// not block when the core decides from memory; otherwise it blocks for the JWKS fetch or the
// introspection (bounded by request_timeout_seconds).
func (rt *Runtime) Check(req Request) (*Decision, error) {
	return rt.check(req, false)
}

// CheckOversized decides a request whose body the host stopped reading because it is over
// MaxBodyBytes: the decision Check would give the whole body (the 413 answer, or the metadata
// document on its route), without the body. Never blocks; always a respond decision.
func (rt *Runtime) CheckOversized(req Request) (*Decision, error) {
	return rt.check(req, true)
}

func (rt *Runtime) check(req Request, oversized bool) (*Decision, error) {
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	mp, mn := cstr(req.Method)
	pp, pn := cstr(req.Path)
	hb := newHeaderBlock(req.Headers)
	hp, hn := hb.ptr()
	var d *C.authsec_decision
	var e *C.authsec_error
	var st C.authsec_status
	if oversized {
		st = C.authsec_runtime_check_oversized(h, mp, mn, pp, pn, hp, hn, &d, &e)
	} else {
		bp, bn := cbytes(req.Body)
		st = C.authsec_runtime_check_request(h, mp, mn, pp, pn, hp, hn, bp, bn, &d, &e)
	}
	hb.release()
	runtime.KeepAlive(req.Method)
	runtime.KeepAlive(req.Path)
	runtime.KeepAlive(req.Body)
	runtime.KeepAlive(hb)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	return wrapDecision(d)
}

// Metadata is the RFC 9728 protected-resource metadata response (the answer a GET on
// MetadataPath gets from Check).
func (rt *Runtime) Metadata() (*Response, error) {
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	var r *C.authsec_response
	var e *C.authsec_error
	st := C.authsec_runtime_metadata(h, &r, &e)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	out := copyResponse(r)
	C.authsec_response_free(r)
	if out == nil {
		return nil, newError(CodeInternal, "the metadata response could not be read")
	}
	return out, nil
}

// FilterKind says what to do with a tools/list answer.
type FilterKind int

const (
	// FilterUnchanged: forward the handler's body as it is.
	FilterUnchanged FilterKind = 1
	// FilterRewritten: forward FilterResult.Body instead (its length as Content-Length).
	FilterRewritten FilterKind = 2
	// FilterRespond: write FilterResult.Response instead of the handler's answer (503).
	FilterRespond FilterKind = 3
)

// FilterResult is the outcome of FilterResponse.
type FilterResult struct {
	Kind     FilterKind
	Body     []byte    // FilterRewritten
	Response *Response // FilterRespond
}

// FilterResponse filters the handler's answer to a tools/list the caller may only partly see:
// d is the allow decision it was made for (Decision.FilterToolsList), contentType the
// answer's Content-Type ("" when absent) and body the JSON or text/event-stream bytes (for
// SSE, whole events). An error means: do not forward the unfiltered answer.
func (rt *Runtime) FilterResponse(d *Decision, contentType string, body []byte) (*FilterResult, error) {
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	if d == nil {
		return nil, newError(CodeInvalidArgument, "FilterResponse needs the allow decision from Check")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.h == nil {
		return nil, newError(CodeInvalidArgument, "FilterResponse needs a live allow decision (not closed, not a denial)")
	}
	cp, cn := cstr(contentType)
	bp, bn := cbytes(body)
	var r *C.authsec_filter_result
	var e *C.authsec_error
	st := C.authsec_runtime_filter_response(h, d.h, cp, cn, bp, bn, &r, &e)
	runtime.KeepAlive(contentType)
	runtime.KeepAlive(body)
	runtime.KeepAlive(d)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	defer C.authsec_filter_result_free(r)
	switch C.authsec_filter_result_get_kind(r) {
	case C.AUTHSEC_FILTER_KIND_UNCHANGED:
		return &FilterResult{Kind: FilterUnchanged}, nil
	case C.AUTHSEC_FILTER_KIND_REWRITTEN:
		return &FilterResult{Kind: FilterRewritten, Body: goBytes(C.authsec_filter_result_body(r))}, nil
	case C.AUTHSEC_FILTER_KIND_RESPOND:
		resp := copyResponse(C.authsec_filter_result_response(r))
		if resp == nil {
			return nil, newError(CodeInternal, "the filter's response could not be read")
		}
		return &FilterResult{Kind: FilterRespond, Response: resp}, nil
	}
	return nil, newError(CodeInternal, "unknown filter result kind")
}

// ManifestReport is what the AuthSec backend said about a published manifest.
type ManifestReport struct {
	ToolsSent  int  `json:"tools_sent"`
	ToolsSeen  *int `json:"tools_seen"`
	Generation *int `json:"generation"`
}

// PublishManifest publishes the tool manifest (a list of MCP tool objects, marshalled to a JSON
// array) to the AuthSec backend. Blocks for the PUT. A failed publish should be logged, never
// fatal.
func (rt *Runtime) PublishManifest(tools any) (*ManifestReport, error) {
	b, err := json.Marshal(tools)
	if err != nil {
		return nil, newError(CodeInvalidInput, "the tools cannot be encoded as JSON")
	}
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	p, n := cbytes(b)
	var t *C.authsec_text
	var e *C.authsec_error
	st := C.authsec_runtime_publish_manifest(h, (*C.char)(unsafe.Pointer(p)), n, &t, &e)
	runtime.KeepAlive(b)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	var rep ManifestReport
	if err := json.Unmarshal([]byte(takeText(t)), &rep); err != nil {
		return nil, newError(CodeInternal, "the manifest report is not JSON")
	}
	return &rep, nil
}

// WaitPolicyRefresh waits until a background policy refresh, if one runs, has finished.
func (rt *Runtime) WaitPolicyRefresh() error {
	h, err := rt.acquire()
	if err != nil {
		return err
	}
	defer rt.mu.RUnlock()
	var e *C.authsec_error
	st := C.authsec_runtime_wait_policy_refresh(h, &e)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return takeError(st, e)
	}
	return nil
}

// AdvanceClock moves the clock of a WithManualClock runtime forward (tests only);
// ErrInvalidArgument for any other runtime or a negative duration.
func (rt *Runtime) AdvanceClock(d time.Duration) error {
	if d < 0 {
		return newError(CodeInvalidArgument, "the clock only moves forward")
	}
	h, err := rt.acquire()
	if err != nil {
		return err
	}
	defer rt.mu.RUnlock()
	var e *C.authsec_error
	st := C.authsec_runtime_advance_clock(h, C.uint64_t(d.Milliseconds()), &e)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return takeError(st, e)
	}
	return nil
}

// Shutdown stops the library's background threads. Optional: call it once at process exit,
// after closing every Runtime, to leave nothing behind for leak checkers. Afterwards no
// runtime can be built or started (ErrRuntimeUnavailable); it cannot be undone.
func Shutdown() error {
	var e *C.authsec_error
	if st := C.authsec_shutdown(&e); st != C.AUTHSEC_STATUS_OK {
		return takeError(st, e)
	}
	return nil
}
