package authsec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
)

type principalKey struct{}

// PrincipalFromContext is the caller of an allowed request, set by Middleware (false for a
// handshake pass-through or a request that did not go through it).
func PrincipalFromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// internalErrorBody is the fail-closed answer when the library could not decide (never a
// denial of the core: those are written byte for byte from the decision).
const internalErrorBody = `{"error":"server_error","error_description":"internal error"}`

func writeInternalError(w http.ResponseWriter) {
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, internalErrorBody)
}

// WriteResponse writes a core response exactly as given: the handler's headers are dropped,
// then the status, the core's headers (in order) and its body.
func WriteResponse(w http.ResponseWriter, r *Response) { writeResponse(w, r, "") }

// writeResponse is WriteResponse keeping a Connection header the host set (close, after a body
// it did not read) unless the core gave one.
func writeResponse(w http.ResponseWriter, r *Response, connection string) {
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	for _, kv := range r.Headers {
		k := http.CanonicalHeaderKey(kv[0])
		h[k] = append(h[k], kv[1])
	}
	if connection != "" && len(h["Connection"]) == 0 {
		h["Connection"] = []string{connection}
	}
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body)
}

// requestOf turns an http.Request into the core's Request (Host first, then every header).
func requestOf(r *http.Request, body []byte) Request {
	n := 1
	for _, vs := range r.Header {
		n += len(vs)
	}
	hs := make([][2]string, 0, n)
	if r.Host != "" {
		hs = append(hs, [2]string{"host", r.Host})
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			hs = append(hs, [2]string{k, v})
		}
	}
	path := r.RequestURI
	if path == "" || !strings.HasPrefix(path, "/") {
		path = r.URL.RequestURI()
	}
	return Request{Method: r.Method, Path: path, Headers: hs, Body: body}
}

// readBody reads the whole body unless it is over limit (declared or counted), in which case
// it keeps nothing and reports over.
func readBody(r *http.Request, limit uint64) (body []byte, over bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, false, nil
	}
	if r.ContentLength > 0 && uint64(r.ContentLength) > limit {
		return nil, true, nil
	}
	max := int64(math.MaxInt64)
	if limit < uint64(math.MaxInt64) {
		max = int64(limit) + 1
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max))
	if err != nil {
		return nil, false, err
	}
	if uint64(len(b)) > limit {
		return nil, true, nil
	}
	return b, false, nil
}

// tokenInfo is the go-sdk's view of the principal: scopes, expiry (exp), user id (sub, which
// the StreamableHTTPHandler binds sessions to) and every claim in Extra.
func tokenInfo(p *Principal) *auth.TokenInfo {
	ti := &auth.TokenInfo{Scopes: append([]string(nil), p.Scopes...), UserID: p.Subject, Extra: map[string]any{}}
	for k, v := range p.Claims {
		ti.Extra[k] = v
	}
	if n, ok := p.Claims["exp"].(json.Number); ok {
		if exp, err := n.Int64(); err == nil && exp > 0 && exp < 1<<40 {
			ti.Expiration = time.Unix(exp, 0)
		}
	}
	return ti
}

type tokenInfoCtxKey struct{}

// sdkAuth puts the TokenInfo in the context the go-sdk way: auth.RequireBearerToken is the
// only writer of its context key, so the middleware runs it with a verifier that returns the
// TokenInfo already built from the core's principal. The core has decided everything (token,
// expiry, scopes); the SDK's own expiry check is switched off (AllowMissingExpiration and a
// skew of a century) so it can never deny on its own. If it ever did, that is a denial (fail
// closed), never an allow.
func sdkAuth(next http.Handler) http.Handler {
	verifier := func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		if ti, ok := ctx.Value(tokenInfoCtxKey{}).(*auth.TokenInfo); ok {
			return ti, nil
		}
		return nil, auth.ErrInvalidToken
	}
	return auth.RequireBearerToken(verifier, &auth.RequireBearerTokenOptions{
		AllowMissingExpiration: true,
		ClockSkew:              100 * 365 * 24 * time.Hour,
	})(next)
}

// Middleware protects next, the MCP endpoint: every request is decided by the core first.
//   - respond: the core's status, headers and body are written as given; next is not called;
//   - allow: next runs with the principal (PrincipalFromContext) and the go-sdk's
//     auth.TokenInfo (auth.TokenInfoFromContext) in the context; a tools/list answer goes
//     through the core's filter (JSON held and rewritten; SSE filtered event by event, with
//     http.Flusher honoured);
//   - pass-through (handshake): next runs with no principal.
//
// A body over max_body_bytes is not read (CheckOversized answers 413). Any failure of the
// library fails closed with a 500 and next is not called.
func (rt *Runtime) Middleware(next http.Handler) http.Handler {
	withSDK := sdkAuth(next)
	log := slog.Default()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, over, err := readBody(r, rt.MaxBodyBytes())
		if err != nil {
			log.Warn("authsec: request body not read", "error", err.Error())
			writeInternalError(w)
			return
		}
		req := requestOf(r, body)
		var d *Decision
		if over {
			d, err = rt.CheckOversized(req)
			w.Header().Set("Connection", "close")
		} else {
			d, err = rt.Check(req)
		}
		if err != nil {
			log.Error("authsec: request not decided; refused", "error", err.Error())
			writeInternalError(w)
			return
		}
		defer d.Close()
		switch d.Kind {
		case Respond:
			writeResponse(w, d.Response, w.Header().Get("Connection"))
			return
		case PassThrough:
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		case Allow:
		default:
			writeInternalError(w)
			return
		}
		p, err := d.Principal()
		if err != nil {
			log.Error("authsec: principal not readable; refused", "error", err.Error())
			writeInternalError(w)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = context.WithValue(ctx, tokenInfoCtxKey{}, tokenInfo(p))
		r = r.WithContext(ctx)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !d.FilterToolsList {
			withSDK.ServeHTTP(w, r)
			return
		}
		fw := &filterWriter{w: w, rt: rt, d: d, log: log}
		withSDK.ServeHTTP(fw, r)
		fw.finish()
	})
}

// MountMCP registers handler at pattern behind rt.Middleware, and the RFC 9728 metadata
// route at rt.MetadataPath() (answered by the core). Call rt.Startup before serving.
func MountMCP(mux *http.ServeMux, pattern string, handler http.Handler, rt *Runtime) {
	mux.Handle(pattern, rt.Middleware(handler))
	mux.Handle(rt.MetadataPath(), rt.Middleware(http.NotFoundHandler()))
}

// errStreamClosed is what the handler's Write gets once the filter replaced or ended the answer.
var errStreamClosed = errors.New("authsec: the tools/list answer was replaced by the core's; stream closed")

type filterMode int

const (
	modeUndecided filterMode = iota
	modeJSON
	modeSSE
	modeForward
	modeDone
)

// filterWriter routes the handler's tools/list answer through the core's filter. A non-2xx
// answer is forwarded. A text/event-stream answer is filtered one event at a time (the head
// waits for the first filtered bytes; Flush flushes what was filtered); any other answer is
// held to the end and rewritten, with Content-Length recomputed. When the core answers instead
// (policy unavailable: 503) its response replaces the handler's; mid-stream the stream ends.
type filterWriter struct {
	w        http.ResponseWriter
	rt       *Runtime
	d        *Decision
	log      *slog.Logger
	status   int
	mode     filterMode
	headSent bool
	held     []byte
}

func (f *filterWriter) Header() http.Header { return f.w.Header() }

func (f *filterWriter) WriteHeader(code int) {
	if f.mode != modeUndecided {
		return
	}
	if code >= 100 && code < 200 {
		f.w.WriteHeader(code) // informational: not the answer
		return
	}
	f.status = code
	ct := f.w.Header().Get("Content-Type")
	switch {
	case code < 200 || code >= 300:
		f.mode = modeForward
		f.w.WriteHeader(code)
	case isSSE(ct):
		f.mode = modeSSE
		f.w.Header().Del("Content-Length")
	default:
		f.mode = modeJSON
	}
}

func isSSE(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/event-stream")
}

func (f *filterWriter) Write(b []byte) (int, error) {
	if f.mode == modeUndecided {
		f.WriteHeader(http.StatusOK)
	}
	switch f.mode {
	case modeForward:
		return f.w.Write(b)
	case modeDone:
		return 0, errStreamClosed
	case modeJSON:
		f.held = append(f.held, b...)
		return len(b), nil
	}
	f.held = append(f.held, b...)
	if !f.filterEvents(false) {
		return 0, errStreamClosed
	}
	return len(b), nil
}

// Flush flushes what has been filtered so far (a forwarded answer: everything).
func (f *filterWriter) Flush() {
	if f.mode == modeForward || (f.mode == modeSSE && f.headSent) {
		if fl, ok := f.w.(http.Flusher); ok {
			fl.Flush()
		}
	}
}

func (f *filterWriter) sendHead() {
	if !f.headSent {
		f.headSent = true
		f.w.WriteHeader(f.status)
	}
}

// replace writes the core's answer instead of the handler's (or ends the stream mid-way).
func (f *filterWriter) replace(r *Response, err error) {
	f.mode = modeDone
	f.held = nil
	if f.headSent {
		f.log.Error("authsec: tools/list filter refused after the stream started; stream closed", "status", statusOf(r), "error", errString(err))
		return
	}
	if r == nil {
		f.log.Error("authsec: tools/list not filtered; refused", "error", errString(err))
		writeInternalError(f.w)
		return
	}
	WriteResponse(f.w, r)
}

func statusOf(r *Response) int {
	if r == nil {
		return 0
	}
	return r.Status
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// eventEnd is the index just past the first complete SSE event (a blank line: \n\n, \r\r or
// \r\n\r\n), or -1.
func eventEnd(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		switch b[i] {
		case '\n':
			if b[i+1] == '\n' {
				return i + 2
			}
		case '\r':
			if b[i+1] == '\r' {
				return i + 2
			}
			if b[i+1] == '\n' && i+3 < len(b) && b[i+2] == '\r' && b[i+3] == '\n' {
				return i + 4
			}
			if b[i+1] == '\n' && i+2 < len(b) && b[i+2] == '\n' {
				return i + 3
			}
		}
	}
	return -1
}

// filterOne filters one chunk and writes what the core says; false when the answer ended.
func (f *filterWriter) filterOne(chunk []byte, contentType string) bool {
	out, err := f.rt.FilterResponse(f.d, contentType, chunk)
	if err != nil {
		f.replace(nil, err)
		return false
	}
	switch out.Kind {
	case FilterRespond:
		f.replace(out.Response, nil)
		return false
	case FilterRewritten:
		chunk = out.Body
	}
	f.sendHead()
	if _, err := f.w.Write(chunk); err != nil {
		f.mode = modeDone
		return false
	}
	return true
}

// filterEvents filters every complete event held (and, when final, the rest).
func (f *filterWriter) filterEvents(final bool) bool {
	for {
		end := eventEnd(f.held)
		if end < 0 {
			break
		}
		event := f.held[:end]
		if !f.filterOne(event, "text/event-stream") {
			return false
		}
		f.held = f.held[end:]
	}
	if final && len(f.held) > 0 {
		if !f.filterOne(f.held, "text/event-stream") {
			return false
		}
		f.held = nil
	}
	if len(f.held) == 0 {
		f.held = nil
	}
	return true
}

// finish completes the answer after the handler returned.
func (f *filterWriter) finish() {
	switch f.mode {
	case modeUndecided:
		// The handler wrote nothing: net/http answers 200 with no body; nothing to filter.
		return
	case modeSSE:
		if f.filterEvents(true) {
			f.sendHead()
		}
		f.mode = modeDone
	case modeJSON:
		body := f.held
		f.held = nil
		f.mode = modeDone
		out, err := f.rt.FilterResponse(f.d, f.w.Header().Get("Content-Type"), body)
		if err != nil {
			f.replace(nil, err)
			return
		}
		switch out.Kind {
		case FilterRespond:
			f.mode = modeJSON
			f.replace(out.Response, nil)
			return
		case FilterRewritten:
			body = out.Body
		}
		f.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		f.sendHead()
		_, _ = f.w.Write(body)
	}
}
