package authsec

// The C side of AddAuditCallback: it passes the exported goAuditLine (audit.go) as the
// library's audit callback with a cgo.Handle as its context. Kept apart from audit.go because a
// file with //export may only declare, not define, C functions in its preamble.

/*
#include <stdint.h>
#include "authsec.h"

extern void goAuditLine(void *user_data, char *line, size_t len);

static authsec_status authsec_go_add_audit(const authsec_runtime *rt, uintptr_t handle,
                                           authsec_error **err) {
	return authsec_runtime_add_audit_callback(rt, (authsec_audit_callback)goAuditLine,
	                                          (void *)handle, err);
}
*/
import "C"

import "runtime/cgo"

func addAuditCallback(rt *C.authsec_runtime, h cgo.Handle, e **C.authsec_error) C.authsec_status {
	return C.authsec_go_add_audit(rt, C.uintptr_t(h), e)
}
