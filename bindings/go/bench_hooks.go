package authsec

/*
#include <stdlib.h>
#include "authsec.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// rawCheck is the C call alone, for BenchmarkBindingOverhead: the request is already laid out
// for C (a pinned headerBlock built once), the decision is freed without being read. The
// difference between Runtime.Check and rawCheck is what the binding adds over the core.
func rawCheck(rt *Runtime, method, path string, hb *headerBlock, body []byte) bool {
	mp, mn := cstr(method)
	pp, pn := cstr(path)
	hp, hn := hb.ptr()
	bp, bn := cbytes(body)
	var d *C.authsec_decision
	st := C.authsec_runtime_check_request(rt.h, mp, mn, pp, pn, hp, hn, bp, bn, &d, nil)
	ok := st == C.AUTHSEC_STATUS_OK && C.authsec_decision_get_kind(d) == C.AUTHSEC_DECISION_KIND_ALLOW
	C.authsec_decision_free(d)
	runtime.KeepAlive(method)
	runtime.KeepAlive(path)
	runtime.KeepAlive(body)
	runtime.KeepAlive(hb)
	runtime.KeepAlive(rt)
	return ok
}

// headerBlock lays the request headers out for C in one C allocation: the authsec_header
// array followed by every name and value. C memory, so no Go pointer is handed to C for the
// headers at all (and cgo's pointer checks have nothing to walk); freed by release.
type headerBlock struct {
	mem  unsafe.Pointer
	hdrs *C.authsec_header
	n    int
}

// newHeaderBlock returns nil when C memory cannot be allocated.
func newHeaderBlock(headers [][2]string) *headerBlock {
	hb := &headerBlock{n: len(headers)}
	if len(headers) == 0 {
		return hb
	}
	arr := uintptr(len(headers)) * unsafe.Sizeof(C.authsec_header{})
	total := arr
	for _, h := range headers {
		total += uintptr(len(h[0]) + len(h[1]))
	}
	hb.mem = C.malloc(C.size_t(total))
	if hb.mem == nil {
		return nil
	}
	hdrs := unsafe.Slice((*C.authsec_header)(hb.mem), len(headers))
	bytes := unsafe.Slice((*byte)(unsafe.Add(hb.mem, arr)), total-arr)
	off := 0
	for i, h := range headers {
		copy(bytes[off:], h[0])
		copy(bytes[off+len(h[0]):], h[1])
		hdrs[i] = C.authsec_header{
			name:      (*C.char)(unsafe.Pointer(&bytes[off])),
			name_len:  C.size_t(len(h[0])),
			value:     (*C.char)(unsafe.Pointer(&bytes[off+len(h[0])])),
			value_len: C.size_t(len(h[1])),
		}
		off += len(h[0]) + len(h[1])
	}
	hb.hdrs = (*C.authsec_header)(hb.mem)
	return hb
}

func (hb *headerBlock) ptr() (*C.authsec_header, C.size_t) {
	if hb.n == 0 {
		return nil, 0
	}
	return hb.hdrs, C.size_t(hb.n)
}

func (hb *headerBlock) release() {
	if hb.mem != nil {
		C.free(hb.mem)
		hb.mem = nil
		hb.hdrs = nil
		hb.n = 0
	}
}
