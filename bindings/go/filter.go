package authsec

/*
#include "authsec.h"
*/
import "C"

import (
	"runtime"
	"sync"
)

// ResponseFilter filters the handler's answer to an allowed request on its way to the client
// (the core's streaming filter): SSE events are forwarded once complete and filtered, a JSON
// tools/list answer is held and rewritten at Finish, a Content-Encoding the core can read is
// decoded, and an answer that must be read and cannot be is refused (502), as is any answer
// while the policy is unavailable (503). Not for concurrent use (one goroutine at a time, as a
// handler writes); Close releases it (a finalizer does if Close is never called).
type ResponseFilter struct {
	mu sync.Mutex
	h  *C.authsec_response_filter
	// Kept so the runtime and the decision are not finalized while the filter is in use.
	rt *Runtime
	d  *Decision
}

// NewResponseFilter starts filtering the answer to the allow decision d, given the answer's
// Content-Type and Content-Encoding ("" when absent).
func (rt *Runtime) NewResponseFilter(d *Decision, contentType, contentEncoding string) (*ResponseFilter, error) {
	h, err := rt.acquire()
	if err != nil {
		return nil, err
	}
	defer rt.mu.RUnlock()
	if d == nil {
		return nil, newError(CodeInvalidArgument, "NewResponseFilter needs the allow decision from Check")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.h == nil {
		return nil, newError(CodeInvalidArgument, "NewResponseFilter needs a live allow decision (not closed, not a denial)")
	}
	cp, cn := cstr(contentType)
	ep, en := cstr(contentEncoding)
	var f *C.authsec_response_filter
	var e *C.authsec_error
	st := C.authsec_runtime_response_filter(h, d.h, cp, cn, ep, en, &f, &e)
	runtime.KeepAlive(contentType)
	runtime.KeepAlive(contentEncoding)
	runtime.KeepAlive(d)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	rf := &ResponseFilter{h: f, rt: rt, d: d}
	runtime.SetFinalizer(rf, (*ResponseFilter).Close)
	return rf, nil
}

var errFilterClosed = &Error{Code: CodeInvalidArgument, Message: "the response filter is closed"}

// Passthrough is true when the filter leaves the answer alone (open policy, or a non-SSE answer
// to a request without tools/list): forward the handler's bytes and headers as they are.
// False for a closed filter.
func (f *ResponseFilter) Passthrough() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.h != nil && bool(C.authsec_response_filter_passthrough(f.h))
	runtime.KeepAlive(f)
	return v
}

// DropsContentEncoding is true when the filter decodes the answer's Content-Encoding: drop the
// header. True for a closed filter (never send a header that could be wrong).
func (f *ResponseFilter) DropsContentEncoding() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.h == nil || bool(C.authsec_response_filter_drops_content_encoding(f.h))
	runtime.KeepAlive(f)
	return v
}

// HoldsBody is true when nothing is forwarded before Finish (a JSON tools/list answer: send
// the Content-Length of what Finish returns). True for a closed filter.
func (f *ResponseFilter) HoldsBody() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.h == nil || bool(C.authsec_response_filter_holds_body(f.h))
	runtime.KeepAlive(f)
	return v
}

// Feed passes the next chunk of the handler's body. It returns the bytes to forward now
// (often none), or a response to write instead of the handler's answer (then forward nothing
// more; if bytes were already sent, end the stream). An error means the same: forward nothing
// more (answer InternalErrorResponse, or end the stream).
func (f *ResponseFilter) Feed(chunk []byte) (forward []byte, respond *Response, err error) {
	return f.step(chunk, false)
}

// Finish ends the handler's body: the last bytes to forward (for a held JSON answer, the whole
// filtered body), or a response to write instead, as for Feed.
func (f *ResponseFilter) Finish() (forward []byte, respond *Response, err error) {
	return f.step(nil, true)
}

func (f *ResponseFilter) step(chunk []byte, finish bool) ([]byte, *Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil, nil, errFilterClosed
	}
	var out C.authsec_bytes
	var resp *C.authsec_response
	var e *C.authsec_error
	var st C.authsec_status
	if finish {
		st = C.authsec_response_filter_finish(f.h, &out, &resp, &e)
	} else {
		p, n := cbytes(chunk)
		st = C.authsec_response_filter_feed(f.h, p, n, &out, &resp, &e)
		runtime.KeepAlive(chunk)
	}
	defer runtime.KeepAlive(f)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, nil, takeError(st, e)
	}
	if resp != nil {
		r := copyResponse(resp)
		if r == nil {
			return nil, nil, newError(CodeInternal, "the filter's response could not be read")
		}
		return nil, r, nil
	}
	if out.len == 0 {
		return nil, nil, nil
	}
	return goBytes(out), nil, nil
}

// Close releases the filter. Idempotent.
func (f *ResponseFilter) Close() error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h != nil {
		C.authsec_response_filter_free(f.h)
		f.h = nil
		runtime.SetFinalizer(f, nil)
	}
	return nil
}

var (
	cannedOnce          sync.Once
	cannedInternal      *Response
	cannedStartupFailed *Response
)

// fallbackInternal is written only when the library cannot even give its fixed answer.
var fallbackInternal = &Response{Status: 500, Headers: [][2]string{{"content-length", "0"}}, Body: []byte{}}

func loadCanned() {
	cannedOnce.Do(func() {
		var r *C.authsec_response
		var e *C.authsec_error
		if st := C.authsec_response_internal_error(&r, &e); st == C.AUTHSEC_STATUS_OK {
			cannedInternal = copyResponse(r)
			C.authsec_response_free(r)
		} else if e != nil {
			C.authsec_error_free(e)
		}
		r, e = nil, nil
		if st := C.authsec_response_startup_failed(&r, &e); st == C.AUTHSEC_STATUS_OK {
			cannedStartupFailed = copyResponse(r)
			C.authsec_response_free(r)
		} else if e != nil {
			C.authsec_error_free(e)
		}
	})
}

// InternalErrorResponse is the core's answer when a call into the library failed on the
// request path (500 server_error, a fixed description): the same bytes in every binding.
func InternalErrorResponse() *Response {
	loadCanned()
	if cannedInternal == nil {
		return fallbackInternal
	}
	return cannedInternal
}

// StartupFailedResponse is the core's answer while startup has failed (503
// temporarily_unavailable, no challenge): the same bytes in every binding.
func StartupFailedResponse() *Response {
	loadCanned()
	if cannedStartupFailed == nil {
		return fallbackInternal
	}
	return cannedStartupFailed
}
