package authsec

// The cgo layer: the only file that includes include/authsec.h. libauthsec.a is linked
// statically from the workspace's cargo target directory; build it first with
//
//	cargo build --locked -p authsec-ffi            # target/debug/libauthsec.a (default)
//	cargo build --locked -p authsec-ffi --release  # target/release/libauthsec.a (-tags authsec_release)
//
// Memory rules (docs/ffi-conventions.md): every pointer handed to C points to Go memory that
// holds no Go pointer (strings, byte slices, the header bytes and lengths), and the
// library copies what it keeps, so C never holds a Go pointer after a call returns. Borrowed
// output (authsec_str, authsec_bytes) is copied into Go memory before its handle is freed.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo !authsec_release LDFLAGS: ${SRCDIR}/../../target/debug/libauthsec.a -ldl -lm -lpthread
#cgo authsec_release LDFLAGS: ${SRCDIR}/../../target/release/libauthsec.a -ldl -lm -lpthread
#include <stdlib.h>
#include "authsec.h"
*/
import "C"

import (
	"unsafe"
)

// cstr returns a pointer and length for s without copying: the bytes are Go memory holding no
// Go pointer, which cgo allows for the duration of the call.
func cstr(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// cbytes returns a pointer and length for b without copying (see cstr).
func cbytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// goString copies a borrowed authsec_str into Go memory.
func goString(s C.authsec_str) string {
	if s.len == 0 {
		return ""
	}
	return C.GoStringN(s.data, C.int(s.len))
}

// goBytes copies borrowed authsec_bytes into Go memory.
func goBytes(b C.authsec_bytes) []byte {
	if b.len == 0 {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(b.data), C.int(b.len))
}

// takeError turns a failed status and its error handle into an *Error, freeing the handle.
func takeError(status C.authsec_status, e *C.authsec_error) error {
	code := Code(status)
	msg := ""
	if e != nil {
		code = Code(C.authsec_error_code(e))
		msg = goString(C.authsec_error_message(e))
		C.authsec_error_free(e)
	}
	if msg == "" {
		msg = code.Name()
	}
	return &Error{Code: code, Message: msg}
}

// takeText copies and frees an owned authsec_text (nil gives "").
func takeText(t *C.authsec_text) string {
	if t == nil {
		return ""
	}
	s := goString(C.authsec_text_str(t))
	C.authsec_text_free(t)
	return s
}

// copyResponse copies a response (owned or borrowed) into Go memory; it does not free it.
func copyResponse(r *C.authsec_response) *Response {
	if r == nil {
		return nil
	}
	n := int(C.authsec_response_header_count(r))
	out := &Response{Status: int(C.authsec_response_status(r)), Headers: make([][2]string, 0, n)}
	for i := range n {
		var name, value C.authsec_str
		if C.authsec_response_header(r, C.size_t(i), &name, &value) != C.AUTHSEC_STATUS_OK {
			// Cannot happen for an index below the count; keep the response fail-closed.
			return nil
		}
		out.Headers = append(out.Headers, [2]string{goString(name), goString(value)})
	}
	out.Body = goBytes(C.authsec_response_body(r))
	return out
}

// statusName is authsec_status_name (static C string).
func statusName(n uint32) string { return C.GoString(C.authsec_status_name(C.uint32_t(n))) }

// Version is the library version, "authsec/<major>.<minor>.<patch>".
func Version() string { return goString(C.authsec_version()) }
