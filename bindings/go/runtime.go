package authsec

/*
#cgo noescape authsec_go_check
#cgo nocallback authsec_go_check
#include <stdlib.h>
#include "authsec.h"

// One cgo transition per request: lay the headers out (names and values back to back in hbuf,
// their lengths in hlens, two per header) as authsec_header entries on the C stack, decide, and
// read the decision's kind and filter flag. Neither hbuf nor hlens holds a pointer, and C keeps
// neither after the call (the library copies what it keeps), hence noescape.
static authsec_status authsec_go_check(const authsec_runtime *rt, int oversized,
		const char *method, size_t method_len, const char *path, size_t path_len,
		const char *hbuf, const size_t *hlens, size_t hcount,
		const uint8_t *body, size_t body_len,
		authsec_decision **decision_out, uint32_t *kind_out, bool *filter_out,
		authsec_error **err_out) {
	authsec_header stack[32];
	authsec_header *h = stack;
	if (hcount > sizeof stack / sizeof stack[0]) {
		h = malloc(hcount * sizeof *h);
		if (h == NULL) return AUTHSEC_STATUS_INTERNAL;
	}
	size_t off = 0;
	for (size_t i = 0; i < hcount; i++) {
		h[i].name = hbuf + off;
		h[i].name_len = hlens[2 * i];
		off += hlens[2 * i];
		h[i].value = hbuf + off;
		h[i].value_len = hlens[2 * i + 1];
		off += hlens[2 * i + 1];
	}
	authsec_status st = oversized
		? authsec_runtime_check_oversized(rt, method, method_len, path, path_len,
			hcount ? h : NULL, hcount, decision_out, err_out)
		: authsec_runtime_check_request(rt, method, method_len, path, path_len,
			hcount ? h : NULL, hcount, body, body_len, decision_out, err_out);
	if (h != stack) free(h);
	if (st == AUTHSEC_STATUS_OK) {
		*kind_out = authsec_decision_get_kind(*decision_out);
		*filter_out = authsec_decision_filter_tools_list(*decision_out);
	}
	return st;
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
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
	// startupFailed is set when Startup failed: Middleware then answers StartupFailedResponse.
	startupFailed atomic.Bool
	// audit holds the cgo handles of the audit callbacks, deleted once the runtime is freed.
	audit []cgo.Handle
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

// Close releases the runtime. Idempotent; it waits for calls in progress (a blocking Startup
// or check included) to return, and later calls fail with ErrInvalidArgument. Decisions
// already returned stay readable (they own their data), but filtering needs a live runtime.
// Optional at process exit (see Shutdown).
func (rt *Runtime) Close() error {
	if rt == nil {
		return nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.h != nil {
		// Delivers what is queued and detaches the audit callbacks before it returns.
		C.authsec_runtime_free(rt.h)
		rt.h = nil
		for _, h := range rt.audit {
			h.Delete()
		}
		rt.audit = nil
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
// the host should log. After a failed Startup, Middleware answers every request with the
// core's StartupFailedResponse (503) until a later Startup succeeds. It may block on the network; when ctx ends first, Startup returns
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
		rt.startupFailed.Store(true)
		return nil, takeError(st, e)
	}
	rt.startupFailed.Store(false)
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
	// The headers as one pointer-free byte buffer and their lengths; small requests stay on the
	// Go stack (the C side is declared noescape).
	var lensStack [64]C.size_t
	var bufStack [2048]byte
	lens := lensStack[:0]
	buf := bufStack[:0]
	for _, kv := range req.Headers {
		lens = append(lens, C.size_t(len(kv[0])), C.size_t(len(kv[1])))
		buf = append(buf, kv[0]...)
		buf = append(buf, kv[1]...)
	}
	buf = append(buf, 0) // never empty: hbuf is a valid pointer even when every length is 0
	mp, mn := cstr(req.Method)
	pp, pn := cstr(req.Path)
	bp, bn := cbytes(req.Body)
	var lp *C.size_t
	if len(lens) > 0 {
		lp = &lens[0]
	}
	over := C.int(0)
	if oversized {
		over = 1
		bp, bn = nil, 0
	}
	var d *C.authsec_decision
	var e *C.authsec_error
	var kind C.uint32_t
	var filter C.bool
	st := C.authsec_go_check(h, over, mp, mn, pp, pn, (*C.char)(unsafe.Pointer(&buf[0])), lp,
		C.size_t(len(req.Headers)), bp, bn, &d, &kind, &filter, &e)
	runtime.KeepAlive(req.Method)
	runtime.KeepAlive(req.Path)
	runtime.KeepAlive(req.Body)
	runtime.KeepAlive(buf)
	runtime.KeepAlive(lens)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	return wrapDecision(d, kind, bool(filter))
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
