package authsec

// The audit trail and the metrics (docs/audit.md): the core writes every audit line and every
// metric; this file hands the lines to Go callbacks or a slog.Handler and serves the metrics.

/*
#include <stdlib.h>
#include "authsec.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// MetricsContentType is the Content-Type of Metrics (the Prometheus text format 0.0.4).
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

//export goAuditLine
func goAuditLine(userData unsafe.Pointer, line *C.char, n C.size_t) {
	f, ok := cgo.Handle(uintptr(userData)).Value().(func([]byte))
	if !ok {
		return
	}
	b := C.GoBytes(unsafe.Pointer(line), C.int(n))
	defer func() { _ = recover() }() // a failing callback loses its line, never the process
	f(b)
}

// AddAuditCallback calls f with every later audit line (one JSON object and its newline,
// schema docs/audit.md), on the library's audit thread, one at a time and in order. The
// bounded queue in front of it never delays a request (a full queue drops and counts); a
// panic in f loses that line only. There is no removal; Close delivers what is queued first.
func (rt *Runtime) AddAuditCallback(f func(line []byte)) error {
	if f == nil {
		return &Error{Code: CodeNullParameter, Message: "AddAuditCallback needs a function"}
	}
	rt.mu.Lock() // the handle list is written under the write lock
	defer rt.mu.Unlock()
	if rt.h == nil {
		return errClosed
	}
	h := cgo.NewHandle(f)
	var e *C.authsec_error
	st := addAuditCallback(rt.h, h, &e)
	if st != C.AUTHSEC_STATUS_OK {
		h.Delete()
		return takeError(st, e)
	}
	rt.audit = append(rt.audit, h)
	return nil
}

// AddAuditHandler hands every later audit event to h as a slog.Record: time from the event,
// level Info (Warn for a deny or a failed lifecycle step), message "authsec audit", and one
// attribute per event key in the event's order. Records below h's level are skipped.
func (rt *Runtime) AddAuditHandler(h slog.Handler) error {
	if h == nil {
		return &Error{Code: CodeNullParameter, Message: "AddAuditHandler needs a handler"}
	}
	return rt.AddAuditCallback(func(line []byte) {
		rec, err := AuditRecord(line)
		if err != nil {
			return
		}
		ctx := context.Background()
		if h.Enabled(ctx, rec.Level) {
			_ = h.Handle(ctx, rec)
		}
	})
}

// AuditRecord turns one audit line into the slog.Record AddAuditHandler logs.
func AuditRecord(line []byte) (slog.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return slog.Record{}, err
	}
	var attrs []slog.Attr
	at := time.Now()
	level := slog.LevelInfo
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return slog.Record{}, err
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return slog.Record{}, err
		}
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				v = i
			} else if f, err := x.Float64(); err == nil {
				v = f
			}
		case string:
			if key == "time" {
				if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
					at = t
				}
			}
			if (key == "decision" && x == "deny") || (key == "outcome" && x == "failed") {
				level = slog.LevelWarn
			}
		}
		attrs = append(attrs, slog.Any(key, v))
	}
	rec := slog.NewRecord(at, level, "authsec audit", 0)
	rec.AddAttrs(attrs...)
	return rec, nil
}

// FlushAudit waits until every audit line queued before the call has reached every callback
// (and the audit_log file), at most timeout; it reports whether it completed. Never call it
// from an audit callback.
func (rt *Runtime) FlushAudit(timeout time.Duration) (bool, error) {
	if timeout < 0 {
		return false, &Error{Code: CodeInvalidArgument, Message: "timeout must not be negative"}
	}
	h, err := rt.acquire()
	if err != nil {
		return false, err
	}
	defer rt.mu.RUnlock()
	var done C.bool
	var e *C.authsec_error
	st := C.authsec_runtime_flush_audit(h, C.uint64_t(timeout.Milliseconds()), &done, &e)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return false, takeError(st, e)
	}
	return bool(done), nil
}

// Metrics returns the runtime's metrics in the Prometheus text format 0.0.4.
func (rt *Runtime) Metrics() (string, error) {
	h, err := rt.acquire()
	if err != nil {
		return "", err
	}
	defer rt.mu.RUnlock()
	var out *C.authsec_text
	var e *C.authsec_error
	st := C.authsec_runtime_metrics(h, &out, &e)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return "", takeError(st, e)
	}
	return takeText(out), nil
}

// MetricsHandler serves Metrics with MetricsContentType (a Prometheus scrape target); 503 once
// the runtime is closed.
func (rt *Runtime) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		text, err := rt.Metrics()
		if err != nil {
			http.Error(w, "metrics unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", MetricsContentType)
		_, _ = w.Write([]byte(text))
	})
}
