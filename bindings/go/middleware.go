package authsec

import (
	"bytes"
	"context"
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

// writeInternalError writes the core's fixed 500 (a call into the library failed: never a
// denial of the core, those are written byte for byte from the decision).
func writeInternalError(w http.ResponseWriter) { WriteResponse(w, InternalErrorResponse()) }

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
	ti.Expiration = p.ExpiresAt()
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
		if rt.startupFailed.Load() {
			WriteResponse(w, StartupFailedResponse())
			return
		}
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
var errStreamClosed = errors.New("authsec: the answer was replaced by the core's or refused; stream closed")

// filterWriter routes the handler's answer through the core's streaming filter
// (ResponseFilter): created when the head is written (from its Content-Type and
// Content-Encoding), fed every Write, finished when the handler returns. A passthrough filter
// forwards everything untouched. Otherwise the head waits for the first filtered bytes, so a
// refusal before them (502, or 503 while the policy is unavailable) replaces the handler's
// answer; after them, a refusal ends the stream. Flush flushes what has been forwarded.
type filterWriter struct {
	w        http.ResponseWriter
	rt       *Runtime
	d        *Decision
	log      *slog.Logger
	f        *ResponseFilter
	status   int
	started  bool // WriteHeader (or a first Write) happened
	pass     bool // passthrough: forward as is
	done     bool // replaced or refused: nothing more is written
	headSent bool
}

func (fw *filterWriter) Header() http.Header { return fw.w.Header() }

func (fw *filterWriter) WriteHeader(code int) {
	if fw.started || fw.done {
		return
	}
	if code >= 100 && code < 200 {
		fw.w.WriteHeader(code) // informational: not the answer
		return
	}
	fw.started = true
	fw.status = code
	h := fw.w.Header()
	f, err := fw.rt.NewResponseFilter(fw.d, h.Get("Content-Type"), h.Get("Content-Encoding"))
	if err != nil {
		fw.refuse(nil, err)
		return
	}
	fw.f = f
	if f.Passthrough() {
		fw.pass = true
		fw.sendHead()
		return
	}
	if f.DropsContentEncoding() {
		h.Del("Content-Encoding")
	}
	h.Del("Content-Length") // the filtered length is not the handler's (held bodies get theirs at finish)
}

func (fw *filterWriter) Write(b []byte) (int, error) {
	if !fw.started {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.done {
		return 0, errStreamClosed
	}
	if fw.pass {
		return fw.w.Write(b)
	}
	out, resp, err := fw.f.Feed(b)
	if err != nil || resp != nil {
		fw.refuse(resp, err)
		return 0, errStreamClosed
	}
	if len(out) > 0 {
		fw.sendHead()
		if _, err := fw.w.Write(out); err != nil {
			fw.done = true
			return 0, err
		}
	}
	return len(b), nil
}

// Flush flushes what has been forwarded (nothing before the head is sent).
func (fw *filterWriter) Flush() {
	if fw.headSent && !fw.done {
		if fl, ok := fw.w.(http.Flusher); ok {
			fl.Flush()
		}
	}
}

func (fw *filterWriter) sendHead() {
	if !fw.headSent {
		fw.headSent = true
		fw.w.WriteHeader(fw.status)
	}
}

// refuse writes the core's answer instead of the handler's (resp, or the fixed 500 when the
// library failed), or, once bytes were sent, ends the stream.
func (fw *filterWriter) refuse(resp *Response, err error) {
	fw.done = true
	if fw.headSent {
		fw.log.Error("authsec: answer refused after the stream started; stream closed", "status", statusOf(resp), "error", errString(err))
		return
	}
	fw.headSent = true
	if resp == nil {
		fw.log.Error("authsec: answer not filtered; refused", "error", errString(err))
		writeInternalError(fw.w)
		return
	}
	WriteResponse(fw.w, resp)
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

// finish completes the answer after the handler returned, and releases the filter.
func (fw *filterWriter) finish() {
	defer fw.f.Close()
	if !fw.started || fw.done || fw.pass {
		// Nothing written (net/http answers 200 with no body), refused, or forwarded as is.
		return
	}
	held := fw.f.HoldsBody()
	out, resp, err := fw.f.Finish()
	if err != nil || resp != nil {
		fw.refuse(resp, err)
		return
	}
	if held && !fw.headSent {
		fw.w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	}
	fw.sendHead()
	if len(out) > 0 {
		_, _ = fw.w.Write(out)
	}
	fw.done = true
}
