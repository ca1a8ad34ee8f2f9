package authsec

/*
#include "authsec.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"runtime"
	"sync"
	"time"
)

// DecisionKind is the kind of a Decision.
type DecisionKind int

const (
	// Allow: call the MCP handler with the original body; the principal is available.
	Allow DecisionKind = 1
	// Respond: write Decision.Response; do not call the handler.
	Respond DecisionKind = 2
	// PassThrough: call the handler with the original body and no principal (handshake).
	PassThrough DecisionKind = 3
)

// String is the protocol name of the kind ("allow", "respond", "pass_through").
func (k DecisionKind) String() string {
	switch k {
	case Allow:
		return "allow"
	case Respond:
		return "respond"
	case PassThrough:
		return "pass_through"
	}
	return "unknown"
}

// Response is an HTTP answer from the core: write the status, the headers (lower-case names,
// in order, repeats allowed) and the body exactly as given.
type Response struct {
	Status  int
	Headers [][2]string
	Body    []byte
}

// Decision is the core's decision for one request. A respond or pass-through decision is plain
// Go data; an allow decision also holds the C decision (for Principal and FilterResponse),
// released by Close or, if Close is never called, by a finalizer.
type Decision struct {
	Kind DecisionKind
	// FilterToolsList (allow only): the handler's answer must go through FilterResponse.
	FilterToolsList bool
	// Response (respond only): the answer to write.
	Response *Response

	mu        sync.Mutex // guards h
	h         *C.authsec_decision
	principal *Principal
	perr      error
}

// wrapDecision takes ownership of h, whose kind and filter flag the caller already read.
func wrapDecision(h *C.authsec_decision, kind C.uint32_t, filter bool) (*Decision, error) {
	switch kind {
	case C.AUTHSEC_DECISION_KIND_ALLOW:
		d := &Decision{Kind: Allow, FilterToolsList: filter, h: h}
		runtime.SetFinalizer(d, (*Decision).Close)
		return d, nil
	case C.AUTHSEC_DECISION_KIND_PASS_THROUGH:
		C.authsec_decision_free(h)
		return &Decision{Kind: PassThrough}, nil
	case C.AUTHSEC_DECISION_KIND_RESPOND:
		resp := copyResponse(C.authsec_decision_response(h))
		C.authsec_decision_free(h)
		if resp == nil {
			return nil, newError(CodeInternal, "a respond decision without a response")
		}
		return &Decision{Kind: Respond, Response: resp}, nil
	}
	C.authsec_decision_free(h)
	return nil, newError(CodeInternal, "unknown decision kind")
}

// Close releases the C decision of an allow. Idempotent; safe to call on any decision. After
// Close, Principal still answers if it was read before, and FilterResponse fails.
func (d *Decision) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.h != nil {
		C.authsec_decision_free(d.h)
		d.h = nil
		runtime.SetFinalizer(d, nil)
	}
	return nil
}

// Subject is the principal's sub for an allow decision, "" otherwise.
func (d *Decision) Subject() string {
	if d == nil || d.Kind != Allow {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.principal != nil {
		return d.principal.Subject
	}
	if d.h == nil {
		return ""
	}
	s := goString(C.authsec_decision_subject(d.h))
	runtime.KeepAlive(d)
	return s
}

// Principal is the validated caller of an allow decision (nil, nil for other kinds). Parsed on
// first use and kept.
func (d *Decision) Principal() (*Principal, error) {
	if d == nil || d.Kind != Allow {
		return nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.principal != nil || d.perr != nil {
		return d.principal, d.perr
	}
	if d.h == nil {
		return nil, newError(CodeInvalidArgument, "the decision is closed")
	}
	raw := goString(C.authsec_decision_principal_json(d.h))
	// The derived fields come from the core's accessors (one rule for every binding).
	clientID := goString(C.authsec_decision_client_id(d.h))
	spiffeID := goString(C.authsec_decision_spiffe_id(d.h))
	var exp C.uint64_t
	hasExp := bool(C.authsec_decision_expires_at(d.h, &exp))
	runtime.KeepAlive(d)
	d.principal, d.perr = parsePrincipal(raw)
	if d.principal != nil {
		d.principal.clientID = clientID
		d.principal.spiffeID = spiffeID
		if hasExp && uint64(exp) < 1<<40 {
			d.principal.expiresAt = time.Unix(int64(exp), 0)
		}
	}
	return d.principal, d.perr
}

// Principal is who is calling, as established by token validation.
type Principal struct {
	Subject  string   `json:"subject"`
	Issuer   string   `json:"issuer"`
	Audience []string `json:"audience"`
	Scopes   []string `json:"scopes"`
	// Claims are every claim of the token (JWT payload, overlaid with the introspection
	// answer). Numbers are json.Number, so no integer loses precision.
	Claims map[string]any `json:"claims"`
	Active bool           `json:"active"`

	clientID  string    // the core's Principal::client_id
	spiffeID  string    // the core's Principal::spiffe_id ("" for OAuth callers)
	expiresAt time.Time // the core's Principal::expires_at (zero when the token has none)
}

// HasScope reports whether scope was granted.
func (p *Principal) HasScope(scope string) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// ClientID is the OAuth client the token was issued to: client_id, else azp, else the subject
// (decided by the core, authsec_decision_client_id).
func (p *Principal) ClientID() string {
	if p == nil {
		return ""
	}
	return p.clientID
}

// SPIFFEID is the SPIFFE ID of a workload caller (authenticated with a JWT-SVID), "" for
// OAuth callers (authsec_decision_spiffe_id).
func (p *Principal) SPIFFEID() string {
	if p == nil {
		return ""
	}
	return p.spiffeID
}

// ExpiresAt is the token's exp (the zero time when it has none), as the core read it
// (authsec_decision_expires_at).
func (p *Principal) ExpiresAt() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.expiresAt
}

func parsePrincipal(raw string) (*Principal, error) {
	if raw == "" {
		return nil, newError(CodeInternal, "an allow decision without a principal")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	var p Principal
	if err := dec.Decode(&p); err != nil {
		return nil, newError(CodeInternal, "the principal is not valid JSON")
	}
	if p.Claims == nil {
		p.Claims = map[string]any{}
	}
	return &p, nil
}
